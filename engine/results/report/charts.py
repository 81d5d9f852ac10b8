"""The run report's plotly figures, from plain frames: equity, relative performance, drawdown,
CAR paths and attribution bars.

Each function adds one figure to a :class:`engine.results.report.page.Charts` and returns its
``<div>``; every label is escaped (:func:`engine.results.report.page.label`) and every value
rounded (:func:`engine.results.report.page.rounded`) so that the page stays light.  Events are
``(date, name)`` pairs, dates as ``YYYY-MM-DD``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.results.report.page import (
    BENCHMARK_COLOR,
    NEGATIVE,
    POSITIVE,
    Charts,
    axis,
    isnan,
    label,
    rounded,
)

Events = Sequence[tuple[str, str]]
#: A legend whose click shows one curve alone (a second click shows all again).
ISOLATING_LEGEND = {"orientation": "h", "y": -0.15, "itemclick": "toggleothers",
                    "itemdoubleclick": "toggle"}


@dataclass(frozen=True)
class CarMarks:
    """What a CAR chart marks inside its window, in event days: the study's other ``events``
    (day, label) and the ``closures`` of an exchange between two of its sessions (position
    between the two days, label)."""

    events: list[tuple[int, str]] = field(default_factory=list)
    closures: list[tuple[float, str]] = field(default_factory=list)


def translucent(color: str, alpha: float) -> str:
    """``#rrggbb`` as an ``rgba()`` colour of opacity ``alpha`` (a band's fill)."""
    red, green, blue = (int(color[k:k + 2], 16) for k in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def event_marks(events: Events, first: str, last: str, labels: bool):
    """Dotted vertical lines (and, with ``labels``, their names) at the events between
    ``first`` and ``last``: plotly shapes and annotations."""
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


def equity_chart(
    charts: Charts, equity: pd.DataFrame, benchmark: str | None, currency: Any, events: Events,
    colors: dict[str, str], log_toggle: bool = False,
) -> str:
    """Every curve of ``equity`` (rebased to 1) times 100, the benchmark dashed, the events
    marked with their names; ``log_toggle`` adds linear / log buttons."""
    dates = [str(d)[:10] for d in equity.index]
    data = []
    for name in equity.columns:
        is_bench = name == benchmark
        data.append({
            "type": "scatter", "mode": "lines", "name": label(name), "x": dates,
            "y": rounded(equity[name] * 100, 3),
            "line": {"color": colors.get(name), "width": 2.5 if is_bench else 1.6,
                     "dash": "dash" if is_bench else "solid"},
            "hovertemplate": "%{y:.1f}",
        })
    shapes, annotations = event_marks(events, dates[0], dates[-1], labels=True)
    layout = {
        "title": {"text": "Value of 100 invested (" + label(currency) + ")"},
        "xaxis": axis(), "yaxis": axis("rebased to 100"),
        "hovermode": "x unified", "shapes": shapes, "annotations": annotations,
        "legend": ISOLATING_LEGEND,
    }
    if log_toggle:
        layout["updatemenus"] = log_scale_buttons()
    return charts.add("equity", data, layout, height=480)


def drawdown_chart(
    charts: Charts, equity: pd.DataFrame, benchmark: str | None, events: Events,
    colors: dict[str, str],
) -> str:
    """The fall of each curve from its running peak (the peak starts at the cash, 1)."""
    dates = [str(d)[:10] for d in equity.index]
    data = []
    for name in equity.columns:
        values = equity[name].to_numpy(dtype=float)
        peaks = pd.Series(values).cummax().clip(lower=1.0).to_numpy()
        is_bench = name == benchmark
        data.append({
            "type": "scatter", "mode": "lines", "name": label(name), "x": dates,
            "y": rounded((values / peaks - 1) * 100, 3),
            "line": {"color": colors.get(name), "width": 2.5 if is_bench else 1.4,
                     "dash": "dash" if is_bench else "solid"},
            "hovertemplate": "%{y:.2f}%",
        })
    shapes, _ = event_marks(events, dates[0], dates[-1], labels=False)
    layout = {
        "title": {"text": "Drawdown from the running peak"},
        "xaxis": axis(), "yaxis": axis("drawdown", ticksuffix="%"),
        "hovermode": "x unified", "shapes": shapes, "legend": ISOLATING_LEGEND,
    }
    return charts.add("drawdown", data, layout, height=380)


def relative_chart(
    charts: Charts, equity: pd.DataFrame, benchmark: str, events: Events,
    colors: dict[str, str],
) -> str:
    """Each basket's value divided by the benchmark's, rebased to 100: rising when the basket
    beats the benchmark, whatever both do."""
    dates = [str(d)[:10] for d in equity.index]
    bench = equity[benchmark].to_numpy(dtype=float)
    data = [{
        "type": "scatter", "mode": "lines", "name": label(name), "x": dates,
        "y": rounded(equity[name].to_numpy(dtype=float) / bench * 100, 3),
        "line": {"color": colors.get(name), "width": 1.6}, "hovertemplate": "%{y:.1f}",
    } for name in equity.columns if name != benchmark]
    shapes, _ = event_marks(events, dates[0], dates[-1], labels=False)
    shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 100, "y1": 100,
                   "line": {"color": BENCHMARK_COLOR, "width": 1, "dash": "dash"}})
    layout = {
        "title": {"text": "Relative to " + label(benchmark) + " (basket / benchmark)"},
        "xaxis": axis(), "yaxis": axis("rebased to 100"),
        "hovermode": "x unified", "shapes": shapes, "legend": ISOLATING_LEGEND,
    }
    return charts.add("relative", data, layout, height=380)


