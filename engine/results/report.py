"""``report.html``: one self-contained page per run folder, readable offline.

The page is built from the files already in the run folder (so ``basket report`` can rebuild
it for an old run) and loads plotly.js from the results folder's shared offline asset
(:mod:`engine.results.assets`), or embeds it (``--self-contained``): no CDN, no network.
Sections, top to bottom:

1. **Summary**: the run's summary table (percentages as percentages, negatives in red);
2. **Equity**: every basket and the benchmark rebased to 100 at the starting cash, the study's
   event dates marked by vertical lines with their names;
3. **Drawdowns**: the fall from the running peak of each curve (the peak starts at the cash);
4. **Event study** (when ``events/`` exists): per event, the basket CAR paths by event day
   (``events/car_paths.csv``), day 0 per exchange, the CAR/BHAR table with test statistics
   and the stocks excluded, with reasons;
5. **Attribution**: per basket, a bar chart of the constituents' contributions to the total
   return, and the full table (weights, local and report-currency returns);
6. **Data notes**: the manifest's notes (gaps carried, bars on closed days, calendars),
   skipped symbols, unreadable files, the data source and price-file fingerprints;
7. **Settings**: the study as run, the baskets (weighting, rebalancing and its dates) and the
   manifest (command, time, versions).

Every text from the run folder is HTML-escaped, in the page and inside the charts (plotly
draws a subset of HTML in labels).  Charts are described as JSON in one
``<script type="application/json">`` element and drawn by a short loader, which marks each
chart ``data-rendered="1"`` when plotly has drawn it.

Importing this module imports pandas and yaml but neither vectorbt nor plotly's Python
figure classes (plotly.js is read from the package only when a report is written).
"""

from __future__ import annotations

import html
import json
import math
import numbers
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from engine.analysis.drawdowns import drawdown_periods
from engine.analysis.metrics import TEXT_COLUMNS
from engine.errors import ResultsError
from engine.files import atomic_write
from engine.jsonable import json_ready
from engine.results.assets import plotly_script
from engine.results.compare import flatten
from engine.results.display import P_FLOOR, format_cell, is_pvalue
from engine.results.notes import group_notes
from engine.results.reader import Run, load_run
from engine.results.runfolder import MANIFEST, WRITER
from engine.results.runs_display import value_text
from engine.results.summary_tables import YEAR_DAYS, event_notes, summary_tables

REPORT = "report.html"
#: The p-values under each CAR of the event tables, robust tests first: (label, column).
PIVOT_TESTS = (("KP", "p_kolari_pynnonen"), ("BH", "p_kolari_pynnonen_bh"), ("rank", "p_rank"))
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#7f7f7f",
)
BENCHMARK_COLOR = "#222222"
POSITIVE, NEGATIVE = "#2e7d32", "#c62828"
EVENT_COLUMNS = {
    "basket": "Basket",
    "window": "Window",
    "n_stocks": "Stocks",
    "n_excluded": "Excl.",
    "car": "CAR",
    "bhar": "BHAR",
    "p_kolari_pynnonen": "p KP",
    "p_kolari_pynnonen_holm": "p KP Holm",
    "p_kolari_pynnonen_bh": "p KP BH",
    "p_rank": "p rank",
    "p_rank_holm": "p rank Holm",
    "p_rank_bh": "p rank BH",
    "t_cross_sectional": "t (cs)",
    "p_cross_sectional": "p (cs)",
    "p_patell": "p Patell",
    "p_bmp": "p BMP",
    "p_sign": "p sign",
    "portfolio_car": "Portfolio CAR",
    "selected_after": "Chosen after",
}
EVENT_PERCENT = ("car", "bhar", "mean_car", "portfolio_car")
ATTRIBUTION_PERCENT = ("weight", "local_return", "return", "contribution")
PLOTLY_CONFIG = {"responsive": True, "displaylogo": False}
#: Baskets beyond this many get no attribution chart (their rows stay in the table).
MAX_ATTRIBUTION_CHARTS = 24


def write_report(folder: str | Path, self_contained: bool = False) -> Path:
    """Write ``report.html`` into the run folder from the files already there; returns its
    path.  plotly.js is the results folder's shared asset, or embedded when
    ``self_contained``.  Only a folder whose manifest says basket wrote it (``written_by``,
    see :data:`engine.results.runfolder.WRITER`) is rewritten: ``report`` never replaces a
    ``report.html`` in a folder someone else made."""
    folder = Path(folder)
    run = load_run(folder)
    if run.manifest.get("written_by") != WRITER["written_by"]:
        raise ResultsError(
            f"{folder} was not written by basket: its {MANIFEST} does not say "
            f"\"written_by\": \"basket\"; report.html left alone",
            "runs made before run_folder_format 1 have no report to rewrite: run them again",
        )
    return write_page(folder, build_report(run, plotly_script(folder, self_contained)))


