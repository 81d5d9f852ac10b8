"""Run folders read back: find a run, load its manifest, configuration and tables, list runs.

A :class:`Run` comes from a folder (:func:`load_run`) or, right after a run folder is written,
from what was written, held in memory (:func:`memory_run`): the same manifest, configuration
and tables, so that one report renderer serves both.  Used by ``compare`` and ``report``;
writes nothing.  Nothing here imports vectorbt.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.analysis.metrics import NUMERIC_COLUMNS, TEXT_COLUMNS, is_versus_key
from engine.config.yamlfile import load_yaml
from engine.errors import ConfigError, InputError, OptionError, ResultsError
from engine.files import UnreadableFile, read_bounded
from engine.results.assets import ASSETS
from engine.results.nulls import NULLS, MalformedNulls, read_run_totals
from engine.results.runfolder import MANIFEST, TEXT_FIELDS, RunContents
from engine.text import unescape_frame

#: Every metric of a run's summary, in the summary's order.
METRICS: tuple[str, ...] = NUMERIC_COLUMNS


#: Event-study tables a run folder may hold under ``events/``.
EVENT_TABLES = ("summary", "car_paths", "abnormal_returns", "stock_cars", "excluded", "day0")


class RunNotFound(InputError):
    """A run id or folder given on the command line does not exist (exit code 2)."""

    def __init__(self, ref: str, looked: Sequence[Path], hint: str | None = None) -> None:
        self.ref = ref
        places = " and ".join(str(p) for p in looked)
        super().__init__(f"run '{ref}' not found: looked for {places}", hint)


#: Largest manifest read (a run over thousands of symbols writes a few MB).
MAX_MANIFEST_BYTES = 50_000_000

#: The types a manifest's fields must have when present (None: the field may be null).
MANIFEST_SCHEMA: dict[str, tuple[type, ...]] = {
    "written_by": (str,),
    "run_folder_format": (int,),
    "run_id": (str,),
    "kind": (str,),
    "created_at": (str,),
    "command": (list, type(None)),
    "versions": (dict,),
    "data_source": (str, type(None)),
    "fingerprints": (dict,),
    "benchmark": (str, type(None)),
    "baskets": (list,),
    "skipped": (dict,),
    "notes": (list,),
    "data_flags": (list,),
    "period": (dict, type(None)),
    "currency": (str, type(None)),
    "fees": (int, float, type(None)),
}
#: The types of the items of a manifest's lists and of the values of its mappings.
MANIFEST_ITEMS: dict[str, tuple[type, ...]] = {
    "baskets": (str,), "notes": (str,), "command": (str,), "fingerprints": (str, type(None)),
    "versions": (str, type(None)), "skipped": (dict,), "data_flags": (dict,),
}
#: The fields of each of a manifest's ``data_flags`` (:meth:`engine.data.flags.Flag.record`).
FLAG_SCHEMA: dict[str, tuple[type, ...]] = {
    "symbol": (str,), "kind": (str,), "severity": (str,), "dates": (list,), "message": (str,),
}
#: A date in a manifest's ``data_flags``.
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
PERIOD_SCHEMA: dict[str, tuple[type, ...]] = {
    "first_session": (str,), "last_session": (str,), "sessions": (int,),
}


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The run folder's ``manifest.json`` as a dict, checked against :data:`MANIFEST_SCHEMA`;
    :class:`ResultsError` naming the file and the field otherwise."""
    path = inside(folder, MANIFEST)
    if path is None:
        raise ResultsError(
            f"{folder} has no {MANIFEST}: not a run folder, or an unfinished one"
        )
    try:
        manifest = json.loads(read_bounded(path, MAX_MANIFEST_BYTES).decode("utf-8"))
    except UnreadableFile as error:
        raise ResultsError(f"{path} {error.reason}") from None
    except UnicodeDecodeError:
        raise ResultsError(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path} is not valid JSON (line {error.lineno})") from None
    except RecursionError:
        raise ResultsError(f"{path} is nested too deeply") from None
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path} does not hold a JSON object")
    problem = _schema_problem(manifest, MANIFEST_SCHEMA) or _schema_problem(
        manifest.get("period") or {}, PERIOD_SCHEMA, "period."
    )
    problem = problem or _items_problem(manifest)
    if problem is None and "created_at" in manifest:
        try:
            dt.datetime.fromisoformat(manifest["created_at"])
        except ValueError:
            problem = "field 'created_at' is not an ISO time"
    if problem:
        raise ResultsError(f"{path}: {problem}", "it was not written by basket, or was edited")
    return manifest


