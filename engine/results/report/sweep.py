"""The report of a ``basket sweep`` run folder: the themes' ranks against matched random
baskets and, per theme and statistic, a histogram of the random baskets' values with the
theme marked.

Built from a :class:`engine.results.sweepreader.Sweep`: right after the sweep, from what it
wrote, held in memory (a finish step of :func:`engine.results.sweepfolder.write_sweep`); with
``basket report``, from the folder's files (:func:`engine.results.sweepreader.load_sweep`);
both give the same bytes.
"""

from __future__ import annotations

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
from engine.results.sweepfolder import VALUE_COLUMNS, is_percent
from engine.results.sweepreader import Sweep, load_sweep


def write_sweep_report(sweep: Sweep, self_contained: bool = False) -> Path:
    """Write the ``report.html`` of the sweep folder ``sweep`` was read from (or just
    written to), titled with the run id of its manifest; plotly.js is the results folder's
    shared asset, or embedded when ``self_contained``; returns its path."""
    return write_page(sweep.path, build_sweep_report(sweep, self_contained))


def rewrite_sweep_report(folder: str | Path, self_contained: bool = False) -> Path:
    """(Re)write the ``report.html`` of the sweep folder ``folder`` from its files
    (``basket report``): the same page ``basket sweep`` wrote.  A file missing or malformed is
    a :class:`engine.errors.ResultsError` naming it, and nothing is written."""
    return write_sweep_report(load_sweep(folder), self_contained)


def _verified(manifest: dict[str, Any]) -> str:
    """How the kernel was checked against vectorbt, from the manifest."""
    worst = manifest.get("verified_max_difference")
    shown = f"{worst:.1e}" if isinstance(worst, int | float) else "not recorded"
    return f"{manifest.get('verify')} per theme (largest difference {shown})"


def sweep_settings(sweep: Sweep) -> str:
    """The sweep's settings as tables: the random baskets, the study, the command and the
    versions."""
    manifest = sweep.manifest
    draws = {
        "random baskets per theme": manifest.get("n_random"),
        "matched on": ", ".join(manifest.get("matched_on") or []),
        "seed": manifest.get("seed"),
        "theme stocks included": manifest.get("include_theme"),
        "grid": "; ".join(", ".join(f"{k} {v}" for k, v in point.items())
                          for point in manifest.get("grid") or []) or None,
        "verified against vectorbt": _verified(manifest),
        "universe": manifest.get("universe"),
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
                   + "<h3>Study</h3>" + settings_table(sweep.study)
                   + "<h3>Run</h3>" + definition_list(run))


def build_sweep_report(sweep: Sweep, self_contained: bool = False) -> str:
    """The report page of ``sweep``: the summary table, the histograms, the notes and the
    settings."""
    manifest = sweep.manifest
    charts = Charts()
    summary = sweep.summary
    shown = summary.drop(columns=["matched_on", "seed"]).copy()
    for column in VALUE_COLUMNS:
        shown[column] = [
            f"{v:.2%}" if is_percent(s) and math.isfinite(v) else f"{v:.3f}"
            for s, v in zip(summary["statistic"], summary[column], strict=True)
        ]
    table = html_table(shown.set_index("basket"), digits={"percentile": 1, "p_value": 3})
    charts_html = "".join(
        null_histogram(charts, row, values)
        for row, values in zip(summary.to_dict(orient="records"), sweep.nulls, strict=True)
    )
    include = "theme stocks included" if manifest.get("include_theme") else (
        "theme stocks excluded")
    settings = (
        f"{manifest.get('n_random')} random baskets per theme, matched on "
        f"{', '.join(manifest.get('matched_on') or [])}, seed {manifest.get('seed')}; "
        f"{include}; verified against vectorbt: {_verified(manifest)}"
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in manifest.get("notes") or [])
    title = f"{sweep.study.get('name') or 'Sweep'}: matched random baskets"
    body = (
        f'<section id="summary"><h2>Ranks</h2><div class="wide">{table}</div></section>\n'
        f'<section id="nulls"><h2>Random baskets and the theme</h2>{charts_html}</section>\n'
        f'<section id="notes"><h2>Notes</h2><ul class="notes">{notes}</ul></section>\n'
        + sweep_settings(sweep)
    )
    header = [esc(settings), f"universe {esc(manifest.get('universe'))} · run {esc(sweep.id)}"]
    return document(title, sweep.id, header, body,
                    plotly_script(sweep.path, self_contained) + charts.script())
