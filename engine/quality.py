"""Data-quality checks: pure functions over one :class:`~engine.data.PriceHistory` and its
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
warning.  :func:`raise_if_strict` turns flags at or above a severity into one
:class:`DataQualityError`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data import PriceHistory
from engine.errors import InputError, SymbolError
from engine.symbols import listing_of

SEVERITIES = ("info", "warning", "error")

#: ChiNext moved from ±10 % to ±20 % limits on this date.
CHINEXT_REFORM = pd.Timestamp("2020-08-24")
#: One price tick on Shanghai and Shenzhen (CNY).
A_SHARE_TICK = 0.01


@dataclass(frozen=True)
class Flag:
    """One finding: the symbol, what kind, the dates concerned (ascending), a message and a
    severity (``info``, ``warning`` or ``error``)."""

    symbol: str
    kind: str
    dates: tuple[pd.Timestamp, ...]
    message: str
    severity: str = "warning"

    @property
    def first(self) -> pd.Timestamp | None:
        return self.dates[0] if self.dates else None

    @property
    def last(self) -> pd.Timestamp | None:
        return self.dates[-1] if self.dates else None

    def span(self) -> str:
        """``2024-12-24`` or ``2024-06-03..2024-06-07``."""
        if not self.dates:
            return "-"
        first, last = self.dates[0].date(), self.dates[-1].date()
        return str(first) if first == last else f"{first}..{last}"

    def one_line(self) -> str:
        return f"{self.symbol} {self.span()} {self.kind} ({self.severity}): {self.message}"


class DataQualityError(InputError):
    """Prices fail the data-quality checks in strict mode."""

    def __init__(self, flags: Sequence[Flag]) -> None:
        self.flags = list(flags)
        by_symbol: dict[str, list[Flag]] = {}
        for flag in self.flags:
            by_symbol.setdefault(flag.symbol, []).append(flag)
        parts = []
        for symbol, found in sorted(by_symbol.items()):
            kinds: dict[str, list[Flag]] = {}
            for flag in found:
                kinds.setdefault(flag.kind, []).append(flag)
            listed = ", ".join(
                f"{len(group)} {kind} (first {group[0].span()})" for kind, group in kinds.items()
            )
            parts.append(f"{symbol}: {listed}")
        count = len(self.flags)
        super().__init__(
            f"data-quality check failed with {count} flag{'s' if count != 1 else ''}: "
            + "; ".join(parts),
            "inspect the prices, or run without strict data checks to continue with warnings",
        )


def _dates(index: Iterable[pd.Timestamp]) -> tuple[pd.Timestamp, ...]:
    return tuple(pd.Timestamp(d) for d in index)


def _runs(positions: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive integers as (start, end) pairs, inclusive."""
    if len(positions) == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(positions) - 1]))
    return [(int(positions[s]), int(positions[e])) for s, e in zip(starts, ends, strict=True)]