def _schema_problem(
    mapping: dict[str, Any], schema: dict[str, tuple[type, ...]], prefix: str = ""
) -> str | None:
    """Why ``mapping`` does not fit ``schema`` (the first field of a wrong type), or None."""
    for key, types in schema.items():
        if key not in mapping:
            continue
        value = mapping[key]
        if isinstance(value, bool) or not isinstance(value, types):
            shown = json.dumps(value)[:40] if not isinstance(value, dict | list) else (
                "a mapping" if isinstance(value, dict) else "a list")
            wanted = " or ".join("null" if t is type(None) else _TYPE_NAMES[t] for t in types)
            return f"field '{prefix}{key}' is {shown}, not {wanted}"
    return None


def _items_problem(manifest: dict[str, Any]) -> str | None:
    """The first list item or mapping value of the wrong type (:data:`MANIFEST_ITEMS`)."""
    for key, types in MANIFEST_ITEMS.items():
        value = manifest.get(key) or ()
        items = value.values() if isinstance(value, dict) else value
        if not all(isinstance(item, types) and not isinstance(item, bool) for item in items):
            wanted = " or ".join("null" if t is type(None) else _TYPE_NAMES[t] for t in types)
            return f"field '{key}' must hold {wanted} items"
        if key == "skipped" and not all(
            isinstance(why, str) for symbols in items for why in symbols.values()
        ):
            return "field 'skipped' must map baskets to {symbol: reason}"
        if key == "data_flags":
            for number, flag in enumerate(items):
                if set(flag) != set(FLAG_SCHEMA) or _schema_problem(flag, FLAG_SCHEMA) or not all(
                    isinstance(d, str) and DAY.fullmatch(d) for d in flag["dates"]
                ):
                    return (f"field 'data_flags' item {number} must hold symbol, kind, "
                            "severity, message and dates (YYYY-MM-DD)")
    return None


_TYPE_NAMES = {str: "text", int: "a whole number", float: "a number", list: "a list",
               dict: "a mapping"}


#: The types of the parts of a run's ``config.yaml`` that compare and report read.
CONFIG_SCHEMA: dict[str, tuple[type, ...]] = {
    "study": (dict, type(None)), "baskets": (list, type(None)), "event_study": (dict, type(None)),
}


def _config_problem(config: Any) -> str | None:
    """Why a run's configuration cannot be used, or None."""
    if not isinstance(config, dict):
        return "not a mapping"
    problem = _schema_problem(config, CONFIG_SCHEMA)
    if problem is None and not all(isinstance(b, dict) for b in config.get("baskets") or []):
        problem = "field 'baskets' must list mappings"
    return problem


def inside(folder: str | Path, name: str) -> Path | None:
    """``folder/name`` if it is a file that resolves inside ``folder``, else None: a run
    folder's files are never read through a symlink that leads elsewhere."""
    path = Path(folder) / name
    try:
        resolved = path.resolve(strict=True)
        root = Path(folder).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return path


