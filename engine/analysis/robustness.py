"""Robustness of a run: does a theme's return rest on one stock, and how many independent
themes do the baskets make?

* **Leave one out**: every basket simulated again without each of its constituents in turn (the
  remaining weights renormalised, same rules, schedule, fees and execution; all of them and the
  baskets themselves in one simulation call): the return without its top contributor (the
  constituent with the largest contribution in the attribution) and the worst of these returns.
* **Correlation** of the baskets' daily returns on the run's sessions (a market that is closed
  contributes a zero return that day), the **overlap** of their constituents (symbols held in
  common), and the **effective number of independent themes** from the correlation matrix
  (:func:`engine.analysis.inference.effective_number`, the participation ratio of its
  eigenvalues).

May use ``portfolio``, ``market`` and the stages before them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from engine.analysis.inference import effective_number
from engine.config.baskets import Basket
from engine.data.prices import PriceSet
from engine.errors import BasketError
from engine.market.panel import Panel
from engine.portfolio.orders import Orders, Simulated
from engine.portfolio.simulation import (
    INITIAL_CASH,
    BacktestResult,
    BasketPlan,
    plan_basket,
    schedule_of,
    simulate_plans,
)

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


def backtest_with_leave_one_out(
    panel: Panel,
    baskets: Sequence[Basket],
    prices: PriceSet,
    *,
    fees: float,
    rebalance: str | None,
    default_rebalance: str,
    simulator: Callable[[Orders], tuple[Simulated, list[str]]] | None = None,
) -> tuple[BacktestResult, dict[str, LeaveOneOut], list[str]]:
    """The backtest of ``baskets`` (what :func:`engine.portfolio.simulation.run_backtest`
    gives), the :class:`LeaveOneOut` of every basket with two constituents or more, and notes
    for the baskets whose rules cannot hold one stock fewer (a cap too tight for the rest).

    Every basket and every basket without one of its constituents (the rest renormalised,
    under the basket's own schedule: ``rebalance`` overrides it, as in the run) are column
    groups of one simulation call (:func:`engine.portfolio.simulation.simulate_plans`); each
    group has its own cash, so each is simulated as if alone.  ``simulator`` as there."""
    schedules = {b.name: schedule_of(b, rebalance, default_rebalance) for b in baskets}
    plans = [plan_basket(panel, b, schedules[b.name], prices) for b in baskets]
    reduced: dict[str, list[BasketPlan]] = {}
    notes = []
    for basket in baskets:
        if len(basket.constituents) < 2:
            continue
        schedule = schedules[basket.name]
        try:
            reduced[basket.name] = [
                plan_basket(panel, replace(basket.without([symbol]),
                                           name=f"{basket.name}{WITHOUT}{symbol}",
                                           rebalance=schedule), schedule, prices)
                for symbol in basket.symbols
            ]
        except BasketError as error:
            notes.append(f"{basket.name}: no leave-one-out returns ({error.message})")
    backtest, without = simulate_plans(
        panel, [plans, [plan for part in reduced.values() for plan in part]], prices, fees=fees,
        simulator=simulator,
    )
    final = without.equity.iloc[-1] / INITIAL_CASH - 1.0
    out = {}
    for basket in baskets:
        if basket.name not in reduced:
            continue
        returns = {
            symbol: float(final[plan.basket.name])
            for symbol, plan in zip(basket.symbols, reduced[basket.name], strict=True)
        }
        contributions = {s: float(backtest.contributions[(basket.name, s)]) for s in returns}
        top = max(contributions, key=contributions.__getitem__)
        worst = min(returns, key=returns.__getitem__)
        out[basket.name] = LeaveOneOut(returns, top, returns[top], worst, returns[worst])
    return backtest, out, notes


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
