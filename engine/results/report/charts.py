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
from typing import Any

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
    colors: dict[str, str],
) -> str:
    """Every curve of ``equity`` (rebased to 1) times 100, the benchmark dashed, the events
    marked with their names."""
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
    }
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
        "hovermode": "x unified", "shapes": shapes,
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
        "hovermode": "x unified", "shapes": shapes,
    }
    return charts.add("relative", data, layout, height=380)


def car_chart(
    charts: Charts, paths: pd.DataFrame, event: str, name: str, colors: dict[str, str]
) -> str:
    """The CAR path of each basket by event day (``events/car_paths.csv`` rows of one event),
    with the baskets' portfolio CARs behind one legend entry, off by default."""
    data: list[dict[str, Any]] = []
    portfolios: list[dict[str, Any]] = []
    for basket, rows in paths.groupby("basket", sort=False):
        rows = rows.sort_values("day")
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": label(basket),
            "x": [int(d) for d in rows["day"]], "y": rounded(rows["car"] * 100, 4),
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
