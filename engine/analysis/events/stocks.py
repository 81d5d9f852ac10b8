"""Per-stock abnormal returns: each stock around each event on its own exchange's sessions.

Returns and gaps
    ``R_t = P_t / P_{t-1} - 1`` between consecutive sessions of the stock's exchange, ``P`` the
    close of :meth:`PriceHistory.closes` (in US dollars with ``currency="USD"``: ``P / FX``, FX
    in local units per dollar, last known rate carried).  A session without a bar is a *gap*:
    its return and the next session's (which would span the gap) are missing, never filled.
    In the estimation window missing returns are left out (fewer observations); a stock with
    fewer than ``min_estimation`` valid estimation returns is excluded from the event, with the
    reason.  A missing abnormal return inside a CAR window makes that stock's CAR undefined.

Market returns
    One index per exchange (``markets``: calendar -> symbol) or one ``market_symbol`` for all
    stocks, read on its own exchange's sessions and sampled on the *stock's* sessions with the
    last close carried, so a day the index's market was closed contributes a zero market return.

Each (event, stock) is computed once per study and shared by every basket and window that holds
the stock.  May use ``analysis.significance``, ``data.prices`` and the ground floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd

from engine.analysis import significance as sig
from engine.analysis.events.eventtime import day0_position, event_label, iso, take
from engine.analysis.events.models import Fit, fit_normal_returns
from engine.calendars import Closures
from engine.data.prices import PriceHistory
from engine.errors import DateRangeError, OptionError
from engine.symbols import FX_SYMBOLS, Listing, listing_of

#: Market index per exchange calendar.
DEFAULT_MARKETS: Mapping[str, str] = MappingProxyType(
    {"XSHG": "000300.SS", "XHKG": "^HSI", "XNAS": "^IXIC"}
)
CURRENCIES = ("local", "USD")


class WindowResult(NamedTuple):
    """A stock's CAR over one window: why it is undefined (None if it is not), and else its
    ``CAR = sum AR``, ``BHAR = prod(1 + R) - prod(1 + N)`` and ``SCAR = CAR / se(CAR)`` (NaN
    when the standard error is 0), and the window's abnormal returns."""

    gap_reason: str | None
    car: float
    bhar: float
    scar: float
    abnormal: np.ndarray