def _sessions(calendar: object, first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """Calendar sessions in ``[first, last]`` clipped to the calendar's own range."""
    lo = max(pd.Timestamp(first), calendar.first_session)  # type: ignore[attr-defined]
    hi = min(pd.Timestamp(last), calendar.last_session)  # type: ignore[attr-defined]
    if lo > hi:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(calendar.sessions_in_range(lo, hi)).astype("datetime64[ns]")  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Calendar checks


def missing_sessions(
    history: PriceHistory, calendar: object, calendar_name: str = ""
) -> list[Flag]:
    """Runs of calendar sessions without a bar between the first and last bar."""
    frame = history.frame
    if frame.empty:
        return []
    sessions = _sessions(calendar, frame.index[0], frame.index[-1])
    have = sessions.isin(frame.index.astype("datetime64[ns]"))
    flags = []
    for start, end in _runs(np.flatnonzero(~have)):
        days = sessions[start : end + 1]
        count = len(days)
        noun = "session" if count == 1 else "sessions"
        flags.append(
            Flag(
                history.symbol,
                "missing_sessions",
                _dates(days),
                f"no bar on {count} {noun} when {calendar_name or 'the exchange'} was open "
                "(not explained by its holidays: suspension, closure or a data gap)",
                "warning",
            )
        )
    return flags


def closed_day_bars(history: PriceHistory, calendar: object, calendar_name: str = "") -> list[Flag]:
    """Bars dated on days the calendar has no session (within the calendar's range)."""
    frame = history.frame
    if frame.empty:
        return []
    index = frame.index.astype("datetime64[ns]")
    inside = (index >= calendar.first_session) & (index <= calendar.last_session)  # type: ignore[attr-defined]
    sessions = _sessions(calendar, index[0], index[-1])
    closed = index[inside & ~index.isin(sessions)]
    return [
        Flag(
            history.symbol,
            "closed_day_bar",
            (pd.Timestamp(day),),
            f"bar on {day.date()} ({day.day_name()}) when {calendar_name or 'the exchange'} "
            "was closed",
            "warning",
        )
        for day in closed
    ]


# ---------------------------------------------------------------------------------------------
# Value checks


def bad_closes(history: PriceHistory) -> list[Flag]:
    """Zero, negative or missing closes on existing bars."""
    frame = history.frame
    flags = []
    for column in ("close", "adj_close"):
        values = frame[column]
        nonpositive = values <= 0
        for day in frame.index[nonpositive.to_numpy()]:
            flags.append(
                Flag(
                    history.symbol,
                    "bad_close",
                    (pd.Timestamp(day),),
                    f"{column} is {values.loc[day]:g} on {day.date()}, not > 0",
                    "error",
                )
            )
    missing = frame["close"].isna()
    for day in frame.index[missing.to_numpy()]:
        has_adj = pd.notna(frame.at[day, "adj_close"])
        flags.append(
            Flag(
                history.symbol,
                "bad_close",
                (pd.Timestamp(day),),
                f"close missing on {day.date()}"
                + (" (adjusted close present)" if has_adj else " and no adjusted close"),
                "warning" if has_adj else "error",
            )
        )
    return flags


def stale_quotes(history: PriceHistory, min_run: int = 5) -> list[Flag]:
    """Runs of ``min_run`` or more consecutive sessions whose close equals the previous one."""
    closes = history.frame["close"].fillna(history.frame["adj_close"])
    values = closes.to_numpy(dtype=float)
    if len(values) < 2:
        return []
    same = np.zeros(len(values), dtype=bool)
    same[1:] = (values[1:] == values[:-1]) & np.isfinite(values[1:])
    flags = []
    for start, end in _runs(np.flatnonzero(same)):
        count = end - start + 1
        if count < min_run:
            continue
        days = history.frame.index[start : end + 1]
        flags.append(
            Flag(
                history.symbol,
                "stale_quotes",
                _dates(days),
                f"close unchanged at {values[start]:g} for {count} sessions in a row "
                "(a quote that stopped updating?)",
                "warning",
            )
        )
    return flags


def placeholder_bars(history: PriceHistory) -> list[Flag]:
    """Bars with a close but volume 0/missing or open/high/low missing, judged only on columns
    the series otherwise fills (Yahoo's Hong Kong half-day placeholders look like this)."""
    frame = history.frame
    has_close = (frame["close"].notna() | frame["adj_close"].notna()).to_numpy()
    reasons: dict[int, list[str]] = {}
    volume = frame["volume"].to_numpy(dtype=float)
    if (volume > 0).any():
        for position in np.flatnonzero(has_close & ~(volume > 0)):
            text = "volume missing" if np.isnan(volume[position]) else "volume 0"
            reasons.setdefault(int(position), []).append(text)
    for column in ("open", "high", "low"):
        values = frame[column].to_numpy(dtype=float)
        if np.isfinite(values).any():
            for position in np.flatnonzero(has_close & np.isnan(values)):
                reasons.setdefault(int(position), []).append(f"no {column}")
    closes = frame["close"].fillna(frame["adj_close"])
    previous = closes.shift(1)
    flags = []
    for position in sorted(reasons):
        day = frame.index[position]
        repeat = (
            " and repeats the previous close"
            if closes.iloc[position] == previous.iloc[position]
            else ""
        )
        flags.append(
            Flag(
                history.symbol,
                "placeholder_bar",
                (pd.Timestamp(day),),
                f"placeholder bar ({', '.join(reasons[position])}): close "
                f"{closes.iloc[position]:g} kept{repeat}; lower-quality price",
                "warning",
            )
        )
    return flags


def price_limit(symbol: str, day: pd.Timestamp) -> float | None:
    """The daily price limit of an A-share on ``day`` as a fraction, None when not checked
    (indices, B-shares, anything not on Shanghai/Shenzhen)."""
    if len(symbol) != 9 or symbol[6:] not in (".SS", ".SZ") or not symbol[:6].isdigit():
        return None
    code, board = symbol[:6], symbol[7:]
    if board == "SS":
        if code.startswith(("688", "689")):
            return 0.20
        if code.startswith("60"):
            return 0.10
        return None  # 000xxx.SS are indices, 900xxx B-shares
    if code.startswith(("300", "301")):
        return 0.20 if pd.Timestamp(day) >= CHINEXT_REFORM else 0.10
    if code.startswith(("000", "001", "002", "003")):
        return 0.10
    return None  # 399xxx indices, 200xxx B-shares


def limit_breaches(
    history: PriceHistory, tolerance: float = 0.002, listing_sessions: int = 5
) -> list[Flag]:
    """Daily moves beyond the A-share board limit (see the module docstring for the rule)."""
    symbol = history.symbol
    if price_limit(symbol, pd.Timestamp("2100-01-01")) is None:
        return []
    closes = history.closes().to_numpy(dtype=float)
    index = history.frame.index
    flags: list[Flag] = []
    if len(closes) < 2:
        return flags
    previous = np.concatenate(([np.nan], closes[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        moves = closes / previous - 1
    limits = np.array([price_limit(symbol, day) or np.nan for day in index], dtype=float)
    allowed = limits + tolerance + A_SHARE_TICK / previous
    breach = np.isfinite(moves) & (np.abs(moves) > allowed)
    breach[: max(listing_sessions, 1)] = False
    for position in np.flatnonzero(breach):
        day = index[position]
        flags.append(
            Flag(
                symbol,
                "limit_breach",
                (pd.Timestamp(day),),
                f"close moved {moves[position]:+.2%} on {day.date()}, beyond the "
                f"±{limits[position]:.0%} price limit (unadjusted split or dividend, or a bad "
                "price?)",
                "error",
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
    closes = history.closes().to_numpy(dtype=float)
    index = history.frame.index
    flags = []
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(closes)
    skip_through = -1  # the way back of a spike is not a jump of its own
    for position in range(max(listing_sessions, 1), len(closes)):
        jump = logs[position] - logs[position - 1]
        if position <= skip_through or not np.isfinite(jump) or abs(jump) <= threshold:
            continue
        after = logs[position + 1 : position + 1 + revert_window]
        back = np.flatnonzero(np.abs(after - logs[position - 1]) < abs(jump) / 2)
        reverted = len(back) > 0
        if reverted:
            skip_through = position + 1 + int(back[0])
        day = index[position]
        ratio = math.exp(jump)
        if reverted:
            flags.append(
                Flag(
                    history.symbol,
                    "spike",
                    (pd.Timestamp(day),),
                    f"close jumped x{ratio:.3g} on {day.date()} and came back within "
                    f"{revert_window} sessions (a bad print?)",
                    "warning",
                )
            )
        else:
            flags.append(
                Flag(
                    history.symbol,
                    "split_like_jump",
                    (pd.Timestamp(day),),
                    f"close jumped x{ratio:.3g} on {day.date()} and stayed there "
                    "(an unadjusted split or bonus issue, or a real move?)",
                    "warning",
                )
            )
    return flags


# ---------------------------------------------------------------------------------------------
# All checks


def check_history(
    history: PriceHistory,
    calendar_name: str | None = None,
    *,
    stale_run: int = 5,
    limit_tolerance: float = 0.002,
    listing_sessions: int = 5,
) -> list[Flag]:
    """Run every check on one history; flags sorted by first date then kind.

    ``calendar_name`` defaults to the symbol's listing (XSHG, XHKG, XNAS ...); when none is known
    (FX rates) the calendar checks are skipped.
    """
    from engine.cache import exchange_calendar

    if calendar_name is None:
        try:
            calendar_name = listing_of(history.symbol).calendar
        except SymbolError:
            calendar_name = None
    flags: list[Flag] = []
    if calendar_name is not None and not history.frame.empty:
        calendar = exchange_calendar(calendar_name)
        flags += missing_sessions(history, calendar, calendar_name)
        flags += closed_day_bars(history, calendar, calendar_name)
    flags += bad_closes(history)
    flags += stale_quotes(history, stale_run)
    flags += placeholder_bars(history)
    flags += limit_breaches(history, limit_tolerance, listing_sessions)
    flags += split_like_jumps(history, listing_sessions=listing_sessions)
    return sorted(flags, key=lambda f: (f.first or pd.Timestamp.min, f.kind))


def at_least(flags: Iterable[Flag], severity: str = "warning") -> list[Flag]:
    """The flags whose severity is ``severity`` or worse."""
    floor = SEVERITIES.index(severity)
    return [f for f in flags if SEVERITIES.index(f.severity) >= floor]


def raise_if_strict(flags: Iterable[Flag], min_severity: str = "warning") -> None:
    """Raise one :class:`DataQualityError` summarising every flag at ``min_severity`` or worse."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}")
    serious = at_least(flags, min_severity)
    if serious:
        raise DataQualityError(serious)