@dataclass
class Run:
    """A run folder read back: its manifest, resolved configuration and summary table.

    ``summary`` is indexed by basket (the benchmark's row included) with the columns of
    :data:`METRICS`; ``config`` is ``{}`` when ``config.yaml`` is absent.  Other tables are read
    on demand with :meth:`table` and :meth:`events`, from the folder, or from ``tables`` (by
    file name, the CSV text written) for a run held in memory: both read by :func:`read_table`;
    the random baskets' totals with :meth:`nulls` (``tables`` holds the bytes of
    ``nulls.parquet``).
    """

    path: Path
    manifest: dict[str, Any]
    config: dict[str, Any]
    summary: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    tables: dict[str, str | bytes] | None = None
    _labels: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def id(self) -> str:
        return str(self.manifest.get("run_id") or self.path.name)

    @property
    def benchmark(self) -> str | None:
        return self.manifest.get("benchmark")

    @property
    def study(self) -> dict[str, Any]:
        return self.config.get("study") or {}

    @property
    def period(self) -> str:
        return period_text(self.manifest)

    def table(self, name: str, **read_csv: Any) -> pd.DataFrame | None:
        """``name`` (e.g. ``equity.csv`` or ``events/car_paths.csv``) as a frame; None when the
        file is absent or unreadable (the reason is added to :attr:`problems`).  ``read_csv``
        says how to read the file (``index_col=0`` for a table written with its index)."""
        if self.tables is not None:
            text = self.tables.get(name)
            return None if text is None else read_table(io.StringIO(text), **read_csv)
        path = inside(self.path, name)
        if path is None:
            if (self.path / name).is_symlink():
                self.problems.append(f"{name} is a link out of the run folder (not read)")
            return None
        try:
            return read_table(path, **read_csv)
        except (OSError, ValueError) as error:
            self.problems.append(f"{name} cannot be read ({error})")
            return None

    def summary_labels(self) -> pd.DataFrame:
        """The text columns of the summary (:data:`TEXT_COLUMNS` but the basket: when chosen,
        the top contributor...) by basket, as text, None where empty; read once."""
        if self._labels is None:
            self._labels = self._read_labels()
        return self._labels

    def _read_labels(self) -> pd.DataFrame:
        labels = list(TEXT_COLUMNS[1:])
        written = self.table("summary.csv")
        if written is None or "basket" not in written.columns:
            return pd.DataFrame(columns=labels, index=self.summary.index)
        written = written.set_index("basket")
        frame = pd.DataFrame(index=written.index[~written.index.duplicated()])
        for column in labels:
            if column in written.columns:
                text = written[column].astype(object)
                text = text.where(text.notna(), None)
                frame[column] = text[~text.index.duplicated()]
        return frame

    def nulls(self) -> dict[str, np.ndarray]:
        """The total returns of the matched random baskets each basket was ranked against
        (``nulls.parquet``, :func:`engine.results.nulls.read_run_totals`; for a run held in
        memory, the bytes written to it), by basket; empty for a run without them (no
        ``--universe``, ``--random 0``, or written before runs kept them), and for a malformed
        file, whose problem is added to :attr:`problems`."""
        if self.tables is not None:
            source = self.tables.get(NULLS)
        else:
            source = inside(self.path, NULLS)
            if source is None and (self.path / NULLS).is_symlink():
                self.problems.append(f"{NULLS} is a link out of the run folder (not read)")
        if source is None:
            return {}
        try:
            return read_run_totals(source)
        except MalformedNulls as error:
            self.problems.append(f"{NULLS} cannot be read ({error})")
            return {}

    def events(self, names: Sequence[str] = EVENT_TABLES) -> dict[str, pd.DataFrame]:
        """The event-study tables ``names`` present under ``events/`` (see
        :data:`EVENT_TABLES`); empty for runs made without events or before event studies were
        written."""
        found = {}
        for name in names:
            frame = self.table(f"events/{name}.csv")
            if frame is not None:
                found[name] = frame
        return found


