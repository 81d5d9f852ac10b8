"""How far a symbol's data can reach, and whether a cached entry reaches that far.

Staleness is measured against the exchange calendar: an entry is stale when its last bar predates
the exchange's last *completed* session (a session is completed once its close time has passed).
Without a calendar (FX rates such as ``CNY=X``, unknown exchanges) the last weekday stands in.

Holds the session arithmetic the cache and the Yahoo source share (:func:`last_completed_session`,
:func:`session_on_or_before`, :func:`session_on_or_after`, :func:`target_session`) and
:class:`CacheStatus` (fresh, stale, missing or corrupt).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from engine.calendars import calendar as exchange_calendar
from engine.data.cache_entry import CacheEntry
from engine.errors import SymbolError
from engine.symbols import listing_of


def calendar_name_of(symbol: str) -> str | None:
    """The calendar a symbol trades on (from its suffix), or None when the suffix does not tell
    (FX rates such as ``CNY=X``, unknown exchanges)."""
    try:
        return listing_of(symbol).calendar
    except SymbolError:
        return None


def _utc(now: pd.Timestamp | str | None) -> pd.Timestamp:
    stamp = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _previous_weekday(day: pd.Timestamp) -> pd.Timestamp:
    while day.day_of_week >= 5:
        day -= pd.Timedelta(days=1)
    return day


def last_completed_session(
    calendar_name: str | None, now: pd.Timestamp | str | None = None
) -> pd.Timestamp:
    """The latest session of ``calendar_name`` whose close is at or before ``now`` (UTC if naive).

    Without a calendar (or beyond its range) the answer is the last weekday before ``now``'s UTC
    date: a plain approximation used for FX rates.
    """
    moment = _utc(now)
    if calendar_name is not None:
        closes = exchange_calendar(calendar_name).closes
        if closes.iloc[0] <= moment <= closes.iloc[-1]:
            position = int(closes.searchsorted(moment, side="right"))
            return pd.Timestamp(closes.index[position - 1])
    today = moment.tz_localize(None).normalize()
    return _previous_weekday(today - pd.Timedelta(days=1))


def session_on_or_before(calendar_name: str | None, day: pd.Timestamp) -> pd.Timestamp:
    """The last session of the calendar on or before ``day`` (a weekday without a calendar)."""
    day = pd.Timestamp(day).normalize()
    if calendar_name is not None:
        sessions = exchange_calendar(calendar_name).sessions
        if sessions[0] <= day <= sessions[-1]:
            return pd.Timestamp(sessions[int(sessions.searchsorted(day, side="right")) - 1])
    return _previous_weekday(day)


def session_on_or_after(calendar_name: str | None, day: pd.Timestamp) -> pd.Timestamp:
    """The first session of the calendar on or after ``day`` (a weekday without a calendar)."""
    day = pd.Timestamp(day).normalize()
    if calendar_name is not None:
        sessions = exchange_calendar(calendar_name).sessions
        if sessions[0] <= day <= sessions[-1]:
            return pd.Timestamp(sessions[int(sessions.searchsorted(day, side="left"))])
    while day.day_of_week >= 5:
        day += pd.Timedelta(days=1)
    return day


def target_session(
    calendar_name: str | None, end: pd.Timestamp | None, now: pd.Timestamp | str | None = None
) -> pd.Timestamp:
    """The last session data can exist for: the last completed session, or the last session on or
    before ``end`` when that is earlier."""
    last = last_completed_session(calendar_name, now)
    if end is None:
        return last
    return min(last, session_on_or_before(calendar_name, pd.Timestamp(end)))


@dataclass(frozen=True)
class CacheStatus:
    """Freshness of one symbol: ``state`` is fresh, stale, missing or corrupt."""

    symbol: str
    state: str
    message: str
    entry: CacheEntry | None = None
    last_session: pd.Timestamp | None = None

    @property
    def stale(self) -> bool:
        return self.state == "stale"


def freshness(entry: CacheEntry, now: pd.Timestamp | str | None = None) -> CacheStatus:
    """Fresh or stale: whether the entry's last bar reaches the last completed session of its
    symbol's exchange calendar at ``now``."""
    symbol = entry.symbol
    last_session = last_completed_session(calendar_name_of(symbol), now)
    if pd.Timestamp(entry.last_date) < last_session:
        return CacheStatus(
            symbol,
            "stale",
            f"last bar {entry.last_date} predates the last completed session "
            f"{last_session.date()}",
            entry,
            last_session,
        )
    return CacheStatus(
        symbol, "fresh", f"up to date through {entry.last_date}", entry, last_session
    )
