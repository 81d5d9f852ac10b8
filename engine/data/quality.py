"""Data-quality checks: pure functions over one :class:`~engine.data.prices.PriceHistory` and its
exchange calendar, each returning a list of :class:`Flag`.

The checks and their rules:

``missing_sessions``
    Sessions of the calendar between the first and the last bar that have no bar: gaps that
    the exchange's holidays do not explain.  One flag per run of consecutive missing sessions.
``closed_day_bar``
    A bar on a date that is not a session of the calendar (exchange closed).
``bad_close``
    A close (or adjusted close) that is zero, negative or missing on a bar that exists.
``stale_quotes``
    The close unchanged for ``stale_run`` (default 5) or more consecutive sessions in a row:
    a quote that stopped updating.
``placeholder_bar``
    Yahoo's placeholder bars (Hong Kong half-days and some other days): volume 0 or missing, or
    open/high/low missing, while a close is present.  Only judged for the columns the series
    otherwise has (a close-only series is not full of placeholders).
``limit_breach``
    A-shares only: a daily move beyond the board's price limit, ±10 % on the main boards, ±20 %
    on STAR (688/689xxx.SS) and ChiNext (300/301xxx.SZ, ±10 % before 2020-08-24), with a
    tolerance of ``limit_tolerance`` plus one price tick (0.01 CNY) relative to the previous
    close, because forward-adjusted prices and tick rounding make limit days differ from the
    exact limit by a fraction.  The first ``listing_sessions`` (5) bars of a series are skipped
    (no limits on listing days); ST stocks (±5 %) and indices are not checked.
``split_like_jump``
    ``|log(close_t / close_t-1)| > log(1.8)`` (a rise of 80 % or a fall of 44 %) where the
    following ``revert_window`` (3) closes stay away from the pre-jump level (none comes back
    within half the jump in log terms): the signature of an unadjusted split or bonus issue.
    A jump that does come back is flagged ``spike`` instead (a bad print; its way back is not
    flagged again).  The first
    ``listing_sessions`` bars are skipped.  Both are warnings: real moves that size happen (on
    the shared data: VNET +83 % on 2022-03-16, SenseTime 0020.HK -47 % on 2022-06-30).

Severities are ``info`` < ``warning`` < ``error``: errors are ``bad_close`` (zero/negative, or
no close at all) and ``limit_breach``, which a correct series cannot have; everything else is a
warning.  Flags, their severities, notes and strict mode are :mod:`engine.data.flags`; the
A-share board limits :mod:`engine.data.limits`.

Runs (:func:`engine.pipeline.prices.gather_prices`) call :func:`quality_flags` on every
history they use, restricted to the period they fetched, and keep one note per symbol and kind
of flag (see
:func:`engine.data.flags.flag_notes`; a terminal gets ``flag_summary``), or with ``strict``
one :class:`~engine.data.flags.DataQualityError`.  The checks work on
plain numpy arrays extracted once per history (about 0.5 ms a symbol), so they cost a run of
60 symbols a few tens of milliseconds.  Calendars are :func:`engine.calendars.calendar`'s.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.calendars import Closures
from engine.data.flags import Flag, raise_if_strict
from engine.data.limits import A_SHARE_TICK, CHINEXT_REFORM, price_limit
from engine.data.prices import PRICE_COLUMNS, PriceHistory
from engine.errors import SymbolError
from engine.symbols import Listing, listing_of


def _dates(days: np.ndarray) -> tuple[pd.Timestamp, ...]:
    return tuple(pd.Timestamp(d) for d in days)


def _runs(positions: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive integers as (start, end) pairs, inclusive."""
    if len(positions) == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(positions) - 1]))
    return [(int(positions[s]), int(positions[e])) for s, e in zip(starts, ends, strict=True)]