def write_page(folder: Path, page: str) -> Path:
    """Write ``page`` as the folder's ``report.html`` through an exclusively created temporary
    file and a rename (:func:`engine.files.atomic_write`): a reader never sees half a report
    and a symlink planted in the folder is replaced, never followed; returns its path."""
    path = folder / REPORT
    try:
        atomic_write(path, page.encode("utf-8"))
    except OSError as error:
        raise ResultsError(f"cannot write {path} ({error.strerror or error})") from None
    return path


# --------------------------------------------------------------------------- helpers


def esc(value: Any) -> str:
    """Text for the page: HTML-escaped, quotes included."""
    return html.escape("" if value is None else str(value))


def label(value: Any) -> str:
    """Text for a chart label or legend: escaped, since plotly reads tags and entities."""
    return html.escape("" if value is None else str(value), quote=False)


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def p_text(p: float) -> str:
    """A p-value for people: three decimals, below :data:`P_FLOOR` as ``<0.001``."""
    return f"<{P_FLOOR:g}" if p < P_FLOOR else f"{p:.3f}"


def _cell(value: Any, percent: bool, digits: int = 2, column: Any = "") -> str:
    """A table cell; numbers right-aligned, negatives ``neg``, p-values (by the column's name,
    :func:`engine.results.display.is_pvalue`) below 0.001 as ``<0.001``."""
    if value is None or isinstance(value, bool | str):
        return f"<td>{esc(value)}</td>"
    if isinstance(value, numbers.Integral):
        number, text = float(value), str(value)
    else:
        number = _number(value)
        text = format_cell(None if math.isnan(number) else number, percent, digits)
        if is_pvalue(column) and number < P_FLOOR:
            text = p_text(number)
    css = "num neg" if number < 0 and text.strip("-0.%") else "num"
    return f'<td class="{css}">{esc(text)}</td>'


