"""Robustness of a run: does a theme's return rest on one stock, and how many independent
themes do the baskets make?

* **Leave one out**: every basket simulated again without each of its constituents in turn (the
  remaining weights renormalised, same rules, schedule, fees and execution, one simulation call
  per basket): the return without its top contributor (the constituent with the largest contribution
  in the attribution) and the worst of these returns.
* **Correlation** of the baskets' daily returns on the run's sessions (a market that is closed
  contributes a zero return that day), the **overlap** of their constituents (symbols held in
  common), and the **effective number of independent themes** from the correlation matrix
  (:func:`engine.analysis.inference.effective_number`, the participation ratio of its
  eigenvalues).

May use ``portfolio``, ``market`` and the stages before them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from engine.analysis.inference import effective_number
from engine.config.baskets import Basket
from engine.data.prices import PriceSet
from engine.errors import BasketError
from engine.market.panel import Panel
from engine.portfolio.simulation import INITIAL_CASH, BacktestResult, run_backtest

#: Joins a basket's name and the constituent left out in the name of a leave-one-out basket.
WITHOUT = " without "


@dataclass(frozen=True)
class LeaveOneOut:
    """A basket's returns without one constituent at a time: ``returns`` by symbol left out,
    the ``top_contributor`` (largest contribution to the basket's return) and the return
    without it, the ``worst`` symbol (leaving it out gives the lowest return) and that
    return."""

    returns: dict[str, float]
    top_contributor: str
    without_top: float
    worst: str
    worst_return: float


def leave_one_out(
    panel: Panel,
    baskets: Sequence[Basket],
    prices: PriceSet,
    backtest: BacktestResult,
    *,
    fees: float,
    rebalance: str | None,
    default_rebalance: str,
) -> tuple[dict[str, LeaveOneOut], list[str]]:
    """:class:`LeaveOneOut` of every basket with two constituents or more, from one
    :func:`engine.portfolio.simulation.run_backtest` per basket of all its reduced baskets,
    under the basket's own schedule (``rebalance`` overrides it, as in the run); and notes for
    the baskets whose rules cannot hold one stock fewer (a cap too tight for the rest)."""
    out, notes = {}, []
    for basket in baskets:
        if len(basket.constituents) < 2:
            continue
        schedule = rebalance or basket.rebalance or default_rebalance
        reduced = {
            symbol: replace(
                basket.without([symbol]), name=f"{basket.name}{WITHOUT}{symbol}",
                rebalance=schedule,
            )
            for symbol in basket.symbols
        }
        try:
            result = run_backtest(panel, list(reduced.values()), prices, fees=fees)
        except BasketError as error:
            notes.append(f"{basket.name}: no leave-one-out returns ({error.message})")
            continue
        returns = {
            symbol: float(result.equity[smaller.name].iloc[-1] / INITIAL_CASH - 1.0)
            for symbol, smaller in reduced.items()
        }
        contributions = {s: float(backtest.contributions[(basket.name, s)]) for s in returns}
        top = max(contributions, key=contributions.__getitem__)
        worst = min(returns, key=returns.__getitem__)
        out[basket.name] = LeaveOneOut(returns, top, returns[top], worst, returns[worst])
    return out, notes


def return_correlation(equity: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation of the daily returns of ``equity``'s columns (values per session)."""
    return equity.pct_change().iloc[1:].corr()


def constituent_overlap(baskets: Sequence[Basket]) -> pd.DataFrame:
    """Symbols held in common by each pair of baskets (the diagonal: each basket's count)."""
    names = [b.name for b in baskets]
    held = [set(b.symbols) for b in baskets]
    counts = np.array([[len(a & b) for b in held] for a in held], dtype=int)
    return pd.DataFrame(counts, index=pd.Index(names, name="basket"), columns=names)


def effective_themes(correlation: pd.DataFrame) -> float:
    """The effective number of independent themes behind ``correlation`` (see
    :func:`engine.analysis.inference.effective_number`); NaN with a missing correlation."""
    return effective_number(correlation.to_numpy(dtype=float))