def load_run(folder: str | Path) -> Run:
    """Read a run folder.  The manifest is required (:class:`ResultsError` otherwise); a
    missing ``config.yaml`` or ``summary.csv`` leaves an empty config or summary and a note in
    :attr:`Run.problems`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultsError(f"{folder} is not a folder")
    manifest = read_manifest(folder)
    problems: list[str] = []
    config: dict[str, Any] = {}
    config_path = inside(folder, "config.yaml")
    if config_path is None:
        problems.append("config.yaml is missing")
    else:
        try:
            loaded = load_yaml(config_path)
        except ConfigError as error:
            # The message starts with the path; the problem is listed under the run already.
            loaded = None
            problems.append(f"config.yaml cannot be read ({error.one_line().split(': ', 1)[-1]})")
        problem = _config_problem(loaded) if loaded is not None else None
        if problem:
            problems.append(f"config.yaml: {problem} (ignored)")
        elif isinstance(loaded, dict):
            config = loaded
    summary = empty_summary()
    summary_path = inside(folder, "summary.csv")
    try:
        if summary_path is None:
            raise FileNotFoundError(folder / "summary.csv")
        summary = read_summary(summary_path)
    except FileNotFoundError:
        if manifest.get("kind") not in ("event", "claims"):  # they have no backtest summary
            problems.append("summary.csv is missing")
    except (OSError, ValueError, KeyError, TypeError) as error:
        problems.append(f"summary.csv cannot be read ({type(error).__name__})")
    return Run(folder, manifest, config, summary, problems)


def memory_run(folder: str | Path, contents: RunContents) -> Run:
    """The :class:`Run` of the run folder just written to ``folder`` from its ``contents``
    (:class:`engine.results.runfolder.RunContents`), without reading the folder: the manifest
    and configuration as written, the tables' CSV text parsed as :func:`load_run` parses the
    files (:func:`read_table`, :func:`read_summary`), so both give the same frames."""
    text = contents.tables.get("summary.csv")
    summary = empty_summary() if text is None else read_summary(io.StringIO(text))
    return Run(Path(folder), contents.manifest, contents.config or {}, summary, [],
               dict(contents.tables))


def read_table(source: Path | io.StringIO, **read_csv: Any) -> pd.DataFrame:
    """A CSV table of a run folder, from its file or from the text written to it, as a frame:
    the columns of :data:`engine.results.runfolder.TEXT_FIELDS` as text, only empty cells
    missing, spreadsheet escapes undone (:func:`engine.text.unescape_frame`); ``read_csv``
    adds to or overrides these options of ``pd.read_csv``.  The one way a run's tables are
    read."""
    options = {"dtype": dict.fromkeys(TEXT_FIELDS, str), "keep_default_na": False,
               "na_values": [""], **read_csv}
    return unescape_frame(pd.read_csv(source, **options))


def read_summary(source: Path | io.StringIO) -> pd.DataFrame:
    """The metrics of ``summary.csv`` by basket, as floats (:data:`METRICS`, then the figures
    against further benchmarks)."""
    frame = read_table(source).set_index("basket")
    numbers = [*METRICS, *(c for c in frame.columns if is_versus_key(c))]
    return frame.reindex(columns=numbers).astype(float)


def empty_summary() -> pd.DataFrame:
    """The summary of a run without one: no rows, the columns of :data:`METRICS`."""
    return pd.DataFrame(columns=list(METRICS), index=pd.Index([], name="basket"))


def _run_folders(out: Path) -> list[Path]:
    """The run folders under ``out`` by name: not hidden (runs being written), not the
    shared ``assets`` folder of the reports."""
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name != ASSETS)


LATEST = re.compile(r"latest(?:~(\d+))?")


def _latest(out: Path, back: int) -> Path:
    """The run ``back`` runs before the newest under ``out`` (``latest~back``), newest by
    the manifest's ``created_at`` as in :func:`list_runs`."""
    rows = [row for row in list_runs(out) if row["status"] == "ok"]
    if back < len(rows):
        return Path(rows[back]["path"])
    held = f"holds {len(rows)} run(s)" if rows else "holds no runs"
    raise OptionError("RUN", f"'latest~{back}': {out} {held}",
                      "latest is the newest run, latest~1 the one before; `basket runs` lists them")


