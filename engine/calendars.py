"""Exchange sessions, the ground floor every stage stands on.

Sessions come from ``exchange_calendars`` (XSHG also for Shenzhen, XHKG, XNAS, XNYS) as
tz-naive local dates.  Uses nothing of the engine but its errors.
"""

from __future__ import annotations

import functools

import pandas as pd

from engine.errors import DateRangeError, OptionError


@functools.cache
def calendar(name: str):
    """The ``exchange_calendars`` calendar ``name`` (cached: building one takes ~0.3 s)."""
    import exchange_calendars as xc

    return xc.get_calendar(name, start="2000-01-01")


@functools.cache
def all_sessions(name: str) -> pd.DatetimeIndex:
    """Every session calendar ``name`` knows, as tz-naive dates (cached)."""
    import exchange_calendars as xc

    try:
        days = calendar(name).sessions
    except xc.errors.InvalidCalendarName:
        raise OptionError(
            "exchange", f"unknown exchange calendar '{name}'", "use XSHG, XHKG, XNAS or XNYS"
        ) from None
    return pd.DatetimeIndex(days.tz_localize(None) if days.tz else days, name="date").as_unit("ns")


def sessions(name: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Sessions of calendar ``name`` from ``start`` to ``end`` inclusive, as tz-naive dates."""
    days = all_sessions(name)
    if start > days[-1] or end < days[0]:
        raise DateRangeError(
            f"{start.date()}..{end.date()} is outside the {name} calendar "
            f"({days[0].date()}..{days[-1].date()})"
        )
    return days[(days >= start) & (days <= end)]
