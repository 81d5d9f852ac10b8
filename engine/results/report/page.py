"""The building blocks of every report page: escaping, cells and tables, sections, the page
skeleton and its style, and the chart container (:class:`Charts`) with its loader.

Every text from a run is HTML-escaped, in the page (:func:`esc`) and inside the charts
(:func:`label`: plotly draws a subset of HTML in labels).  Charts are described as JSON in one
``<script type="application/json">`` element and drawn by a short loader (:data:`LOADER`) as
they come near the window, which marks each chart ``data-rendered="1"`` when plotly has drawn
it and highlights the line under the pointer on charts of several lines (:func:`highlights`).
Shared by the run, claims and sweep reports; imports pandas, never vectorbt or plotly.
"""

from __future__ import annotations

import html
import json
import math
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from engine.errors import ResultsError
from engine.files import atomic_write
from engine.jsonable import json_ready
from engine.results.display import P_FLOOR, format_cell, is_pvalue, p_text

REPORT = "report.html"
#: Twelve qualitative colours that stay apart with ten baskets on one chart (after Paul Tol's
#: bright and muted schemes and Okabe-Ito), none of them the benchmark's near-black.
PALETTE = (
    "#4477aa", "#ee7733", "#228833", "#aa3377", "#66ccee", "#ccbb44",
    "#ee6677", "#332288", "#009988", "#882255", "#999933", "#e69f00",
)
BENCHMARK_COLOR = "#222222"
POSITIVE, NEGATIVE = "#2e7d32", "#c62828"
PLOTLY_CONFIG = {"responsive": True, "displaylogo": False}


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


def esc(value: Any) -> str:
    """Text for the page: HTML-escaped, quotes included."""
    return html.escape("" if value is None else str(value))


def label(value: Any) -> str:
    """Text for a chart label or legend: escaped, since plotly reads tags and entities."""
    return html.escape("" if value is None else str(value), quote=False)


def number(value: Any) -> float:
    """``value`` as a float; NaN when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def isnan(value: Any) -> bool:
    """Whether ``value`` is missing: None or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def rounded(values: Sequence[float], digits: int = 4) -> list[float | None]:
    """Chart values rounded to ``digits`` decimals (light pages), missing ones as None."""
    return [None if isnan(v) else round(float(v), digits) for v in values]


def cell(
    value: Any, percent: bool, digits: int = 2, column: Any = "", neutral: bool = False
) -> str:
    """A table cell; numbers right-aligned, negatives ``neg`` (red) unless ``neutral`` (a
    drawdown, a beta: negative is no bad news there), p-values (by the column's name,
    :func:`engine.results.display.is_pvalue`) below 0.001 as ``<0.001``."""
    if value is None or isinstance(value, bool | str):
        return f"<td>{esc(value)}</td>"
    if isinstance(value, numbers.Integral) and not is_pvalue(column):
        figure, text = float(value), str(value)
    else:
        figure = number(value)
        text = format_cell(None if math.isnan(figure) else figure, percent, digits)
        if is_pvalue(column) and figure < P_FLOOR:
            text = p_text(figure)
    css = "num neg" if figure < 0 and text.strip("-0.%") and not neutral else "num"
    return f'<td class="{css}">{esc(text)}</td>'


def html_table(
    frame: pd.DataFrame,
    *,
    percent: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    digits: dict[str, int] | None = None,
    row_class: dict[Any, str] | None = None,
    index: bool = True,
    css: str = "",
    neutral: Sequence[str] = (),
) -> str:
    """``frame`` as an escaped HTML table; numbers right-aligned, negatives marked ``neg``
    except in the ``neutral`` columns."""
    headers, digits, row_class = headers or {}, digits or {}, row_class or {}
    head = ([esc(frame.index.name or "")] if index else []) + [
        esc(headers.get(str(c), c)) for c in frame.columns
    ]
    lines = [f'<table class="{esc(css)}"><thead><tr>']
    lines += [f"<th>{h}</th>" for h in head]
    lines.append("</tr></thead><tbody>")
    formats = [(column in percent, digits.get(str(column), 2), column, column in neutral)
               for column in frame.columns]
    for key, *values in frame.itertuples(name=None):
        cls = row_class.get(key, "")
        lines.append(f'<tr class="{esc(cls)}">' if cls else "<tr>")
        if index:
            lines.append(f'<th scope="row">{esc(key)}</th>')
        for value, (is_percent, places, column, plain) in zip(values, formats, strict=True):
            lines.append(cell(value, is_percent, places, column, plain))
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


