"""``report.html`` of a claims run: each claim beside the price path it is about.

Built, like the run report (:mod:`engine.results.report.run`), from the files of the run
folder (``claims.json``, ``paths.csv``, ``asof.csv``, the manifest), offline (plotly.js from
the shared asset or embedded) and with every text escaped.  Sections:

1. **Verdicts**: one row per claim and listing (printed, measured, difference, dates, verdict;
   the listing the figure matches in bold);
2. **Claims**: per claim, the return path of each listing from its start, the measured window
   shaded, the printed figure as a dashed line inside its *holds* band, and the measured figure
   marked at the end of the window;
3. **As-of score** (with ``--infer-asof``): claims holding and close per candidate date, the
   inferred date marked;
4. **Data notes** and **Settings**: the manifest's notes, data source, fingerprints, command.
"""

from __future__ import annotations

import json
import shlex
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

from engine.errors import ResultsError
from engine.results.assets import plotly_script
from engine.results.claims import figure_text
from engine.results.reader import load_run
from engine.results.report.page import (
    PALETTE,
    Charts,
    axis,
    definition_list,
    document,
    esc,
    html_table,
    label,
    section,
    write_page,
)
from engine.results.report.provenance import notes_section

HOLDS_BAND = "rgba(46,125,50,0.12)"
WINDOW_SHADE = "rgba(22,50,79,0.07)"


def write_claims_report(folder: str | Path, self_contained: bool = False) -> Path:
    """Write ``report.html`` into a claims run folder from its files; returns its path.
    plotly.js is the results folder's shared asset, or embedded when ``self_contained``."""
    folder = Path(folder)
    return write_page(folder, build_claims_report(folder, plotly_script(folder, self_contained)))


def _records(folder: Path) -> list[dict[str, Any]]:
    try:
        records = json.loads((folder / "claims.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ResultsError(f"{folder / 'claims.json'} cannot be read ({error})") from None
    if not isinstance(records, list):
        raise ResultsError(f"{folder / 'claims.json'} does not hold a list of rows")
    return records


def verdicts_section(records: list[dict[str, Any]]) -> str:
    rows = []
    for r in records:
        rows.append(
            {
                "n": r["claim_index"] + 1,
                "claim": r["claim"],
                "listing": r["symbol"],
                "printed": r["printed_as"] or _bounds(r),
                "measured": figure_text(r["measured"], r),
                "difference": _difference(r),
                "start": r["start"] or "",
                "end": r["end"] or "",
                "currency": r["currency"] or "",
                "verdict": r["verdict"] + (f": {r['reason']}" if r["reason"] else ""),
                "claim verdict": r["claim_verdict"] if r["matches"] or not r["start"] else "",
            }
        )
    frame = pd.DataFrame(rows)
    classes = {i: "match" for i, r in enumerate(records) if r["matches"]}
    body = html_table(frame, index=False, row_class=classes)
    caption = (
        '<p class="caption">Bold: the listing the printed figure matches. A figure holds '
        "within the precision its digits imply (51 % = 50.5..51.5 %), is close within five "
        'times that (or the claim\'s <code>close</code>). "Risen N times" is read as a total '
        "return of N; the price-multiple reading (1 + return) is in the charts' notes.</p>"
    )
    return section("verdicts", "Verdicts", body + caption)


def _bounds(row: dict[str, Any]) -> str:
    parts = []
    if row["at_least"] is not None:
        parts.append(f">= {figure_text(row['at_least'], row)}")
    if row["at_most"] is not None:
        parts.append(f"<= {figure_text(row['at_most'], row)}")
    return " and ".join(parts)


def _difference(row: dict[str, Any]) -> str:
    value = row["difference"]
    if value is None:
        return ""
    return f"{value:+.2f}" if row["times"] else f"{100 * value:+.1f} pt"


def claim_chart(charts: Charts, rows: list[dict[str, Any]], paths: pd.DataFrame) -> str:
    """The return path of each listing of one claim, window shaded, figures marked."""
    first = rows[0]
    scale = 1.0 if first["times"] else 100.0
    unit = "total return (times)" if first["times"] else "return since the start (%)"
    data, shapes, annotations = [], [], []
    for k, row in enumerate(rows):
        path = paths[(paths["n"] == row["claim_index"] + 1) & (paths["symbol"] == row["symbol"])]
        if path.empty:
            continue
        color = PALETTE[k % len(PALETTE)]
        name = f"{row['symbol']} ({row['currency']})" + (" *" if row["matches"] else "")
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": label(name),
                "x": path["date"].astype(str).tolist(),
                "y": [round(v * scale, 4) for v in path["growth"]],
                "line": {"color": color, "width": 2.5 if row["matches"] else 1.5},
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "showlegend": False,
                "x": [row["end"]],
                "y": [round(row["measured"] * scale, 4)],
                "text": [label(f"measured {figure_text(row['measured'], row)}")],
                "textposition": "middle left",
                "marker": {"color": color, "size": 9, "symbol": "circle"},
            }
        )
        window = _rect(row["start"], row["end"], 0, 1, WINDOW_SHADE, yref="paper")
        if window not in shapes:
            shapes.append(window)
    for bound in (first["at_least"], first["at_most"]):
        if bound is not None:
            shapes.append(_level(bound * scale))
    if first["printed"] is not None:
        low = (first["printed"] - first["tolerance"]) * scale
        high = (first["printed"] + first["tolerance"]) * scale
        shapes.append(_rect(0, 1, low, high, HOLDS_BAND, xref="paper"))
        shapes.append(_level(first["printed"] * scale))
        annotations.append(
            {
                "xref": "paper",
                "x": 0.01,
                "y": first["printed"] * scale,
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"color": "#2e7d32"},
                "text": label(f"printed {figure_text(first['printed'], first, extra=0)}"),
            }
        )
    title = f"{first['claim_index'] + 1}. {first['claim']}: {first['claim_verdict']}"
    layout = {
        "title": {"text": "<br>".join(map(label, textwrap.wrap(title, 60)))},
        "xaxis": axis("date"),
        "yaxis": axis(unit),
        "shapes": shapes,
        "annotations": annotations,
    }
    return charts.add(f"claim-{first['claim_index'] + 1}", data, layout, height=360)


