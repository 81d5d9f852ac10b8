"""Basket and portfolio aggregation: a basket's stocks combined, and its own return series.

The basket's CAR and BHAR are weighted averages over the included stocks, with basket weights
renormalised over them (``weighting="basket"``) or equal weights (``"equal"``).

Basket portfolio
    An optional daily return series of the basket (e.g. a backtest) with its own market series
    is studied as one security: day 0 is its first date on or after the event, days count its
    rows, the same model and windows apply, and ``t = CAR / (s sqrt(L))``.

May use ``analysis.events.eventtime``, ``analysis.events.models``, ``analysis.events.stocks`` and
the ground floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.analysis.events.eventtime import iso, take
from engine.analysis.events.models import Fit, fit_normal_returns
from engine.analysis.events.stocks import StockEvent
from engine.errors import DateRangeError

WEIGHTINGS = ("basket", "equal")


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


def weights_over(basket: EventBasket, symbols: Sequence[str], weighting: str) -> np.ndarray:
    """The weights of ``symbols`` (the stocks included), summing to 1: the basket's weights
    renormalised over them, or equal weights."""
    if weighting == "equal":
        return np.full(len(symbols), 1.0 / len(symbols)) if symbols else np.array([])
    raw = np.array([basket.weights[s] for s in symbols], dtype=float)
    total = raw.sum()
    return raw / total if total != 0 else np.full(len(symbols), np.nan)


def basket_car_path(
    stocks: Sequence[StockEvent], weights: np.ndarray, span: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The basket's cumulative abnormal return on each day of ``span`` and the number of
    stocks with an AR that day.

    Each day's basket AR is the weighted mean over the stocks that have one (weights
    renormalised over them); a day without any contributes nothing to the sum, and the path
    is NaN on it.
    """
    days = span[1] - span[0] + 1
    if stocks:
        matrix = np.column_stack([s.abnormal[s.window_index(span)] for s in stocks])
        present = np.isfinite(matrix)
        weight_sum = (present * weights).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            daily = np.where(present, matrix, 0.0) @ weights / weight_sum
        counts = present.sum(axis=1)
    else:
        daily, counts = np.full(days, np.nan), np.zeros(days, dtype=int)
    path = np.cumsum(np.where(np.isfinite(daily), daily, 0.0))
    path[counts == 0] = np.nan
    return path, counts


@dataclass
class PortfolioEvent:
    """The basket's own return series around one event, counted in its rows."""

    day0: pd.Timestamp
    days: np.ndarray
    returns: np.ndarray
    fit: Fit | None
    reason: str | None

    def abnormal(self, window: tuple[int, int]) -> np.ndarray:
        """The portfolio's abnormal returns on the rows of ``window``."""
        assert self.fit is not None
        index = np.flatnonzero((self.days >= window[0]) & (self.days <= window[1]))
        return self.returns[index] - self.fit.normal[index]

    def car_path(self, span: tuple[int, int]) -> np.ndarray:
        """Cumulative abnormal return from the first day of ``span`` (NaN without a fit)."""
        if self.fit is None:
            return np.full(span[1] - span[0] + 1, np.nan)
        index = np.flatnonzero(self.days >= span[0])
        return np.cumsum(self.returns[index] - self.fit.normal[index])


def portfolio_event(
    basket: EventBasket,
    event: pd.Timestamp,
    label: str,
    estimation: tuple[int, int],
    span: tuple[int, int],
    model: str,
    min_estimation: int,
) -> PortfolioEvent:
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
        start = iso(index[0]) if len(index) else "nowhere"
        raise DateRangeError(
            f"{label}: the portfolio returns of basket '{basket.name}' start {start}, "
            "after the event"
        )
    p0 = int(index.searchsorted(event))
    if p0 + span[1] >= len(index):
        raise DateRangeError(
            f"{label}: the portfolio returns of basket '{basket.name}' end {iso(index[-1])}, "
            f"before day +{span[1]} of the windows [{span[0]}, {span[1]}]",
            "use an earlier event, shorter windows or a longer backtest",
        )
    days = np.arange(estimation[0], span[1] + 1)
    returns = take(series.to_numpy(dtype=float), p0 + days)
    market_returns = take(market, p0 + days)
    valid = (days <= estimation[1]) & np.isfinite(returns)
    if model != "mean_adjusted":
        valid &= np.isfinite(market_returns)
    count = int(valid.sum())
    if count < min_estimation:
        reason = (
            f"only {count} valid estimation returns in the portfolio series on rows "
            f"[{estimation[0]}, {estimation[1]}], fewer than min_estimation {min_estimation}"
        )
        return PortfolioEvent(index[p0], days, returns, None, reason)
    fit = fit_normal_returns(returns, market_returns, valid, model)
    reason = None if fit else "portfolio market returns are constant over the estimation window"
    return PortfolioEvent(index[p0], days, returns, fit, reason)
