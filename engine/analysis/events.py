"""Event studies of baskets: abnormal returns around event dates, counted per exchange.

Event time
    Each stock counts days on the sessions of its own exchange (``exchange_calendars``: XSHG for
    ``.SS``/``.SZ``, XHKG for ``.HK``, XNAS for US tickers; ``listings`` may override), less the
    closures the data show (``closures``: Hong Kong's 2023-09-01 typhoon is no day).  Day 0 is
    the event date if it is a session there, else that exchange's next session; day ``+k`` is
    the ``k``-th session after day 0 and day ``-k`` the ``k``-th before.  Calendar days and
    forward-filled days are never counted.  Around the 2025 Lunar New Year an event on
    2025-01-27 has day +1 on 2025-02-05 in Shanghai/Shenzhen but on 2025-01-28 in Hong Kong.

Returns and gaps
    ``R_t = P_t / P_{t-1} - 1`` between consecutive sessions of the stock's exchange, ``P`` the
    close of :meth:`PriceHistory.closes` (in US dollars with ``currency="USD"``: ``P / FX``, FX in
    local units per dollar, last known rate carried).  A session without a bar is a *gap*: its
    return and the next session's (which would span the gap) are missing, never filled.  In the
    estimation window missing returns are simply left out (fewer observations); a stock with
    fewer than ``min_estimation`` valid estimation returns is excluded from the event, with the
    reason.  A missing abnormal return inside a CAR window makes that stock's CAR undefined: the
    stock is excluded from that window only, with the day and the cause.

Market returns
    One index per exchange (``markets``: calendar -> symbol, default :data:`DEFAULT_MARKETS`) or
    one ``market_symbol`` for all stocks.  The index is read on its own exchange's sessions (a
    session without a bar is a gap there too) and then sampled on the *stock's* sessions with
    the last close carried, so a day the index's market was closed contributes a zero market
    return.  An index of another exchange is non-synchronous (a US close of date ``d`` is later
    than an Asian close of ``d``); the engine does not shift it.

Normal-return models (``model``), fitted on estimation days ``[e0, e1]`` (default -250..-30)
    * ``market``: ``R_it = alpha_i + beta_i Rm_t + e_it`` by OLS; ``s_i^2 = sum e^2 / (T_i - 2)``.
    * ``market_adjusted``: normal return ``Rm_t``; ``s_i`` the sample sd of ``R - Rm``.
    * ``mean_adjusted``: normal return ``mean(R_i)`` over the estimation days; ``s_i`` its sd.

Outputs per window ``W = [a, b]`` (``L = b - a + 1`` sessions)
    ``CAR_i = sum_{t in W} AR_it``; ``BHAR_i = prod_{t in W} (1 + R_it) - prod_{t in W}
    (1 + N_it)`` with ``N_it`` the model's normal return, i.e. the benchmark is buy-and-hold of
    ``alpha + beta Rm`` (market model), of the index itself (market-adjusted) or of the
    constant estimation mean (mean-adjusted).  ``SCAR_i = CAR_i / se(CAR_i)`` with the
    forecast-error corrected standard errors of :mod:`engine.analysis.significance`.  The basket's CAR
    and BHAR are weighted averages over the included stocks, with basket weights renormalised
    over them (``weighting="basket"``) or equal weights (``"equal"``); the tests are about the
    cross-section of included stocks, equally weighted, as in the papers.

Basket portfolio
    An optional daily return series of the basket (e.g. a backtest) with its own market series
    is studied as one security: day 0 is its first date on or after the event, days count its
    rows, the same model and windows apply, and ``t = CAR / (s sqrt(L))``.

Tests (formulas in :mod:`engine.analysis.significance`)
    Cross-sectional t, Patell, BMP, Kolari-Pynnönen (``rbar`` from the estimation residuals of
    the included stocks aligned on calendar dates), Corrado/Campbell-Wasley rank test (ranks
    of the estimation days and the tested window, rows in event time) and Cowan's generalized
    sign test, each with a two-sided p-value.

Errors
    :class:`DateRangeError` when an event is after the last price of a constituent, market or
    FX series, when the widest window runs past any of them, when the event is before the
    first price of a market/FX series or of every constituent of a basket.  A constituent
    listed after the event is not an error: it has too few estimation returns and is excluded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from engine.analysis import significance as sig
from engine.calendars import Closures
from engine.data.prices import PriceHistory
from engine.errors import DateRangeError, MissingDataError, OptionError
from engine.jsonable import json_ready
from engine.symbols import FX_SYMBOLS, Listing, listing_of

#: CAR windows (first day, last day) relative to day 0, both inclusive.
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((-1, 1), (0, 5), (-5, 10), (0, 20))
#: Estimation window (first day, last day) relative to day 0, both inclusive.
DEFAULT_ESTIMATION: tuple[int, int] = (-250, -30)
#: Market index per exchange calendar.
DEFAULT_MARKETS: Mapping[str, str] = MappingProxyType(
    {"XSHG": "000300.SS", "XHKG": "^HSI", "XNAS": "^IXIC"}
)
MODELS = ("market", "market_adjusted", "mean_adjusted")
WEIGHTINGS = ("basket", "equal")
CURRENCIES = ("local", "USD")
#: The ``symbol`` under which the basket's own portfolio series appears in ``excluded``.
PORTFOLIO = "(portfolio)"

SUMMARY_COLUMNS = (
    "basket",
    "event",
    "event_name",
    "day0",
    "window",
    "window_start",
    "window_end",
    "n_stocks",
    "n_excluded",
    "car",
    "mean_car",
    "bhar",
    "t_cross_sectional",
    "p_cross_sectional",
    "t_patell",
    "p_patell",
    "t_bmp",
    "p_bmp",
    "rbar",
    "t_kolari_pynnonen",
    "p_kolari_pynnonen",
    "z_rank",
    "p_rank",
    "z_sign",
    "p_sign",
    "portfolio_day0",
    "portfolio_car",
    "t_portfolio",
    "p_portfolio",
)
AR_COLUMNS = (
    "basket",
    "event",
    "symbol",
    "calendar",
    "day",
    "date",
    "return",
    "market_return",
    "normal_return",
    "abnormal_return",
)
STOCK_CAR_COLUMNS = (
    "basket",
    "event",
    "window",
    "window_start",
    "window_end",
    "symbol",
    "weight",
    "car",
    "bhar",
    "scar",
)
EXCLUDED_COLUMNS = ("basket", "event", "window", "symbol", "reason")
DAY0_COLUMNS = ("event", "event_name", "calendar", "day0")
PATH_COLUMNS = ("basket", "event", "day", "n_stocks", "car", "portfolio_car")


@dataclass(frozen=True)
class EventBasket:
    """A basket to study: constituents with weights, and optionally its own return series.

    ``weights`` maps symbol -> weight (summing to 1; they are renormalised over the stocks
    included in each window).  ``portfolio_returns`` are daily basket returns in the report
    currency on a ``DatetimeIndex``; ``portfolio_market`` the market/benchmark returns on the
    same dates (needed unless the model is ``mean_adjusted``).
    """

    name: str
    weights: dict[str, float]
    portfolio_returns: pd.Series | None = None
    portfolio_market: pd.Series | None = None


@dataclass(frozen=True)
class EventStudy:
    """The tables of an event study (see :func:`run_event_study` for their columns)."""

    summary: pd.DataFrame
    abnormal_returns: pd.DataFrame
    stock_cars: pd.DataFrame
    excluded: pd.DataFrame
    day0: pd.DataFrame
    car_paths: pd.DataFrame
    settings: dict[str, object] = field(default_factory=dict)

    def summary_records(self) -> list[dict[str, object]]:
        """The summary as JSON-serialisable dicts: plain floats and ints, None for NaN."""
        return [json_ready(row) for row in self.summary.to_dict(orient="records")]


def _iso(date: pd.Timestamp | None) -> str | None:
    return None if date is None or pd.isna(date) else date.date().isoformat()


def _take(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values[positions]`` with NaN where a position falls outside the array."""
    inside = (positions >= 0) & (positions < len(values))
    out = np.full(len(positions), np.nan)
    out[inside] = values[positions[inside]]
    return out


