"""The histogram of matched random baskets, drawn by the run and sweep reports.

Ranking a basket against random baskets gives its percentile and p-value
(:func:`engine.analysis.null.rank_against`); the histogram shows the distribution behind them:
the random baskets' values in :data:`BINS` equal bins over the range of the values and the
basket's own, the basket's value as a vertical line, its percentile and p-value in the title.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.results.display import p_text
from engine.results.report.page import Charts, axis, label
from engine.results.sweepfolder import is_percent

#: Bins of each histogram of random baskets.
BINS = 40
MARK_COLOR = "#c62828"


def null_histogram(
    charts: Charts, row: dict[str, Any], values: np.ndarray, marked: str = "theme"
) -> str:
    """The random baskets' ``values`` of one ranking ``row`` (``basket``, ``grid``,
    ``statistic``, the ``marked`` basket's ``value``, its ``percentile`` and ``p_value``) as a
    histogram (:func:`numpy.histogram`, :data:`BINS` bins from the lowest to the highest of
    the values and the basket's), the basket's value marked; empty when there is nothing finite
    to draw."""
    values = values[np.isfinite(values)]
    if not len(values) or not math.isfinite(row["value"]):
        return ""
    scale = 100.0 if is_percent(row["statistic"]) else 1.0
    low, high = min(values.min(), row["value"]), max(values.max(), row["value"])
    counts, edges = np.histogram(values, bins=BINS, range=(low, high) if high > low else None)
    centers = (edges[:-1] + edges[1:]) / 2 * scale
    value = row["value"] * scale
    unit = " (%)" if scale == 100 else ""
    text_right = row["value"] < (low + high) / 2  # the label goes where there is room
    shown = f"{row['value']:+.1%}" if scale == 100 else f"{row['value']:.2f}"
    named = str(row["statistic"]).replace("_", " ")  # total return, not total_return
    title = label(f"{row['basket']}: {named} {row['grid']}".strip())
    rank = label(f"percentile {row['percentile']:.1f}, p {p_text(row['p_value'])} among "
                 f"{len(values):,} random baskets")
    data = [{"type": "bar", "x": centers.round(6).tolist(), "y": counts.tolist(),
             "name": "random baskets", "marker": {"color": "#9bb7d4"}}]
    layout = {
        "title": {"text": f"{title}<br><span style=\"font-size:12px\">{rank}</span>"},
        "margin": {"l": 60, "r": 20, "t": 64, "b": 40},
        "xaxis": axis(f"{named}{unit}"),
        "yaxis": axis("baskets"),
        "bargap": 0.02,
        "showlegend": False,
        "shapes": [{"type": "line", "xref": "x", "yref": "paper", "x0": value, "x1": value,
                    "y0": 0, "y1": 1, "line": {"color": MARK_COLOR, "width": 2}}],
        # Inside the plot's top, beside the line (above it, it would meet the title).
        "annotations": [{
            "x": value, "xref": "x", "yref": "paper", "y": 1, "yanchor": "top",
            "xanchor": "left" if text_right else "right", "xshift": 4 if text_right else -4,
            "showarrow": False, "font": {"color": MARK_COLOR},
            "text": label(f"{marked} {shown}"),
        }],
    }
    return charts.add("null", data, layout, height=320)
