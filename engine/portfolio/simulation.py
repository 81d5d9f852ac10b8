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

from collections.abc import Callable, Mapping, Sequence
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


def purchase_session(panel: Panel, basket: Basket) -> pd.Timestamp:
    """The first study session on which every exchange of the basket's constituents trades.

    Raises :class:`DateRangeError` when the period has none."""
    all_open = panel.all_open(basket.symbols)
    if not all_open.any():
        raise DateRangeError(
            f"basket '{basket.name}': no session from {panel.sessions[0].date()} to "
            f"{panel.sessions[-1].date()} on which all its exchanges trade",
            "choose a longer period",
        )
    return all_open.index[all_open.to_numpy()][0]


def target_weights(
    panel: Panel,
    baskets: Sequence[Basket],
    schedules: Mapping[str, str],
    prices: PriceSet,
) -> tuple[
    pd.DataFrame,
    pd.DataFrame,
    dict[str, list[pd.Timestamp]],
    dict[str, Targets],
    dict[str, pd.Timestamp],
]:
    """Close prices and target-weight orders with ``(basket, symbol)`` columns, each basket's
    rebalancing sessions, targets and purchase session.

    Orders are NaN (no order) except on the purchase session and each rebalancing or review
    session (:func:`engine.portfolio.targets.basket_targets` gives the weights).
    """
    rebalances, targets, purchases = {}, {}, {}
    all_prices = panel.prices.to_numpy()
    positions, sizes, labels = [], [], []
    for basket in baskets:
        symbols = basket.symbols
        bought = purchases[basket.name] = purchase_session(panel, basket)
        days = SCHEDULES[schedules[basket.name]](panel.all_open(symbols), bought)
        plan = targets[basket.name] = basket_targets(basket, panel, prices, bought, days)
        rebalances[basket.name] = plan.rebalances
        size = np.full((len(panel.sessions), len(symbols)), np.nan)
        size[panel.sessions.get_indexer(plan.weights.index)] = plan.weights.to_numpy()
        found = panel.prices.columns.get_indexer(symbols)
        if (found < 0).any():
            raise KeyError(f"{basket.name}: not in the panel: {np.asarray(symbols)[found < 0]}")
        positions.append(found)
        sizes.append(size)
        labels += [(basket.name, symbol) for symbol in symbols]
    # One frame each for all baskets: building one per basket and concatenating them costs
    # more than the simulation when leave-one-out runs a backtest per basket.
    columns = pd.MultiIndex.from_tuples(labels, names=["basket", "symbol"])
    close = pd.DataFrame(all_prices[:, np.concatenate(positions)], panel.sessions, columns)
    size = pd.DataFrame(np.concatenate(sizes, axis=1), panel.sessions, columns)
    return close, size, rebalances, targets, purchases


def _fees_by_basket(records: np.ndarray, columns: pd.MultiIndex) -> pd.Series:
    """Fees per basket from vectorbt's order records (fields ``col`` and ``fees``)."""
    per_column = np.bincount(records["col"], weights=records["fees"], minlength=len(columns))
    baskets = columns.get_level_values("basket")
    return pd.Series(per_column, index=baskets).groupby(level=0, sort=False).sum()


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

    The schedule of a basket is ``rebalance`` if given (the command line), else the basket's own,
    else ``default_rebalance`` (the study's).  ``fees`` is proportional (0.001 = 10 bp).
    ``simulator`` runs the orders (default :func:`engine.portfolio.orders.simulate`: the
    compiled engine, else ``vbt.Portfolio``).
    """
    schedules = {b.name: rebalance or b.rebalance or default_rebalance for b in baskets}
    close, size, rebalances, targets, bought = target_weights(panel, baskets, schedules, prices)
    simulated, notes, executions = simulate_baskets(
        close.to_numpy(),
        size.to_numpy(),
        baskets,
        targets,
        panel,
        prices,
        fees=fees,
        init_cash=INITIAL_CASH,
        simulator=simulator or simulate,
    )
    names = [b.name for b in baskets]
    holdings = pd.DataFrame(simulated.asset_value, close.index, close.columns)
    # Each constituent's profit: what it is worth at the end plus every cash flow it caused
    # (purchases, sales, fees).  These add up to the basket's total return exactly.
    profit = holdings.iloc[-1] + pd.Series(simulated.cash_flow.sum(axis=0), close.columns)
    return BacktestResult(
        equity=pd.DataFrame(simulated.value, close.index, pd.Index(names)),
        holdings=holdings,
        contributions=profit / INITIAL_CASH,
        rebalances=rebalances,
        fees=_fees_by_basket(simulated.records, close.columns) / INITIAL_CASH,
        schedules=schedules,
        bought=bought,
        targets=targets,
        notes=notes,
        executions=executions,
    )