def car_chart(
    charts: Charts, paths: pd.DataFrame, event: str, name: str, colors: dict[str, str],
    bands: dict[str, tuple[list[float], list[float]]] | None = None,
    marks: CarMarks | None = None,
) -> str:
    """The CAR path of each basket by event day (``events/car_paths.csv`` rows of one event),
    each in its confidence band (``bands``: lower and upper bounds by basket, shaded, shown
    and hidden with the basket's legend entry), the ``marks`` inside the window, and the
    baskets' portfolio CARs behind one legend entry, off by default."""
    bands, marks = bands or {}, marks or CarMarks()
    data: list[dict[str, Any]] = []
    portfolios: list[dict[str, Any]] = []
    for basket, rows in paths.groupby("basket", sort=False):
        rows = rows.sort_values("day")
        days = [int(d) for d in rows["day"]]
        color = colors.get(basket) or BENCHMARK_COLOR
        if str(basket) in bands:
            low, high = bands[str(basket)]
            # The upper bound first, invisible; the lower one fills up to it.
            data.append({
                "type": "scatter", "mode": "lines", "x": days, "y": rounded([v * 100 for v in
                                                                              high], 3),
                "line": {"width": 0}, "legendgroup": label(basket), "showlegend": False,
                "hoverinfo": "skip",
            })
            data.append({
                "type": "scatter", "mode": "lines", "x": days, "y": rounded([v * 100 for v in
                                                                              low], 3),
                "line": {"width": 0}, "fill": "tonexty", "fillcolor": translucent(color, 0.1),
                "legendgroup": label(basket), "showlegend": False, "hoverinfo": "skip",
            })
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": label(basket),
            "legendgroup": label(basket),
            "x": [int(d) for d in rows["day"]], "y": rounded(rows["car"] * 100, 4),
            "customdata": [int(n) for n in rows["n_stocks"].fillna(0)]
            if "n_stocks" in rows else None,
            "line": {"color": color, "width": 1.8}, "marker": {"size": 4},
            "hovertemplate": "day %{x}: %{y:.2f}% (%{customdata} stocks)",
        })
        if "portfolio_car" in rows and rows["portfolio_car"].notna().any():
            # One legend entry switches every basket's portfolio CAR on and off.
            portfolios.append({
                "type": "scatter", "mode": "lines", "name": "basket portfolios (dotted)",
                "x": [int(d) for d in rows["day"]],
                "y": rounded(rows["portfolio_car"] * 100, 4),
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
        "legend": {**ISOLATING_LEGEND, "yanchor": "top", "y": -0.2},
        "margin": {"l": 60, "r": 20, "t": 48, "b": 60},
        "shapes": [
            {"type": "line", "xref": "x", "yref": "paper", "x0": 0, "x1": 0, "y0": 0, "y1": 1,
             "line": {"color": "#555", "width": 1, "dash": "dot"}},
            {"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 0, "y1": 0,
             "line": {"color": "#999", "width": 1}},
        ],
        "annotations": [],
    }
    for k, (day, text) in enumerate(marks.events):
        layout["shapes"].append({
            "type": "line", "xref": "x", "yref": "paper", "x0": day, "x1": day, "y0": 0,
            "y1": 1, "line": {"color": "#6a3d9a", "width": 1.5, "dash": "dash"}})
        layout["annotations"].append({
            "x": day, "xref": "x", "yref": "paper", "y": 1 - 0.08 * (k % 3), "yanchor": "top",
            "xanchor": "left", "showarrow": False, "text": label(text),
            "font": {"size": 11, "color": "#6a3d9a"}, "bgcolor": "rgba(255,255,255,0.8)"})
    for k, (position, text) in enumerate(marks.closures):
        layout["shapes"].append({
            "type": "rect", "xref": "x", "yref": "paper", "x0": position - 0.3,
            "x1": position + 0.3, "y0": 0, "y1": 1, "fillcolor": "rgba(120,120,120,0.18)",
            "line": {"width": 0}, "layer": "below"})
        layout["annotations"].append({
            "x": position, "xref": "x", "yref": "paper", "y": 0.02 + 0.07 * (k % 3),
            "yanchor": "bottom", "xanchor": "center", "showarrow": False, "text": label(text),
            "font": {"size": 10, "color": "#555"}, "bgcolor": "rgba(255,255,255,0.8)"})
    return charts.add("car", data, layout, height=440)


def stock_car_chart(
    charts: Charts, rows: pd.DataFrame, event: str, colors: dict[str, str]
) -> str:
    """Each stock's CAR over one window of one event (``events/stock_cars.csv`` rows, one per
    basket and stock) as horizontal bars sorted by CAR, coloured by basket; a stock held by
    several baskets appears once per basket."""
    rows = rows.sort_values("car", kind="stable")
    window = ""
    if {"window_start", "window_end"} <= set(rows.columns) and len(rows):
        window = f" [{int(rows['window_start'].iloc[0]):+d}, {int(rows['window_end'].iloc[0]):+d}]"
    data = []
    for basket, mine in rows.groupby("basket", sort=False):
        data.append({
            "type": "bar", "orientation": "h", "name": label(basket),
            "y": [f"{label(s)} · {label(basket)}" for s in mine["symbol"]],
            "x": rounded(mine["car"] * 100, 3),
            "marker": {"color": colors.get(basket) or BENCHMARK_COLOR},
            "hovertemplate": "%{y}: %{x:.2f}%<extra></extra>",
        })
    order = [f"{label(s)} · {label(b)}" for s, b in zip(rows["symbol"], rows["basket"],
                                                       strict=True)]
    layout = {
        "title": {"text": f"CAR{window} of each stock around {label(event)}",
                  "font": {"size": 13}},
        "xaxis": axis("cumulative abnormal return", ticksuffix="%"),
        "yaxis": {"automargin": True, "categoryorder": "array", "categoryarray": order,
                  "tickfont": {"size": 10}},
        "barmode": "overlay", "hovermode": "closest",
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.06, "itemclick": "toggleothers",
                   "itemdoubleclick": "toggle"},
        "margin": {"l": 10, "r": 20, "t": 40, "b": 40},
    }
    return charts.add("stock-cars", data, layout, height=160 + 15 * len(rows))


