"""The report of a ``basket sweep`` run folder: the themes' ranks against matched random
baskets and, per theme and statistic, a histogram of the random baskets' values with the
theme marked.

Built from the :class:`engine.pipeline.sweep.SweepResult` the sweep holds, once its run folder's
tables are written (a finish step of :func:`engine.results.sweepfolder.write_sweep`).
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path
from typing import Any

from engine.results.assets import plotly_script
from engine.results.report.nulls import null_histogram
from engine.results.report.page import (
    Charts,
    definition_list,
    document,
    esc,
    html_table,
    section,
    write_page,
)
from engine.results.report.provenance import settings_table
from engine.results.runfolder import MANIFEST
from engine.results.sweepfolder import VALUE_COLUMNS, is_percent, summary_table


def write_sweep_report(folder: Path, result: Any) -> Path:
    """Write the ``report.html`` of the (staged) sweep run folder ``folder`` from ``result``,
    titled with the run id of its manifest; returns its path."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return write_page(folder, build_sweep_report(result, manifest, folder))


def sweep_settings(result: Any, manifest: dict[str, Any]) -> str:
    """The sweep's settings as tables: the random baskets, the study, the command and the
    versions."""
    options = result.options
    draws = {
        "random baskets per theme": options.n_random,
        "matched on": ", ".join(options.matched_on),
        "seed": options.seed,
        "theme stocks included": options.include_theme,
        "grid": "; ".join(", ".join(f"{k} {v}" for k, v in point.items())
                          for point in manifest.get("grid") or []) or None,
        "verified against vectorbt": f"{options.verify} per theme (largest difference "
                                     f"{result.verified:.1e})",
        "universe": result.universe,
    }
    command = manifest.get("command")
    versions = manifest.get("versions") or {}
    run = [
        ("run id", manifest.get("run_id")),
        ("created", manifest.get("created_at")),
        ("command", shlex.join(str(c) for c in command) if isinstance(command, list)
         else command),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
    ]
    return section("settings", "Settings", "<h3>Random baskets</h3>" + settings_table(draws)
                   + "<h3>Study</h3>" + settings_table(result.study.to_dict())
                   + "<h3>Run</h3>" + definition_list(run))


def build_sweep_report(result: Any, manifest: dict[str, Any], folder: Path) -> str:
    """The report page of the sweep run folder ``folder`` (``manifest``: its manifest): the
    summary table, the histograms, the notes and the settings."""
    run_id = str(manifest.get("run_id") or folder.name)
    charts = Charts()
    summary = summary_table(result)
    shown = summary.drop(columns=["matched_on", "seed"]).copy()
    for column in VALUE_COLUMNS:
        shown[column] = [
            f"{v:.2%}" if is_percent(s) and math.isfinite(v) else f"{v:.3f}"
            for s, v in zip(summary["statistic"], summary[column], strict=True)
        ]
    table = html_table(shown.set_index("basket"), digits={"percentile": 1, "p_value": 3})
    charts_html = "".join(
        null_histogram(charts, row, values) for row, values in zip(result.rows, result.nulls,
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
    body = (
        f'<section id="summary"><h2>Ranks</h2><div class="wide">{table}</div></section>\n'
        f'<section id="nulls"><h2>Random baskets and the theme</h2>{charts_html}</section>\n'
        f'<section id="notes"><h2>Notes</h2><ul class="notes">{notes}</ul></section>\n'
        + sweep_settings(result, manifest)
    )
    header = [esc(settings), f"universe {esc(result.universe)} · run {esc(run_id)}"]
    return document(title, run_id, header, body, plotly_script(folder) + charts.script())