def _isnan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def html_table(
    frame: pd.DataFrame,
    *,
    percent: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    digits: dict[str, int] | None = None,
    row_class: dict[Any, str] | None = None,
    index: bool = True,
    css: str = "",
) -> str:
    """``frame`` as an escaped HTML table; numbers right-aligned, negatives marked ``neg``."""
    headers, digits, row_class = headers or {}, digits or {}, row_class or {}
    head = ([esc(frame.index.name or "")] if index else []) + [
        esc(headers.get(str(c), c)) for c in frame.columns
    ]
    lines = [f'<table class="{esc(css)}"><thead><tr>']
    lines += [f"<th>{h}</th>" for h in head]
    lines.append("</tr></thead><tbody>")
    for key, row in frame.iterrows():
        cls = row_class.get(key, "")
        lines.append(f'<tr class="{esc(cls)}">' if cls else "<tr>")
        if index:
            lines.append(f'<th scope="row">{esc(key)}</th>')
        for column, value in row.items():
            lines.append(_cell(value, column in percent, digits.get(str(column), 2), column))
        lines.append("</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


def definition_list(items: Sequence[tuple[str, Any]]) -> str:
    """Key-value rows; a key whose value the run does not have (an event-only run has no
    backtest period, currency or fees) is left out rather than shown as None."""
    rows = "".join(
        f"<tr><th scope=\"row\">{esc(k)}</th><td>{esc(v)}</td></tr>"
        for k, v in items
        if v is not None and v != ""
    )
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def _note(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def _colors(names: Sequence[str], benchmark: str | None) -> dict[str, str]:
    colors, k = {}, 0
    for name in names:
        if name == benchmark:
            colors[name] = BENCHMARK_COLOR
        else:
            colors[name] = PALETTE[k % len(PALETTE)]
            k += 1
    return colors


def _event_options(run: Run) -> dict[str, Any]:
    """The event study's settings as run (``config.yaml``'s ``event_study``, else the
    study file's)."""
    return run.config.get("event_study") or run.study.get("event_study") or {}


def _events(run: Run) -> list[tuple[str, str]]:
    events = []
    listed = run.config.get("event_study") or {}
    for event in listed.get("events") or run.study.get("events") or []:
        if isinstance(event, dict) and event.get("date"):
            events.append((str(event["date"])[:10], str(event.get("name") or "")))
    return events


def _round(values: Sequence[float], digits: int = 4) -> list[float | None]:
    return [None if _isnan(v) else round(float(v), digits) for v in values]


# --------------------------------------------------------------------------- charts


class Charts:
    """The page's charts: each one a ``<div>`` and a plotly figure (data, layout)."""

    def __init__(self) -> None:
        self.figures: list[dict[str, Any]] = []

    def add(self, key: str, data: list[dict], layout: dict, height: int = 420) -> str:
        chart_id = f"chart-{len(self.figures) + 1}-{key}"
        base = {
            "height": height,
            "margin": {"l": 60, "r": 20, "t": 48, "b": 40},
            "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
                     "size": 12},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "legend": {"orientation": "h", "y": -0.15},
        }
        self.figures.append(
            {"id": chart_id, "data": data, "layout": {**base, **layout}, "config": PLOTLY_CONFIG}
        )
        return f'<div class="chart" id="{esc(chart_id)}" data-chart="{esc(key)}"></div>'

    def script(self) -> str:
        payload = json.dumps(json_ready(self.figures), allow_nan=False, separators=(",", ":"))
        # Inside <script> only "</" could end the element early; escape every <, > and &.
        payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return (
            f'<script type="application/json" id="basket-figures">{payload}</script>\n'
            "<script>\n" + LOADER + "\n</script>\n"
        )


LOADER = """(function () {
  // One chart at a time, in page order, each started after the previous one is drawn and
  // painted: the first chart shows as soon as plotly.js is parsed, not after every chart.
  var figures = JSON.parse(document.getElementById("basket-figures").textContent);
  document.body.setAttribute("data-charts", String(figures.length));
  var next = 0;
  function draw() {
    if (next >= figures.length) return;
    var f = figures[next++], el = document.getElementById(f.id);
    Plotly.newPlot(el, f.data, f.layout, f.config).then(function () {
      el.setAttribute("data-rendered", "1");
      requestAnimationFrame(function () { setTimeout(draw, 0); });
    });
  }
  draw();
})();"""


def axis(title: str = "", **extra: Any) -> dict[str, Any]:
    """A plotly axis in the reports' style (shared by the run, claims and sweep reports)."""
    return {"title": {"text": label(title)}, "gridcolor": "#e5e5e5", "zeroline": False, **extra}


def _event_marks(events: Sequence[tuple[str, str]], first: str, last: str, labels: bool):
    shapes, annotations = [], []
    for k, (date, name) in enumerate(e for e in events if first <= e[0] <= last):
        shapes.append({
            "type": "line", "xref": "x", "yref": "paper", "x0": date, "x1": date,
            "y0": 0, "y1": 1, "line": {"color": "#555", "width": 1, "dash": "dot"},
        })
        if labels:
            annotations.append({
                "x": date, "xref": "x", "yref": "paper", "y": 1.0 - 0.07 * (k % 3),
                "yanchor": "top", "xanchor": "left", "showarrow": False,
                "text": f"{label(name)} ({date})" if name else date,
                "font": {"size": 11, "color": "#333"},
                "bgcolor": "rgba(255,255,255,0.8)",
            })
    return shapes, annotations


def equity_chart(charts: Charts, equity: pd.DataFrame, run: Run, colors: dict[str, str]) -> str:
    dates = [str(d)[:10] for d in equity.index]
    data = []
    for name in equity.columns:
        is_bench = name == run.benchmark
        data.append({
            "type": "scatter", "mode": "lines", "name": label(name), "x": dates,
            "y": _round(equity[name] * 100, 3),
            "line": {"color": colors.get(name), "width": 2.5 if is_bench else 1.6,
                     "dash": "dash" if is_bench else "solid"},
            "hovertemplate": "%{y:.1f}",
        })
    shapes, annotations = _event_marks(_events(run), dates[0], dates[-1], labels=True)
    layout = {
        "title": {"text": "Value of 100 invested (" + label(run.manifest.get("currency")) + ")"},
        "xaxis": axis(), "yaxis": axis("rebased to 100"),
        "hovermode": "x unified", "shapes": shapes, "annotations": annotations,
    }
    return charts.add("equity", data, layout, height=480)


def drawdown_chart(charts: Charts, equity: pd.DataFrame, run: Run, colors: dict[str, str]) -> str:
    dates = [str(d)[:10] for d in equity.index]
    data = []
    for name in equity.columns:
        values = equity[name].to_numpy(dtype=float)
        peaks = pd.Series(values).cummax().clip(lower=1.0).to_numpy()
        is_bench = name == run.benchmark
        data.append({
            "type": "scatter", "mode": "lines", "name": label(name), "x": dates,
            "y": _round((values / peaks - 1) * 100, 3),
            "line": {"color": colors.get(name), "width": 2.5 if is_bench else 1.4,
                     "dash": "dash" if is_bench else "solid"},
            "hovertemplate": "%{y:.2f}%",
        })
    shapes, _ = _event_marks(_events(run), dates[0], dates[-1], labels=False)
    layout = {
        "title": {"text": "Drawdown from the running peak"},
        "xaxis": axis(), "yaxis": axis("drawdown", ticksuffix="%"),
        "hovermode": "x unified", "shapes": shapes,
    }
    return charts.add("drawdown", data, layout, height=380)


def relative_chart(charts: Charts, equity: pd.DataFrame, run: Run, colors: dict[str, str]) -> str:
    """Each basket's value divided by the benchmark's, rebased to 100: rising when the basket
    beats the benchmark, whatever both do."""
    dates = [str(d)[:10] for d in equity.index]
    bench = equity[run.benchmark].to_numpy(dtype=float)
    data = [{
        "type": "scatter", "mode": "lines", "name": label(name), "x": dates,
        "y": _round(equity[name].to_numpy(dtype=float) / bench * 100, 3),
        "line": {"color": colors.get(name), "width": 1.6}, "hovertemplate": "%{y:.1f}",
    } for name in equity.columns if name != run.benchmark]
    shapes, _ = _event_marks(_events(run), dates[0], dates[-1], labels=False)
    shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 100, "y1": 100,
                   "line": {"color": BENCHMARK_COLOR, "width": 1, "dash": "dash"}})
    layout = {
        "title": {"text": "Relative to " + label(run.benchmark) + " (basket / benchmark)"},
        "xaxis": axis(), "yaxis": axis("rebased to 100"),
        "hovermode": "x unified", "shapes": shapes,
    }
    return charts.add("relative", data, layout, height=380)


