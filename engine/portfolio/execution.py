"""Trading a basket as its markets trade: costs by side, board lots, price limits, suspensions.

A basket with ``costs: market``, a ``commission:`` or a ``capital:`` is not simulated as
frictionless target-percent orders.  Its orders are planned here, session by session, from its
target weights (:mod:`engine.portfolio.targets`), and handed to vectorbt as share amounts with
per-order fees (``size_type="amount"``, per-element ``fees`` and ``fixed_fees``), so that
vectorbt keeps the books exactly as planned:

* **costs**: on each order, the statutory rates in force that day for its market and side
  (:mod:`engine.portfolio.costs`; a plain number is proportional on both sides), plus the
  commission ``max(rate * value, minimum)`` (minimum in the listing's currency);
* **capital and board lots** (only with ``capital``): whole lots of shares, bought with the
  capital in the report currency: A-shares 100 (STAR Market, 688/689: at least 200, then steps
  of 1; an odd remainder is sold only whole), Hong Kong the constituent's ``lot:`` (100 assumed,
  and noted, when it has none), US 1; what cannot buy a lot stays cash (cash drag);
* **price limits** (A-shares): a stock that closes at its limit-up price cannot be bought at that
  close, one at its limit-down cannot be sold (:func:`limit_closes`; none in a listing's first
  five sessions, the first five bars of its series);
* **suspensions**: a stock without a bar on a session of its own exchange is not traded.

A blocked order waits: it is placed again, for the same target weight of the basket's value
then, on each following session until it can trade, and a note says so.  On each trading
session sells run before buys; a buy the cash cannot pay is cut to what it can (whole lots),
and placed again once a deferred sale has brought the cash.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.config.baskets import Basket
from engine.data.limits import A_SHARE_TICK, price_limit
from engine.data.prices import PriceHistory, PriceSet
from engine.market.panel import Panel
from engine.portfolio.costs import KINDS, market_rates
from engine.portfolio.orders import Orders, Simulated
from engine.portfolio.targets import Targets

#: Risk-warning (ST) shares on the main boards: ±5 % limits until this day, ±10 % from it.
ST_LIMIT_CHANGE = pd.Timestamp("2026-07-06")
ST_LIMITS = (0.05, 0.10)
#: A new listing trades without price limits for this many sessions.
LISTING_SESSIONS = 5
#: Board lot assumed for a Hong Kong listing without ``lot:``.
HK_DEFAULT_LOT = 100
#: STAR Market: a buy is at least this many shares, then any whole number.
STAR_MINIMUM = 200
#: Share of the cash a planned buy leaves unspent so that float rounding never makes vectorbt
#: cut it (a cut buy would round down a whole lot).
CASH_MARGIN = 1e-12
#: Orders worth at most this share of the basket are not placed (the crumbs of float sums).
DUST = 1e-9


@dataclass(frozen=True)
class Lot:
    """Shares an order can trade: ``step`` (0: any fraction) and the ``minimum`` of a buy."""

    minimum: float
    step: float

    def round_down(self, shares: float) -> float:
        if self.step == 0:
            return shares
        whole = math.floor(shares / self.step + 1e-9) * self.step
        return whole if whole >= self.minimum else 0.0


def board_lot(symbol: str, calendar: str, given: int | None) -> tuple[Lot, bool]:
    """The board lot of a listing and whether it was assumed (a Hong Kong stock without
    ``lot:``).  ``given`` (the constituent's ``lot:``) wins everywhere."""
    if given is not None:
        return Lot(given, given), False
    if calendar == "XSHG" and symbol[-3:] in (".SS", ".SZ"):
        if symbol.startswith(("688", "689")) and symbol.endswith(".SS"):
            return Lot(STAR_MINIMUM, 1), False
        return Lot(100, 100), False
    if calendar == "XHKG":
        return Lot(HK_DEFAULT_LOT, HK_DEFAULT_LOT), True
    return Lot(1, 1), False


def limit_closes(
    history: PriceHistory, days: pd.DatetimeIndex, *, st: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Whether the stock closed at its limit-up / limit-down price on each of ``days``
    (False where it has no bar or no limit).

    The limit price is the previous raw close times ``1 ± limit`` rounded to the 0.01 CNY tick
    (board limits of :func:`engine.data.limits.price_limit`; ST shares ±5 %, ±10 % from
    :data:`ST_LIMIT_CHANGE` on the main boards).  Adjusted prices move by the same ratio as raw
    ones, so the move is measured on adjusted closes; the tick rounding moves the limit by at
    most half a tick, ``0.005 / previous close``; and a limit close is the day's high (limit-up)
    or low (limit-down) where the data have them.  The first :data:`LISTING_SESSIONS` bars of
    the series have no limit (a listing's first sessions).
    """
    frame = history.frame
    closes = frame["adj_close"].fillna(frame["close"]).to_numpy()
    raw = frame["close"].to_numpy()
    bar_days = frame.index
    up = np.zeros(len(bar_days), dtype=bool)
    down = np.zeros(len(bar_days), dtype=bool)
    limits = np.array([price_limit(history.symbol, d) or np.nan for d in bar_days])
    if st:
        main_board = limits == 0.10
        st_limit = np.where(bar_days >= ST_LIMIT_CHANGE, ST_LIMITS[1], ST_LIMITS[0])
        limits = np.where(main_board, st_limit, limits)
    if len(closes) > 1 and np.isfinite(limits).any():
        move = closes[1:] / closes[:-1] - 1
        slack = (A_SHARE_TICK / 2) / raw[:-1] + 1e-9
        high = frame["high"].to_numpy()[1:]
        low = frame["low"].to_numpy()[1:]
        at_high = np.isnan(high) | (raw[1:] >= high - 1e-9)
        at_low = np.isnan(low) | (raw[1:] <= low + 1e-9)
        with np.errstate(invalid="ignore"):
            up[1:] = (move >= limits[1:] - slack) & at_high
            down[1:] = (move <= -limits[1:] + slack) & at_low
        # New listings trade without limits for five sessions; a series is taken to start at
        # the listing, as the data-quality checks take it.
        up[:LISTING_SESSIONS] = down[:LISTING_SESSIONS] = False
    on_days = pd.Series(up, bar_days).reindex(days, fill_value=False).to_numpy(bool)
    off_days = pd.Series(down, bar_days).reindex(days, fill_value=False).to_numpy(bool)
    return on_days, off_days


@dataclass
class Execution:
    """A basket's planned orders, per session and constituent: ``shares`` (signed amounts),
    ``fee_rate`` and ``fixed_fee`` (vectorbt's ``fees`` and ``fixed_fees``), in units of the
    starting ``capital``; ``cash`` after each session (report currency); ``costs`` paid by kind
    (report currency); ``notes`` (deferred orders, assumed lots)."""

    capital: float
    shares: np.ndarray
    fee_rate: np.ndarray
    fixed_fee: np.ndarray
    cash: np.ndarray
    costs: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary_notes(self, equity: pd.Series) -> list[str]:
        """Costs by kind, cash drag and the orders' notes; ``equity``: the basket's value per
        session per unit of starting capital."""
        share = self.cash / (equity.to_numpy() * self.capital)
        return [
            self.cost_note(),
            f"cash {share.mean():.2%} of the value on average, {share[-1]:.2%} at the end "
            "(cash drag)",
            *self.notes,
        ]

    def cost_note(self) -> str:
        """``costs: commission 0.031 %, stamp duty 0.050 %, ...`` of the starting capital."""
        paid = ", ".join(
            f"{kind.replace('_', ' ')} {amount / self.capital:.3%}"
            for kind, amount in self.costs.items()
            if amount > 0
        )
        return f"costs {paid or 'none'} of the starting capital"


def _side_rates(
    basket: Basket, panel: Panel, fees: float
) -> dict[str, dict[str, np.ndarray]]:
    """Rate per kind of cost, per side, shape ``(n_sessions, n_constituents)``."""
    days, symbols = panel.sessions, basket.symbols
    rates: dict[str, dict[str, np.ndarray]] = {}
    for side in ("buy", "sell"):
        per_kind = {kind: np.zeros((len(days), len(symbols))) for kind in KINDS}
        for j, symbol in enumerate(symbols):
            if basket.costs == "market":
                for kind, rate in market_rates(panel.listings[symbol].calendar, side, days).items():
                    per_kind[kind][:, j] = rate
            else:
                per_kind["fees"][:, j] = fees if basket.costs is None else basket.costs
        rates[side] = per_kind
    return rates


def _listed(symbols: Sequence[str]) -> str:
    """``A, B, C`` or ``A, B, C and 4 more``."""
    shown = ", ".join(symbols[:3])
    return shown + (f" and {len(symbols) - 3} more" if len(symbols) > 3 else "")


def _affordable(cash: float, price: float, rate: float, commission: float, minimum: float) -> float:
    """The most shares ``cash`` pays for at ``price`` with costs ``rate`` and a commission of
    ``max(commission * value, minimum)``."""
    shares = cash / (price * (1 + rate + commission))
    if commission * shares * price < minimum:
        shares = max(cash - minimum, 0.0) / (price * (1 + rate))
    return shares * (1 - CASH_MARGIN)


def plan_orders(
    basket: Basket, targets: Targets, panel: Panel, prices: PriceSet, *, fees: float = 0.0
) -> Execution:
    """The orders of ``basket`` (see the module docstring), session by session."""
    symbols, days = basket.symbols, panel.sessions
    price = panel.prices[symbols].to_numpy()
    to_report = (panel.prices[symbols] / panel.local[symbols]).to_numpy()
    has_bar = np.column_stack([days.isin(prices[s].frame.index) for s in symbols])
    tradable = panel.open[symbols].to_numpy() & has_bar
    flags = [
        limit_closes(prices[c.symbol], days, st=c.st) for c in basket.constituents
    ]
    limit_up = np.column_stack([u for u, _ in flags])
    limit_down = np.column_stack([d for _, d in flags])
    rates = _side_rates(basket, panel, fees)
    statutory = {side: sum(rates[side].values()) for side in rates}
    commission = basket.commission.rate if basket.commission else 0.0
    minimum = (basket.commission.minimum if basket.commission else 0.0) * to_report
    notes: list[str] = []
    lots, assumed = [], []
    for c in basket.constituents:
        if basket.capital is None:
            lots.append(Lot(0.0, 0.0))
            continue
        lot, guessed = board_lot(c.symbol, panel.listings[c.symbol].calendar, c.lot)
        lots.append(lot)
        if guessed:
            assumed.append(c.symbol)
    if assumed:
        notes.append(
            f"board lot of {HK_DEFAULT_LOT} shares assumed for {_listed(assumed)} "
            "(set 'lot:' on the constituent)"
        )
    deferred: dict[tuple[str, pd.Timestamp, pd.Timestamp, str], list[str]] = {}

    capital = basket.capital or 1.0
    n_days, n = price.shape
    shares = np.zeros((n_days, n))
    fee_rate = np.zeros((n_days, n))
    fixed_fee = np.zeros((n_days, n))
    cash_after = np.zeros(n_days)
    costs = dict.fromkeys(KINDS, 0.0)
    held = np.zeros(n)
    cash = capital
    wanted = np.full(n, np.nan)
    waiting: dict[int, tuple[pd.Timestamp, str]] = {}
    trading = dict(
        zip(days.get_indexer(targets.weights.index), targets.weights.to_numpy(), strict=True)
    )
    start = min(trading)

    def pay(t: int, j: int, amount: float, side: str) -> float:
        """Book an order of ``amount`` shares; returns its total cost."""
        gross = amount * price[t, j]
        commission_paid = max(commission * gross, minimum[t, j]) if gross > 0 else 0.0
        for kind, rate in rates[side].items():
            costs[kind] += gross * rate[t, j]
        costs["commission"] += commission_paid
        shares[t, j] = amount if side == "buy" else -amount
        fee_rate[t, j] = statutory[side][t, j] + commission
        fixed_fee[t, j] = max(0.0, minimum[t, j] - commission * gross)
        if j in waiting:
            since, why = waiting.pop(j)
            deferred.setdefault((side, since, days[t], why), []).append(symbols[j])
        return gross * statutory[side][t, j] + commission_paid

    for t in range(start, n_days):
        if t in trading:
            wanted[:] = trading[t]
        orders = np.flatnonzero(~np.isnan(wanted))
        if len(orders) == 0:
            cash_after[t] = cash
            continue
        value = cash + held @ price[t]
        goal = held.copy()
        for j in orders:
            goal[j] = lots[j].round_down(wanted[j] * value / price[t, j])
        sells, buys = [], []
        for j in orders:
            delta = goal[j] - held[j]
            odd_remainder = 0 < -delta < lots[j].minimum and goal[j] > 0
            if abs(delta) < 1e-12 * max(held[j], 1.0) or odd_remainder:
                wanted[j] = np.nan
                continue
            reason = (
                "suspended: no bar" if not tradable[t, j]
                else "closed at limit-up" if delta > 0 and limit_up[t, j]
                else "closed at limit-down" if delta < 0 and limit_down[t, j]
                else None
            )
            if reason:
                waiting.setdefault(j, (days[t], reason))
                continue
            (buys if delta > 0 else sells).append((j, abs(delta)))
        for j, amount in sells:
            cash += amount * price[t, j] - pay(t, j, amount, "sell")
            held[j] -= amount
            wanted[j] = np.nan
        # A buy short of cash while a sale waits is placed again once the sale has gone through.
        sale_waits = any(goal[k] < held[k] for k in waiting)
        for j, requested in buys:
            most = _affordable(
                cash, price[t, j], statutory["buy"][t, j], commission, minimum[t, j]
            )
            amount = lots[j].round_down(min(requested, most))
            if not (sale_waits and amount < requested):
                wanted[j] = np.nan
            if amount * price[t, j] <= DUST * value:
                continue
            cash -= amount * price[t, j] + pay(t, j, amount, "buy")
            held[j] += amount
        cash_after[t] = cash
    cash_after[:start] = capital
    for (side, since, until, why), names in deferred.items():
        notes.append(
            f"{side} of {_listed(names)} deferred from {since.date()} to {until.date()} ({why})"
        )
    for j, (since, why) in waiting.items():
        notes.append(f"order of {symbols[j]} of {since.date()} never filled ({why} to the end)")
    return Execution(
        capital=capital,
        shares=shares / capital,
        fee_rate=fee_rate,
        fixed_fee=fixed_fee / capital,
        cash=cash_after,
        costs=costs,
        notes=notes,
    )


def _stitch(parts: Sequence[tuple[np.ndarray, np.ndarray, Simulated]], shape, groups: int):
    """One :class:`Simulated` from simulations of subsets: ``(columns, groups, simulated)``
    each, columns and groups as positions in the whole."""
    if len(parts) == 1:
        return parts[0][2]  # one kind of basket: the simulation covers every column in order
    value = np.zeros((shape[0], groups))
    asset_value = np.zeros(shape)
    cash_flow = np.zeros(shape)
    records = []
    for columns, group_ids, part in parts:
        value[:, group_ids] = part.value
        asset_value[:, columns] = part.asset_value
        cash_flow[:, columns] = part.cash_flow
        moved = part.records.copy()
        moved["col"] = columns[moved["col"]]
        records.append(moved)
    joined = np.concatenate(records)
    joined = joined[np.lexsort((joined["col"], joined["idx"]))]
    joined["id"] = np.arange(len(joined))
    return Simulated(joined, value, asset_value, cash_flow)


def simulate_baskets(
    close: np.ndarray,
    size: np.ndarray,
    baskets: Sequence[Basket],
    targets: dict[str, Targets],
    panel: Panel,
    prices: PriceSet,
    *,
    fees: float,
    init_cash: float,
    simulator: Callable[[Orders], tuple[Simulated, list[str]]],
) -> tuple[Simulated, list[str], dict[str, Execution]]:
    """Simulate every basket in at most two vectorbt calls: the frictionless ones as
    target-percent orders (``close``, ``size``, columns grouped per basket, proportional
    ``fees`` or the basket's own ``costs:`` number), the ones traded like the market as the
    share amounts :func:`plan_orders` plans.  Values come back per unit of starting cash."""
    group_lens = np.array([len(b.symbols) for b in baskets])
    first_column = np.concatenate([[0], np.cumsum(group_lens)[:-1]])
    columns_of = [np.arange(s, s + n) for s, n in zip(first_column, group_lens, strict=True)]
    market = [i for i, b in enumerate(baskets) if b.trades_like_the_market]
    plain = [i for i, b in enumerate(baskets) if not b.trades_like_the_market]
    parts, notes, executions = [], [], {}
    if plain:
        columns = np.concatenate([columns_of[i] for i in plain])
        own_fees = np.concatenate(
            [
                np.full(group_lens[i], fees if baskets[i].costs is None else baskets[i].costs)
                for i in plain
            ]
        )
        simulated, said = simulator(
            Orders(
                close=close[:, columns],
                size=size[:, columns],
                group_lens=group_lens[plain],
                init_cash=init_cash,
                size_type="targetpercent",
                order_args={"fees": own_fees} if np.any(own_fees != fees) else {"fees": fees},
            )
        )
        parts.append((columns, np.array(plain), simulated))
        notes += said
    if market:
        for i in market:
            basket = baskets[i]
            executions[basket.name] = plan_orders(
                basket, targets[basket.name], panel, prices, fees=fees
            )
        columns = np.concatenate([columns_of[i] for i in market])
        plans = [executions[baskets[i].name] for i in market]
        simulated, said = simulator(
            Orders(
                close=close[:, columns],
                size=np.where(
                    np.hstack([p.shares for p in plans]) == 0,
                    np.nan,
                    np.hstack([p.shares for p in plans]),
                )
                * init_cash,
                group_lens=group_lens[market],
                init_cash=init_cash,
                size_type="amount",
                order_args={
                    "fees": np.hstack([p.fee_rate for p in plans]),
                    "fixed_fees": np.hstack([p.fixed_fee for p in plans]) * init_cash,
                },
            )
        )
        parts.append((columns, np.array(market), simulated))
        notes += [n for n in said if n not in notes]
    return _stitch(parts, close.shape, len(baskets)), notes, executions