@dataclass
class _Fit:
    """A stock's (or portfolio's) normal-return model over its estimation days."""

    model: str
    normal: np.ndarray  # normal return per day of the study range
    sigma: float
    n_estimation: int
    dof: int
    market_estimation: np.ndarray  # market returns of the estimation days used


@dataclass
class _StockEvent:
    """One stock around one event, on its own exchange's sessions."""

    symbol: str
    calendar: str
    market: str | None
    days: np.ndarray
    dates: list[pd.Timestamp | None]
    closes: np.ndarray  # closes of days[0] - 1 .. days[-1] (one more than days)
    market_closes: np.ndarray
    returns: np.ndarray
    market_returns: np.ndarray
    estimation: np.ndarray  # bool per day: an estimation day with a valid observation
    fit: _Fit | None
    reason: str | None

    @property
    def day0(self) -> str | None:
        return _iso(self.dates[int(np.flatnonzero(self.days == 0)[0])])

    @property
    def abnormal(self) -> np.ndarray:
        assert self.fit is not None
        return self.returns - self.fit.normal

    def window_index(self, window: tuple[int, int]) -> np.ndarray:
        return np.flatnonzero((self.days >= window[0]) & (self.days <= window[1]))

    def gap_reason(self, window: tuple[int, int]) -> str | None:
        """Why the CAR over ``window`` is undefined, or None if every day has an AR."""
        abnormal = self.abnormal
        for k in self.window_index(window):
            if np.isfinite(abnormal[k]):
                continue
            day, date = int(self.days[k]), _iso(self.dates[k])
            where = f"day {day:+d} ({date}, {self.calendar})"
            previous = _iso(self.dates[k - 1]) if k > 0 else "the session before"
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


