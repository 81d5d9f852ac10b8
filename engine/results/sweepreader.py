"""Sweep folders read back: the ranks, the random values behind them, the notes and the
settings ``basket sweep`` wrote (:mod:`engine.results.sweepfolder`), for the sweep's report.

A :class:`Sweep` comes from a folder (:func:`load_sweep`: ``basket report``) or from what the
sweep just wrote, held in memory (:func:`memory_sweep`): the summary's CSV text parsed by the
one function that parses the file (:func:`read_sweep_summary`), the random values as the arrays
``nulls.parquet`` stores losslessly (read back by :func:`engine.results.nulls.null_values`, the
reader of run folders' random values too), so both give the same report, byte for byte.  A file that
is missing or malformed is a :class:`engine.errors.ResultsError` naming it, raised before
anything is written.  Writes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.config.yamlfile import load_yaml
from engine.errors import ConfigError, ResultsError
from engine.results.nulls import NULLS, MalformedNulls, null_values, read_nulls
from engine.results.reader import inside, read_manifest, read_table
from engine.results.runfolder import RunContents
from engine.results.sweepfolder import NUMBER_COLUMNS, SUMMARY_COLUMNS, SUMMARY_TEXT

#: What a sweep folder must hold for its report to be rendered again.
REQUIRED = ("summary.csv", NULLS, "config.yaml")
#: The hint of every error about a sweep folder's files.
HINT = "it was not written by basket, or was edited; run the sweep again (same --seed, same draws)"


@dataclass
class Sweep:
    """A sweep folder read back: its ``manifest`` (options, universe, notes, verification),
    its ``study`` as run (``config.yaml``), the ``summary`` rows (:data:`SUMMARY_COLUMNS`) and,
    in the same order, the random baskets' values behind each row (``nulls``)."""

    path: Path
    manifest: dict[str, Any]
    study: dict[str, Any]
    summary: pd.DataFrame
    nulls: list[np.ndarray]

    @property
    def id(self) -> str:
        return str(self.manifest.get("run_id") or self.path.name)


def read_sweep_summary(source: Path | io.StringIO, name: str) -> pd.DataFrame:
    """The rows of a sweep's ``summary.csv`` (from the file or the text written to it) with
    the columns of :data:`SUMMARY_COLUMNS`: text as text (an empty grid is ``""``), numbers as
    numbers; :class:`ResultsError` naming ``name`` when a column is missing or not numeric."""
    try:
        frame = read_table(source, dtype=dict.fromkeys(SUMMARY_TEXT, str),
                           na_values={c: [""] for c in NUMBER_COLUMNS})
    except (OSError, ValueError) as error:
        raise ResultsError(f"{name} cannot be read ({error})", HINT) from None
    missing = [c for c in SUMMARY_COLUMNS if c not in frame.columns]
    if missing:
        raise ResultsError(f"{name} has no column {', '.join(missing)}", HINT)
    frame = frame[list(SUMMARY_COLUMNS)]
    for column in NUMBER_COLUMNS:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise ResultsError(f"{name}: column {column} holds text, not numbers", HINT)
    if frame.duplicated(["basket", "grid", "statistic"]).any():
        raise ResultsError(f"{name} lists a basket, grid point and statistic twice", HINT)
    return frame


def _nulls(path: Path, summary: pd.DataFrame) -> list[np.ndarray]:
    """The random values of each summary row from ``nulls.parquet``
    (:func:`engine.results.nulls.null_values`)."""
    try:
        found = null_values(read_nulls(path))
    except MalformedNulls as error:
        raise ResultsError(f"{path} cannot be read ({error})", HINT) from None
    empty = np.array([], dtype=np.float64)
    return [found.get(key, empty) for key in
            summary[["basket", "grid", "statistic"]].itertuples(index=False, name=None)]


def _study(path: Path) -> dict[str, Any]:
    """The study of ``config.yaml`` (the study as the sweep ran it)."""
    try:
        config = load_yaml(path)
    except ConfigError as error:
        raise ResultsError(error.message, HINT) from None
    study = config.get("study") if isinstance(config, dict) else None
    if not isinstance(study, dict):
        raise ResultsError(f"{path} has no 'study' mapping", HINT)
    return study


def load_sweep(folder: str | Path) -> Sweep:
    """Read the sweep folder ``folder``: its manifest (which must say ``kind: sweep``), study,
    summary and random values; :class:`ResultsError` naming the first file missing or
    malformed."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("kind") != "sweep":
        raise ResultsError(f"{folder} is not a sweep folder (its manifest says kind "
                           f"{manifest.get('kind')!r})")
    paths = {}
    for name in REQUIRED:
        path = inside(folder, name)
        if path is None:
            raise ResultsError(f"{folder / name} is missing (or a link out of the folder)", HINT)
        paths[name] = path
    study = _study(paths["config.yaml"])
    summary = read_sweep_summary(paths["summary.csv"], str(paths["summary.csv"]))
    return Sweep(folder, manifest, study, summary, _nulls(paths[NULLS], summary))


def memory_sweep(folder: str | Path, contents: RunContents, nulls: list[np.ndarray]) -> Sweep:
    """The :class:`Sweep` of the sweep folder just written to ``folder`` from what was
    written (``contents``: manifest, configuration, the summary's CSV text; ``nulls``: the
    values ``nulls.parquet`` holds, one array per summary row), as :func:`load_sweep` reads
    the folder."""
    name = str(Path(folder) / "summary.csv")
    summary = read_sweep_summary(io.StringIO(contents.tables["summary.csv"]), name)
    values = [np.asarray(v, dtype=np.float64) for v in nulls]
    return Sweep(Path(folder), contents.manifest, contents.config["study"], summary, values)