@dataclass
class StockEvent:
    """One stock around one event, on its own exchange's sessions.

    Everything derived from it (abnormal returns, each window's CAR, the table rows) is
    computed on first use and kept: a stock held by many baskets is computed once.
    """

    symbol: str
    calendar: str
    market: str | None
    days: np.ndarray
    dates: pd.DatetimeIndex  # the session of each day, NaT past the calendar's sessions
    closes: np.ndarray  # closes of days[0] - 1 .. days[-1] (one more than days)
    market_closes: np.ndarray
    returns: np.ndarray
    market_returns: np.ndarray
    estimation: np.ndarray  # bool per day: an estimation day with a valid observation
    estimation_days: int  # the first days of ``days`` that are the estimation window
    fit: Fit | None
    reason: str | None
    _windows: dict[tuple[int, int], WindowResult] = field(default_factory=dict, repr=False)
    _spans: dict[tuple[int, int], dict[str, object]] = field(default_factory=dict, repr=False)
    _uniforms: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def day0(self) -> str | None:
        return iso(self.dates[int(np.flatnonzero(self.days == 0)[0])])

    @cached_property
    def abnormal(self) -> np.ndarray:
        """``AR_t = R_t - N_t`` for every day of the study range (a fitted stock only)."""
        assert self.fit is not None
        return self.returns - self.fit.normal

    @cached_property
    def estimation_abnormal(self) -> np.ndarray:
        """The abnormal returns of the estimation window's days, NaN where not valid."""
        return np.where(self.estimation, self.abnormal, np.nan)[: self.estimation_days]

    @cached_property
    def estimation_residuals(self) -> tuple[np.ndarray, np.ndarray]:
        """The valid estimation days' calendar dates (``datetime64[ns]``) and abnormal
        returns."""
        index = np.flatnonzero(self.estimation)
        return self.dates[index].to_numpy(), self.abnormal[index]

    def window_index(self, window: tuple[int, int]) -> np.ndarray:
        return np.flatnonzero((self.days >= window[0]) & (self.days <= window[1]))

    def window(self, window: tuple[int, int]) -> WindowResult:
        """The stock's CAR over ``window`` (a fitted stock only), computed once."""
        if window not in self._windows:
            assert self.fit is not None
            index = self.window_index(window)
            abnormal = self.abnormal[index]
            car = float(abnormal.sum())
            bhar = float(np.prod(1 + self.returns[index]) - np.prod(1 + self.fit.normal[index]))
            se = self.fit.car_se(self.market_returns[index])
            scar = car / se if se > 0 else math.nan
            self._windows[window] = WindowResult(self.gap_reason(window), car, bhar, scar, abnormal)
        return self._windows[window]

    def rank_uniform(self, window: tuple[int, int]) -> np.ndarray:
        """The stock's column of the rank test's standardized ranks over its estimation days
        and ``window`` (:func:`engine.analysis.significance.rank_uniforms`), computed once."""
        if window not in self._uniforms:
            self._uniforms[window] = sig.rank_uniforms(
                self.estimation_abnormal[:, None], self.window(window).abnormal[:, None]
            )[:, 0]
        return self._uniforms[window]

    def span_columns(self, span: tuple[int, int]) -> dict[str, object]:
        """The stock's rows of the ``abnormal_returns`` table over ``span``, as columns
        (made once: every basket holding the stock shows the same rows)."""
        if span not in self._spans:
            assert self.fit is not None
            index = self.window_index(span)
            dates = np.datetime_as_string(self.dates[index].to_numpy(), unit="D")
            self._spans[span] = {
                "symbol": self.symbol,
                "calendar": self.calendar,
                "day": self.days[index],
                "date": [None if d == "NaT" else str(d) for d in dates],
                "return": self.returns[index],
                "market_return": self.market_returns[index],
                "normal_return": self.fit.normal[index],
                "abnormal_return": self.abnormal[index],
            }
        return self._spans[span]

    def gap_reason(self, window: tuple[int, int]) -> str | None:
        """Why the CAR over ``window`` is undefined, or None if every day has an AR."""
        abnormal = self.abnormal
        for k in self.window_index(window):
            if np.isfinite(abnormal[k]):
                continue
            day, date = int(self.days[k]), iso(self.dates[k])
            where = f"day {day:+d} ({date}, {self.calendar})"
            previous = iso(self.dates[k - 1]) if k > 0 else "the session before"
            if not np.isfinite(self.closes[k + 1]):
                cause = f"no {self.symbol} price that session"
            elif not np.isfinite(self.closes[k]):
                cause = f"its return would span the missing {self.symbol} price of {previous}"
            elif not np.isfinite(self.market_closes[k + 1]):
                cause = f"no market {self.market} price for that session"
            else:
                cause = (
                    f"its market return would span the missing {self.market} price of {previous}"
                )
            span = f"[{window[0]}, {window[1]}]"
            return f"no abnormal return on {where}: {cause}; CAR over {span} undefined"
        return None