def resolve_run(ref: str | Path, out: str | Path = "results") -> Path:
    """The folder of a run given as a path to its folder, a run id under ``out``, a unique
    prefix of one, or ``latest`` / ``latest~N`` (the newest run under ``out``, the Nth before
    it) when no folder has that name.  :class:`RunNotFound` names the reference and where it
    looked."""
    out = Path(out)
    text = str(ref)
    latest = LATEST.fullmatch(text)
    if latest and not (out / text).is_dir():
        return _latest(out, int(latest.group(1) or 0))
    as_path = Path(text)
    looks_like_path = as_path.is_absolute() or "/" in text or "\\" in text
    candidates = [as_path] if looks_like_path else [out / text, as_path]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    if not looks_like_path:
        matches = [p for p in _run_folders(out) if p.name.startswith(text)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(p.name for p in matches[:5])
            raise OptionError("RUN", f"'{text}' matches {len(matches)} runs in {out}: {names}",
                              "give more of the run id")
    count = len(_run_folders(out))
    hint = f"`basket runs --out {out}` lists the {count} run(s) there" if count else (
        f"{out} holds no runs; pass --out DIR or a path to a run folder"
    )
    raise RunNotFound(text, list(dict.fromkeys(candidates)), hint)


def period_text(manifest: dict[str, Any]) -> str:
    """``first..last`` session dates of a run, ``""`` when the manifest does not say."""
    period = manifest.get("period") or {}
    first, last = period.get("first_session"), period.get("last_session")
    if not first or not last:
        return ""
    return f"{str(first)[:10]}..{str(last)[:10]}"


def rebalancing_text(config: dict[str, Any]) -> str:
    """The baskets' rebalancing schedules counted, e.g. ``7 none, 1 monthly``."""
    counts: dict[str, int] = {}
    for basket in config.get("baskets") or []:
        schedule = str(basket.get("rebalance") or "none")
        counts[schedule] = counts.get(schedule, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def _when(manifest: dict[str, Any] | None, folder: Path) -> str:
    created = (manifest or {}).get("created_at")
    if created:
        return str(created)
    stamp = dt.datetime.fromtimestamp(folder.stat().st_mtime, dt.UTC)
    return stamp.isoformat(timespec="microseconds")


def list_runs(out: str | Path = "results") -> list[dict[str, Any]]:
    """One dict per run folder under ``out``, newest first (by the manifest's ``created_at``,
    else the folder's modification time).

    Keys: ``id, status`` (``ok`` or ``broken``), ``kind`` (``run``, or ``event`` for
    ``basket event``), ``when`` (ISO time, UTC), ``baskets`` (count),
    ``basket_names, period, sessions, benchmark, currency, fees, rebalancing, note`` (why a run
    is broken, or what is missing in it) and ``path``.  Hidden folders (``.<id>.*.partial``,
    runs being written) are not listed; a folder without a readable manifest is listed as
    ``broken`` with the reason in ``note``.
    """
    rows = []
    for folder in _run_folders(Path(out)):
        try:
            run = load_run(folder)
        except ResultsError as error:
            rows.append({
                "id": folder.name, "status": "broken", "kind": "", "when": _when(None, folder),
                "baskets": None, "basket_names": "", "period": "", "sessions": None,
                "benchmark": "", "currency": "", "fees": None, "rebalancing": "",
                "note": error.message, "path": str(folder),
            })
            continue
        m = run.manifest
        names = list(m.get("baskets") or [])
        rows.append({
            "id": folder.name,
            "status": "ok",
            "kind": m.get("kind") or "run",
            "when": _when(m, folder),
            "baskets": len(names),
            "basket_names": ", ".join(names),
            "period": run.period,
            "sessions": (m.get("period") or {}).get("sessions"),
            "benchmark": m.get("benchmark") or "",
            "currency": m.get("currency") or "",
            "fees": m.get("fees"),
            "rebalancing": rebalancing_text(run.config),
            "note": "; ".join(run.problems),
            "path": str(folder),
        })
    rows.sort(key=lambda r: (r["when"], r["id"]), reverse=True)
    return rows