def note(text: str) -> str:
    """A visible remark where a part of the page has nothing to show, saying why."""
    return f'<p class="empty">{esc(text)}</p>'


def section(anchor: str, title: str, body: str) -> str:
    """One titled part of a report page, linked from its navigation by ``anchor``."""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>\n'


def colors(names: Sequence[str], benchmark: str | None) -> dict[str, str]:
    """A colour per curve: the palette in order, the benchmark in :data:`BENCHMARK_COLOR`."""
    chosen, k = {}, 0
    for name in names:
        if name == benchmark:
            chosen[name] = BENCHMARK_COLOR
        else:
            chosen[name] = PALETTE[k % len(PALETTE)]
            k += 1
    return chosen


class Charts:
    """The page's charts: each one a ``<div>`` and a plotly figure (data, layout)."""

    def __init__(self) -> None:
        self.figures: list[dict[str, Any]] = []

    def add(self, key: str, data: list[dict], layout: dict, height: int = 420) -> str:
        """Add a figure, ``height`` pixels high, in the reports' style (``layout`` overrides
        it); returns its ``<div>``.  A figure of several lines in its legend highlights the
        line under the pointer (:func:`highlights`)."""
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
        figure = {"id": chart_id, "data": data, "layout": {**base, **layout},
                  "config": PLOTLY_CONFIG}
        if highlights(data):
            figure["highlight"] = True
        self.figures.append(figure)
        return f'<div class="chart" id="{esc(chart_id)}" data-chart="{esc(key)}"></div>'

    def script(self) -> str:
        payload = json.dumps(json_ready(self.figures), allow_nan=False, separators=(",", ":"))
        # Inside <script> only "</" could end the element early; escape every <, > and &.
        payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return (
            f'<script type="application/json" id="basket-figures">{payload}</script>\n'
            "<script>\n" + LOADER.replace("DIMMED", str(DIMMED)) + "\n</script>\n"
        )


def highlights(data: Sequence[dict[str, Any]]) -> bool:
    """Whether a figure's traces hold two lines or more with a legend entry: such a chart
    brings the line under the pointer, or under its legend entry, forward and dims the
    others (the loader's ``highlighting``)."""
    lines = [trace for trace in data
             if trace.get("type", "scatter") == "scatter"
             and "lines" in trace.get("mode", "lines") and trace.get("showlegend", True)]
    return len(lines) >= 2


#: The opacity of the other lines while one is highlighted.
DIMMED = 0.2

