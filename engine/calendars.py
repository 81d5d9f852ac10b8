"""Exchange sessions, the ground floor every stage stands on.

Sessions come from ``exchange_calendars`` (XSHG also for Shenzhen, XHKG, XNAS, XNYS) as
tz-naive local dates.  Uses nothing of the engine but its errors.

Building a calendar takes exchange_calendars about 50 ms (and importing it 100 ms more), so the
session list of each calendar is kept on disk, one ``.npy`` file per calendar and
exchange_calendars version, in :func:`cache_folder` (``$BASKET_CALENDAR_CACHE``, else
``calendars`` in the user cache folder of ``basket``): loading one takes a few hundred
microseconds.  A file is rebuilt when exchange_calendars changes version, when it is older than
:data:`MAX_AGE_SECONDS` (exchange_calendars builds a year ahead of the day it is asked), and when
it cannot be read as a sorted list of days (a corrupt file).  Files are written atomically
(temporary name, then rename); a folder that cannot be written only means no cache.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import DateRangeError, OptionError

#: Overrides the folder of the session files.
CACHE_ENV = "BASKET_CALENDAR_CACHE"
#: First day asked of exchange_calendars: no period may start before it.
EARLIEST_DATE = dt.date(2000, 1, 1)
FIRST_DAY = EARLIEST_DATE.isoformat()
#: A session file older than this is rebuilt (exchange_calendars builds a year ahead of the
#: day it is asked, so the rebuilt list reaches further).
MAX_AGE_SECONDS = 90 * 86400


#: Time zone of each calendar the engine knows (what Yahoo's ``exchangeTimezoneName`` must say,
#: and where a price file's timestamps with a UTC offset are converted to local dates).
CALENDAR_TIMEZONES = {
    "XSHG": "Asia/Shanghai",
    "XHKG": "Asia/Hong_Kong",
    "XNAS": "America/New_York",
    "XNYS": "America/New_York",
}

def before_calendars(day: dt.date) -> str | None:
    """Why ``day`` cannot bound a period (it is before :data:`EARLIEST_DATE`: the calendars
    would silently start the period at their first session), or None."""
    if day >= EARLIEST_DATE:
        return None
    return f"{day} is before {EARLIEST_DATE}, the earliest date the exchange calendars cover"


#: The hint of an error naming a date before :data:`EARLIEST_DATE`.
EARLIEST_HINT = f"give a date on or after {EARLIEST_DATE}"


@functools.cache
def calendar(name: str):
    """The ``exchange_calendars`` calendar ``name`` (cached: building one takes ~0.3 s)."""
    import exchange_calendars as xc

    return xc.get_calendar(name, start=FIRST_DAY)


def cache_folder() -> Path:
    """Where the session files are: ``$BASKET_CALENDAR_CACHE``, else ``calendars`` in the user
    cache folder of ``basket``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("basket")) / "calendars"


@functools.cache
def _version() -> str:
    """exchange_calendars' version, read from its metadata (importing it takes 0.1 s)."""
    from importlib import metadata

    return metadata.version("exchange_calendars")


def _cache_file(name: str) -> Path:
    return cache_folder() / f"{name}-{_version()}.npy"


def _built_days(name: str) -> np.ndarray:
    """Every session of calendar ``name`` from exchange_calendars, as ``datetime64[ns]`` days."""
    import exchange_calendars as xc

    try:
        days = calendar(name).sessions
    except xc.errors.InvalidCalendarName:
        raise OptionError(
            "exchange", f"unknown exchange calendar '{name}'", "use XSHG, XHKG, XNAS or XNYS"
        ) from None
    days = days.tz_localize(None) if days.tz else days
    return np.asarray(days.as_unit("ns").to_numpy(), dtype="datetime64[ns]")


def _loaded_days(path: Path) -> np.ndarray | None:
    """The days in session file ``path``, or None if it is missing, too old, unreadable or not
    a sorted list of days."""
    try:
        if time.time() - path.stat().st_mtime > MAX_AGE_SECONDS:
            return None
        days = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if days.dtype != np.dtype("datetime64[ns]") or days.ndim != 1 or len(days) < 2:
        return None
    if not np.all(days[1:] > days[:-1]):
        return None
    return days


def _store(path: Path, days: np.ndarray) -> None:
    """Write ``days`` to ``path`` atomically; a folder that cannot be written keeps no cache."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp", delete=False
        ) as handle:
            temporary = Path(handle.name)
            np.save(handle, days, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


@functools.cache
def all_sessions(name: str) -> pd.DatetimeIndex:
    """Every session calendar ``name`` knows, as tz-naive dates (cached in memory and on disk)."""
    path = _cache_file(name)
    days = _loaded_days(path)
    if days is None:
        days = _built_days(name)
        _store(path, days)
    return pd.DatetimeIndex(days, name="date")


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


def closures_from_bars(bars: dict[str, list[pd.DatetimeIndex]]) -> Closures:
    """Closures from the bar dates of each calendar's symbols (``bars``: calendar -> one
    ascending index of bar dates per symbol listed there).

    For each session ``d``: ``spanning(d)`` counts the symbols with ``first <= d <= last``,
    ``trading(d)`` those with a bar on ``d``; ``d`` is a closure when ``spanning(d) > 0`` and
    ``trading(d) == 0`` (:mod:`engine.market.sessions` gives the rule's reasons).
    """
    closures = {}
    for name, per_symbol in bars.items():
        days = all_sessions(name).to_numpy("datetime64[ns]")
        spanning = np.zeros(len(days) + 1, dtype=np.int64)
        trading = np.zeros(len(days), dtype=np.int64)
        for dates in per_symbol:
            if not len(dates):
                continue
            values = dates.to_numpy("datetime64[ns]")
            spanning[np.searchsorted(days, values[0], side="left")] += 1
            spanning[np.searchsorted(days, values[-1], side="right")] -= 1
            positions = np.searchsorted(days, values)
            on_session = positions < len(days)
            on_session[on_session] = days[positions[on_session]] == values[on_session]
            trading[positions[on_session]] += 1
        closed = (np.cumsum(spanning)[:-1] > 0) & (trading == 0)
        closures[name] = pd.DatetimeIndex(days[closed])
    return Closures(closures)
