"""The run folder of ``basket sweep``: themes ranked against matched random baskets.

It holds::

    summary.csv / summary.md / summary.json   one row per theme, grid point and statistic:
                                              value, random mean/p05/p50/p95, percentile,
                                              p-value, n_random, matched_on, seed
    nulls.parquet                             every random value behind each row (long format:
                                              basket, grid, statistic, draw, value)
    draws.parquet                             the symbols of every random basket (basket,
                                              period, draw, slot, symbol)
    manifest.json                             command, time, versions, universe, survivorship,
                                              settings, verification, notes
    report.html                               the summary and a histogram per theme and
                                              statistic with the theme marked
                                              (:mod:`engine.results.report.sweep`)

written atomically like every run folder (:func:`engine.results.runfolder.write_run_folder`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.jsonable import json_ready
from engine.results.display import markdown_table
from engine.results.nulls import NULLS, nulls_frame
from engine.results.runfolder import (
    MANIFEST,
    WRITER,
    Finisher,
    new_run_id,
    package_versions,
    place_run_folder,
    write_text_synced,
)
from engine.text import spreadsheet_frame

SUMMARY_COLUMNS = (
    "basket", "grid", "statistic", "value", "random_mean", "random_p05", "random_p50",
    "random_p95", "percentile", "p_value", "n_random", "matched_on", "seed",
)
#: Statistics shown as percentages (CARs too: their names start with ``car``).
PERCENT_STATISTICS = ("total_return", "excess_return", "max_drawdown")
VALUE_COLUMNS = ("value", "random_mean", "random_p05", "random_p50", "random_p95")


def is_percent(statistic: str) -> bool:
    return statistic in PERCENT_STATISTICS or statistic.startswith("car")


def summary_table(result: Any) -> pd.DataFrame:
    """The summary rows with the columns of :data:`SUMMARY_COLUMNS`."""
    return pd.DataFrame(result.rows, columns=list(SUMMARY_COLUMNS))


def write_sweep(
    result: Any, out: str | Path = "results", *, name: str | None = None,
    argv: Sequence[str] | None = None, finish: Sequence[Finisher] = (),
) -> Path:
    """Write ``result`` (an :class:`engine.pipeline.sweep.SweepResult`) as a run folder under
    ``out``; ``finish`` steps (the report) run on the staged folder once its tables are in
    it; returns its path."""
    run_id = new_run_id(f"{name or result.study.name or 'sweep'}-sweep")

    def fill(folder: Path) -> None:
        summary = summary_table(result)
        safe = spreadsheet_frame(summary)
        safe.to_csv(folder / "summary.csv", index=False)
        write_text_synced(folder / "summary.md", markdown_table(summary.set_index("basket")))
        write_text_synced(folder / "summary.json",
                    json.dumps(result.records(), indent=2, allow_nan=False) + "\n")
        nulls_frame(result.rows, result.nulls).to_parquet(folder / NULLS, index=False)
        _draws_frame(result).to_parquet(folder / "draws.parquet", index=False)
        write_text_synced(folder / MANIFEST, json.dumps(json_ready(_manifest(result, run_id, argv)),
                                                  indent=2) + "\n")

    return place_run_folder(out, run_id, fill, finish)


def _draws_frame(result: Any) -> pd.DataFrame:
    pieces = []
    for key, symbols in result.draws.items():
        n, k = symbols.shape
        pieces.append(pd.DataFrame({
            "basket": key, "draw": np.repeat(np.arange(n), k), "slot": np.tile(np.arange(k), n),
            "symbol": symbols.ravel().astype(str),
        }))
    return pd.concat(pieces, ignore_index=True)


def _manifest(result: Any, run_id: str, argv: Sequence[str] | None) -> dict[str, Any]:
    import datetime as dt
    import sys

    options = result.options
    return {
        **WRITER,
        "run_id": run_id,
        "kind": "sweep",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "command": list(argv if argv is not None else sys.argv),
        "versions": package_versions(),
        "universe": result.universe,
        "survivorship": result.notes[0],
        "benchmark": result.study.benchmark,
        "study": result.study.name,
        "baskets": [b.name for b in result.baskets],
        "n_random": options.n_random,
        "matched_on": options.matched_on,
        "seed": options.seed,
        "include_theme": options.include_theme,
        "grid": [{k: str(v) for k, v in p.items()} for p in options.grid],
        "verify": options.verify,
        "verified_max_difference": result.verified,
        "events": result.events.to_dict() if result.events is not None else None,
        "notes": result.notes,
    }
