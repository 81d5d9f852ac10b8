"""Rebalancing schedules, one small function each, registered by the name a basket file uses.

Each takes ``all_open`` (bool per study session: every exchange of the basket trades) and the
purchase session, and returns the sessions on which the basket is rebalanced.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def _first_open_session_per_period(
    all_open: pd.Series, period: str, after: pd.Timestamp
) -> list[pd.Timestamp]:
    open_days = all_open.index[all_open.to_numpy()]
    open_days = open_days[open_days > after]
    if open_days.empty:
        return []
    first = pd.Series(open_days, index=open_days).groupby(open_days.to_period(period)).min()
    periods_started_after = first[first.index > after.to_period(period)]
    return list(periods_started_after)


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
