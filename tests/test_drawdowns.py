"""Drawdown periods (engine.analysis.drawdowns) against hand computation and numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from engine.analysis.drawdowns import PERIOD_COLUMNS, drawdown_periods

DATES = pd.date_range("2025-01-01", periods=8, freq="D")


def test_periods_by_hand():
    # Peaks 1, 1.1, 1.1, 1.1, 1.2, 1.2, 1.2, 1.2: three falls.
    values = pd.Series([1.0, 1.1, 0.99, 1.05, 1.2, 1.14, 1.2, 1.0], index=DATES)
    periods = drawdown_periods(values)
    assert list(periods.columns) == list(PERIOD_COLUMNS)
    d = DATES
    # 1.0 / 1.2 - 1 = -1/6, not recovered: from day 6 to the last day, 1 session.
    # 0.99 / 1.1 - 1 = -0.1: from day 1 (the peak) to day 4 (back at 1.2 >= 1.1), 3 sessions.
    # 1.14 / 1.2 - 1 = -0.05: from day 4 to day 6 (1.2 again, equal counts as recovered).
    assert periods.to_dict("list") == {
        "start": [d[6], d[1], d[4]],
        "trough": [d[7], d[2], d[5]],
        "recovery": [pd.NaT, d[4], d[6]],
        "depth": [periods["depth"][0], periods["depth"][1], periods["depth"][2]],
        "length": [1, 3, 2],
    }
    assert np.allclose(periods["depth"], [1.0 / 1.2 - 1, 0.99 / 1.1 - 1, 1.14 / 1.2 - 1])


def test_a_fall_from_the_starting_cash_starts_on_the_first_day():
    # Fees leave the first value at 0.999 of the cash: the first period starts on day 0.
    values = pd.Series([0.999, 0.98, 1.0, 1.01], index=DATES[:4])
    periods = drawdown_periods(values, initial=1.0)
    assert periods.to_dict("records") == [{
        "start": DATES[0], "trough": DATES[1], "recovery": DATES[2],
        "depth": periods["depth"][0], "length": 2,
    }]
    assert np.isclose(periods["depth"][0], 0.98 - 1)
    assert drawdown_periods(values).shape[0] == 1  # from the 0.999 peak: 0.98 / 0.999 - 1
    assert drawdown_periods(pd.Series([1.0, 1.1, 1.2], index=DATES[:3])).empty
    assert drawdown_periods(pd.Series([], dtype=float)).empty


@given(st.lists(st.floats(0.5, 2.0), min_size=1, max_size=40))
def test_the_deepest_period_is_the_maximum_drawdown(values):
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=len(values)))
    periods = drawdown_periods(series)
    drawdown = np.asarray(values) / np.maximum.accumulate(values) - 1
    if drawdown.min() < 0:
        assert np.isclose(periods["depth"].iloc[0], drawdown.min())
        # Every day under water lies in exactly one period (after its start, before its
        # recovery or, not recovered, up to the last day).
        after_last = series.index[-1] + pd.Timedelta(1, "D")
        inside = 0
        for period in periods.itertuples():
            end = period.recovery if pd.notna(period.recovery) else after_last
            inside += ((series.index > period.start) & (series.index < end)).sum()
        assert inside == (drawdown < 0).sum()
    else:
        assert periods.empty