class _Study:
    """The price set, resolved once, and the per-(event, symbol) computations, cached."""

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
        self._events: dict[tuple[pd.Timestamp, str], _StockEvent] = {}

    @property
    def uses_market(self) -> bool:
        return self.model != "mean_adjusted"

    def listing(self, symbol: str) -> Listing:
        return self.listings.get(symbol) or listing_of(symbol)

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
                values = _take(values, own.searchsorted(target, side="right") - 1)
            self._closes[key] = values
        return self._closes[key]

    def stock_event(self, event: pd.Timestamp, symbol: str) -> _StockEvent:
        key = (event, symbol)
        if key not in self._events:
            self._events[key] = self._compute(event, symbol)
        return self._events[key]

    def _compute(self, event: pd.Timestamp, symbol: str) -> _StockEvent:
        calendar = self.listing(symbol).calendar
        sessions = self.sessions(calendar)
        p0 = int(sessions.searchsorted(event))
        # Day 0 is kept even when every window ends before it, to report where it fell.
        days = np.arange(self.estimation[0], max(self.span[1], 0) + 1)
        positions = p0 + days
        dates = [sessions[p] if 0 <= p < len(sessions) else None for p in positions]
        with_previous = np.concatenate([[positions[0] - 1], positions])
        closes = _take(self.closes_on(symbol, calendar), with_previous)
        returns = closes[1:] / closes[:-1] - 1
        market = self.market_of(calendar) if self.uses_market else None
        if market:
            market_closes = _take(self.closes_on(market, calendar), with_previous)
            market_returns = market_closes[1:] / market_closes[:-1] - 1
        else:
            market_closes = np.full(len(with_previous), np.nan)
            market_returns = np.full(len(days), np.nan)
        in_estimation = (days >= self.estimation[0]) & (days <= self.estimation[1])
        valid = in_estimation & np.isfinite(returns)
        if self.uses_market:
            valid &= np.isfinite(market_returns)
        stock = _StockEvent(
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
            fit=None,
            reason=None,
        )
        count = int(valid.sum())
        if count < self.min_estimation:
            history = self.prices[symbol]
            stock.reason = (
                f"only {count} valid estimation returns on days "
                f"[{self.estimation[0]}, {self.estimation[1]}] ({calendar}), fewer than "
                f"min_estimation {self.min_estimation}; prices start {_iso(history.first_date)}"
            )
            return stock
        stock.fit = _fit_normal_returns(returns, market_returns, valid, self.model)
        if stock.fit is None:
            stock.reason = f"market {market} returns are constant over the estimation window"
        return stock


def _fit_normal_returns(
    returns: np.ndarray, market_returns: np.ndarray, estimation: np.ndarray, model: str
) -> _Fit | None:
    """Fit ``model`` on the days where ``estimation`` is true; normal returns for every day.

    * ``market``: OLS ``beta = sum (Rm - mean Rm)(R - mean R) / sum (Rm - mean Rm)^2``,
      ``alpha = mean R - beta mean Rm``; normal ``alpha + beta Rm_t``;
      ``s^2 = sum e^2 / (T - 2)``, ``dof = T - 2``.
    * ``market_adjusted``: normal ``Rm_t``; ``s`` = sample sd (ddof 1) of ``R - Rm``,
      ``dof = T - 1``.
    * ``mean_adjusted``: normal ``mean R``; ``s`` = sample sd of ``R``, ``dof = T - 1``.

    Returns None when the market model is unidentified (constant market returns).
    """
    r, m = returns[estimation], market_returns[estimation]
    size = int(estimation.sum())
    if model == "market":
        m_mean, r_mean = m.mean(), r.mean()
        sxx = ((m - m_mean) ** 2).sum()
        if sxx == 0:
            return None
        beta = ((m - m_mean) * (r - r_mean)).sum() / sxx
        alpha = r_mean - beta * m_mean
        residuals = r - alpha - beta * m
        sigma = math.sqrt((residuals**2).sum() / (size - 2))
        return _Fit(model, alpha + beta * market_returns, sigma, size, size - 2, m)
    if model == "market_adjusted":
        sigma = float(np.std(r - m, ddof=1))
        return _Fit(model, market_returns.copy(), sigma, size, size - 1, m)
    normal = np.full(len(returns), r.mean())
    return _Fit(model, normal, float(np.std(r, ddof=1)), size, size - 1, m)


