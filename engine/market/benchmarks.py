"""Benchmarks that fit the markets: each basket's market mix and its *local* benchmark, a blend
of the indices of the exchanges it holds, weighted by the mix, in the report currency; and,
with a universe, the equal-weight *pool* of its markets' stocks.

A Hong Kong and Shenzhen basket measured only against the NASDAQ mostly measures the China
factor; against its local blend the excess is what the theme added over its own markets.  The
index of each exchange is the study's ``event_study.markets`` (``XSHG: 000300.SS``, ``XHKG:
^HSI``, ``XNAS: ^IXIC``), the same the event study uses.  Indices are weighted by market
capitalisation, so a basket of equal weights can beat them by holding smaller stocks alone; the
pool (:func:`pool_weights`) holds every universe stock of the basket's markets at equal weights
within each market, with the basket's market mix: the random baskets of
:mod:`engine.analysis.null` are drawn from it, and it is what they average to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.config.baskets import Basket
from engine.data.prices import PriceSet
from engine.errors import BasketError
from engine.market.panel import LOOKBACK, Panel, align
from engine.symbols import Listing


def market_mix(
    basket: Basket, listings: Mapping[str, Listing], markets: Mapping[str, str]
) -> tuple[dict[str, float], list[str]]:
    """The basket's target weight per market index: ``w_m = sum of the weights of its
    constituents listed on exchange m``, keyed by that exchange's index in ``markets``.
    Returns the mix and the exchanges without an index (then the mix is empty)."""
    unknown = sorted({listings[s].calendar for s in basket.symbols} - set(markets))
    if unknown:
        return {}, unknown
    return weights_by(basket, lambda symbol: markets[listings[symbol].calendar]), []


def weights_by(basket: Basket, key: Callable[[str], str]) -> dict[str, float]:
    """The basket's target weights summed by ``key(symbol)`` (an index, a market), in the
    order the keys first appear among its constituents."""
    mix: dict[str, float] = {}
    for constituent in basket.constituents:
        group = key(constituent.symbol)
        mix[group] = mix.get(group, 0.0) + constituent.weight
    return mix


def pool_weights(
    markets: np.ndarray, eligible: np.ndarray, mix: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The equal-weight pool of a market mix: every eligible stock of market ``m`` weighs
    ``w_m / N_m``, with ``w_m`` the mix's weight of ``m`` (:func:`weights_by` of the basket by
    universe market) and ``N_m`` the eligible stocks of ``m``; so the weights sum to 1 and each
    market keeps the basket's share.

    ``markets``: the market of each universe column (``A``, ``HK``, ``US``); ``eligible``: bool
    per column (:func:`engine.market.universe.align_universe`).  Returns the pool's columns,
    their weights and the markets of the mix without an eligible stock (then no pool: empty
    arrays)."""
    markets = np.asarray(markets)
    members = {m: np.flatnonzero(eligible & (markets == m)) for m in mix}
    empty = [m for m, columns in members.items() if not len(columns)]
    if empty:
        return np.array([], dtype=np.int64), np.array([]), empty
    columns = np.concatenate(list(members.values()))
    weights = np.concatenate([np.full(len(c), mix[m] / len(c)) for m, c in members.items()])
    return columns, weights, []


def blend_values(index_values: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """A benchmark blended from indices at constant weights, rebalanced every session:
    ``r_t = sum_m w_m r_{m,t}``, compounded from 1 at the first row.  ``index_values``: the
    indices' values in the report currency, one column each (a closed market's value carried,
    so its return is 0 that day); ``weights`` by column, summing to 1."""
    columns = list(weights)
    returns = index_values[columns].pct_change().iloc[1:].to_numpy(dtype=float)
    daily = returns @ np.array([weights[c] for c in columns], dtype=float)
    growth = np.concatenate([[1.0], np.cumprod(1.0 + daily)])
    return pd.Series(growth, index=index_values.index, name="local")


def local_benchmarks(
    prices: PriceSet,
    baskets: Sequence[Basket],
    markets: Mapping[str, str],
    panel: Panel,
    listings: Mapping[str, Listing] | None = None,
) -> tuple[dict[str, pd.Series], list[str]]:
    """Each basket's local benchmark on the run's sessions, in the panel's currency, and notes
    for the baskets that get none (an exchange without an index, an index without data).

    The indices are aligned on their own exchanges' sessions (from a month before the first
    session, so each has a close to start from) and read as of every session of ``panel``.
    """
    notes: list[str] = []
    mixes: dict[str, dict[str, float]] = {}
    for basket in baskets:
        mix, unknown = market_mix(basket, panel.listings, markets)
        if unknown:
            notes.append(
                f"{basket.name}: no local benchmark (no market index for {', '.join(unknown)}"
                " in the study's event_study.markets)"
            )
            continue
        missing = [s for s in mix if s not in prices.histories]
        if missing:
            notes.append(f"{basket.name}: no local benchmark (no prices of {', '.join(missing)})")
            continue
        mixes[basket.name] = mix
    indices = sorted({s for mix in mixes.values() for s in mix})
    if not indices:
        return {}, notes
    sessions = panel.sessions
    try:
        aligned = align(
            prices,
            indices,
            sessions[0] - LOOKBACK,
            sessions[-1],
            currency=panel.currency,
            listings=listings,
            partial=True,
        ).prices
    except BasketError as error:
        return {}, [*notes, f"no local benchmarks: {error.one_line()}"]
    values = aligned.reindex(aligned.index.union(sessions)).ffill().reindex(sessions)
    blends = {}
    for name, mix in mixes.items():
        gaps = [s for s in mix if values[s].isna().any()]
        if gaps:
            notes.append(
                f"{name}: no local benchmark ({', '.join(gaps)} has no price at the first "
                f"session {sessions[0].date()})"
            )
            continue
        blends[name] = blend_values(values, mix)
    return blends, notes