#: Drawdown periods listed per basket in the report, deepest first.
DRAWDOWN_PERIODS_SHOWN = 3


def drawdown_table(equity: pd.DataFrame) -> str:
    """The deepest drawdown periods of every curve (:func:`drawdown_periods`, the peak
    starting at the cash): start, trough, recovery, depth and length in sessions."""
    rows = []
    for name in equity.columns:
        periods = drawdown_periods(equity[name].dropna(), initial=1.0)
        for period in periods.head(DRAWDOWN_PERIODS_SHOWN).itertuples():
            rows.append({
                "basket": name, "start": str(period.start)[:10],
                "trough": str(period.trough)[:10],
                "recovery": "not recovered" if pd.isna(period.recovery)
                else str(period.recovery)[:10],
                "depth": period.depth, "length": int(period.length),
            })
    if not rows:
        return _note("No curve fell below its running peak.")
    frame = pd.DataFrame(rows).set_index("basket").rename_axis("Basket")
    headers = {"start": "Start", "trough": "Trough", "recovery": "Recovery", "depth": "Depth",
               "length": "Sessions"}
    return html_table(frame, percent=["depth"], headers=headers) + (
        f'<p class="caption">The {DRAWDOWN_PERIODS_SHOWN} deepest drawdown periods of each '
        "curve: from the last session at the peak (the starting cash counts as one) to the "
        "first session back at it; sessions from start to recovery, or to the last session "
        "when not recovered.</p>"
    )


def car_chart(
    charts: Charts, paths: pd.DataFrame, event: str, name: str, colors: dict[str, str]
) -> str:
    data: list[dict[str, Any]] = []
    portfolios: list[dict[str, Any]] = []
    for basket, rows in paths.groupby("basket", sort=False):
        rows = rows.sort_values("day")
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": label(basket),
            "x": [int(d) for d in rows["day"]], "y": _round(rows["car"] * 100, 4),
            "customdata": [int(n) for n in rows["n_stocks"].fillna(0)]
            if "n_stocks" in rows else None,
            "line": {"color": colors.get(basket), "width": 1.8}, "marker": {"size": 4},
            "hovertemplate": "day %{x}: %{y:.2f}% (%{customdata} stocks)",
        })
        if "portfolio_car" in rows and rows["portfolio_car"].notna().any():
            # One legend entry switches every basket's portfolio CAR on and off.
            portfolios.append({
                "type": "scatter", "mode": "lines", "name": "basket portfolios (dotted)",
                "x": [int(d) for d in rows["day"]],
                "y": _round(rows["portfolio_car"] * 100, 4),
                "line": {"color": colors.get(basket), "width": 1.2, "dash": "dot"},
                "visible": "legendonly", "legendgroup": "portfolio",
                "showlegend": not portfolios,
                "hovertemplate": label(f"{basket} portfolio") + ", day %{x}: %{y:.2f}%"
                                 "<extra></extra>",
            })
    data += portfolios
    title = f"CAR around {label(event)}" + (f": {label(name)}" if name else "")
    layout = {
        "title": {"text": title},
        "xaxis": axis("event day (sessions of each stock's exchange)", dtick=1 if len(
            paths["day"].unique()) <= 25 else 5),
        "yaxis": axis("cumulative abnormal return", ticksuffix="%"),
        "hovermode": "closest",
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.2},
        "margin": {"l": 60, "r": 20, "t": 48, "b": 60},
        "shapes": [
            {"type": "line", "xref": "x", "yref": "paper", "x0": 0, "x1": 0, "y0": 0, "y1": 1,
             "line": {"color": "#555", "width": 1, "dash": "dot"}},
            {"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 0, "y1": 0,
             "line": {"color": "#999", "width": 1}},
        ],
    }
    return charts.add("car", data, layout, height=420)