def _car_se(stock: _StockEvent, index: np.ndarray) -> float:
    """Forecast-error corrected standard error of the stock's CAR over the days ``index``."""
    fit = stock.fit
    assert fit is not None
    if fit.model == "market":
        return sig.market_model_car_se(
            fit.sigma, stock.market_returns[index], fit.market_estimation
        )
    if fit.model == "mean_adjusted":
        return sig.mean_adjusted_car_se(fit.sigma, len(index), fit.n_estimation)
    return sig.market_adjusted_car_se(fit.sigma, len(index))


def _validate(
    windows: Sequence[tuple[int, int]],
    estimation: tuple[int, int],
    model: str,
    currency: str,
    weighting: str,
    min_estimation: int,
    baskets: Sequence[EventBasket],
    events: Sequence[tuple[pd.Timestamp, str]],
) -> list[tuple[int, int]]:
    choices = {"model": (model, MODELS), "currency": (currency, CURRENCIES)}
    choices["weighting"] = (weighting, WEIGHTINGS)
    for option, (value, allowed) in choices.items():
        if value not in allowed:
            raise OptionError(option, f"'{value}' is not one of {', '.join(allowed)}")
    if not windows:
        raise OptionError("windows", "no CAR window given", "e.g. windows=[(-1, 1), (0, 5)]")
    try:
        clean = [(int(a), int(b)) for a, b in windows]
        e0, e1 = (int(x) for x in estimation)
    except (TypeError, ValueError):
        raise OptionError(
            "windows",
            f"windows {list(windows)} and estimation {estimation} must be (a, b) int pairs",
        ) from None
    for a, b in clean:
        if a > b:
            raise OptionError("windows", f"window [{a}, {b}] ends before it starts")
        if a <= e1:
            raise OptionError(
                "windows",
                f"window [{a}, {b}] overlaps the estimation window [{e0}, {e1}]",
                "end the estimation window before the earliest CAR window",
            )
    if min_estimation < 3:
        raise OptionError("min_estimation", f"{min_estimation} is too small; use at least 3")
    if e0 > e1 or e1 - e0 + 1 < min_estimation:
        raise OptionError(
            "estimation",
            f"estimation window [{e0}, {e1}] has {max(e1 - e0 + 1, 0)} sessions, fewer than "
            f"min_estimation {min_estimation}",
        )
    if not baskets:
        raise OptionError("baskets", "no basket to study")
    if not events:
        raise OptionError("events", "no event date given")
    for basket in baskets:
        values = list(basket.weights.values())
        if not values or not all(math.isfinite(w) for w in values) or sum(values) <= 0:
            raise OptionError(
                "weights", f"basket '{basket.name}' needs finite weights with a positive sum"
            )
        if (
            basket.portfolio_returns is not None
            and model != "mean_adjusted"
            and (basket.portfolio_market is None)
        ):
            raise OptionError(
                "portfolio_market",
                f"basket '{basket.name}' has portfolio returns but no market series for the "
                f"{model} model",
            )
    return clean