def attribution_chart(charts: Charts, rows: pd.DataFrame, basket: str, total: float) -> str:
    """One basket's constituents as horizontal bars of their contributions (percentage
    points of the total return), sorted, the value printed beyond each bar."""
    rows = rows.sort_values("contribution")
    names = [
        f"{label(n)} ({label(s)})" if isinstance(n, str) and n.strip() else label(s)
        for n, s in zip(rows.get("name", rows["symbol"]), rows["symbol"], strict=True)
    ]
    contribution = rows["contribution"].to_numpy(dtype=float)
    custom = [
        [rounded([w])[0], rounded([r])[0]]
        for w, r in zip(rows.get("weight", pd.Series(math.nan, index=rows.index)),
                        rows.get("return", pd.Series(math.nan, index=rows.index)), strict=True)
    ]
    data = [{
        "type": "bar", "orientation": "h", "name": label(basket), "y": names,
        "x": rounded(contribution * 100, 4), "customdata": custom,
        "marker": {"color": [NEGATIVE if c < 0 else POSITIVE for c in contribution]},
        "text": [f"{c * 100:+.2f}" for c in contribution], "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "%{y}<br>weight %{customdata[0]:.1%}, return %{customdata[1]:.1%}"
                         "<br>contribution %{x:.2f} pp<extra></extra>",
    }]
    total_text = "" if isnan(total) else f": total {total:+.2%}"
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