def attribution_chart(charts: Charts, rows: pd.DataFrame, basket: str, total: float) -> str:
    rows = rows.sort_values("contribution")
    names = [
        f"{label(n)} ({label(s)})" if isinstance(n, str) and n.strip() else label(s)
        for n, s in zip(rows.get("name", rows["symbol"]), rows["symbol"], strict=True)
    ]
    contribution = rows["contribution"].to_numpy(dtype=float)
    custom = [
        [_round([w])[0], _round([r])[0]]
        for w, r in zip(rows.get("weight", pd.Series(math.nan, index=rows.index)),
                        rows.get("return", pd.Series(math.nan, index=rows.index)), strict=True)
    ]
    data = [{
        "type": "bar", "orientation": "h", "name": label(basket), "y": names,
        "x": _round(contribution * 100, 4), "customdata": custom,
        "marker": {"color": [NEGATIVE if c < 0 else POSITIVE for c in contribution]},
        "text": [f"{c * 100:+.2f}" for c in contribution], "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "%{y}<br>weight %{customdata[0]:.1%}, return %{customdata[1]:.1%}"
                         "<br>contribution %{x:.2f} pp<extra></extra>",
    }]
    total_text = "" if _isnan(total) else f": total {total:+.2%}"
    finite = contribution[~pd.isna(contribution)] * 100
    lo, hi = min(0.0, *finite) if len(finite) else 0.0, max(0.0, *finite) if len(finite) else 1.0
    span = (hi - lo) or 1.0
    # Room for the value printed beyond each bar's end.
    xrange = [lo - (0.22 if lo < 0 else 0.02) * span, hi + (0.16 if hi > 0 else 0.02) * span]
    layout = {
        "title": {"text": label(basket) + total_text, "font": {"size": 13}},
        "xaxis": axis("contribution (percentage points)", range=xrange),
        "yaxis": {"automargin": True},
        "showlegend": False, "margin": {"l": 10, "r": 20, "t": 40, "b": 40},
    }
    return charts.add("attribution", data, layout, height=110 + 26 * len(rows))


# --------------------------------------------------------------------------- sections


def section(anchor: str, title: str, body: str) -> str:
    """One titled part of a report page, linked from its navigation by ``anchor``."""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>\n'


def summary_section(run: Run) -> str:
    """The run's summary as its four tables (:mod:`engine.results.summary_tables`): the
    performance, against the markets, and the uncertainty, with their footnotes."""
    if run.summary.empty:
        return section("summary", "Summary", _note("summary.csv is not in this run folder."))
    frame = run.summary.copy()
    frame.index.name = "Basket"
    written = run.table("summary.csv", dtype=str, keep_default_na=False)
    for column in TEXT_COLUMNS[1:]:  # the numbers are read already; names and dates here
        if written is not None and column in written.columns:
            text = written.set_index("basket")[column].replace("", None)
            frame[column] = text[~text.index.duplicated()].reindex(frame.index)
    days = YEAR_DAYS  # a period the manifest does not give is not marked short
    if run.period:
        first, last = run.period.split("..")
        days = (pd.Timestamp(last) - pd.Timestamp(first)).days
    parts = []
    for table in summary_tables(frame, days):
        parts.append(f"<h3>{esc(table.title[:1].upper() + table.title[1:])}</h3>")
        parts.append(html_table(
            table.frame, percent=table.percent, row_class={run.benchmark: "benchmark"},
            css="summary",
        ))
        parts += [f'<p class="caption">{esc(note)}</p>' for note in table.footnotes]
    caption = (
        "<p class=\"caption\">Returns in the report currency; annualised figures use 252 "
        "sessions (volatility, Sharpe, tracking error, information ratio) and 365.25 days "
        "(annualised return). Alpha and beta are against the benchmark, risk-free rate 0.</p>"
    )
    return section("summary", "Summary", "".join(parts) + caption)


def equity_sections(run: Run, charts: Charts, colors: dict[str, str]) -> str:
    equity = run.table("equity.csv", index_col=0)
    if equity is None or equity.empty:
        empty = _note("equity.csv is not in this run folder.")
        return section("equity", "Equity", empty) + section("drawdowns", "Drawdowns", empty)
    equity = equity.apply(pd.to_numeric, errors="coerce")
    events = _events(run)
    listed = "; ".join(f"{d} {n}".strip() for d, n in events)
    caption = "<p class=\"caption\">Baskets and the benchmark (dashed), daily closes on the " \
        "union of the exchanges' sessions." + (
            f" Dotted lines: events ({esc(listed)})." if events else "") + "</p>"
    curves = equity_chart(charts, equity, run, colors) + caption
    if run.benchmark in equity.columns and len(equity.columns) > 1:
        curves += relative_chart(charts, equity, run, colors)
    drawdowns = drawdown_chart(charts, equity, run, colors) + drawdown_table(equity)
    return section("equity", "Equity", curves) + section("drawdowns", "Drawdowns", drawdowns)


def _window_text(row: pd.Series) -> str:
    start, end = _number(row.get("window_start")), _number(row.get("window_end"))
    if not math.isnan(start) and not math.isnan(end):
        return f"[{int(start):+d}, {int(end):+d}]"
    return str(row.get("window", ""))