LOADER = """(function () {
  // A chart is drawn when it comes within a screen of the window (IntersectionObserver; what
  // is near at load at once), one at a time in page order, each started after the previous
  // one is drawn and painted: the first charts show as soon as plotly.js is parsed, and a
  // chart far below costs nothing until the reader scrolls towards it.  Each chart's box has
  // its height from the start, so the page does not jump.  The body says how many charts
  // there are (data-charts) and, with data-idle, that every chart near the window is drawn.
  var figures = JSON.parse(document.getElementById("basket-figures").textContent);
  document.body.setAttribute("data-charts", String(figures.length));
  var FAR = 0, NEAR = 1, STARTED = 2, state = figures.map(function () { return FAR; });
  var busy = false;
  function draw() {
    if (busy) return;
    var k = state.indexOf(NEAR);
    if (k < 0) { document.body.setAttribute("data-idle", "1"); return; }
    document.body.removeAttribute("data-idle");
    busy = true;
    plot(k).then(function () {
      busy = false;
      requestAnimationFrame(function () { setTimeout(draw, 0); });
    });
  }
  function plot(k) {
    state[k] = STARTED;
    var f = figures[k], el = document.getElementById(f.id);
    return Plotly.newPlot(el, f.data, f.layout, f.config).then(function () {
      if (f.highlight) highlighting(el);
      el.setAttribute("data-rendered", "1");
    });
  }
  // A printed page is laid out at once: every chart not started yet is drawn now, without
  // waiting for the one before (plotly draws these traces before its promise resolves).
  window.addEventListener("beforeprint", function () {
    state.forEach(function (s, k) { if (s !== STARTED) plot(k); });
  });
  function near(k) { if (state[k] === FAR) state[k] = NEAR; }
  // With ten lines on a chart, the one under the pointer (or under its legend entry) comes
  // forward at full opacity and the others dim; leaving it shows them all again.  A line's
  // band (same legendgroup) goes with it.
  function highlighting(el) {
    var current = null;
    function group(i) { return el.data[i].legendgroup || "#" + i; }
    function show(index) {
      if (index === undefined) index = null;
      if (index === current) return;
      current = index;
      var key = index === null ? null : group(index);
      Plotly.restyle(el, {opacity: el.data.map(function (t, i) {
        return key === null || group(i) === key ? 1 : DIMMED;
      })});
      el.querySelectorAll(".scatterlayer .trace").forEach(function (node) {
        var d = node.__data__ && node.__data__[0];
        if (!d || !d.trace) return;
        var mine = key === null || group(d.trace.index) === key;
        // plotly keeps no opacity for a trace without a legend entry (a band): dim its node.
        if (d.trace.opacity === undefined) node.style.opacity = mine ? "" : DIMMED;
        if (key !== null && mine) node.parentNode.appendChild(node);
      });
    }
    // "x unified" hover lists every line at the pointer's date: the nearest one is meant.
    function nearest(event) {
      var points = event.points || [], best = points[0], gap = Infinity;
      if (!event.event || event.event.clientY === undefined) return best && best.curveNumber;
      var top = el.getBoundingClientRect().top;
      points.forEach(function (p) {
        var off = Math.abs(top + p.yaxis._offset + p.yaxis.c2p(p.y) - event.event.clientY);
        if (off < gap) { gap = off; best = p; }
      });
      return best && best.curveNumber;
    }
    function entry(target) {
      var item = target && target.closest && target.closest(".legend .traces");
      return item && item.__data__ && item.__data__[0] && item.__data__[0].trace ? item : null;
    }
    el.on("plotly_hover", function (event) { show(nearest(event)); });
    el.on("plotly_unhover", function () { show(null); });
    el.addEventListener("mouseover", function (event) {
      var item = entry(event.target);
      if (item) show(item.__data__[0].trace.index);
    });
    el.addEventListener("mouseout", function (event) {
      var item = entry(event.target);
      if (item && !item.contains(event.relatedTarget)) show(null);
    });
  }
  figures.forEach(function (f, k) {
    var el = document.getElementById(f.id);
    el.style.minHeight = f.layout.height + "px";
    el.setAttribute("data-index", String(k));
  });
  if (!("IntersectionObserver" in window)) {
    figures.forEach(function (f, k) { near(k); });
    draw();
    return;
  }
  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      observer.unobserve(entry.target);
      near(Number(entry.target.getAttribute("data-index")));
    });
    draw();
  }, {rootMargin: "100% 0px"});
  figures.forEach(function (f) { observer.observe(document.getElementById(f.id)); });
})();"""


def axis(title: str = "", **extra: Any) -> dict[str, Any]:
    """A plotly axis in the reports' style (shared by the run, claims and sweep reports)."""
    return {"title": {"text": label(title)}, "gridcolor": "#e5e5e5", "zeroline": False, **extra}


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
td:not(.num) { overflow-wrap: anywhere; }  /* a long path or name breaks, never the page */
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
.tables { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
.tables > div { max-width: 100%; }
/* Not sticky: inside its scrolling box a sticky header would sit over the first rows. */
table.heat thead th { position: static; vertical-align: bottom; max-width: 8em;
                      font-weight: 600; }
table.heat { font-size: 12px; }
table.heat th, table.heat td { padding: 3px 6px; }
table.heat td.num { min-width: 2.6em; border: 1px solid #fff; }
table.heat tbody th { white-space: nowrap; }
table.heat td.diagonal { background: #f0f0f0; color: #555; font-style: italic; }
.swatch { display: inline-block; padding: 1px 7px; margin: 2px 0 2px 3px; border: 1px solid #ddd;
          font-variant-numeric: tabular-nums; white-space: nowrap; }
"""


def document(
    title: str,
    run_id: str,
    header: Sequence[str],
    body: str,
    scripts: str,
    *,
    nav: Sequence[tuple[str, str]] = (),
    style: str = "",
) -> str:
    """A whole report page: ``<title>`` from ``title`` and ``run_id``, a header with ``title``
    and the lines of ``header`` (HTML, escaped by the caller), the navigation links ``nav``
    (anchor, text) when there are any, the sections ``body`` and ``scripts`` (plotly.js and the
    charts) at the end of the body, so the tables show before plotly.js is parsed."""
    links = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in nav)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}: {esc(run_id)}</title>\n"
        f"<style>{STYLE}{style}</style>\n"
        "</head>\n<body>\n"
        f"<header><h1>{esc(title)}</h1>{''.join(f'<p>{line}</p>' for line in header)}</header>\n"
        + (f"<nav>{links}</nav>\n" if links else "")
        + f"<main>\n{body}</main>\n{scripts}</body>\n</html>\n"
    )