def _check_coverage(
    study: _Study, event: pd.Timestamp, name: str, baskets: Sequence[EventBasket]
) -> None:
    """Raise :class:`DateRangeError` when the prices do not cover the event and its windows."""
    label = f"event {_iso(event)} ({name})" if name else f"event {_iso(event)}"
    span = f"[{study.span[0]}, {study.span[1]}]"
    after: list[str] = []
    late: list[str] = []
    early: list[str] = []
    constituents = list(dict.fromkeys(s for b in baskets for s in b.weights))
    for symbol in constituents:
        calendar = study.listing(symbol).calendar
        sessions = study.sessions(calendar)
        end = int(sessions.searchsorted(event)) + study.span[1]
        last_day = sessions[end] if end < len(sessions) else None
        for needed in study.needed_symbols(symbol):
            history = study.prices[needed]
            if history.last_date < event:
                after.append(f"{needed} ({_iso(history.last_date)})")
            elif last_day is None:
                late.append(
                    f"{needed} (day +{study.span[1]} is after the last {calendar} session "
                    f"the calendar knows, {_iso(sessions[-1])})"
                )
            elif history.last_date < last_day:
                late.append(
                    f"{needed} (last price {_iso(history.last_date)}, "
                    f"day +{study.span[1]} = {_iso(last_day)} {calendar})"
                )
            elif needed != symbol and history.first_date > event:
                early.append(f"{needed} (first price {_iso(history.first_date)})")
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
    for basket in baskets:
        firsts = [study.prices[s].first_date for s in basket.weights]
        if min(firsts) > event:
            raise DateRangeError(
                f"{label} is before the price data of every constituent of basket "
                f"'{basket.name}' (earliest first price {_iso(min(firsts))})",
                "use a later event or longer price histories",
            )


def _weights_over(basket: EventBasket, symbols: Sequence[str], weighting: str) -> np.ndarray:
    if weighting == "equal":
        return np.full(len(symbols), 1.0 / len(symbols)) if symbols else np.array([])
    raw = np.array([basket.weights[s] for s in symbols], dtype=float)
    total = raw.sum()
    return raw / total if total != 0 else np.full(len(symbols), np.nan)


@dataclass
class _PortfolioEvent:
    day0: pd.Timestamp
    days: np.ndarray
    returns: np.ndarray
    fit: _Fit | None
    reason: str | None


def _portfolio_event(
    basket: EventBasket,
    event: pd.Timestamp,
    label: str,
    estimation: tuple[int, int],
    span: tuple[int, int],
    model: str,
    min_estimation: int,
) -> _PortfolioEvent:
    """The basket's own return series around ``event``, counted in its rows."""
    series = basket.portfolio_returns
    assert series is not None
    series = series.sort_index()
    index = pd.DatetimeIndex(series.index)
    market = (
        basket.portfolio_market.reindex(index).to_numpy(dtype=float)
        if basket.portfolio_market is not None
        else np.full(len(index), np.nan)
    )
    if len(index) == 0 or index[0] > event:
        start = _iso(index[0]) if len(index) else "nowhere"
        raise DateRangeError(
            f"{label}: the portfolio returns of basket '{basket.name}' start {start}, "
            "after the event"
        )
    p0 = int(index.searchsorted(event))
    if p0 + span[1] >= len(index):
        raise DateRangeError(
            f"{label}: the portfolio returns of basket '{basket.name}' end {_iso(index[-1])}, "
            f"before day +{span[1]} of the windows [{span[0]}, {span[1]}]",
            "use an earlier event, shorter windows or a longer backtest",
        )
    days = np.arange(estimation[0], span[1] + 1)
    returns = _take(series.to_numpy(dtype=float), p0 + days)
    market_returns = _take(market, p0 + days)
    valid = (days <= estimation[1]) & np.isfinite(returns)
    if model != "mean_adjusted":
        valid &= np.isfinite(market_returns)
    count = int(valid.sum())
    if count < min_estimation:
        reason = (
            f"only {count} valid estimation returns in the portfolio series on rows "
            f"[{estimation[0]}, {estimation[1]}], fewer than min_estimation {min_estimation}"
        )
        return _PortfolioEvent(index[p0], days, returns, None, reason)
    fit = _fit_normal_returns(returns, market_returns, valid, model)
    reason = None if fit else "portfolio market returns are constant over the estimation window"
    return _PortfolioEvent(index[p0], days, returns, fit, reason)


