"""Run folders: every run writes ``results/<run-id>/`` atomically and never overwrites one.

A run folder holds::

    summary.csv / summary.md / summary.json   one row per basket, plus the benchmark
    equity.csv                                daily values rebased to 1 (baskets and benchmark)
    attribution.csv                           per constituent: weight, returns, contribution
    weights.csv                               target weights on each session a basket trades
    costs.csv                                 costs by kind and cash drag of the baskets traded
                                              like the market (only when there are some)
    correlation.csv / overlap.csv             baskets' daily-return correlations, symbols held
                                              in common
    nulls.parquet                             the total returns of the matched random baskets
                                              each basket is ranked against (``--universe``
                                              with random baskets only; the sweep's long
                                              format, :mod:`engine.results.nulls`)
    config.yaml                               the study and baskets as run (after defaults)
    manifest.json                             command, time, versions, data source, fingerprints,
                                              notes, skipped symbols
    events/                                   event-study tables, when the run has events

The folder is written under a hidden temporary name in the same parent and renamed into place
when complete, so an interrupted run leaves no half-written folder, and a rename never replaces
an existing run: a clashing id gets a numeric suffix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from engine.analysis.metrics import COLUMNS
from engine.errors import ResultsError
from engine.files import current_umask, remove_leftovers, temporary_prefix
from engine.jsonable import json_ready
from engine.results.nulls import NULLS, write_run_nulls
from engine.results.summary_tables import render_summary
from engine.text import spreadsheet_frame

MANIFEST = "manifest.json"
#: What every manifest basket writes starts with: the mark that basket wrote the folder (``report``
#: only rewrites folders that carry it) and the version of the run-folder layout.
WRITER = {"written_by": "basket", "run_folder_format": 1}
#: libyaml's C emitter where PyYAML has it: the same text as the pure-Python SafeDumper
#: (tests/test_runfolder_yaml.py), ten times faster.
YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
#: How the tables' numbers are written: ten significant digits.
FLOAT_FORMAT = "%.10g"
#: The columns of the tables that hold text (names, labels, ISO dates); every other column
#: holds numbers.  The reader takes them as text, so a basket called "007" or "NA" stays itself.
TEXT_FIELDS = (
    "basket", "symbol", "name", "currency", "calendar", "event", "event_name", "window",
    "date", "day0", "portfolio_day0", "reason", "selected_after", "top_contributor",
    "worst_leave_one_out",
)
PACKAGES = ("basket", "vectorbt", "pandas", "numpy", "yfinance", "exchange_calendars", "numba")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape the numbers."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "run"


def new_run_id(name: str | None, now: dt.datetime | None = None) -> str:
    """A readable id: UTC time to the second, then ``name`` (or ``run``) as a slug."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{_slug(name or 'run')}"