def _level(y: float) -> dict[str, Any]:
    """A dashed horizontal line across the chart: the printed figure, or a bound."""
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"color": "#2e7d32", "dash": "dash", "width": 1.5},
    }


def _rect(x0, x1, y0, y1, color, xref="x", yref="y") -> dict[str, Any]:
    return {
        "type": "rect",
        "xref": xref,
        "yref": yref,
        "x0": x0,
        "x1": x1,
        "y0": y0,
        "y1": y1,
        "fillcolor": color,
        "line": {"width": 0},
        "layer": "below",
    }


def claims_section(records: list[dict[str, Any]], paths: pd.DataFrame, charts: Charts) -> str:
    by_claim: dict[int, list[dict[str, Any]]] = {}
    for row in records:
        if row["start"]:
            by_claim.setdefault(row["claim_index"], []).append(row)
    parts = []
    for rows in by_claim.values():
        notes = [
            f"{r['symbol']}: read as a price multiple {r['as_multiple']:.2f}x, "
            f"{r['as_multiple_verdict']}"
            for r in rows
            if r["as_multiple"] is not None
        ]
        caption = "".join(f'<p class="caption">{esc(n)}</p>' for n in notes)
        parts.append(f"<div>{claim_chart(charts, rows, paths)}{caption}</div>")
    if not parts:
        parts.append('<p class="empty">No claim could be measured.</p>')
    return section(
        "claims", "Claims and their price paths", f'<div class="grid">{"".join(parts)}</div>'
    )


def asof_section(scores: pd.DataFrame, inferred: str | None, charts: Charts) -> str:
    dates = scores["date"].astype(str).tolist()
    data = [
        {
            "type": "bar",
            "name": "holds",
            "x": dates,
            "y": scores["holds"].tolist(),
            "marker": {"color": "#2e7d32"},
        },
        {
            "type": "bar",
            "name": "close",
            "x": dates,
            "y": scores["close"].tolist(),
            "marker": {"color": "#f9a825"},
        },
    ]
    layout = {
        "barmode": "stack",
        "title": {"text": label(f"Claims holding per candidate as-of date: {inferred}")},
        "xaxis": axis("as-of date", type="category"),
        "yaxis": axis("claims"),
    }
    chart = charts.add("asof", data, layout, height=320)
    table = html_table(scores.set_index("date"), row_class={inferred: "match"})
    return section("asof", "As-of score", chart + table)


def build_claims_report(folder: Path, plotly: str) -> str:
    """The whole page of a claims run folder as a string; ``plotly`` is the element loading
    plotly.js (:func:`engine.results.assets.plotly_script`)."""
    run = load_run(folder)
    m = run.manifest
    records = _records(folder)
    paths = pd.read_csv(folder / "paths.csv") if (folder / "paths.csv").is_file() else None
    if paths is None:
        paths = pd.DataFrame(columns=["n", "symbol", "date", "value", "growth"])
    scores = pd.read_csv(folder / "asof.csv") if (folder / "asof.csv").is_file() else None
    charts = Charts()
    sections = [
        verdicts_section(records),
        claims_section(records, paths, charts),
        asof_section(scores, m.get("asof_inferred"), charts) if scores is not None else "",
        notes_section(run),
        settings_section(run),
    ]
    links = [
        ("verdicts", "Verdicts"),
        ("claims", "Claims"),
        ("asof", "As-of score"),
        ("notes", "Data notes"),
        ("settings", "Settings"),
    ]
    if scores is None:
        links = [link for link in links if link[0] != "asof"]
    how = "inferred" if m.get("asof_inferred") == str(m.get("asof")) else "as of"
    subtitle = f"published {esc(m.get('published'))} · prices as of {esc(m.get('asof'))} ({how})"
    title = str(m.get("title") or run.id)
    header = [subtitle, f"claims check {esc(run.id)} · written {esc(m.get('created_at'))}"]
    return document(title, run.id, header, "".join(sections), plotly + charts.script(),
                    nav=links, style="tr.match { font-weight: 600; }")


def settings_section(run) -> str:
    m = run.manifest
    command = m.get("command")
    items = [
        ("run id", run.id),
        ("created", m.get("created_at")),
        ("command", shlex.join(str(c) for c in command) if isinstance(command, list) else command),
        ("claims file", (run.config.get("claims") or {}).get("file")),
        ("as of (file)", m.get("asof_in_file")),
        ("as of (used)", m.get("asof")),
        ("as of (inferred)", m.get("asof_inferred")),
        ("versions", ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items())),
    ]
    return section("settings", "Settings", definition_list(items))