def _timestamp(value: object, what: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise OptionError("events", f"{what} {value!r} is not a date") from None
    if stamp is pd.NaT:
        raise OptionError("events", f"{what} is missing")
    return (stamp.tz_localize(None) if stamp.tzinfo else stamp).normalize()


def run_event_study(
    prices: Mapping[str, PriceHistory],
    baskets: Sequence[EventBasket],
    events: Sequence[tuple[pd.Timestamp, str]],
    *,
    windows: Sequence[tuple[int, int]] = DEFAULT_WINDOWS,
    estimation: tuple[int, int] = DEFAULT_ESTIMATION,
    model: str = "market",
    markets: Mapping[str, str] = DEFAULT_MARKETS,
    market_symbol: str | None = None,
    currency: str = "local",
    weighting: str = "basket",
    min_estimation: int = 100,
    listings: Mapping[str, Listing] | None = None,
    closures: Closures | None = None,
) -> EventStudy:
    """Abnormal returns, CARs, BHARs and their tests for every basket, event and window.

    ``prices`` must hold every constituent, every market index used and, with
    ``currency="USD"``, the FX rates (``CNY=X``, ``HKD=X``).  ``events`` are (date, name) pairs.
    Event time counts the sessions of each exchange less its ``closures`` (days the data show
    it closed).

    Tables of the returned :class:`EventStudy`:

    * ``summary``: one row per basket, event and window: ``basket, event`` (ISO date),
      ``event_name, day0`` (dict calendar -> ISO date of day 0 for the basket's exchanges),
      ``window`` ([a, b]), ``window_start, window_end, n_stocks`` (included),
      ``n_excluded, car`` (weighted), ``mean_car`` (equal-weighted), ``bhar`` (weighted),
      ``t_cross_sectional, p_cross_sectional, t_patell, p_patell, t_bmp, p_bmp, rbar,
      t_kolari_pynnonen, p_kolari_pynnonen, z_rank, p_rank, z_sign, p_sign`` and, when the
      basket has a portfolio series, ``portfolio_day0, portfolio_car, t_portfolio,
      p_portfolio`` (else None/NaN).
    * ``abnormal_returns``: ``basket, event, symbol, calendar, day, date, return,
      market_return, normal_return, abnormal_return`` for the days of the widest window span,
      for every stock with a fitted model.
    * ``stock_cars``: ``basket, event, window, window_start, window_end, symbol, weight, car,
      bhar, scar`` for every included stock and window.
    * ``excluded``: ``basket, event, window`` (None when excluded from the whole event),
      ``symbol`` (:data:`PORTFOLIO` for the portfolio series), ``reason``.
    * ``day0``: ``event, event_name, calendar, day0``.
    * ``car_paths``: ``basket, event, day, n_stocks, car, portfolio_car``: the cumulative
      basket abnormal return from the first day of the widest window (each day's AR averaged
      over the stocks that have one, weights renormalised), for charts.

    Raises :class:`OptionError` for bad arguments, :class:`MissingDataError` when ``prices``
    lacks a symbol, :class:`DateRangeError` when the prices do not cover an event and its
    windows.
    """
    clean_windows = _validate(
        windows, estimation, model, currency, weighting, min_estimation, baskets, events
    )
    estimation = (int(estimation[0]), int(estimation[1]))
    span = (min(a for a, _ in clean_windows), max(b for _, b in clean_windows))
    study = _Study(
        prices,
        estimation=estimation,
        span=span,
        model=model,
        markets=markets,
        market_symbol=market_symbol,
        currency=currency,
        min_estimation=min_estimation,
        listings=listings,
        closures=closures or Closures(),
    )
    constituents = list(dict.fromkeys(s for b in baskets for s in b.weights))
    needed = dict.fromkeys(n for s in constituents for n in study.needed_symbols(s))
    missing = {s: "not in the price set" for s in needed if s not in prices}
    if missing:
        raise MissingDataError(missing, "the event study's prices")
    parsed = [(_timestamp(date, "event date"), str(name or "")) for date, name in events]

    rows: dict[str, list[dict[str, object]]] = {
        key: [] for key in ("summary", "ar", "cars", "excluded", "day0", "paths")
    }
    for event, name in parsed:
        _check_coverage(study, event, name, baskets)
        calendars = dict.fromkeys(study.listing(s).calendar for s in constituents)
        for calendar in calendars:
            sessions = study.sessions(calendar)
            day0 = _iso(sessions[int(sessions.searchsorted(event))])
            rows["day0"].append(
                {"event": _iso(event), "event_name": name, "calendar": calendar, "day0": day0}
            )
        for basket in baskets:
            _study_basket(study, basket, event, name, clean_windows, weighting, rows)

    return EventStudy(
        summary=pd.DataFrame(rows["summary"], columns=list(SUMMARY_COLUMNS)),
        abnormal_returns=pd.DataFrame(rows["ar"], columns=list(AR_COLUMNS)),
        stock_cars=pd.DataFrame(rows["cars"], columns=list(STOCK_CAR_COLUMNS)),
        excluded=pd.DataFrame(rows["excluded"], columns=list(EXCLUDED_COLUMNS)),
        day0=pd.DataFrame(rows["day0"], columns=list(DAY0_COLUMNS)),
        car_paths=pd.DataFrame(rows["paths"], columns=list(PATH_COLUMNS)),
        settings={
            "model": model,
            "estimation": list(estimation),
            "windows": [list(w) for w in clean_windows],
            "currency": currency,
            "weighting": weighting,
            "min_estimation": min_estimation,
            "markets": {c: study.market_of(c) for c in _used_calendars(study, constituents)}
            if study.uses_market
            else {},
        },
    )


def _used_calendars(study: _Study, symbols: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(study.listing(s).calendar for s in symbols))


def _study_basket(
    study: _Study,
    basket: EventBasket,
    event: pd.Timestamp,
    name: str,
    windows: Sequence[tuple[int, int]],
    weighting: str,
    rows: dict[str, list[dict[str, object]]],
) -> None:
    """Append the rows of one basket and one event to ``rows``."""
    event_iso = _iso(event)
    label = f"event {event_iso} ({name})" if name else f"event {event_iso}"
    head = {"basket": basket.name, "event": event_iso}
    stocks = [study.stock_event(event, s) for s in basket.weights]
    fitted = [s for s in stocks if s.fit is not None]
    for stock in stocks:
        if stock.fit is None:
            rows["excluded"].append(
                {**head, "window": None, "symbol": stock.symbol, "reason": stock.reason}
            )
    day0 = {stock.calendar: stock.day0 for stock in stocks}

    for stock in fitted:
        assert stock.fit is not None
        abnormal = stock.abnormal
        for k in stock.window_index(study.span):
            rows["ar"].append(
                {
                    **head,
                    "symbol": stock.symbol,
                    "calendar": stock.calendar,
                    "day": int(stock.days[k]),
                    "date": _iso(stock.dates[k]),
                    "return": stock.returns[k],
                    "market_return": stock.market_returns[k],
                    "normal_return": stock.fit.normal[k],
                    "abnormal_return": abnormal[k],
                }
            )

    portfolio = None
    if basket.portfolio_returns is not None:
        portfolio = _portfolio_event(
            basket, event, label, study.estimation, study.span, study.model, study.min_estimation
        )
        if portfolio.reason:
            rows["excluded"].append(
                {**head, "window": None, "symbol": PORTFOLIO, "reason": portfolio.reason}
            )

    _append_path(study, basket, fitted, portfolio, weighting, head, rows)
    for window in windows:
        rows["summary"].append(
            _window_row(
                study, basket, event, name, window, fitted, stocks, portfolio, weighting, day0, rows
            )
        )


def _append_path(
    study: _Study,
    basket: EventBasket,
    fitted: Sequence[_StockEvent],
    portfolio: _PortfolioEvent | None,
    weighting: str,
    head: dict[str, object],
    rows: dict[str, list[dict[str, object]]],
) -> None:
    days = np.arange(study.span[0], study.span[1] + 1)
    if fitted:
        matrix = np.column_stack([s.abnormal[s.window_index(study.span)] for s in fitted])
        weights = _weights_over(basket, [s.symbol for s in fitted], weighting)
        present = np.isfinite(matrix)
        weight_sum = (present * weights).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            daily = np.where(present, matrix, 0.0) @ weights / weight_sum
        counts = present.sum(axis=1)
    else:
        daily, counts = np.full(len(days), np.nan), np.zeros(len(days), dtype=int)
    path = np.cumsum(np.where(np.isfinite(daily), daily, 0.0))
    path[counts == 0] = np.nan
    portfolio_path = np.full(len(days), np.nan)
    if portfolio is not None and portfolio.fit is not None:
        index = np.flatnonzero(portfolio.days >= study.span[0])
        portfolio_path = np.cumsum(portfolio.returns[index] - portfolio.fit.normal[index])
    for k, day in enumerate(days):
        rows["paths"].append(
            {
                **head,
                "day": int(day),
                "n_stocks": int(counts[k]),
                "car": path[k],
                "portfolio_car": portfolio_path[k],
            }
        )


def _window_row(
    study: _Study,
    basket: EventBasket,
    event: pd.Timestamp,
    name: str,
    window: tuple[int, int],
    fitted: Sequence[_StockEvent],
    stocks: Sequence[_StockEvent],
    portfolio: _PortfolioEvent | None,
    weighting: str,
    day0: dict[str, str | None],
    rows: dict[str, list[dict[str, object]]],
) -> dict[str, object]:
    """Stock CARs of one window (appended to ``rows``) and the basket's summary row."""
    a, b = window
    head = {"basket": basket.name, "event": _iso(event)}
    window_head = {**head, "window": [a, b], "window_start": a, "window_end": b}
    included: list[_StockEvent] = []
    for stock in fitted:
        reason = stock.gap_reason(window)
        if reason:
            rows["excluded"].append(
                {**head, "window": [a, b], "symbol": stock.symbol, "reason": reason}
            )
        else:
            included.append(stock)
    weights = _weights_over(basket, [s.symbol for s in included], weighting)
    cars, bhars, scars, dofs = [], [], [], []
    for stock, weight in zip(included, weights, strict=True):
        assert stock.fit is not None
        index = stock.window_index(window)
        car = float(stock.abnormal[index].sum())
        bhar = float(np.prod(1 + stock.returns[index]) - np.prod(1 + stock.fit.normal[index]))
        se = _car_se(stock, index)
        scar = car / se if se > 0 else math.nan
        cars.append(car)
        bhars.append(bhar)
        scars.append(scar)
        dofs.append(stock.fit.dof)
        rows["cars"].append(
            {
                **window_head,
                "symbol": stock.symbol,
                "weight": float(weight),
                "car": car,
                "bhar": bhar,
                "scar": scar,
            }
        )

    # Every stock's day range starts at the first estimation day.
    n_est_days = study.estimation[1] - study.estimation[0] + 1
    estimation_ar = (
        np.column_stack([np.where(s.estimation, s.abnormal, np.nan)[:n_est_days] for s in included])
        if included
        else np.empty((0, 0))
    )
    window_ar = (
        np.column_stack([s.abnormal[s.window_index(window)] for s in included])
        if included
        else np.empty((0, 0))
    )
    rbar = (
        sig.average_cross_correlation(_dated_residuals(included)) if len(included) > 1 else math.nan
    )
    t_cs = sig.cross_sectional_t_test(np.array(cars))
    patell = sig.patell_test(np.array(scars), np.array(dofs))
    bmp = sig.bmp_test(np.array(scars))
    kp = sig.kolari_pynnonen_test(np.array(scars), rbar)
    rank = sig.rank_test(estimation_ar, window_ar)
    sign = sig.generalized_sign_test(np.array(cars), estimation_ar)

    portfolio_car, portfolio_t = math.nan, sig.TestResult(math.nan, math.nan)
    if portfolio is not None and portfolio.fit is not None:
        index = np.flatnonzero((portfolio.days >= a) & (portfolio.days <= b))
        portfolio_ar = portfolio.returns[index] - portfolio.fit.normal[index]
        if np.isfinite(portfolio_ar).all():
            portfolio_car = float(portfolio_ar.sum())
            portfolio_t = sig.time_series_t_test(
                portfolio_car, portfolio.fit.sigma, len(index), portfolio.fit.dof
            )
        else:
            rows["excluded"].append(
                {
                    **head,
                    "window": [a, b],
                    "symbol": PORTFOLIO,
                    "reason": f"missing portfolio or market return in [{a}, {b}]; CAR undefined",
                }
            )

    return {
        **head,
        "event_name": name,
        "day0": dict(day0),
        "window": [a, b],
        "window_start": a,
        "window_end": b,
        "n_stocks": len(included),
        "n_excluded": len(stocks) - len(included),
        "car": float(np.dot(weights, cars)) if included else math.nan,
        "mean_car": float(np.mean(cars)) if included else math.nan,
        "bhar": float(np.dot(weights, bhars)) if included else math.nan,
        "t_cross_sectional": t_cs.statistic,
        "p_cross_sectional": t_cs.pvalue,
        "t_patell": patell.statistic,
        "p_patell": patell.pvalue,
        "t_bmp": bmp.statistic,
        "p_bmp": bmp.pvalue,
        "rbar": rbar,
        "t_kolari_pynnonen": kp.statistic,
        "p_kolari_pynnonen": kp.pvalue,
        "z_rank": rank.statistic,
        "p_rank": rank.pvalue,
        "z_sign": sign.statistic,
        "p_sign": sign.pvalue,
        "portfolio_day0": _iso(portfolio.day0) if portfolio is not None else None,
        "portfolio_car": portfolio_car,
        "t_portfolio": portfolio_t.statistic,
        "p_portfolio": portfolio_t.pvalue,
    }


def _dated_residuals(stocks: Sequence[_StockEvent]) -> np.ndarray:
    """Estimation-window abnormal returns, one column per stock, rows on calendar dates.

    Cross-correlation is a same-day phenomenon, so stocks are aligned on dates (not on event
    days, which differ across exchanges around holidays).
    """
    columns = {}
    for stock in stocks:
        index = np.flatnonzero(stock.estimation)
        columns[stock.symbol] = pd.Series(
            stock.abnormal[index], index=pd.DatetimeIndex([stock.dates[k] for k in index])
        )
    return pd.DataFrame(columns).to_numpy(dtype=float)
