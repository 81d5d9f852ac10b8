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

written atomically like every run folder (:func:`engine.results.runfolder.write_run_folder`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.jsonable import json_ready
from engine.results.assets import plotly_script
from engine.results.display import markdown_table
from engine.results.report import STYLE, Charts, axis, esc, html_table, label
from engine.results.runfolder import (
    MANIFEST,
    WRITER,
    new_run_id,
    package_versions,
    write_run_folder,
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
BINS = 40


def is_percent(statistic: str) -> bool:
    return statistic in PERCENT_STATISTICS or statistic.startswith("car")


def summary_table(result: Any) -> pd.DataFrame:
    """The summary rows with the columns of :data:`SUMMARY_COLUMNS`."""
    return pd.DataFrame(result.rows, columns=list(SUMMARY_COLUMNS))


def write_sweep(
    result: Any, out: str | Path = "results", *, name: str | None = None,
    argv: Sequence[str] | None = None,
) -> Path:
    """Write ``result`` (an :class:`engine.pipeline.SweepResult`) as a run folder under
    ``out``; returns its path."""
    run_id = new_run_id(f"{name or result.study.name or 'sweep'}-sweep")

    def fill(folder: Path) -> None:
        summary = summary_table(result)
        safe = spreadsheet_frame(summary)
        safe.to_csv(folder / "summary.csv", index=False)
        write_text_synced(folder / "summary.md", markdown_table(summary.set_index("basket")))
        write_text_synced(folder / "summary.json",
                    json.dumps(result.records(), indent=2, allow_nan=False) + "\n")
        _nulls_frame(result).to_parquet(folder / "nulls.parquet", index=False)
        _draws_frame(result).to_parquet(folder / "draws.parquet", index=False)
        write_text_synced(folder / MANIFEST, json.dumps(json_ready(_manifest(result, run_id, argv)),
                                                  indent=2) + "\n")
        write_text_synced(folder / "report.html", build_sweep_report(result, run_id, folder))

    return write_run_folder(out, run_id, fill)


def _nulls_frame(result: Any) -> pd.DataFrame:
    pieces = []
    for row, values in zip(result.rows, result.nulls, strict=True):
        pieces.append(pd.DataFrame({
            "basket": row["basket"], "grid": row["grid"], "statistic": row["statistic"],
            "draw": np.arange(len(values)), "value": values,
        }))
    return pd.concat(pieces, ignore_index=True)


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


def _histogram(charts: Charts, row: dict[str, Any], values: np.ndarray) -> str:
    values = values[np.isfinite(values)]
    if not len(values) or not math.isfinite(row["value"]):
        return ""
    scale = 100.0 if is_percent(row["statistic"]) else 1.0
    low, high = min(values.min(), row["value"]), max(values.max(), row["value"])
    counts, edges = np.histogram(values, bins=BINS, range=(low, high) if high > low else None)
    centers = (edges[:-1] + edges[1:]) / 2 * scale
    theme = row["value"] * scale
    unit = " (%)" if scale == 100 else ""
    data = [{"type": "bar", "x": centers.round(6).tolist(), "y": counts.tolist(),
             "name": "random baskets", "marker": {"color": "#9bb7d4"}}]
    layout = {
        "title": {"text": label(f"{row['basket']}: {row['statistic']} {row['grid']}".strip())},
        "xaxis": axis(f"{row['statistic']}{unit}"),
        "yaxis": axis("baskets"),
        "bargap": 0.02,
        "showlegend": False,
        "shapes": [{"type": "line", "xref": "x", "yref": "paper", "x0": theme, "x1": theme,
                    "y0": 0, "y1": 1, "line": {"color": "#c62828", "width": 2}}],
        "annotations": [{
            "x": theme, "xref": "x", "yref": "paper", "y": 1, "yanchor": "bottom",
            "showarrow": False, "font": {"color": "#c62828"},
            "text": label(f"theme: percentile {row['percentile']:.1f}, p = {row['p_value']:.4f}"),
        }],
    }
    return charts.add("null", data, layout, height=300)


def build_sweep_report(result: Any, run_id: str, folder: Path) -> str:
    """The report page of the sweep run folder ``folder``: settings, the summary table, the
    histograms."""
    charts = Charts()
    summary = summary_table(result)
    shown = summary.drop(columns=["matched_on", "seed"]).copy()
    for column in VALUE_COLUMNS:
        shown[column] = [
            f"{v:.2%}" if is_percent(s) and math.isfinite(v) else f"{v:.3f}"
            for s, v in zip(summary["statistic"], summary[column], strict=True)
        ]
    table = html_table(shown.set_index("basket"), digits={"percentile": 1, "p_value": 4})
    charts_html = "".join(
        _histogram(charts, row, values) for row, values in zip(result.rows, result.nulls,
                                                               strict=True)
    )
    options = result.options
    settings = (
        f"{options.n_random} random baskets per theme, matched on "
        f"{', '.join(options.matched_on)}, seed {options.seed}; "
        f"{'theme stocks included' if options.include_theme else 'theme stocks excluded'}; "
        f"verified against vectorbt: {options.verify} per theme (largest difference "
        f"{result.verified:.1e})"
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.notes)
    title = f"{result.study.name or 'Sweep'}: matched random baskets"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}: {esc(run_id)}</title>\n<style>{STYLE}</style>\n"
        "</head>\n<body>\n"
        f"<header><h1>{esc(title)}</h1><p>{esc(settings)}</p>"
        f"<p>universe {esc(result.universe)} · run {esc(run_id)}</p></header>\n<main>\n"
        f'<section id="summary"><h2>Ranks</h2><div class="wide">{table}</div></section>\n'
        f'<section id="nulls"><h2>Random baskets and the theme</h2>{charts_html}</section>\n'
        f'<section id="notes"><h2>Notes</h2><ul class="notes">{notes}</ul></section>\n'
        f"</main>\n{plotly_script(folder)}{charts.script()}</body>\n</html>\n"
    )