def summary_records(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """The summary table as a list of JSON-ready dicts with exactly the documented keys: the
    fixed ones, then the figures against the study's further benchmarks
    (:func:`engine.analysis.metrics.versus_key`)."""
    frame = summary.reset_index()
    frame = frame[[*COLUMNS, *(c for c in frame.columns if c not in COLUMNS)]]
    return [json_ready(row) for row in frame.to_dict(orient="records")]


def write_csv(
    folder: Path, name: str, frame: pd.DataFrame, *, index: bool = True,
    float_format: str | None = FLOAT_FORMAT, escape: bool = True,
) -> str:
    """Write ``frame`` as ``folder/name`` (spreadsheet-escaped unless ``escape`` is False,
    numbers in ``float_format``) and return the CSV text written: a run held in memory parses
    that text as the reader parses the file (:func:`engine.results.reader.read_table`)."""
    text = (spreadsheet_frame(frame) if escape else frame).to_csv(
        index=index, float_format=float_format)
    with open(folder / name, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return text


def write_text_synced(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8, ``\\n`` line ends) and fsync it: a file of a staged
    run folder is on disk before the folder is renamed into place."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def check_writable(out: str | Path) -> None:
    """Fail early, before any work, when ``out`` cannot hold run folders: its nearest existing
    ancestor must be a writable folder.  Creates nothing."""
    path = Path(out).absolute()
    # A dangling symlink counts as existing: mkdir can neither follow nor replace it.
    existing = next(p for p in (path, *path.parents) if p.exists() or p.is_symlink())
    if not existing.exists():
        reason = f"{existing} is a symlink to the missing {os.readlink(existing)}"
    elif not existing.is_dir():
        reason = "Not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        reason = "Permission denied"
    else:
        return
    raise ResultsError(
        f"results folder {out} cannot be written ({reason})",
        "pass --out DIR with a writable folder",
    )


def write_run_folder(
    out: str | Path,
    run_id: str,
    fill: Callable[[Path], None],
) -> Path:
    """Create ``out/run_id`` atomically: ``fill(tmp)`` writes into a temporary folder that is
    renamed into place only if it returns.  Never replaces an existing folder.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_runs(out)
        tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(run_id), suffix=".partial", dir=out))
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0700: follow the umask
    except OSError as error:
        raise ResultsError(
            f"results folder {out} cannot be written ({error.strerror})",
            "pass --out DIR with a writable folder",
        ) from None
    try:
        fill(tmp)
        final = _rename_without_replacing(tmp, out, run_id)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ResultsError(
            f"run folder {out / run_id} could not be written ({error.strerror or error})",
            "check the free space and permissions of --out",
        ) from error
    except BaseException:
        # Interrupted (Ctrl-C) or failed: nothing half-written stays behind.
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def remove_stale_runs(out: str | Path) -> list[str]:
    """Remove the staging folders (``.<id>.pid<pid>.*.partial``) that runs killed by a
    signal they could not catch (SIGKILL, a power cut) left in ``out``; returns their names."""
    return remove_leftovers(out, ".partial")


def _rename_without_replacing(tmp: Path, out: Path, run_id: str) -> Path:
    for attempt in range(1, 1000):
        final = out / (run_id if attempt == 1 else f"{run_id}-{attempt}")
        try:
            # mkdir claims the name atomically; renaming onto the empty folder we just made
            # is then ours alone, and a folder another run made is never touched.
            final.mkdir()
        except FileExistsError:
            continue
        except OSError as error:
            raise ResultsError(f"cannot create {final} ({error.strerror})") from None
        try:
            os.replace(tmp, final)
        except BaseException:
            # Give the claimed name back; rmdir only succeeds while it is still empty.
            with contextlib.suppress(OSError):
                final.rmdir()
            raise
        return final
    raise ResultsError(f"too many runs named {run_id} in {out}", "pass --name")


EVENT_TABLES = ("summary", "abnormal_returns", "stock_cars", "excluded", "day0", "car_paths")


def write_event_tables(folder: Path, events: Any) -> dict[str, str]:
    """The tables of an :class:`engine.analysis.events.EventStudy` as ``events/*.csv`` (and the
    summary as JSON); returns the CSV texts by file name (``events/summary.csv``...)."""
    (folder / "events").mkdir()
    written = {
        f"events/{table}.csv": write_csv(folder, f"events/{table}.csv", getattr(events, table),
                                         index=False)
        for table in EVENT_TABLES
    }
    write_text_synced(folder / "events" / "summary.json",
                      json.dumps(json_ready(events.summary_records()), indent=2) + "\n")
    return written


def _common_manifest(run_id: str, argv: Sequence[str] | None, run: Any) -> dict[str, Any]:
    return {
        **WRITER,
        "run_id": run_id,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "command": list(argv if argv is not None else sys.argv),
        "versions": package_versions(),
        "data_source": run.prices.source,
        "fingerprints": run.prices.fingerprints(),
        "benchmark": run.study.benchmark,
        "baskets": [b.name for b in run.baskets],
        "skipped": run.skipped,
        "notes": run.notes,
        "data_flags": [flag.record() for flag in run.prices.flags],
    }


def write_config_and_manifest(
    folder: Path, config: dict[str, Any], manifest: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``config.yaml`` and ``manifest.json`` of a staged run folder (every kind of run);
    returns both as written (JSON-ready)."""
    config, manifest = json_ready(config), json_ready(manifest)
    text = yaml.dump(config, Dumper=YAML_DUMPER, sort_keys=False)
    write_text_synced(folder / "config.yaml", text)
    write_text_synced(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return config, manifest


@dataclass
class RunContents:
    """What a run folder holds, in memory, as it was written: the ``manifest`` and ``config``
    (JSON-ready, as ``manifest.json`` and ``config.yaml`` hold them) and the CSV text of the
    ``tables`` by file name (``equity.csv``, ``events/car_paths.csv``...), as written (for
    ``nulls.parquet``, its bytes).  The
    report is rendered from it right after the folder is written, without reading the files
    back (:func:`engine.results.reader.memory_run` parses the same text the same way)."""

    manifest: dict[str, Any]
    config: dict[str, Any]
    tables: dict[str, str | bytes] = field(default_factory=dict)


#: What the orchestration adds to a staged run folder once its tables are written (the report):
#: called with the folder and the :class:`RunContents` its ``fill`` returned (None for the kinds
#: of folder whose report reads its files).
Finisher = Callable[[Path, "RunContents | None"], object]


def place_run_folder(
    out: str | Path,
    run_id: str,
    fill: Callable[[Path], RunContents | None],
    finish: Sequence[Finisher],
) -> Path:
    """Stage a run folder under ``out``: ``fill`` writes its tables (and returns them as
    :class:`RunContents`, or None), then the ``finish`` steps (the report) run on it; renamed
    into place without replacing a run (the manifest names the folder it ended in).  Shared by
    every kind of run folder."""
    filled: list[RunContents | None] = []

    def fill_and_finish(folder: Path) -> None:
        filled.append(fill(folder))
        for step in finish:  # they use what fill wrote, so they come last
            step(folder, filled[0])

    folder = write_run_folder(out, run_id, fill_and_finish)
    if folder.name != run_id:
        # Another run took the id first: the manifest must name the folder it is in.
        manifest = json.loads((folder / MANIFEST).read_text())
        manifest["run_id"] = folder.name
        staged = folder / f".{MANIFEST}.tmp"
        write_text_synced(staged, json.dumps(manifest, indent=2) + "\n")
        os.replace(staged, folder / MANIFEST)
        if filled[0] is not None:
            filled[0].manifest["run_id"] = folder.name
        for step in finish:
            step(folder, filled[0])
    return folder


#: What fills a staged run folder with one run's tables, configuration and manifest, made by a
#: :class:`FolderKind` from the run, its id and its command line.
Filler = Callable[[Path], "RunContents | None"]


@dataclass(frozen=True)
class FolderKind:
    """One kind of run folder (a backtest's, an event study's, a claims check's): the name its
    folders take when none is given (``default_name(run)``) and what fills a staged folder
    (``filler(run, run_id, argv)``).  :func:`write_folder` writes any kind."""

    default_name: Callable[[Any], str]
    filler: Callable[[Any, str, Sequence[str] | None], Filler]


def write_folder(
    kind: FolderKind,
    run: Any,
    out: str | Path = "results",
    *,
    name: str | None = None,
    argv: Sequence[str] | None = None,
    finish: Sequence[Finisher] = (),
) -> Path:
    """Write ``run`` as a run folder of ``kind`` under ``out`` (named ``name``, else the kind's
    default) and return its path; ``finish`` steps (the report) run on the staged folder once
    the tables are in it, with what the filler returned (:class:`RunContents`, or None)."""
    run_id = new_run_id(name or kind.default_name(run))
    return place_run_folder(out, run_id, kind.filler(run, run_id, argv), finish)


def _run_filler(result: Any, run_id: str, argv: Sequence[str] | None) -> Filler:
    """The tables of a :class:`engine.pipeline.runs.RunResult` (see the module docstring)."""
    summary = result.summary_frame()

    def fill(folder: Path) -> RunContents:
        sessions = result.panel.sessions
        write_text_synced(
            folder / "summary.md",
            render_summary(summary, (sessions[-1] - sessions[0]).days, "markdown"),
        )
        write_text_synced(
            folder / "summary.json", json.dumps(summary_records(summary), indent=2) + "\n"
        )
        tables = {
            "summary.csv": write_csv(folder, "summary.csv", summary),
            "equity.csv": write_csv(folder, "equity.csv", result.equity_frame()),
            "attribution.csv": write_csv(folder, "attribution.csv", result.attribution_frame(),
                                         index=False),
            "weights.csv": write_csv(folder, "weights.csv", result.weights_frame(),
                                     index=False, escape=False),
            "correlation.csv": write_csv(folder, "correlation.csv",
                                         result.correlation_frame().rename_axis("basket")),
            "overlap.csv": write_csv(folder, "overlap.csv", result.overlap_frame(),
                                     float_format=None),
        }
        costs = result.costs_frame()
        if not costs.empty:
            tables["costs.csv"] = write_csv(folder, "costs.csv", costs, index=False,
                                            escape=False)
        if result.nulls:
            tables[NULLS] = write_run_nulls(folder, result.nulls)
        if result.events is not None:
            tables.update(write_event_tables(folder, result.events))
        config = {
            "study": result.study.to_dict(),
            "baskets": [
                {**b.to_dict(), "rebalance": result.backtest.schedules[b.name]}
                for b in result.baskets
            ],
            "event_study": result.event_options.to_dict() if result.event_options else None,
            "universe": result.universe,
        }
        manifest = {
            **_common_manifest(run_id, argv, result),
            "kind": "run",
            "period": {
                "first_session": result.panel.sessions[0],
                "last_session": result.panel.sessions[-1],
                "sessions": len(result.panel.sessions),
            },
            "currency": result.panel.currency,
            "fees": result.study.fees,
            "effective_themes": result.effective_themes(),
            "rebalances": {
                k: [str(d.date()) for d in v] for k, v in result.backtest.rebalances.items()
            },
        }
        config, manifest = write_config_and_manifest(folder, config, manifest)
        return RunContents(manifest, config, tables)

    return fill


#: A backtest's run folder (``basket run``): named after its study.
RUN_FOLDER = FolderKind(lambda result: result.study.name, _run_filler)


def _event_filler(run: Any, run_id: str, argv: Sequence[str] | None) -> Filler:
    """The tables of a :class:`engine.pipeline.events.EventRun` (``basket event``)."""

    def fill(folder: Path) -> RunContents:
        tables = write_event_tables(folder, run.events)
        config = {
            "study": run.study.to_dict(),
            "baskets": [b.to_dict() for b in run.baskets],
            "event_study": run.options.to_dict(),
        }
        manifest = {**_common_manifest(run_id, argv, run), "kind": "event"}
        config, manifest = write_config_and_manifest(folder, config, manifest)
        return RunContents(manifest, config, tables)

    return fill


#: An event study's run folder (``basket event``).
EVENT_FOLDER = FolderKind(lambda run: f"{run.study.name} events", _event_filler)
