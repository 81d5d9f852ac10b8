"""Tables of numbers with coloured cells: the run report's monthly returns, correlation and
overlap of the baskets, in place of plotly heatmaps.

An HTML table prints every number exactly, weighs a fraction of a heatmap's JSON, draws with
the page (no plotly.js needed: the reports' bundle has no heatmap trace) and reads like one:
each cell's background is its value on a scale (:func:`diverging_color`, centred on 0, for
returns and correlations; :func:`sequential_color` for counts), its text dark or light by the
background (:func:`text_color`), and a legend of swatches under the table says what the
colours mean.  Row and column labels are basket names, escaped as text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from engine.results.report.page import NEGATIVE, POSITIVE, esc, isnan

WHITE = "#ffffff"
DARK_TEXT, LIGHT_TEXT = "#1a1a1a", "#ffffff"
#: Correlations are no good or bad news: blue above zero, orange below (not green and red).
CORRELATION_POSITIVE, CORRELATION_NEGATIVE = "#2166ac", "#b35806"
OVERLAP_COLOR = "#2166ac"
#: The share of the monthly returns (by size) inside the scale; the rest take its end colour.
RETURN_SCALE_QUANTILE = 0.9


def mix(start: str, end: str, share: float) -> str:
    """The ``#rrggbb`` colour ``share`` (0 to 1) of the way from ``start`` to ``end``, each
    channel interpolated linearly in sRGB and rounded."""
    channels = [
        round(int(start[k:k + 2], 16) + share * (int(end[k:k + 2], 16) - int(start[k:k + 2], 16)))
        for k in (1, 3, 5)
    ]
    return "#" + "".join(f"{c:02x}" for c in channels)


def diverging_color(
    value: float | None, span: float, negative: str = NEGATIVE, positive: str = POSITIVE
) -> str | None:
    """The background of ``value`` on a scale from ``-span`` to ``+span`` centred on zero:
    white at 0, ``positive`` at ``+span``, ``negative`` at ``-span``, linear in between and
    clipped beyond the ends; None for a missing value."""
    if isnan(value) or span <= 0:
        return None
    share = max(-1.0, min(1.0, float(value) / span))
    return mix(WHITE, positive if share > 0 else negative, abs(share))


def sequential_color(value: float | None, top: float, color: str = OVERLAP_COLOR) -> str | None:
    """The background of ``value`` on a scale from 0 (white) to ``top`` (``color``), clipped
    at both ends; None for a missing value."""
    if isnan(value) or top <= 0:
        return None
    return mix(WHITE, color, max(0.0, min(1.0, float(value) / top)))


def luminance(color: str) -> float:
    """The relative luminance of an sRGB ``#rrggbb`` colour (WCAG 2.1, "relative luminance":
    each channel c in [0, 1] linearised as c / 12.92 when c <= 0.04045, else
    ((c + 0.055) / 1.055) ** 2.4; then 0.2126 R + 0.7152 G + 0.0722 B)."""
    linear = []
    for k in (1, 3, 5):
        c = int(color[k:k + 2], 16) / 255
        linear.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_color(background: str) -> str:
    """Dark or light text, whichever contrasts more with ``background`` (WCAG 2.1 contrast
    ratio ``(L_lighter + 0.05) / (L_darker + 0.05)`` of the relative luminances)."""
    lum = luminance(background)
    against_dark = (lum + 0.05) / (luminance(DARK_TEXT) + 0.05)
    against_light = (luminance(LIGHT_TEXT) + 0.05) / (lum + 0.05)
    return DARK_TEXT if against_dark >= against_light else LIGHT_TEXT


def nice_span(values: Sequence[float], quantile: float = RETURN_SCALE_QUANTILE) -> float:
    """The end of a symmetric scale for ``values``: the ``quantile`` of their sizes rounded up
    to 1, 2 or 5 times a power of ten (a few extreme cells are clipped instead of washing out
    the others); 1 when nothing is finite or non-zero."""
    sizes = np.abs(np.asarray([v for v in values if not isnan(v)], dtype=float))
    sizes = sizes[np.isfinite(sizes) & (sizes > 0)]
    if not len(sizes):
        return 1.0
    target = float(np.quantile(sizes, quantile))
    power = 10.0 ** math.floor(math.log10(target))
    # The mantissa target / power is in [1, 10): step 10 always covers it.
    return next(s for s in (1, 2, 5, 10) if s * power >= target * (1 - 1e-12)) * power


def cell_style(background: str | None) -> str:
    """The inline style of a coloured cell (none for a missing value)."""
    if background is None:
        return ""
    return f' style="background:{background};color:{text_color(background)}"'


def heat_table(
    frame: pd.DataFrame,
    text: Callable[[float], str],
    color: Callable[[float], str | None],
    css: str,
    diagonal: bool = False,
) -> str:
    """``frame`` as an escaped HTML table, each cell ``text(value)`` on the background
    ``color(value)``; a missing value is an empty, uncoloured cell; with
    ``diagonal``, the cells where row and column are the same are set apart in grey."""
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in frame.columns)
    lines = [f'<div class="wide"><table class="heat {esc(css)}"><thead><tr>'
             f"<th>{esc(frame.index.name or '')}</th>{head}</tr></thead><tbody>"]
    for row, values in zip(frame.index, frame.to_numpy(dtype=float), strict=True):
        lines.append(f'<tr><th scope="row">{esc(row)}</th>')
        for column, value in zip(frame.columns, values, strict=True):
            if isnan(value):
                lines.append('<td class="num"></td>')
            elif diagonal and row == column:
                lines.append(f'<td class="num diagonal">{esc(text(value))}</td>')
            else:
                style = cell_style(color(value))
                lines.append(f'<td class="num"{style}>{esc(text(value))}</td>')
        lines.append("</tr>")
    lines.append("</tbody></table></div>")
    return "".join(lines)


def legend(stops: Sequence[tuple[str, str | None]], what: str) -> str:
    """A row of swatches (label, background) after ``what`` says what the colours mean."""
    swatches = "".join(
        f'<span class="swatch"{cell_style(background)}>{esc(text)}</span>'
        for text, background in stops
    )
    return f'<p class="caption heat-legend">{esc(what)} {swatches}</p>'


def diverging_stops(
    span: float, unit: str, negative: str, positive: str
) -> list[tuple[str, str | None]]:
    """The legend's swatches (label, background) of a diverging scale at -span, -span/2, 0,
    +span/2 and +span, the ends marked as taking every value beyond them."""
    def show(value: float) -> str:
        return f"{value:+g}{unit}" if value else f"0{unit}"

    return [(f"≤ {show(-span)}", diverging_color(-span, span, negative, positive)),
             (show(-span / 2), diverging_color(-span / 2, span, negative, positive)),
             (show(0.0), WHITE),
             (show(span / 2), diverging_color(span / 2, span, negative, positive)),
             (f"≥ {show(span)}", diverging_color(span, span, negative, positive))]


def signed(value: float) -> str:
    """A percentage with one decimal and its sign; one that rounds to zero as ``0.0``."""
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def monthly_table(monthly: pd.DataFrame) -> str:
    """Calendar-month returns (:func:`engine.analysis.rolling.monthly_returns`: one row per
    month, one column per curve) in percent with one decimal, on a red-white-green scale
    centred on 0 whose ends are :func:`nice_span` of the returns."""
    percent = monthly.astype(float) * 100
    span = nice_span(percent.to_numpy().ravel())
    table = heat_table(
        percent.rename_axis("Month"), signed,
        lambda v: diverging_color(v, span), css="monthly")
    stops = diverging_stops(span, "%", NEGATIVE, POSITIVE)
    return (
        "<h3>Monthly returns (%)</h3>" + table
        + legend(stops, "Red: the month lost, green: it gained, the deeper the colour the "
                        "larger the move;")
    )


def correlation_table(matrix: pd.DataFrame) -> str:
    """The correlations of the curves' daily returns (``correlation.csv``) with two decimals,
    on an orange-white-blue scale from -1 to +1."""
    table = heat_table(
        matrix.astype(float).rename_axis(""), lambda v: f"{v:.2f}",
        lambda v: diverging_color(
            v, 1.0, CORRELATION_NEGATIVE, CORRELATION_POSITIVE),
        css="correlation")
    stops = diverging_stops(1.0, "", CORRELATION_NEGATIVE, CORRELATION_POSITIVE)
    return (
        "<h3>Correlation of daily returns</h3>" + table
        + legend(stops, "Blue: the two move together, orange: in opposite directions;")
    )


def overlap_table(matrix: pd.DataFrame) -> str:
    """The symbols each pair of baskets holds in common (``overlap.csv``; the diagonal, in
    grey: each basket's constituents), white for none to blue for the most any pair
    shares."""
    counts = matrix.astype(float)
    shared = [v for r, row in counts.iterrows() for c, v in row.items() if r != c]
    top = max([v for v in shared if not isnan(v)], default=0.0) or 1.0
    table = heat_table(
        counts.rename_axis(""), lambda v: f"{v:.0f}",
        lambda v: sequential_color(v, top), css="overlap", diagonal=True)
    stops = [(f"{v:.0f}", sequential_color(v, top)) for v in sorted({0.0, top / 2, top})
             if v == int(v)]
    return (
        "<h3>Symbols held in common</h3>" + table
        + legend(stops, "In grey: each basket's constituents; elsewhere the symbols two "
                        "baskets share, the bluer the more;")
    )