def log_scale_buttons() -> list[dict[str, Any]]:
    """A linear / log toggle for the y axis (plotly update menu), above the chart's right."""
    return [{
        "type": "buttons", "direction": "left", "x": 1, "xanchor": "right", "y": 1.12,
        "yanchor": "bottom", "showactive": True, "pad": {"r": 0, "t": 0},
        "buttons": [
            {"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
            {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
        ],
    }]


def rolling_beta_chart(
    charts: Charts, betas: pd.DataFrame, benchmark: str, window: int, events: Events,
    colors: dict[str, str],
) -> str:
    """Each basket's rolling beta against the benchmark (:func:`engine.analysis.rolling.
    rolling_beta`), a line at 1 for the benchmark itself."""
    betas = betas.dropna(how="all")
    dates = [str(d)[:10] for d in betas.index]
    data = [{
        "type": "scatter", "mode": "lines", "name": label(name), "x": dates,
        "y": rounded(betas[name], 3), "line": {"color": colors.get(name), "width": 1.5},
        "hovertemplate": "%{y:.2f}",
    } for name in betas.columns]
    shapes, _ = event_marks(events, dates[0], dates[-1], labels=False) if dates else ([], [])
    shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1, "y1": 1,
                   "line": {"color": BENCHMARK_COLOR, "width": 1, "dash": "dash"}})
    layout = {
        "title": {"text": f"Beta against {label(benchmark)} over the last {window} sessions"},
        "xaxis": axis(), "yaxis": axis("beta"), "hovermode": "x unified", "shapes": shapes,
        "legend": ISOLATING_LEGEND,
    }
    return charts.add("rolling-beta", data, layout, height=380)



def leave_one_out_chart(charts: Charts, rows: pd.DataFrame) -> str:
    """Per basket, its total return beside its return without its top contributor and its
    lowest return leaving one stock out (``rows``: the summary's ``total_return``,
    ``return_without_top``, ``top_contributor``, ``return_worst_leave_one_out``,
    ``worst_leave_one_out`` by basket), grouped bars."""
    names = [label(n) for n in rows.index]
    kinds = [
        ("total return", "total_return", None, "#4477aa"),
        ("without the top contributor", "return_without_top", "top_contributor", "#ee7733"),
        ("worst leave-one-out", "return_worst_leave_one_out", "worst_leave_one_out", "#aaaaaa"),
    ]
    data = []
    for title, column, who, color in kinds:
        values = rows[column].to_numpy(dtype=float)
        symbols = [label(s) if isinstance(s, str) else "" for s in rows[who]] if who else \
            [""] * len(rows)
        data.append({
            "type": "bar", "name": title, "x": names, "y": rounded(values * 100, 2),
            "customdata": symbols, "marker": {"color": color},
            "hovertemplate": f"%{{x}}: {title}" + (" (%{customdata})" if who else "")
                             + " %{y:.1f}%<extra></extra>",
        })
    layout = {
        "title": {"text": "Does a basket rest on one stock? Total return, without the top "
                          "contributor, and the worst leave-one-out", "font": {"size": 13}},
        "barmode": "group", "xaxis": {"automargin": True, "tickangle": -20},
        "yaxis": axis("return", ticksuffix="%"), "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.3},
        "margin": {"l": 60, "r": 20, "t": 48, "b": 80},
    }
    return charts.add("leave-one-out", data, layout, height=420)


def without_chart(charts: Charts, rows: pd.DataFrame, basket: str, total: float) -> str:
    """One basket's return without each of its constituents (``attribution.csv``'s
    ``return_without``, the basket simulated again without it) as horizontal bars in the
    order of the contributions, a dashed line at the basket's own total return."""
    rows = rows.sort_values("contribution")
    names = [
        f"{label(n)} ({label(s)})" if isinstance(n, str) and n.strip() else label(s)
        for n, s in zip(rows.get("name", rows["symbol"]), rows["symbol"], strict=True)
    ]
    values = rows["return_without"].to_numpy(dtype=float) * 100
    data = [{
        "type": "bar", "orientation": "h", "name": label(basket), "y": names,
        "x": rounded(values, 3), "marker": {"color": "#8fa9c7"},
        "text": [None if isnan(v) else f"{v:+.1f}%" for v in values],
        "textposition": "outside", "cliponaxis": False,
        "hovertemplate": "without %{y}: %{x:.1f}%<extra></extra>",
    }]
    shapes = [] if isnan(total) else [{
        "type": "line", "xref": "x", "yref": "paper", "x0": total * 100, "x1": total * 100,
        "y0": 0, "y1": 1, "line": {"color": BENCHMARK_COLOR, "width": 1.5, "dash": "dash"}}]
    finite = values[~np.isnan(values)]
    low = min(0.0, *finite, total * 100 if not isnan(total) else 0.0) if len(finite) else 0.0
    high = max(0.0, *finite, total * 100 if not isnan(total) else 0.0) if len(finite) else 1.0
    span = (high - low) or 1.0
    layout = {
        "title": {"text": label(basket) + ": return without each stock"
                  + ("" if isnan(total) else f" (dashed: with all, {total:+.1%})"),
                  "font": {"size": 13}},
        "xaxis": axis("total return without it (%)",
                      range=[low - 0.05 * span, high + 0.18 * span]),
        "yaxis": {"automargin": True}, "shapes": shapes,
        "showlegend": False, "margin": {"l": 10, "r": 20, "t": 40, "b": 40},
    }
    return charts.add("without", data, layout, height=110 + 26 * len(rows))