class StockEvents:
    """The price set, resolved once, and every (event, stock) computation, cached."""

    def __init__(
        self,
        prices: Mapping[str, PriceHistory],
        *,
        estimation: tuple[int, int],
        span: tuple[int, int],
        model: str,
        markets: Mapping[str, str],
        market_symbol: str | None,
        currency: str,
        min_estimation: int,
        listings: Mapping[str, Listing] | None,
        closures: Closures,
    ) -> None:
        self.prices = prices
        #: Every session of an exchange less its closures: the days event time counts.
        self.sessions = closures.all_sessions
        self.estimation = estimation
        self.span = span
        self.model = model
        self.markets = markets
        self.market_symbol = market_symbol
        self.currency = currency
        self.min_estimation = min_estimation
        self.listings = dict(listings or {})
        self._closes: dict[tuple[str, str], np.ndarray] = {}
        self._events: dict[tuple[pd.Timestamp, str], StockEvent] = {}
        self._rbars: dict[tuple[pd.Timestamp, tuple[str, ...]], float] = {}

    @property
    def uses_market(self) -> bool:
        return self.model != "mean_adjusted"

    def listing(self, symbol: str) -> Listing:
        """The symbol's listing: the run's (``listings``), else from its suffix, resolved once."""
        if symbol not in self.listings:
            self.listings[symbol] = listing_of(symbol)
        return self.listings[symbol]

    def market_of(self, calendar: str) -> str:
        if self.market_symbol:
            return self.market_symbol
        if calendar not in self.markets:
            raise OptionError(
                "markets",
                f"no market index for exchange {calendar}",
                f"add {calendar} to the markets mapping or pass one market_symbol",
            )
        return self.markets[calendar]

    def fx_symbol(self, currency: str) -> str | None:
        if self.currency == "local" or currency == "USD":
            return None
        if currency not in FX_SYMBOLS:
            raise OptionError(
                "currency", f"cannot convert {currency} prices to USD (no FX rate known)"
            )
        return FX_SYMBOLS[currency]

    def needed_symbols(self, symbol: str) -> list[str]:
        """The symbol, its market index and (in USD) the FX rates of both."""
        listing = self.listing(symbol)
        needed = [symbol, self.fx_symbol(listing.currency)]
        if self.uses_market:
            market = self.market_of(listing.calendar)
            needed += [market, self.fx_symbol(self.listing(market).currency)]
        return [s for s in dict.fromkeys(needed) if s]

    def calendars_of(self, symbols: Sequence[str]) -> list[str]:
        """The exchanges of ``symbols``, in their order, once each."""
        return list(dict.fromkeys(self.listing(s).calendar for s in symbols))

    def closes_on(self, symbol: str, calendar: str) -> np.ndarray:
        """``symbol``'s closes (report currency) on every session of ``calendar``.

        Read on the symbol's own sessions first (a session without a bar stays NaN), then
        sampled on ``calendar``'s sessions with the last session's close carried.
        """
        key = (symbol, calendar)
        if key not in self._closes:
            listing = self.listing(symbol)
            own = self.sessions(listing.calendar)
            values = self.prices[symbol].closes().reindex(own).to_numpy(dtype=float)
            fx_symbol = self.fx_symbol(listing.currency)
            if fx_symbol:
                rate = self.prices[fx_symbol].closes().dropna()
                values = values / rate.reindex(own, method="ffill").to_numpy(dtype=float)
            if listing.calendar != calendar:
                target = self.sessions(calendar)
                values = take(values, own.searchsorted(target, side="right") - 1)
            self._closes[key] = values
        return self._closes[key]

    def stock_event(self, event: pd.Timestamp, symbol: str) -> StockEvent:
        key = (event, symbol)
        if key not in self._events:
            self._events[key] = self._compute(event, symbol)
        return self._events[key]

    def rbar(self, event: pd.Timestamp, stocks: Sequence[StockEvent]) -> float:
        """The average cross-correlation of the estimation residuals of ``stocks`` (Kolari
        and Pynnönen's ``rbar``), computed once per event and set of stocks; NaN for fewer
        than two."""
        key = (event, tuple(s.symbol for s in stocks))
        if key not in self._rbars:
            self._rbars[key] = (
                sig.average_cross_correlation(dated_residuals(stocks))
                if len(stocks) > 1
                else math.nan
            )
        return self._rbars[key]

    def _compute(self, event: pd.Timestamp, symbol: str) -> StockEvent:
        calendar = self.listing(symbol).calendar
        sessions = self.sessions(calendar)
        p0 = day0_position(sessions, event)
        # Day 0 is kept even when every window ends before it, to report where it fell.
        days = np.arange(self.estimation[0], max(self.span[1], 0) + 1)
        positions = p0 + days
        inside = (positions >= 0) & (positions < len(sessions))
        session_dates = np.full(len(positions), np.datetime64("NaT"), dtype="datetime64[ns]")
        session_dates[inside] = sessions.to_numpy()[positions[inside]]
        dates = pd.DatetimeIndex(session_dates)
        with_previous = np.concatenate([[positions[0] - 1], positions])
        closes = take(self.closes_on(symbol, calendar), with_previous)
        returns = closes[1:] / closes[:-1] - 1
        market = self.market_of(calendar) if self.uses_market else None
        if market:
            market_closes = take(self.closes_on(market, calendar), with_previous)
            market_returns = market_closes[1:] / market_closes[:-1] - 1
        else:
            market_closes = np.full(len(with_previous), np.nan)
            market_returns = np.full(len(days), np.nan)
        in_estimation = (days >= self.estimation[0]) & (days <= self.estimation[1])
        valid = in_estimation & np.isfinite(returns)
        if self.uses_market:
            valid &= np.isfinite(market_returns)
        fit, reason = None, None
        count = int(valid.sum())
        if count < self.min_estimation:
            reason = (
                f"only {count} valid estimation returns on days "
                f"[{self.estimation[0]}, {self.estimation[1]}] ({calendar}), fewer than "
                f"min_estimation {self.min_estimation}; prices start "
                f"{iso(self.prices[symbol].first_date)}"
            )
        else:
            fit = fit_normal_returns(returns, market_returns, valid, self.model)
            if fit is None:
                reason = f"market {market} returns are constant over the estimation window"
        return StockEvent(
            symbol=symbol,
            calendar=calendar,
            market=market,
            days=days,
            dates=dates,
            closes=closes,
            market_closes=market_closes,
            returns=returns,
            market_returns=market_returns,
            estimation=valid,
            estimation_days=self.estimation[1] - self.estimation[0] + 1,
            fit=fit,
            reason=reason,
        )

    def check_coverage(
        self,
        event: pd.Timestamp,
        name: str,
        baskets: Sequence[tuple[str, Mapping[str, float]]],
    ) -> None:
        """Raise :class:`DateRangeError` when the prices do not cover the event and its windows.

        ``baskets`` are (basket name, weights by symbol) pairs.
        """
        label = event_label(event, name)
        span = f"[{self.span[0]}, {self.span[1]}]"
        after: list[str] = []
        late: list[str] = []
        early: list[str] = []
        constituents = list(dict.fromkeys(s for _, weights in baskets for s in weights))
        for symbol in constituents:
            calendar = self.listing(symbol).calendar
            sessions = self.sessions(calendar)
            end = day0_position(sessions, event) + self.span[1]
            last_day = sessions[end] if end < len(sessions) else None
            for needed in self.needed_symbols(symbol):
                history = self.prices[needed]
                if history.last_date < event:
                    after.append(f"{needed} ({iso(history.last_date)})")
                elif last_day is None:
                    late.append(
                        f"{needed} (day +{self.span[1]} is after the last {calendar} session "
                        f"the calendar knows, {iso(sessions[-1])})"
                    )
                elif history.last_date < last_day:
                    late.append(
                        f"{needed} (last price {iso(history.last_date)}, "
                        f"day +{self.span[1]} = {iso(last_day)} {calendar})"
                    )
                elif needed != symbol and history.first_date > event:
                    early.append(f"{needed} (first price {iso(history.first_date)})")
        if after:
            raise DateRangeError(
                f"{label} is after the last price of {'; '.join(dict.fromkeys(after))}",
                "use an event inside the price data or longer price histories",
            )
        if late:
            raise DateRangeError(
                f"{label}: the windows {span} run past the price data of "
                f"{'; '.join(dict.fromkeys(late))}",
                "use an earlier event, shorter windows or longer price histories",
            )
        if early:
            raise DateRangeError(
                f"{label} is before the price data of the market/FX series "
                f"{'; '.join(dict.fromkeys(early))}",
                "use a later event or longer price histories",
            )
        for basket, weights in baskets:
            firsts = [self.prices[s].first_date for s in weights]
            if min(firsts) > event:
                raise DateRangeError(
                    f"{label} is before the price data of every constituent of basket "
                    f"'{basket}' (earliest first price {iso(min(firsts))})",
                    "use a later event or longer price histories",
                )


def dated_residuals(stocks: Sequence[StockEvent]) -> np.ndarray:
    """Estimation-window abnormal returns, one column per stock, rows on the union of their
    calendar dates (sorted), NaN where a stock has none that date.

    Cross-correlation is a same-day phenomenon, so stocks are aligned on dates (not on event
    days, which differ across exchanges around holidays).
    """
    residuals = [stock.estimation_residuals for stock in stocks]
    union = np.unique(np.concatenate([dates for dates, _ in residuals]))
    matrix = np.full((len(union), len(stocks)), np.nan)
    for column, (dates, values) in enumerate(residuals):
        matrix[np.searchsorted(union, dates), column] = values
    return matrix