@dataclass(frozen=True)
class _Bars:
    """One history as plain arrays, extracted once: every check below works on these (pandas
    indexing per check would cost more than the checks themselves)."""

    symbol: str
    days: np.ndarray  # datetime64[ns], ascending
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    adj_close: np.ndarray
    volume: np.ndarray
    #: Bars of the series before these (a window of it): listing-day exemptions then shrink.
    skipped: int = 0

    @classmethod
    def of(cls, history: PriceHistory) -> _Bars:
        frame = history.frame
        if tuple(frame.columns) == PRICE_COLUMNS:  # the usual layout: one block, no copy
            values = list(frame.to_numpy(dtype=float).T)
        else:
            values = [frame[column].to_numpy(dtype=float) for column in PRICE_COLUMNS]
        days = np.asarray(frame.index.values).astype("datetime64[ns]")
        return cls(history.symbol, days, *values)

    def between(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> _Bars:
        """The bars dated ``start..end`` (inclusive; None is open-ended)."""
        lo = 0 if start is None else int(np.searchsorted(self.days, _day(start), side="left"))
        hi = len(self.days)
        if end is not None:
            hi = int(np.searchsorted(self.days, _day(end), side="right"))
        if lo == 0 and hi == len(self.days):
            return self
        columns = (self.open, self.high, self.low, self.close, self.adj_close, self.volume)
        return _Bars(
            self.symbol, self.days[lo:hi], *(c[lo:hi] for c in columns), self.skipped + lo
        )

    def closes(self) -> np.ndarray:
        """``close`` where known, else ``adj_close``."""
        return np.where(np.isnan(self.close), self.adj_close, self.close)

    def returns_closes(self) -> np.ndarray:
        """``adj_close`` where known, else ``close`` (:meth:`PriceHistory.closes`)."""
        return np.where(np.isnan(self.adj_close), self.close, self.adj_close)


def _day(value: object) -> np.datetime64:
    return pd.Timestamp(value).to_datetime64().astype("datetime64[ns]")


def _session_days(calendar: object) -> np.ndarray:
    """All sessions of an ``exchange_calendars`` calendar as naive ``datetime64[ns]``."""
    sessions = pd.DatetimeIndex(calendar.sessions)  # type: ignore[attr-defined]
    if sessions.tz is not None:
        sessions = sessions.tz_localize(None)
    return np.asarray(sessions.values).astype("datetime64[ns]")


@functools.cache
def _named_session_days(name: str) -> np.ndarray:
    from engine.calendars import all_sessions

    return all_sessions(name).to_numpy()


def _is_in(values: np.ndarray, sorted_days: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is one of the ascending ``sorted_days``."""
    if len(sorted_days) == 0:
        return np.zeros(len(values), dtype=bool)
    positions = np.minimum(np.searchsorted(sorted_days, values), len(sorted_days) - 1)
    return sorted_days[positions] == values


# ---------------------------------------------------------------------------------------------
# Calendar checks


def _missing_sessions(bars: _Bars, sessions: np.ndarray, calendar_name: str) -> list[Flag]:
    if len(bars.days) == 0:
        return []
    lo = np.searchsorted(sessions, bars.days[0], side="left")
    hi = np.searchsorted(sessions, bars.days[-1], side="right")
    inside = sessions[lo:hi]
    flags = []
    for start, end in _runs(np.flatnonzero(~_is_in(inside, bars.days))):
        count = end - start + 1
        noun = "session" if count == 1 else "sessions"
        flags.append(
            Flag(
                bars.symbol,
                "missing_sessions",
                _dates(inside[start : end + 1]),
                f"no bar on {count} {noun} when {calendar_name or 'the exchange'} was open "
                "(not explained by its holidays: suspension, closure or a data gap)",
                "warning",
            )
        )
    return flags


def missing_sessions(
    history: PriceHistory, calendar: object, calendar_name: str = ""
) -> list[Flag]:
    """Runs of calendar sessions without a bar between the first and last bar."""
    return _missing_sessions(_Bars.of(history), _session_days(calendar), calendar_name)


def _closed_day_bars(bars: _Bars, sessions: np.ndarray, calendar_name: str) -> list[Flag]:
    days = bars.days
    if len(days) == 0 or len(sessions) == 0:
        return []
    inside = (days >= sessions[0]) & (days <= sessions[-1])
    flags = []
    for day in map(pd.Timestamp, days[inside & ~_is_in(days, sessions)]):
        flags.append(
            Flag(
                bars.symbol,
                "closed_day_bar",
                (day,),
                f"bar on {day.date()} ({day.day_name()}) when {calendar_name or 'the exchange'} "
                "was closed",
                "warning",
            )
        )
    return flags


def closed_day_bars(history: PriceHistory, calendar: object, calendar_name: str = "") -> list[Flag]:
    """Bars dated on days the calendar has no session (within the calendar's range)."""
    return _closed_day_bars(_Bars.of(history), _session_days(calendar), calendar_name)


# ---------------------------------------------------------------------------------------------
# Value checks


def _bad_closes(bars: _Bars) -> list[Flag]:
    flags = []
    for column, values in (("close", bars.close), ("adj_close", bars.adj_close)):
        for position in np.flatnonzero(values <= 0):
            day = pd.Timestamp(bars.days[position])
            flags.append(
                Flag(
                    bars.symbol,
                    "bad_close",
                    (day,),
                    f"{column} is {values[position]:g} on {day.date()}, not > 0",
                    "error",
                )
            )
    for position in np.flatnonzero(np.isnan(bars.close)):
        day = pd.Timestamp(bars.days[position])
        has_adj = not np.isnan(bars.adj_close[position])
        flags.append(
            Flag(
                bars.symbol,
                "bad_close",
                (day,),
                f"close missing on {day.date()}"
                + (" (adjusted close present)" if has_adj else " and no adjusted close"),
                "warning" if has_adj else "error",
            )
        )
    return flags


def bad_closes(history: PriceHistory) -> list[Flag]:
    """Zero, negative or missing closes on existing bars."""
    return _bad_closes(_Bars.of(history))


def _stale_quotes(bars: _Bars, min_run: int) -> list[Flag]:
    values = bars.closes()
    if len(values) < 2:
        return []
    same = np.zeros(len(values), dtype=bool)
    same[1:] = (values[1:] == values[:-1]) & np.isfinite(values[1:])
    flags = []
    for start, end in _runs(np.flatnonzero(same)):
        count = end - start + 1
        if count < min_run:
            continue
        flags.append(
            Flag(
                bars.symbol,
                "stale_quotes",
                _dates(bars.days[start : end + 1]),
                f"close unchanged at {values[start]:g} for {count} sessions in a row "
                "(a quote that stopped updating?)",
                "warning",
            )
        )
    return flags


def stale_quotes(history: PriceHistory, min_run: int = 5) -> list[Flag]:
    """Runs of ``min_run`` or more consecutive sessions whose close equals the previous one."""
    return _stale_quotes(_Bars.of(history), min_run)


def _placeholder_bars(bars: _Bars) -> list[Flag]:
    closes = bars.closes()
    has_close = ~np.isnan(closes)
    reasons: dict[int, list[str]] = {}
    volume = bars.volume
    if (volume > 0).any():
        for position in np.flatnonzero(has_close & ~(volume > 0)):
            text = "volume missing" if np.isnan(volume[position]) else "volume 0"
            reasons.setdefault(int(position), []).append(text)
    for column, values in (("open", bars.open), ("high", bars.high), ("low", bars.low)):
        if np.isfinite(values).any():
            for position in np.flatnonzero(has_close & np.isnan(values)):
                reasons.setdefault(int(position), []).append(f"no {column}")
    flags = []
    for position in sorted(reasons):
        day = pd.Timestamp(bars.days[position])
        repeats = position > 0 and closes[position] == closes[position - 1]
        flags.append(
            Flag(
                bars.symbol,
                "placeholder_bar",
                (day,),
                f"placeholder bar ({', '.join(reasons[position])}): close "
                f"{closes[position]:g} kept{' and repeats the previous close' if repeats else ''}"
                "; lower-quality price",
                "warning",
            )
        )
    return flags


def placeholder_bars(history: PriceHistory) -> list[Flag]:
    """Bars with a close but volume 0/missing or open/high/low missing, judged only on columns
    the series otherwise fills (Yahoo's Hong Kong half-day placeholders look like this)."""
    return _placeholder_bars(_Bars.of(history))


def _limit_breaches(bars: _Bars, tolerance: float, listing_sessions: int) -> list[Flag]:
    symbol = bars.symbol
    after = price_limit(symbol, CHINEXT_REFORM)
    if after is None:
        return []
    before = price_limit(symbol, CHINEXT_REFORM - pd.Timedelta(days=1)) or after
    closes = bars.returns_closes()
    flags: list[Flag] = []
    if len(closes) < 2:
        return flags
    previous = np.concatenate(([np.nan], closes[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        moves = closes / previous - 1
        limits = np.where(bars.days >= CHINEXT_REFORM.to_datetime64(), after, before)
        allowed = limits + tolerance + A_SHARE_TICK / previous
    breach = np.isfinite(moves) & (np.abs(moves) > allowed)
    breach[: max(listing_sessions - bars.skipped, 1)] = False
    for position in np.flatnonzero(breach):
        day = pd.Timestamp(bars.days[position])
        flags.append(
            Flag(
                symbol,
                "limit_breach",
                (day,),
                f"close moved {moves[position]:+.2%} on {day.date()}, beyond the "
                f"±{limits[position]:.0%} price limit (unadjusted split or dividend, or a bad "
                "price?)",
                "error",
            )
        )
    return flags


def limit_breaches(
    history: PriceHistory, tolerance: float = 0.002, listing_sessions: int = 5
) -> list[Flag]:
    """Daily moves beyond the A-share board limit (see the module docstring for the rule)."""
    return _limit_breaches(_Bars.of(history), tolerance, listing_sessions)


def _split_like_jumps(
    bars: _Bars, threshold: float, revert_window: int, listing_sessions: int
) -> list[Flag]:
    closes = bars.returns_closes()
    flags: list[Flag] = []
    if len(closes) < 2:
        return flags
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(closes)
        jumps = np.concatenate(([np.nan], np.diff(logs)))
        candidates = np.flatnonzero(np.isfinite(jumps) & (np.abs(jumps) > threshold))
    skip_through = -1  # the way back of a spike is not a jump of its own
    for position in candidates[candidates >= max(listing_sessions - bars.skipped, 1)]:
        if position <= skip_through:
            continue
        jump = jumps[position]
        after = logs[position + 1 : position + 1 + revert_window]
        back = np.flatnonzero(np.abs(after - logs[position - 1]) < abs(jump) / 2)
        reverted = len(back) > 0
        if reverted:
            skip_through = position + 1 + int(back[0])
        day = pd.Timestamp(bars.days[position])
        ratio = math.exp(jump)
        if reverted:
            flags.append(
                Flag(
                    bars.symbol,
                    "spike",
                    (day,),
                    f"close jumped x{ratio:.3g} on {day.date()} and came back within "
                    f"{revert_window} sessions (a bad print?)",
                    "warning",
                )
            )
        else:
            flags.append(
                Flag(
                    bars.symbol,
                    "split_like_jump",
                    (day,),
                    f"close jumped x{ratio:.3g} on {day.date()} and stayed there "
                    "(an unadjusted split or bonus issue, or a real move?)",
                    "warning",
                )
            )
    return flags


def split_like_jumps(
    history: PriceHistory,
    threshold: float = math.log(1.8),
    revert_window: int = 3,
    listing_sessions: int = 5,
) -> list[Flag]:
    """Jumps with ``|log return| > threshold``: ``split_like_jump`` when the next
    ``revert_window`` closes stay away from the old level, ``spike`` when one comes back within
    half the jump (see the module docstring)."""
    return _split_like_jumps(_Bars.of(history), threshold, revert_window, listing_sessions)


# ---------------------------------------------------------------------------------------------
# All checks


def check_history(
    history: PriceHistory,
    calendar_name: str | None = None,
    *,
    stale_run: int = 5,
    limit_tolerance: float = 0.002,
    listing_sessions: int = 5,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    closures: Closures | None = None,
) -> list[Flag]:
    """Run every check on one history; flags sorted by first date then kind.

    ``calendar_name`` defaults to the symbol's listing (XSHG, XHKG, XNAS ...); when none is known
    (FX rates) the calendar checks are skipped.  Calendars are
    :func:`engine.calendars.all_sessions`.  ``start``/``end`` restrict the checks to the bars dated
    in that period (the first bar's move is then not judged: its previous close is outside).
    ``closures`` (days the data show an exchange closed) are no sessions: no missing-bar flag.
    """
    if calendar_name is None:
        try:
            calendar_name = listing_of(history.symbol).calendar
        except SymbolError:
            calendar_name = None
    bars = _Bars.of(history).between(start, end)
    flags: list[Flag] = []
    if calendar_name is not None and len(bars.days):
        sessions = (
            _named_session_days(calendar_name)
            if closures is None
            else closures.all_sessions(calendar_name).to_numpy("datetime64[ns]")
        )
        flags += _missing_sessions(bars, sessions, calendar_name)
        flags += _closed_day_bars(bars, sessions, calendar_name)
    flags += _bad_closes(bars)
    flags += _stale_quotes(bars, stale_run)
    flags += _placeholder_bars(bars)
    flags += _limit_breaches(bars, limit_tolerance, listing_sessions)
    flags += _split_like_jumps(bars, math.log(1.8), 3, listing_sessions)
    return sorted(flags, key=lambda f: (f.first or pd.Timestamp.min, f.kind))


def check_prices(
    histories: Mapping[str, PriceHistory],
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    listings: Mapping[str, Listing] | None = None,
    closures: Closures | None = None,
) -> list[Flag]:
    """:func:`check_history` of every history over ``start..end``, in symbol order.

    ``listings`` overrides the exchange (so the calendar) of symbols; symbols without a known
    listing (FX rates) get the value checks only.  ``closures`` are no sessions.
    """
    listings = listings or {}
    flags: list[Flag] = []
    for symbol in sorted(histories):
        listing = listings.get(symbol)
        calendar_name = listing.calendar if listing is not None else None
        flags += check_history(
            histories[symbol], calendar_name, start=start, end=end, closures=closures
        )
    return flags


def quality_flags(
    histories: Mapping[str, PriceHistory],
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    listings: Mapping[str, Listing] | None = None,
    *,
    strict: bool = False,
    closures: Closures | None = None,
) -> list[Flag]:
    """The data-quality checks of a run (:func:`check_prices`); with ``strict`` any flag of
    severity warning or worse raises :class:`~engine.data.flags.DataQualityError` instead.
    ``closures`` are no sessions (a closed day is no missing bar)."""
    flags = check_prices(histories, start, end, listings, closures)
    if strict:
        raise_if_strict(flags)
    return flags
