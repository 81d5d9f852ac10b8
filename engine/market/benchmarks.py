"""Benchmarks that fit the markets: each basket's market mix and its *local* benchmark, a blend
of the indices of the exchanges it holds, weighted by the mix, in the report currency.

A Hong Kong and Shenzhen basket measured only against the NASDAQ mostly measures the China
factor; against its local blend the excess is what the theme added over its own markets.  The
index of each exchange is the study's ``event_study.markets`` (``XSHG: 000300.SS``, ``XHKG:
^HSI``, ``XNAS: ^IXIC``), the same the event study uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    mix: dict[str, float] = {}
    unknown = []
    for constituent in basket.constituents:
        calendar = listings[constituent.symbol].calendar
        index = markets.get(calendar)
        if index is None:
            unknown.append(calendar)
            continue
        mix[index] = mix.get(index, 0.0) + constituent.weight
    return ({} if unknown else mix), sorted(set(unknown))


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
