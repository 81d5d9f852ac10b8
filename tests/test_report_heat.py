"""The report's tables with coloured cells (engine/results/report/heat.py): the colour scales,
the text contrast, the scale's end, and the numbers the tables print."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.results.report.heat import (
    CORRELATION_NEGATIVE,
    CORRELATION_POSITIVE,
    DARK_TEXT,
    LIGHT_TEXT,
    correlation_table,
    diverging_color,
    luminance,
    monthly_table,
    nice_span,
    overlap_table,
    sequential_color,
    text_color,
)
from engine.results.report.page import NEGATIVE, POSITIVE


def rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[k:k + 2], 16) for k in (1, 3, 5))


def test_zero_is_white_the_sign_picks_the_hue_and_the_ends_clip():
    assert diverging_color(0.0, 10) == "#ffffff"
    # A fifth of the way from white (255) to POSITIVE #2e7d32 (46, 125, 50), by hand:
    # 255 - 0.2 * 209 = 213.2, 255 - 0.2 * 130 = 229, 255 - 0.2 * 205 = 214.
    assert diverging_color(2.0, 10) == "#d5e5d6"
    # ... and to NEGATIVE #c62828 (198, 40, 40): 255 - 0.2 * 57 = 243.6, 255 - 0.2 * 215 = 212.
    assert diverging_color(-2.0, 10) == "#f4d4d4"
    assert diverging_color(10, 10) == diverging_color(37, 10) == POSITIVE
    assert diverging_color(-10, 10) == diverging_color(-1e9, 10) == NEGATIVE
    assert diverging_color(-0.3, 1, CORRELATION_NEGATIVE, CORRELATION_POSITIVE) != \
        diverging_color(-0.3, 1)
    assert diverging_color(1, 1, CORRELATION_NEGATIVE, CORRELATION_POSITIVE) == \
        CORRELATION_POSITIVE
    assert diverging_color(None, 1) is None and diverging_color(math.nan, 1) is None
    assert sequential_color(0, 4) == "#ffffff" and sequential_color(9, 4) == \
        sequential_color(4, 4) == "#2166ac"
    assert sequential_color(-1, 4) == "#ffffff" and sequential_color(math.nan, 4) is None


@settings(derandomize=True, max_examples=200)
@given(st.floats(-50, 50, allow_nan=False), st.floats(0.01, 20))
def test_a_colour_lies_between_white_and_the_end_of_its_sign_and_darkens_with_size(value, span):
    color = rgb(diverging_color(value, span))
    end = rgb(POSITIVE if value > 0 else NEGATIVE)
    share = min(1.0, abs(value) / span)
    for channel, last in zip(color, end, strict=True):
        assert min(255, last) <= channel <= max(255, last)
        assert channel == pytest.approx(255 + share * (last - 255), abs=0.5)
    # A larger move is never lighter.
    assert luminance(diverging_color(value * 1.5, span)) <= luminance(
        diverging_color(value, span)) + 1e-12


def test_text_is_dark_on_light_cells_and_light_on_dark_ones():
    # WCAG 2.1: white has relative luminance 1 and black 0; #767676 on white is the published
    # 4.54:1, the darkest grey meeting the 4.5:1 minimum.
    assert luminance("#ffffff") == pytest.approx(1.0)
    assert luminance("#000000") == 0.0
    assert (1.05 / (luminance("#767676") + 0.05)) == pytest.approx(4.54, abs=0.01)
    assert text_color("#ffffff") == DARK_TEXT
    assert text_color(diverging_color(0.2, 1)) == DARK_TEXT
    # #c62828: luminance 0.137 by hand, contrast 5.6 with white against 3.1 with #1a1a1a.
    assert luminance(NEGATIVE) == pytest.approx(0.137, abs=0.001)
    assert text_color(NEGATIVE) == LIGHT_TEXT and text_color(POSITIVE) == LIGHT_TEXT
    assert text_color(CORRELATION_POSITIVE) == LIGHT_TEXT


def test_the_scale_ends_at_a_round_number_above_most_of_the_values():
    # Sizes 1..10: the 90th percentile is 9.1 (numpy's linear rule), rounded up to 10.
    assert nice_span(list(range(-10, 11))) == 10
    assert nice_span([0.25, -0.1]) == 0.5  # 0.235 -> 0.5
    assert nice_span([12.0]) == 20 and nice_span([3.0, 3.0]) == 5 and nice_span([2.0]) == 2
    assert nice_span([]) == 1 and nice_span([math.nan, 0.0]) == 1


def cells(table: str) -> list[list[str]]:
    """Each body row of a table: its header, then its cells' texts."""
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', table)
    return [[head, *re.findall(r"<td[^>]*>(.*?)</td>", body)] for head, body in rows]


def test_the_tables_print_every_number_and_escape_the_names():
    monthly = pd.DataFrame({"A <b>1</b>": [0.0123, -0.2, math.nan], "B": [0.05, 0.0, 0.3]},
                           index=["2024-01", "2024-02", "2024-03"])
    table = monthly_table(monthly)
    assert "<b>" not in table and '<th scope="col">A &lt;b&gt;1&lt;/b&gt;</th>' in table
    assert cells(table) == [["2024-01", "+1.2", "+5.0"], ["2024-02", "-20.0", "0.0"],
                            ["2024-03", "", "+30.0"]]
    # Sizes 1.23, 5, 20, 0, 30 (%): the 90th percentile 26 rounds up to 50.
    assert f'style="background:{diverging_color(-20.0, 50)};' in table
    assert "≤ -50%" in table and "≥ +50%" in table and "+25%" in table
    names = ["Chips & co", "Cloud"]
    correlation = pd.DataFrame([[1.0, -0.456], [-0.456, 1.0]], index=names, columns=names)
    table = correlation_table(correlation)
    assert cells(table) == [["Chips &amp; co", "1.00", "-0.46"], ["Cloud", "-0.46", "1.00"]]
    assert f"background:{diverging_color(-0.456, 1, CORRELATION_NEGATIVE, CORRELATION_POSITIVE)}" \
        in table
    overlap = pd.DataFrame([[5, 2], [2, 3]], index=names, columns=names)
    table = overlap_table(overlap)
    assert cells(table) == [["Chips &amp; co", "5", "2"], ["Cloud", "2", "3"]]
    assert table.count('class="num diagonal"') == 2  # each basket's constituents, in grey
    assert table.count(f"background:{sequential_color(2, 2)}") == 2 + 1  # and the legend's
