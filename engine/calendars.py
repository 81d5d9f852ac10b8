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


class Closures:
    """Sessions the data show closed, per calendar, and the sessions that remain.

    ``exchange_calendars`` does not know ad-hoc closures (Hong Kong's typhoon and black-rainstorm
    days); :func:`engine.market.sessions.detect_closures` finds them in the data.  A closed day
    is no session: every stage that counts sessions (alignment, purchase, rebalancing,
    statistics, event time, missing-bar checks) asks this object instead of the calendar.
    """

    def __init__(self, days: dict[str, pd.DatetimeIndex] | None = None) -> None:
        self.days = {
            name: pd.DatetimeIndex(d, name="date").as_unit("ns")
            for name, d in (days or {}).items()
            if len(d)
        }
        self._sessions: dict[str, pd.DatetimeIndex] = {}

    def all_sessions(self, name: str) -> pd.DatetimeIndex:
        """Every session of calendar ``name`` less its closures (cached)."""
        if name not in self._sessions:
            days = all_sessions(name)
            closed = self.days.get(name)
            self._sessions[name] = days if closed is None else days[~days.isin(closed)]
        return self._sessions[name]

    def sessions(self, name: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
        """Sessions of ``name`` from ``start`` to ``end`` inclusive, less its closures."""
        days = sessions(name, start, end)
        closed = self.days.get(name)
        return days if closed is None else days[~days.isin(closed)]

    def notes(
        self, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> list[str]:
        """One line per closure from ``start`` to ``end`` (None: unbounded), in calendar then
        date order."""
        start = pd.Timestamp.min if start is None else start
        end = pd.Timestamp.max if end is None else end
        return [
            f"{name}: closed on {day.date()} (no bar for any of its symbols although "
            "exchange_calendars lists a session); not a session of this run"
            for name in sorted(self.days)
            for day in self.days[name]
            if start <= day <= end
        ]
