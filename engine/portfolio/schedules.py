"""Rebalancing schedules, one small function each, registered by the name a basket file uses.

Each takes ``all_open`` (bool per study session: every exchange of the basket trades) and the
purchase session, and returns the sessions on which the basket is rebalanced.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

#: Months per period of the schedules that trade once a period.
PERIOD_MONTHS = {"M": 1, "Q": 3}


def _first_open_session_per_period(
    all_open: pd.Series, period: str, after: pd.Timestamp
) -> list[pd.Timestamp]:
    """The first open session of each period (``"M"`` month, ``"Q"`` calendar quarter) that
    starts after the period of ``after``."""
    months = PERIOD_MONTHS[period]
    # In datetime64 arrays: a DatetimeIndex costs tens of microseconds a selection, and the
    # backtest asks for a schedule for every basket and every basket without one of its stocks.
    days = all_open.index.to_numpy()
    open_days = days[all_open.to_numpy() & (days > after.to_datetime64())]
    # Periods counted from January 1970 (a quarter's start): the sessions are sorted, so a
    # period's first session is where the count changes.
    count = open_days.astype("datetime64[M]").astype(np.int64) // months
    first = np.flatnonzero(np.r_[True, count[1:] != count[:-1]])[: len(count)]
    after_count = np.datetime64(after.to_datetime64(), "M").astype(np.int64) // months
    return [pd.Timestamp(day) for day in open_days[first[count[first] > after_count]]]


def no_rebalancing(all_open: pd.Series, bought: pd.Timestamp) -> list[pd.Timestamp]:
    """Buy and hold: never trade after the purchase."""
    return []


def monthly(all_open: pd.Series, bought: pd.Timestamp) -> list[pd.Timestamp]:
    """The first session of each month after the purchase month on which every exchange of the
    basket is open (``all_open``: bool per study session)."""
    return _first_open_session_per_period(all_open, "M", bought)


def quarterly(all_open: pd.Series, bought: pd.Timestamp) -> list[pd.Timestamp]:
    """The first session of each calendar quarter after the purchase quarter on which every
    exchange of the basket is open."""
    return _first_open_session_per_period(all_open, "Q", bought)


#: Rebalancing schedules by the name a basket file uses.
SCHEDULES: dict[str, Callable[[pd.Series, pd.Timestamp], list[pd.Timestamp]]] = {
    "none": no_rebalancing,
    "monthly": monthly,
    "quarterly": quarterly,
}
