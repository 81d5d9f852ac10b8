"""Portfolio simulation of many baskets in one vectorbt call.

Each basket is a column group with shared cash; its constituents are columns holding the
basket's target weights on the days it trades (``size_type="targetpercent"``; sells run before
buys).  A basket is bought at the close of its *purchase session*, the first study session on
which every exchange of its constituents trades (:func:`purchase_session`; baskets of one call
may start on different rows: their orders are NaN before), and rebalanced on the sessions its
schedule picks.

vectorbt silently skips an order whose price is NaN while the rest of the group trades; the panel
carries last closes so prices are never NaN, and the purchase and the rebalancing schedules only
pick sessions on which *every* exchange of the basket is open (closures the data show are no
sessions), so no part of a basket is ever traded at a stale price on a holiday.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.config.baskets import Basket
from engine.data.prices import PriceSet
from engine.errors import DateRangeError
from engine.market.panel import Panel
from engine.portfolio.execution import Execution, simulate_baskets
from engine.portfolio.orders import Orders, Simulated, simulate
from engine.portfolio.schedules import SCHEDULES
from engine.portfolio.targets import Targets, basket_targets

INITIAL_CASH = 1.0


@dataclass
class BacktestResult:
    """What the simulation produced, per basket (columns named by basket).

    ``equity``: portfolio value per study session, starting cash 1.0 (cash until the purchase;
    fees count from the first session).  ``bought``: each basket's purchase session.
    ``holdings``: value of each constituent per session (columns ``(basket, symbol)``).
    ``rebalances``: the sessions each basket traded after its purchase.  ``contributions``:
    each constituent's share of its basket's total return (index ``(basket, symbol)``; they sum
    to the basket's total return).  ``fees``: total fees paid, as a fraction of the starting
    cash.  ``notes``: what the run should say about how it was simulated.  ``targets``: each
    basket's target weights per trading session, and its membership notes.  ``executions``: the
    planned orders, costs and cash of the baskets traded like the market
    (:mod:`engine.portfolio.execution`).
    """

    equity: pd.DataFrame
    holdings: pd.DataFrame
    contributions: pd.Series
    rebalances: dict[str, list[pd.Timestamp]]
    fees: pd.Series
    schedules: dict[str, str]
    bought: dict[str, pd.Timestamp]
    targets: dict[str, Targets] = field(default_factory=dict)
    executions: dict[str, Execution] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def schedule_of(basket: Basket, rebalance: str | None, default_rebalance: str) -> str:
    """The rebalancing schedule of ``basket``: ``rebalance`` if given (the command line), else
    the basket's own, else ``default_rebalance`` (the study's)."""
    return rebalance or basket.rebalance or default_rebalance


def purchase_session(basket: Basket, all_open: pd.Series) -> pd.Timestamp:
    """The first study session on which every exchange of the basket's constituents trades
    (``all_open``: :meth:`Panel.all_open` of its symbols).

    Raises :class:`DateRangeError` when the period has none."""
    if not all_open.any():
        raise DateRangeError(
            f"basket '{basket.name}': no session from {all_open.index[0].date()} to "
            f"{all_open.index[-1].date()} on which all its exchanges trade",
            "choose a longer period",
        )
    return all_open.index[int(np.argmax(all_open.to_numpy()))]


@dataclass(frozen=True)
class BasketPlan:
    """What one basket trades, before the simulation: its ``schedule``, purchase session
    ``bought``, ``targets``, the ``columns`` of its constituents in the panel's prices, and
    ``size``, its target-weight orders per session and constituent (NaN: no order; the weights
    on the purchase session and each rebalancing or review session)."""

    basket: Basket
    schedule: str
    bought: pd.Timestamp
    targets: Targets
    columns: np.ndarray
    size: np.ndarray


def plan_basket(panel: Panel, basket: Basket, schedule: str, prices: PriceSet) -> BasketPlan:
    """The :class:`BasketPlan` of ``basket`` under ``schedule``
    (:func:`engine.portfolio.targets.basket_targets` gives the weights).

    Raises the :class:`engine.errors.BasketError` of a basket whose rules cannot be met (no
    session on which all its exchanges trade, a cap too tight, a weighting without data)."""
    symbols = basket.symbols
    all_open = panel.all_open(symbols)
    bought = purchase_session(basket, all_open)
    days = SCHEDULES[schedule](all_open, bought)
    targets = basket_targets(basket, panel, prices, bought, days, all_open)
    size = np.full((len(panel.sessions), len(symbols)), np.nan)
    size[panel.sessions.get_indexer(targets.weights.index)] = targets.weights.to_numpy()
    return BasketPlan(basket, schedule, bought, targets, panel.columns_of(symbols), size)


def _fees_by_basket(per_column: np.ndarray, columns: pd.MultiIndex) -> pd.Series:
    """Fees per basket from the fees paid per ``(basket, symbol)`` column."""
    baskets = columns.get_level_values("basket")
    return pd.Series(per_column, index=baskets).groupby(level=0, sort=False).sum()


def simulate_plans(
    panel: Panel,
    parts: Sequence[Sequence[BasketPlan]],
    prices: PriceSet,
    *,
    fees: float = 0.0,
    simulator: Callable[[Orders], tuple[Simulated, list[str]]] | None = None,
) -> list[BacktestResult]:
    """Simulate the planned baskets of every part in one call of vectorbt's engine (one column
    group with its own cash per basket: the groups do not interact), and give each part the
    :class:`BacktestResult` a simulation of that part alone would give.

    ``fees`` is proportional (0.001 = 10 bp).  ``simulator`` runs the orders (default
    :func:`engine.portfolio.orders.simulate`: the compiled engine, else ``vbt.Portfolio``)."""
    plans = [plan for part in parts for plan in part]
    baskets = [plan.basket for plan in plans]
    columns = np.concatenate([[], *(plan.columns for plan in plans)]).astype(np.int64)
    simulated, notes, executions = simulate_baskets(
        panel.prices.to_numpy()[:, columns],
        np.concatenate([np.empty((len(panel.sessions), 0)), *(p.size for p in plans)], axis=1),
        baskets,
        {plan.basket.name: plan.targets for plan in plans},
        panel,
        prices,
        fees=fees,
        init_cash=INITIAL_CASH,
        simulator=simulator or simulate,
    )
    results, first_group, first_column = [], 0, 0
    for part in parts:
        width = sum(len(plan.columns) for plan in part)
        groups = slice(first_group, first_group + len(part))
        part_columns = slice(first_column, first_column + width)
        results.append(_part_result(panel, part, simulated, groups, part_columns, notes,
                                    executions))
        first_group, first_column = groups.stop, part_columns.stop
    return results


def _part_result(
    panel: Panel,
    part: Sequence[BasketPlan],
    simulated: Simulated,
    groups: slice,
    columns: slice,
    notes: list[str],
    executions: dict[str, Execution],
) -> BacktestResult:
    """The :class:`BacktestResult` of the baskets of ``part``: ``groups`` and ``columns`` of
    ``simulated``."""
    names = [plan.basket.name for plan in part]
    labels = pd.MultiIndex.from_tuples(
        [(plan.basket.name, symbol) for plan in part for symbol in plan.basket.symbols],
        names=["basket", "symbol"],
    )
    holdings = pd.DataFrame(simulated.asset_value[:, columns], panel.sessions, labels)
    # Each constituent's profit: what it is worth at the end plus every cash flow it caused
    # (purchases, sales, fees).  These add up to the basket's total return exactly.
    profit = holdings.iloc[-1] + pd.Series(simulated.cash_flow[:, columns].sum(axis=0), labels)
    records = simulated.records
    records = records[(records["col"] >= columns.start) & (records["col"] < columns.stop)]
    paid = np.bincount(records["col"] - columns.start, weights=records["fees"],
                       minlength=len(labels))
    return BacktestResult(
        equity=pd.DataFrame(simulated.value[:, groups], panel.sessions, pd.Index(names)),
        holdings=holdings,
        contributions=profit / INITIAL_CASH,
        rebalances={plan.basket.name: plan.targets.rebalances for plan in part},
        fees=_fees_by_basket(paid, labels) / INITIAL_CASH,
        schedules={plan.basket.name: plan.schedule for plan in part},
        bought={plan.basket.name: plan.bought for plan in part},
        targets={plan.basket.name: plan.targets for plan in part},
        notes=list(notes),
        executions={name: executions[name] for name in names if name in executions},
    )


def run_backtest(
    panel: Panel,
    baskets: Sequence[Basket],
    prices: PriceSet,
    *,
    fees: float = 0.0,
    rebalance: str | None = None,
    default_rebalance: str = "none",
    simulator: Callable[[Orders], tuple[Simulated, list[str]]] | None = None,
) -> BacktestResult:
    """Simulate every basket in one call of vectorbt's engine, as
    ``vbt.Portfolio.from_orders(close, size, size_type="targetpercent", group_by="basket",
    cash_sharing=True, call_seq="auto", fees=fees, init_cash=INITIAL_CASH)`` would.

    The schedule of a basket is :func:`schedule_of` it.  ``fees`` is proportional
    (0.001 = 10 bp).  ``simulator`` runs the orders (default
    :func:`engine.portfolio.orders.simulate`: the compiled engine, else ``vbt.Portfolio``).
    """
    plans = [
        plan_basket(panel, b, schedule_of(b, rebalance, default_rebalance), prices)
        for b in baskets
    ]
    return simulate_plans(panel, [plans], prices, fees=fees, simulator=simulator)[0]