def _car_pivot(rows: pd.DataFrame) -> str:
    """Baskets by windows: the weighted CAR with the robust tests' p-values first: the
    Kolari-Pynnönen adjusted t test's, its Benjamini-Hochberg adjustment over the study's
    tests, and the rank test's."""
    windows = list(dict.fromkeys(rows["window"]))
    baskets = list(dict.fromkeys(rows["basket"]))
    cells = {(r["basket"], r["window"]): r for _, r in rows.iterrows()}
    head = "".join(f"<th class=\"num\">CAR {esc(w)}</th>" for w in windows)
    body = []
    for basket in baskets:
        tds = []
        for window in windows:
            row = cells.get((basket, window))
            car = _number(row.get("car")) if row is not None else math.nan
            if math.isnan(car):
                tds.append("<td></td>")
                continue
            css = "num neg" if car < 0 and format_cell(car, True).strip("-0.%") else "num"
            tests = [(name, _number(row.get(key))) for name, key in PIVOT_TESTS]
            pvalues = " · ".join(f"{name} {p_text(p)}" for name, p in tests if not math.isnan(p))
            pvalue = f'<br><span class="p">{esc(pvalues)}</span>' if pvalues else ""
            tds.append(f'<td class="{css}">{esc(format_cell(car, True))}{pvalue}</td>')
        body.append(f"<tr><th scope=\"row\">{esc(basket)}</th>{''.join(tds)}</tr>")
    return (
        f'<table class="car"><thead><tr><th>Basket</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        '<p class="caption">CAR weighted by basket weights over the included stocks. KP: '
        "two-sided p-value of the Kolari-Pynnönen test (the cross-sectional t test adjusted "
        "for the correlation of the stocks' abnormal returns), BH: the same adjusted by "
        "Benjamini-Hochberg over every test of the study, rank: the Corrado rank test's; "
        "the unadjusted cross-sectional, Patell and BMP tests are in the full table.</p>"
    )


def events_section(run: Run, charts: Charts, colors: dict[str, str]) -> str:
    tables = run.events()
    if not tables:
        planned = _events(run)
        if planned:
            text = "This run has no event study (run with --no-events, or made before event " \
                "studies were written). Study events: " \
                + "; ".join(f"{d} {n}".strip() for d, n in planned) + "."
        else:
            text = "The study has no events, so this run has no event study."
        return section("events", "Event study", _note(text))
    parts = []
    settings = {k: v for k, v in _event_options(run).items() if k != "events"}
    if settings:
        parts.append("<p class=\"caption\">Settings: " + esc(", ".join(
            f"{k} {value_text(v)}" for k, v in settings.items() if v is not None)) + "</p>")
    names = dict(_events(run))
    paths = tables.get("car_paths")
    summary = tables.get("summary")
    day0 = tables.get("day0")
    event_dates = list(dict.fromkeys(
        [str(e)[:10] for e in paths["event"]] if paths is not None and "event" in paths
        else [str(e)[:10] for e in summary["event"]] if summary is not None and "event" in summary
        else []
    ))
    if paths is not None and {"basket", "event", "day", "car"} <= set(paths.columns):
        paths = paths.assign(event=paths["event"].astype(str).str[:10])
    else:
        parts.append(_note("events/car_paths.csv is not in this run folder: no CAR chart."))
        paths = None
    if summary is not None and "event" in summary:
        summary = summary.assign(event=summary["event"].astype(str).str[:10])
        for _, row in summary.drop_duplicates("event").iterrows():
            names.setdefault(row["event"], str(row.get("event_name") or ""))
    for event in event_dates:
        name = names.get(event, "")
        parts.append(f"<h3>{esc(event)}{': ' + esc(name) if name else ''}</h3>")
        if day0 is not None and {"event", "calendar", "day0"} <= set(day0.columns):
            rows = day0[day0["event"].astype(str).str[:10] == event]
            if not rows.empty:
                parts.append("<p class=\"caption\">Day 0: " + esc(", ".join(
                    f"{c} {str(d)[:10]}" for c, d in zip(rows["calendar"], rows["day0"],
                                                          strict=True))) + "</p>")
        if paths is not None:
            chosen = paths[paths["event"] == event]
            if not chosen.empty:
                parts.append(car_chart(charts, chosen, event, name, colors))
        if summary is not None:
            rows = summary[summary["event"] == event].copy()
            if not rows.empty:
                rows["window"] = [_window_text(r) for _, r in rows.iterrows()]
                parts.append(_car_pivot(rows))
                columns = [c for c in EVENT_COLUMNS if c in rows.columns]
                table = rows[columns].reset_index(drop=True)
                digits = {c: 3 for c in columns if c.startswith("p_")}
                parts.append(
                    "<details><summary>Every window with its test statistics</summary>"
                    + html_table(table, percent=EVENT_PERCENT, headers=EVENT_COLUMNS,
                                 digits=digits, index=False, css="events")
                    + "</details>"
                )
    excluded = tables.get("excluded")
    if excluded is not None and not excluded.empty:
        table = excluded.reset_index(drop=True)
        parts.append(
            f"<details><summary>{len(table)} stock exclusion(s) from event windows, with "
            f"reasons</summary>{html_table(table, index=False)}</details>"
        )
    if summary is not None and "n_tests" in summary.columns:
        parts += [f'<p class="caption">{esc(note)}</p>' for note in event_notes(summary)]
    parts.append("<p class=\"caption\">CAR: cumulative abnormal return from the first day "
                 "of the widest window, weighted over the stocks with an abnormal return that "
                 "day. The legend entry \u201cbasket portfolios\u201d (off by default) adds the "
                 "CAR of each basket's own return series, dotted.</p>")
    return section("events", "Event study", "".join(parts))


