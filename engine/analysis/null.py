"""Matched random baskets: the null distribution a theme is ranked against.

Random portfolios drawn from the theme's own opportunity set answer "was the theme special, or
was it the market, industry, size or luck?" (Surz; Burns, "Random portfolios for evaluating
trading strategies", 2006; Dawson & Young 2003; Lyon, Barber & Tsai 1999 for the empirical
p-values of long-horizon returns against pseudo-portfolios).

Drawing (:func:`draw_baskets`)
    Each slot of the theme (one per constituent, in the basket's order, with its weight) has a
    *stratum*: its market (A / HK / US) and, with ``match``, its industry, board or liquidity
    quintile.  A random basket fills the slots of each stratum with distinct stocks of that
    stratum drawn uniformly without replacement (Floyd's algorithm, vectorised over baskets),
    in random order, so custom weights go to random names in the theme's weight order.

Ranking (:func:`rank_against`)
    For a statistic where more is better (total and excess return, Sharpe, maximum drawdown as
    a negative decimal, CAR) and ``N`` random values ``x_i``: the random mean, median, 5th and
    95th percentiles (linear interpolation, numpy's default), the theme's percentile
    ``100 (#{x_i < v} + #{x_i = v} / 2) / N`` (mid-rank) and the one-sided empirical p-value
    ``(1 + #{x_i >= v}) / (1 + N)`` (North, Curtis & Sham 2002; never 0).

Weights (:func:`random_weights`)
    A theme's targets on each trading session (members joining and leaving, reviews) pass to
    the random baskets slot by slot: slot ``j`` of a random basket is a member when the
    theme's constituent ``j`` is.  Equal and custom weights are copied as they are; a rule
    defined for any stock (``inverse_vol``, ``liquidity``: :func:`rule_scores`) is applied to
    the random members; weights from a table of the theme's own stocks (``file``,
    ``market_cap``, ``shares``) become equal weights over the members.

Liquidity (:func:`liquidity_quintiles`)
    Median daily traded value (close x volume) over the ``60`` sessions of a stock's exchange
    before the start; quintiles within each market by rank.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.analysis.events.eventtime import day0_position, take
from engine.analysis.events.models import fit_normal_returns
from engine.analysis.events.stocks import StockEvents
from engine.errors import OptionError

#: What random baskets can be matched on besides the market mix.
MATCHES = ("industry", "liquidity", "listed", "board")
LIQUIDITY_SESSIONS = 60
QUINTILES = 5
#: Baskets shuffled at a time by :func:`draw_baskets` (bounds its memory).
SHUFFLE_BLOCK = 1 << 16
#: Keys of a ranking row (:func:`rank_against`).
RANK_KEYS = (
    "value", "random_mean", "random_p05", "random_p50", "random_p95", "percentile", "p_value",
    "n_random",
)


def draw_baskets(
    slot_strata: Sequence[object],
    pools: Mapping[object, np.ndarray],
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``n`` random baskets, shape ``(n, len(slot_strata))``: entry ``[b, j]`` is drawn from
    ``pools[slot_strata[j]]`` (arrays of column indices), distinct within each stratum of a
    basket.  Raises :class:`OptionError` when a stratum has fewer stocks than slots."""
    slot_strata = list(slot_strata)
    out = np.empty((n, len(slot_strata)), dtype=np.int64)
    for stratum in dict.fromkeys(slot_strata):
        slots = [j for j, s in enumerate(slot_strata) if s == stratum]
        pool = np.asarray(pools.get(stratum, np.array([], dtype=np.int64)))
        if len(pool) < len(slots):
            raise OptionError(
                "--random",
                f"only {len(pool)} universe stock(s) match {_describe(stratum)} for "
                f"{len(slots)} constituent(s)",
                "match on fewer characteristics, or use --include-theme",
            )
        chosen = _floyd(len(pool), len(slots), n, rng)
        # Floyd's sets are uniform but not in uniform order: shuffle each basket's slots by
        # sorting random keys.  The keys are drawn a block of baskets at a time: the same
        # stream as drawing them at once, in a fraction of the memory.
        for first in range(0, n, SHUFFLE_BLOCK):
            block = chosen[first:first + SHUFFLE_BLOCK]
            order = np.argsort(rng.random(block.shape), axis=1)
            out[first:first + SHUFFLE_BLOCK, slots] = pool[np.take_along_axis(block, order, axis=1)]
    return out


