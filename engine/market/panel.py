"""Market alignment: exchange calendars and FX turn per-symbol prices into one panel.

The **study calendar** is the union of the sessions (from ``exchange_calendars``, less the
closures the data show: :mod:`engine.market.sessions`) of every exchange involved, benchmark
included.  On a study session where a symbol's own exchange is closed, the symbol keeps its last
close: a closed market contributes a zero return, never a fabricated move.  A session of the
symbol's own exchange with no bar for that symbol while others of its exchange trade is a
*suspension*: the last close is carried too, and the panel's notes say so.

Each basket's statistics use only the rows on which one of its own exchanges or the benchmark's
trades (:meth:`Panel.sessions_of`), so they do not depend on the other baskets of the run.

Prices are converted to the report currency with daily FX closes (``CNY=X``, ``HKD=X``: local
units per US dollar), carried forward to each study session:
``price_report = price_local / fx_local * fx_report`` with ``fx_USD = 1``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.calendars import Closures, all_sessions
from engine.data.prices import PriceHistory, PriceSet
from engine.errors import DateRangeError, MissingDataError
from engine.market.listings import fx_symbols_needed, report_currency, resolve_listings
from engine.symbols import Listing

#: How far before the start a closed market looks for its last close.
LOOKBACK = pd.Timedelta(days=31)
#: FX older than this at a study session is too stale to convert with.
FX_MAX_AGE = pd.Timedelta(days=7)


def study_sessions(
    calendars: Iterable[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    closures: Closures | None = None,
) -> pd.DatetimeIndex:
    """The study calendar: the union of the sessions of ``calendars`` from start to end, less
    their ``closures``."""
    closures = closures or Closures()
    union = pd.DatetimeIndex([], name="date").as_unit("ns")
    for name in sorted(set(calendars)):
        union = union.union(closures.sessions(name, start, end))
    if union.empty:
        raise DateRangeError(f"no trading session between {start.date()} and {end.date()}")
    return union


def coverage_problems(
    histories: Mapping[str, PriceHistory],
    listings: Mapping[str, Listing],
    start: pd.Timestamp,
    end: pd.Timestamp,
    closures: Closures | None = None,
) -> dict[str, str]:
    """Symbols whose data do not cover the study period, with the reason.

    A symbol is bought at the close of ``start``, the first study session: it needs a bar on a
    session of its own exchange on or before ``start`` (at most :data:`LOOKBACK` earlier, when
    its exchange is closed on ``start``), and a bar on its exchange's last session of the
    period (else the end would be a carried, stale price).  Sessions are ``closures``-aware.
    """
    closures = closures or Closures()
    problems = {}
    for symbol, history in histories.items():
        own = closures.sessions(listings[symbol].calendar, start - LOOKBACK, end)
        own_in_period = own[own >= start]
        if own_in_period.empty:
            continue
        dates = history.frame.index
        before = dates[dates <= start]
        if before.empty:
            problems[symbol] = (
                f"first bar {history.first_date.date()} is after the start {start.date()}"
            )
        elif not before.isin(own).any():
            problems[symbol] = (
                f"no bar in the {LOOKBACK.days} days up to the start {start.date()} "
                f"(last before it {before[-1].date()})"
            )
        elif history.last_date < own_in_period[-1]:
            problems[symbol] = f"last bar {history.last_date.date()} is before the end " + (
                _end_named(listings[symbol].calendar, own_in_period[-1], end)
            )
    return problems


def _end_named(calendar: str, last_session: pd.Timestamp, end: pd.Timestamp) -> str:
    """The period's end as the message names it: its last session, or the date given with the
    calendar's horizon when the calendar stops before it (exchange_calendars knows about a
    year ahead)."""
    if last_session == all_sessions(calendar)[-1] and end > last_session:
        return f"{end.date()} (the {calendar} calendar knows sessions up to {last_session.date()})"
    return str(last_session.date())


@dataclass
class Panel:
    """Prices of every symbol on the study calendar.

    ``prices`` (report currency) and ``local`` (listing currency) have one column per symbol and
    one row per study session; ``open`` tells whether each symbol's exchange traded that session.
    ``notes`` lists what alignment did to the data (suspensions carried, bars on closed days
    dropped).  ``open`` already leaves out the ``closures``.
    """

    prices: pd.DataFrame
    local: pd.DataFrame
    open: pd.DataFrame
    listings: dict[str, Listing]
    currency: str
    notes: list[str] = field(default_factory=list)
    closures: Closures = field(default_factory=Closures)

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.prices.index

    def returns(self) -> pd.DataFrame:
        """Close-to-close returns on the study calendar (n sessions give n - 1 rows)."""
        return self.prices.pct_change().iloc[1:]

    def all_open(self, symbols: Iterable[str]) -> pd.Series:
        """Whether every exchange of ``symbols`` traded on each study session."""
        # From the array: selecting the columns as a frame costs ten times more, and the
        # backtest asks this for every basket and every basket without one of its stocks.
        columns = _positions(self._open_columns, symbols)
        return pd.Series(self.open.to_numpy()[:, columns].all(axis=1), index=self.open.index)

    def columns_of(self, symbols: Iterable[str]) -> np.ndarray:
        """The positions of ``symbols`` among the columns of :attr:`prices`."""
        return _positions(self._price_columns, symbols)

    @functools.cached_property
    def _open_columns(self) -> dict[str, int]:
        return {symbol: at for at, symbol in enumerate(self.open.columns)}

    @functools.cached_property
    def _price_columns(self) -> dict[str, int]:
        return {symbol: at for at, symbol in enumerate(self.prices.columns)}

    def sessions_of(self, symbols: Iterable[str]) -> pd.DatetimeIndex:
        """The study sessions on which at least one exchange of ``symbols`` trades: a basket's
        own calendar when ``symbols`` are its constituents and its benchmark."""
        return self.sessions[self.open[list(symbols)].any(axis=1).to_numpy()]


def _positions(columns: dict[str, int], symbols: Iterable[str]) -> np.ndarray:
    """The positions of ``symbols`` in ``columns`` (position by symbol); KeyError naming those
    not there.  (A dictionary: ``Index.get_indexer`` of strings costs close to a millisecond.)"""
    symbols = list(symbols)
    missing = [s for s in symbols if s not in columns]
    if missing:
        raise KeyError(f"not in the panel: {', '.join(missing)}")
    return np.array([columns[s] for s in symbols], dtype=np.int64)


def _closes_on_own_sessions(
    history: PriceHistory, own: pd.DatetimeIndex, notes: list[str]
) -> pd.Series:
    """Closes on the sessions of the symbol's exchange; a session without a bar (a suspension:
    closures are no sessions) carries the last close and is noted, sessions outside the data's
    range stay NaN."""
    closes = history.closes()
    closes = closes[(closes.index >= own[0]) & (closes.index <= own[-1])]
    off_calendar = closes.index.difference(own)
    if len(off_calendar):
        notes.append(
            f"{history.symbol}: {_count_days(off_calendar)} bar(s) on days its exchange was "
            "closed ignored"
        )
    on_own = closes.reindex(own)
    inside = (own >= history.first_date) & (own <= history.last_date)
    gaps = own[inside & on_own.isna().to_numpy()]
    if len(gaps):
        notes.append(
            f"{history.symbol}: suspended (no bar while its exchange traded) on "
            f"{_count_days(gaps)} session(s); last close carried"
        )
    return on_own.ffill().where(inside)


def _count_days(days: pd.DatetimeIndex) -> str:
    """``3 (2025-01-02, 2025-01-03, 2025-01-06)`` or ``7 (2025-01-02, ... and 4 more)``."""
    shown = ", ".join(str(d.date()) for d in days[:3])
    more = f" and {len(days) - 3} more" if len(days) > 3 else ""
    return f"{len(days)} ({shown}{more})"


def _as_of(series: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
    """The last value of ``series`` at or before each date of ``index``."""
    return series.reindex(series.index.union(index)).ffill().reindex(index)


def align(
    prices: PriceSet,
    symbols: Iterable[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    currency: str = "USD",
    listings: Mapping[str, Listing] | None = None,
    partial: bool = False,
    closures: Closures | None = None,
) -> Panel:
    """Align ``symbols`` (constituents and benchmark) onto the study calendar in ``currency``.

    ``closures`` (from :func:`engine.market.sessions.detect_closures`) are no sessions.

    ``prices`` must hold every symbol and the FX series the conversion needs.  Raises
    :class:`MissingDataError` for symbols whose data do not cover the period (unless
    ``partial``: prices are then NaN before a symbol's first bar and after its last) and
    :class:`DateRangeError` when the period has no sessions.
    """
    symbols = list(dict.fromkeys(symbols))
    listings = resolve_listings(symbols, listings)
    currency = report_currency(currency, listings)
    closures = closures or Closures()
    union = study_sessions({v.calendar for v in listings.values()}, start, end, closures)
    problems = coverage_problems(
        {s: prices[s] for s in symbols}, listings, union[0], end, closures
    )
    if problems and not partial:
        raise MissingDataError(problems, prices.source, "choose a period the data cover")

    notes: list[str] = []
    local, is_open = {}, {}
    for symbol in symbols:
        own = closures.sessions(listings[symbol].calendar, union[0] - LOOKBACK, union[-1])
        own_closes = _closes_on_own_sessions(prices[symbol], own, notes)
        local[symbol] = _as_of(own_closes, union)
        is_open[symbol] = union.isin(own)
    local_frame = pd.DataFrame(local, index=union)
    rates = _fx_rates(prices, {v.currency for v in listings.values()} | {currency}, union)
    factor = pd.DataFrame(
        {s: rates[currency] / rates[listings[s].currency] for s in symbols}, index=union
    )
    return Panel(
        prices=local_frame * factor,
        local=local_frame,
        open=pd.DataFrame(is_open, index=union),
        listings=listings,
        currency=currency,
        notes=notes,
        closures=closures,
    )


def _fx_rates(prices: PriceSet, currencies: set[str], union: pd.DatetimeIndex) -> pd.DataFrame:
    """Units of each currency per US dollar on each study session (USD is 1; a lone currency
    needs no conversion and is 1 too)."""
    rates = {c: pd.Series(1.0, index=union) for c in currencies}
    for symbol in fx_symbols_needed(currencies):
        currency = symbol.removesuffix("=X")
        if symbol not in prices.histories:
            raise MissingDataError({symbol: "FX series needed for conversion"}, prices.source)
        fx = prices[symbol].closes()
        as_of_date = pd.Series(fx.index, index=fx.index)
        age = union - pd.DatetimeIndex(_as_of(as_of_date, union))
        stale = union[~(age <= FX_MAX_AGE)]
        if len(stale):
            raise MissingDataError(
                {symbol: f"no rate within {FX_MAX_AGE.days} days before {stale[0].date()}"},
                prices.source,
                "the FX file must cover the study period",
            )
        rates[currency] = _as_of(fx, union)
    return pd.DataFrame(rates, index=union).astype(float)