def attribution_section(run: Run, charts: Charts) -> str:
    attribution = run.table("attribution.csv")
    if attribution is None or attribution.empty or "contribution" not in attribution:
        return section("attribution", "Attribution",
                        _note("attribution.csv is not in this run folder."))
    parts = ['<div class="grid">']
    groups = list(attribution.groupby("basket", sort=False))
    for basket, rows in groups[:MAX_ATTRIBUTION_CHARTS]:
        total = run.summary["total_return"].get(basket, math.nan) if not run.summary.empty \
            else math.nan
        parts.append(attribution_chart(charts, rows, str(basket), _number(total)))
    parts.append("</div>")
    if len(groups) > MAX_ATTRIBUTION_CHARTS:
        parts.append(_note(f"Charts for the first {MAX_ATTRIBUTION_CHARTS} of {len(groups)} "
                           "baskets; the table below has them all."))
    table = attribution.reset_index(drop=True)
    parts.append(
        "<details><summary>Constituents: weights, returns, contributions</summary>"
        + html_table(table, percent=ATTRIBUTION_PERCENT, index=False, css="attribution")
        + "</details>"
    )
    parts.append("<p class=\"caption\">Contribution: the constituent's share of the basket's "
                 "total return (percentage points, report currency); return in the report "
                 "currency, local_return in the listing's currency.</p>")
    return section("attribution", "Attribution", "".join(parts))


DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _key_dates(run: Run) -> dict[str, str]:
    """The dates where a data flag matters most, each with why: the purchase (the first
    session) and every day of each event's windows (``events/abnormal_returns.csv``)."""
    dates: dict[str, str] = {}
    ars = run.table("events/abnormal_returns.csv")
    if ars is not None and {"event", "date"} <= set(ars.columns):
        for event, date in zip(ars["event"].astype(str).str[:10], ars["date"].astype(str),
                               strict=True):
            dates.setdefault(date[:10], f"window of the {event} event")
    first = str((run.manifest.get("period") or {}).get("first_session") or "")[:10]
    if first:
        dates[first] = "purchase date"
    return dates


def notes_table(notes: Sequence[str], key_dates: dict[str, str]) -> str:
    """The run's notes as a table, repeated ones grouped (:func:`group_notes`); the notes
    naming a purchase date or a day of an event window first, with where."""
    rows = []
    for note in group_notes(notes):
        where = list(dict.fromkeys(
            f"{key_dates[d]} ({d})" for d in DATE.findall(note) if d in key_dates
        ))
        rows.append({"matters": "; ".join(where), "note": note})
    rows.sort(key=lambda r: not r["matters"])  # stable: the flagged ones first, in order
    frame = pd.DataFrame(rows, columns=["matters", "note"])
    return (
        "<h3>Notes</h3>" + html_table(frame, headers={"matters": "Where it matters",
                                                      "note": "Note"}, index=False, css="notes")
        + f'<p class="caption">{len(notes)} notes in {len(rows)} lines (repeated notes '
        "grouped); the notes naming the purchase date or a day of an event window first.</p>"
    )


def notes_section(run: Run) -> str:
    m = run.manifest
    parts = []
    notes = [str(n) for n in m.get("notes") or []]
    if notes:
        parts.append(notes_table(notes, _key_dates(run)))
    skipped = [
        {"basket": b, "symbol": s, "reason": why}
        for b, symbols in (m.get("skipped") or {}).items() for s, why in symbols.items()
    ]
    if skipped:
        parts.append("<h3>Skipped symbols</h3>"
                     + html_table(pd.DataFrame(skipped), index=False)
                     + "<p class=\"caption\">Weights renormalised over the rest.</p>")
    if run.problems:
        parts.append("<h3>Run folder</h3><ul class=\"notes\">"
                     + "".join(f"<li>{esc(p)}</li>" for p in run.problems) + "</ul>")
    if not parts:
        parts.append(_note("The run recorded no data notes and skipped no symbol."))
    fingerprints = m.get("fingerprints") or {}
    parts.append(f"<p>Data source: {esc(m.get('data_source') or 'not recorded')}</p>")
    if fingerprints:
        frame = pd.DataFrame(
            {"sha256": list(fingerprints.values())},
            index=pd.Index(list(fingerprints), name="symbol"),
        )
        parts.append(f"<details><summary>Fingerprints of {len(fingerprints)} price series"
                     f"</summary>{html_table(frame, css='mono')}</details>")
    return section("notes", "Data notes", "".join(parts))