def _floyd(size: int, count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random subsets of ``count`` of ``range(size)`` (Floyd's algorithm:
    for ``j = size - count .. size - 1`` take ``t ~ U{0..j}``, or ``j`` if ``t`` is taken)."""
    chosen = np.empty((n, count), dtype=np.int64)
    for step, j in enumerate(range(size - count, size)):
        pick = rng.integers(0, j + 1, size=n)
        taken = (chosen[:, :step] == pick[:, None]).any(axis=1)
        chosen[:, step] = np.where(taken, j, pick)
    return chosen


def _describe(stratum: object) -> str:
    parts = stratum if isinstance(stratum, tuple) else (stratum,)
    return " / ".join(str(p) for p in parts)


@dataclass(frozen=True)
class Ranking:
    """One theme statistic against its random baskets (see the module's formulas)."""

    value: float
    random_mean: float
    random_p05: float
    random_p50: float
    random_p95: float
    percentile: float
    p_value: float
    n_random: int

    def to_dict(self) -> dict[str, float | int]:
        return {key: getattr(self, key) for key in RANK_KEYS}


def rank_against(value: float, random: np.ndarray) -> Ranking:
    """The theme's ``value`` against ``random`` values (NaN ones left out; more is better)."""
    random = np.asarray(random, dtype=float)
    random = random[np.isfinite(random)]
    n = len(random)
    if n == 0 or not math.isfinite(value):
        nan = math.nan
        return Ranking(value, nan, nan, nan, nan, nan, nan, n)
    below = int((random < value).sum())
    ties = int((random == value).sum())
    p05, p50, p95 = np.percentile(random, [5, 50, 95])
    return Ranking(
        value=float(value),
        random_mean=float(random.mean()),
        random_p05=float(p05),
        random_p50=float(p50),
        random_p95=float(p95),
        percentile=100.0 * (below + ties / 2) / n,
        p_value=(1 + n - below) / (1 + n),
        n_random=n,
    )


def liquidity_quintiles(
    traded_value: np.ndarray, markets: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """Quintile 1 (least liquid) .. 5 of each stock within its market, by rank of
    ``traded_value`` (the median traded value before the start) among ``candidates``; 0 where
    a stock is not a candidate or has no traded value."""
    quintiles = np.zeros(len(traded_value), dtype=np.int64)
    known = candidates & np.isfinite(traded_value) & (traded_value > 0)
    for market in np.unique(markets[known]):
        members = np.flatnonzero(known & (markets == market))
        ranks = np.argsort(np.argsort(traded_value[members], kind="stable"), kind="stable")
        quintiles[members] = 1 + ranks * QUINTILES // len(members)
    return quintiles


def median_traded_value(
    closes: np.ndarray, volume: np.ndarray, before: np.ndarray
) -> np.ndarray:
    """Per stock (column), the median of ``close * volume`` over the rows where ``before`` is
    true (the :data:`LIQUIDITY_SESSIONS` sessions before the start); NaN without volume."""
    traded = closes[before] * volume[before]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no volume
        return np.nanmedian(traded, axis=0)


def basket_cars(
    stock_cars: np.ndarray, baskets: np.ndarray, weights: np.ndarray, weighting: str
) -> np.ndarray:
    """Each basket's CAR as the event study computes it: the weighted mean of its stocks'
    CARs over the stocks that have one, weights renormalised over them (``weighting="basket"``)
    or equal (``"equal"``); NaN when none has.

    ``stock_cars``: one CAR per universe column (NaN where excluded); ``baskets``: ``(n, k)``
    column indices; ``weights``: ``(k,)`` the theme's weights in slot order, or ``(n, k)``
    each basket's (its weights at the purchase)."""
    cars = stock_cars[baskets]
    present = np.isfinite(cars)
    slot_weights = np.ones_like(weights) if weighting == "equal" else np.asarray(weights)
    weight_sum = (present * slot_weights).sum(axis=1)
    known = np.where(present, cars, 0.0)
    weighted = known @ slot_weights if slot_weights.ndim == 1 else np.einsum(
        "nk,nk->n", known, slot_weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return weighted / weight_sum


def universe_cars(
    dates: pd.DatetimeIndex,
    closes: np.ndarray,
    calendars: np.ndarray,
    currencies: np.ndarray,
    columns: np.ndarray,
    stocks: StockEvents,
    events: Sequence[pd.Timestamp],
    windows: Sequence[tuple[int, int]],
) -> dict[tuple[pd.Timestamp, tuple[int, int]], np.ndarray]:
    """Each universe stock's CAR per (event, window), as the event study computes it for a
    constituent (:meth:`engine.analysis.events.stocks.StockEvents.stock_event`), for many
    stocks at once: closes on the sessions of the stock's exchange less its closures
    (``stocks.sessions``; a session without a bar is a gap), in ``stocks.currency`` (local,
    or USD with the last known FX rate), returns between consecutive sessions, the market
    index of ``stocks`` on the same sessions (:meth:`StockEvents.closes_on`), the model of
    :func:`engine.analysis.events.models.fit_normal_returns` on the valid estimation days (at
    least ``stocks.min_estimation``), ``CAR = sum AR`` over the window.  NaN where the stock
    is excluded (too few estimation returns, an unidentified model, an AR missing in the
    window) and for the universe columns not in ``columns``.

    ``dates``/``closes``: the universe's dates x symbols local closes; ``calendars`` and
    ``currencies`` per symbol."""
    days = np.arange(stocks.estimation[0], max(stocks.span[1], 0) + 1)
    estimation = (days >= stocks.estimation[0]) & (days <= stocks.estimation[1])
    out = {
        (event, tuple(window)): np.full(closes.shape[1], np.nan)
        for event in events
        for window in windows
    }
    for calendar in np.unique(calendars[columns]):
        own = stocks.sessions(calendar)
        for currency in np.unique(currencies[columns][calendars[columns] == calendar]):
            chosen = columns[(calendars[columns] == calendar) & (currencies[columns] == currency)]
            fx = stocks.fx_symbol(str(currency))
            rate = (
                stocks.prices[fx].closes().dropna().reindex(own, method="ffill").to_numpy()
                if fx else None
            )
            market = stocks.market_of(calendar) if stocks.uses_market else None
            market_closes = stocks.closes_on(market, calendar) if market else None
            for event in events:
                p0 = day0_position(own, event)
                positions = np.concatenate([[p0 + days[0] - 1], p0 + days])
                inside = (positions >= 0) & (positions < len(own))
                wanted = pd.DatetimeIndex(own[positions[inside]])
                values = np.full((len(positions), len(chosen)), np.nan)
                values[inside] = (
                    pd.DataFrame(closes[:, chosen], index=dates).reindex(wanted).to_numpy()
                )
                if rate is not None:
                    values = values / take(rate, positions)[:, None]
                returns = values[1:] / values[:-1] - 1
                if market_closes is not None:
                    m = take(market_closes, positions)
                    market_returns = m[1:] / m[:-1] - 1
                else:
                    market_returns = np.full(len(days), np.nan)
                valid = estimation[:, None] & np.isfinite(returns)
                if market_closes is not None:
                    valid &= np.isfinite(market_returns)[:, None]
                for j, column in enumerate(chosen):
                    if valid[:, j].sum() < stocks.min_estimation:
                        continue
                    fit = fit_normal_returns(returns[:, j], market_returns, valid[:, j],
                                             stocks.model)
                    if fit is None:
                        continue
                    abnormal = returns[:, j] - fit.normal
                    for window in windows:
                        inside_window = (days >= window[0]) & (days <= window[1])
                        window_ar = abnormal[inside_window]
                        if np.isfinite(window_ar).all():
                            out[(event, tuple(window))][column] = float(window_ar.sum())
    return out


def rule_scores(
    rule: str,
    dates: pd.DatetimeIndex,
    closes: np.ndarray,
    volume: np.ndarray,
    days: Sequence[pd.Timestamp],
    lookback: int,
    to_report: np.ndarray,
) -> np.ndarray:
    """Each stock's raw weight under ``rule`` on each of ``days``, shape ``(len(days),
    n_stocks)``, as :mod:`engine.portfolio.weighting` computes it for a constituent, from the
    stock's own bars (rows of ``closes`` with a close) strictly before the day:

    * ``inverse_vol``: ``1 / sigma``, sigma the standard deviation (ddof 1) of the last
      ``lookback`` daily returns of the closes;
    * ``liquidity``: the median of ``close * volume`` over the last ``lookback`` bars (bars
      without a volume left out) times ``to_report[day, stock]`` (report currency per local).

    NaN where the rule has no value (too few bars, no movement, no volume).  ``closes`` are the
    universe's (adjusted where the file has them, as the rules read them)."""
    out = np.full((len(days), closes.shape[1]), np.nan)
    wanted = dates.values.astype("datetime64[ns]")
    stamps = np.array([np.datetime64(pd.Timestamp(d), "ns") for d in days])
    needed = lookback + 1 if rule == "inverse_vol" else lookback
    for column in range(closes.shape[1]):
        bars = np.isfinite(closes[:, column])
        ends = np.searchsorted(wanted[bars], stamps, side="left")
        known = ends >= needed
        if not known.any():
            continue
        window = (ends[known] - needed)[:, None] + np.arange(needed)
        values = closes[bars, column][window]
        if rule == "inverse_vol":
            with np.errstate(divide="ignore"):
                sigma = np.std(values[:, 1:] / values[:, :-1] - 1, axis=1, ddof=1)
                out[known, column] = np.where(sigma > 0, 1.0 / sigma, np.nan)
        else:
            traded = values * volume[bars, column][window]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # no volume at all
                median = np.nanmedian(traded, axis=1)
            out[known, column] = np.where(median > 0, median, np.nan) * to_report[known, column]
    return out


def rule_weights(members: np.ndarray, baskets: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The random baskets' targets under a rule, shape ``(n, sessions, k)``: each member slot
    (``members``: ``(sessions, k)``, the theme's) weighs its random stock's score
    (``scores``: ``(sessions, n_stocks)`` from :func:`rule_scores`), normalised over the
    basket's members on each session."""
    sessions = np.arange(len(members))[None, :, None]
    raw = np.where(members[None], scores[sessions, baskets[:, None, :]], 0.0)
    return raw / raw.sum(axis=2, keepdims=True)


def equal_over_members(theme_targets: np.ndarray) -> np.ndarray:
    """Equal targets over the members of each trading session (rows of ``theme_targets``)."""
    members = (theme_targets > 0).astype(float)
    return members / members.sum(axis=1, keepdims=True)