def settings_section(run: Run) -> str:
    m = run.manifest
    parts = []
    flat: dict[str, Any] = {}
    flatten(run.study, "", flat)
    if flat:
        parts.append("<h3>Study</h3>" + definition_list(
            [(k, value_text(v)) for k, v in flat.items()]))
    options: dict[str, Any] = {}
    flatten(run.config.get("event_study") or {}, "", options)
    if options:
        parts.append("<h3>Event study as run</h3>" + definition_list(
            [(k, None if v is None else value_text(v)) for k, v in options.items()]))
    rebalances = m.get("rebalances") or {}
    baskets = run.config.get("baskets") or []
    if baskets:
        rows = [
            {
                "basket": b.get("name"),
                "file": b.get("file"),
                "weighting": b.get("weighting"),
                "rebalance": b.get("rebalance"),
                "constituents": len(b.get("constituents") or []),
                "rebalance dates": ", ".join(rebalances.get(b.get("name"), [])) or "none",
            }
            for b in baskets
        ]
        parts.append("<h3>Baskets</h3>" + html_table(pd.DataFrame(rows), index=False))
    period = m.get("period") or {}
    versions = m.get("versions") or {}
    command = m.get("command")
    items = [
        ("run id", run.id),
        ("created", m.get("created_at")),
        ("command", shlex.join(str(c) for c in command) if isinstance(command, list)
         else command),
        ("period", f"{run.period} ({period['sessions']} sessions)" if period.get("sessions")
         else None),
        ("benchmark", m.get("benchmark")),
        ("currency", m.get("currency")),
        ("fees", None if m.get("fees") is None else value_text(m["fees"])),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
    ]
    parts.append("<h3>Manifest</h3>" + definition_list(items))
    return section("settings", "Settings", "".join(parts))


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1a1a1a; background: #fafafa; }
header { background: #16324f; color: white; padding: 18px 28px; }
header h1 { margin: 0 0 6px; font-size: 22px; }
header p { margin: 2px 0; opacity: 0.9; font-size: 14px; }
nav { background: #eef2f6; padding: 8px 28px; position: sticky; top: 0; z-index: 5;
      border-bottom: 1px solid #d5dde5; font-size: 14px; }
nav a { margin-right: 16px; color: #16324f; text-decoration: none; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 28px 40px; }
section { background: white; border: 1px solid #e2e6ea; border-radius: 6px; padding: 4px 18px 14px;
          margin: 18px 0; }
h2 { font-size: 18px; border-bottom: 1px solid #e2e6ea; padding-bottom: 6px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0;
        font-variant-numeric: tabular-nums; }
th, td { padding: 4px 9px; border-bottom: 1px solid #eceff2; text-align: left;
         vertical-align: top; }
thead th { background: #f3f5f7; position: sticky; top: 37px; }
td.num { text-align: right; white-space: nowrap; }
td.neg { color: #c62828; }
tr.benchmark { font-style: italic; background: #f7f7f7; }
tbody tr:hover { background: #f0f6fc; }
table.kv th { width: 180px; color: #444; font-weight: 600; }
table.mono td { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
.caption { color: #555; font-size: 13px; }
.empty { color: #666; font-style: italic; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr));
        gap: 10px; }
.chart { width: 100%; min-height: 120px; }
span.p { color: #888; font-size: 11px; white-space: normal; }
details { margin: 8px 0; overflow-x: auto; }
div.wide { overflow-x: auto; }  /* a table wider than the window scrolls in here */
summary { cursor: pointer; color: #16324f; }
ul.notes li { margin: 3px 0; }
"""


def build_report(run: Run, plotly: str) -> str:
    """The whole page as a string (see the module docstring for its sections); ``plotly``
    is the element loading plotly.js (:func:`engine.results.assets.plotly_script`)."""
    m = run.manifest
    study = run.study
    title = str(study.get("name") or run.id)
    charts = Charts()
    names = list(run.summary.index)
    for extra in m.get("baskets") or []:
        if extra not in names:
            names.append(extra)
    colors = _colors(names, run.benchmark)
    benchmark_total = (
        run.summary["total_return"].get(run.benchmark, math.nan)
        if run.benchmark and not run.summary.empty else math.nan
    )
    bench_text = "" if _isnan(benchmark_total) else f" ({benchmark_total:+.2%})"
    backtest = m.get("kind", "run") != "event"
    sections = [
        summary_section(run) if backtest else "",
        equity_sections(run, charts, colors) if backtest else "",
        events_section(run, charts, colors),
        attribution_section(run, charts) if backtest else "",
        notes_section(run),
        settings_section(run),
    ]
    links = [("summary", "Summary"), ("equity", "Equity"), ("drawdowns", "Drawdowns"),
             ("events", "Event study"), ("attribution", "Attribution"),
             ("notes", "Data notes"), ("settings", "Settings")]
    if not backtest:
        links = [link for link in links if link[0] in ("events", "notes", "settings")]
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in links)
    fees = m.get("fees")
    subtitle = (
        f"{esc(run.period)} · {esc(m.get('currency'))} · vs {esc(run.benchmark)}"
        f"{esc(bench_text)} · fees {esc(value_text(fees))} · "
        f"{len(m.get('baskets') or [])} baskets"
        if backtest
        else f"event study of {len(m.get('baskets') or [])} baskets"
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}: {esc(run.id)}</title>\n"
        f"<style>{STYLE}</style>\n"
        "</head>\n<body>\n"
        f"<header><h1>{esc(title)}</h1><p>{subtitle}</p>"
        f"<p>run {esc(run.id)} · written {esc(m.get('created_at'))}</p></header>\n"
        f"<nav>{nav}</nav>\n<main>\n{''.join(sections)}</main>\n"
        f"{plotly}{charts.script()}</body>\n</html>\n"
    )
