"""The fast kernel: many target-weight baskets over one price matrix, vectorbt's semantics.

Every basket is a row of column indices into one price matrix (``prices``, shape
``(n_sessions, n_symbols)``, report currency, no NaN from the purchase on) with target weights
per slot.  It is bought at the close of the first session where ``trade`` is true (cash until
then) and traded back to its weights at the close of every later one, exactly as
:func:`vectorbt.Portfolio.from_orders` does with ``size_type="targetpercent"``, one group with
shared cash, ``call_seq="auto"``, proportional ``fees`` and the default ``update_value=False``:

* the group's value ``V = cash + sum_j n_j p_j`` is taken once, at the session's closes, before
  any order; slot ``j``'s order is ``w_j V / p_j - n_j`` shares;
* orders run in ascending order of their value ``w_j V - n_j p_j`` (stable: ties keep the slot
  order), so sells come before buys;
* a sale of ``q`` shares adds ``q p (1 - fees)`` to cash; a purchase costs ``q p (1 + fees)``
  (fees on top of the traded value) and, when that exceeds the cash left, is cut to
  ``q = cash / (1 + fees) / p`` (the largest buy cut to the cash left);
* vectorbt's float tolerances (``rel_tol = 1e-9``, ``abs_tol = 1e-12`` of
  :mod:`vectorbt.utils.math_`) decide when cash or a position is zero and when an order is empty;
  an order of fewer than ``min_size`` (1e-8) shares is refused, as vectorbt 1.2 does.

The value on each session is ``cash + sum_j n_j p_j``.  The targets are the same on every
trading session, or given per trading session (members joining and leaving, weights a rule
recomputes), for all baskets or per basket.

Baskets are simulated one after another in compiled code (numba), in blocks that numba's
threads take as they come free (a basket's numbers do not depend on the number of threads), so
memory is the price matrix plus what the caller keeps per basket: :func:`basket_statistics`
keeps four numbers per basket, computed while the basket's value path is in cache.  Where
the time goes (one core, 10-stock baskets, 782 sessions, 37 trading sessions): about two
thirds in the orders (some 200 ns per rebalance: vectorbt's order rules carry the cash from
order to order and branch on it), the rest in summing the value path and its statistics
(loops over slices from index 0, which the compiler vectorises).
"""

from __future__ import annotations

import math

import numpy as np

from engine.portfolio.orders import ORDER_DEFAULTS, numba_cache_dir
from engine.portfolio.simulation import INITIAL_CASH

numba_cache_dir()
import numba  # noqa: E402  (the cache folder must be set before numba is imported)

REL_TOL = 1e-9
ABS_TOL = 1e-12
#: vectorbt 1.2 refuses an order of fewer shares than this (``settings["portfolio"]``).
MIN_SIZE = float(ORDER_DEFAULTS["min_size"][0])
#: Columns of :func:`basket_statistics`.
STATISTICS = ("total_return", "sharpe", "max_drawdown", "volatility")
#: Baskets per block of work handed to a thread (a few milliseconds each).
BLOCK = 256


@numba.njit(cache=True, inline="always", error_model="numpy")
def _is_close(a: float, b: float) -> bool:
    if a == b:
        return True
    return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _is_less(a: float, b: float) -> bool:
    return not _is_close(a, b) and a < b


@numba.njit(cache=True, inline="always", error_model="numpy")
def _add(a: float, b: float) -> float:
    """``a + b``, exactly 0 when the two cancel within the tolerances (vectorbt's add_nb)."""
    zero = _is_close(abs(a), abs(b)) if np.sign(a) != np.sign(b) else _is_close(a + b, 0.0)
    return 0.0 if zero else a + b


@numba.njit(cache=True, error_model="numpy")
def _trade(prices, slots, weights, t, fees, cash, shares, order, order_value):
    """Trade one basket back to its weights at the closes of session ``t``; returns the cash
    left (``shares`` are updated in place, ``order`` and ``order_value`` are scratch)."""
    k = slots.shape[0]
    value = cash
    for j in range(k):
        if shares[j] != 0:
            value += shares[j] * prices[slots[j], t]
    # Insertion argsort of the order values (vectorbt's insert_argsort_nb: stable).
    for j in range(k):
        order_value[j] = weights[j] * value - shares[j] * prices[slots[j], t]
        order[j] = j
    for j in range(1, k):
        key, moved = order_value[j], order[j]
        i = j - 1
        while i >= 0 and key < order_value[i]:
            order_value[i + 1] = order_value[i]
            order[i + 1] = order[i]
            i -= 1
        order_value[i + 1] = key
        order[i + 1] = moved
    for n in range(k):
        j = order[n]
        price = prices[slots[j], t]
        if _is_close(cash, 0.0):
            cash = 0.0
        held = 0.0 if _is_close(shares[j], 0.0) else shares[j]
        shares[j] = held  # vectorbt keeps the snapped position even when it skips
        size = weights[j] * value / price - held
        if size > 0:
            if cash == 0:
                continue  # vectorbt rejects a buy without cash
            cost = size * price
            total = cost + cost * fees
            if _is_close(total, cash) or total < cash:
                bought, paid = size, total
            else:
                spendable = cash / (1 + fees)
                if spendable <= 0:
                    continue
                bought, paid = spendable / price, cash
            if _is_close(size, 0.0) or _is_less(bought, MIN_SIZE):
                continue
            cash = _add(cash, -paid)
            shares[j] = _add(held, bought)
        else:
            sold = -size
            if _is_close(sold, 0.0) or _is_less(sold, MIN_SIZE):
                continue
            proceeds = sold * price
            net = _add(proceeds, -proceeds * fees)
            if net < 0:
                continue
            cash = cash + net
            shares[j] = _add(held, -sold)
    return cash


@numba.njit(cache=True, error_model="numpy")
def _simulate_one(prices, slots, weights, trades, fees, init_cash, shares, order, order_value,
                  values):
    """One basket: ``values[t]`` for every session.  ``trades`` are the sessions it trades on,
    ascending; ``weights`` its targets on each of them (``(len(trades), k)``) or on all
    (``(1, k)``); ``shares``, ``order``, ``order_value`` are scratch arrays."""
    cash = init_cash
    shares[:] = 0.0
    sessions = prices.shape[1]
    values[: trades[0]] = init_cash  # cash until the purchase
    for n in range(trades.shape[0]):
        first = trades[n]
        last = trades[n + 1] if n + 1 < trades.shape[0] else sessions
        targets = weights[n if weights.shape[0] > 1 else 0]
        cash = _trade(prices, slots, targets, first, fees, cash, shares, order, order_value)
        # Between trades the holdings are fixed: value = cash + sum_j n_j p_jt, summed in the
        # slot order, one symbol's contiguous closes at a time.  The loop runs over slices
        # from 0 so that the compiler knows no index is negative and vectorises it.
        segment = values[first:last]
        segment[:] = cash
        for j in range(slots.shape[0]):
            if shares[j] != 0:
                held, row = shares[j], prices[slots[j], first:last]
                for t in range(segment.shape[0]):
                    segment[t] += held * row[t]


@numba.njit(cache=True, error_model="numpy")
def _values_nb(prices, baskets, weights, trades, fees, init_cash):
    n, k = baskets.shape
    out = np.empty((n, prices.shape[1]))
    shares, order_value = np.empty(k), np.empty(k)
    order = np.empty(k, dtype=np.int64)
    for b in range(n):
        _simulate_one(
            prices, baskets[b], weights[b % weights.shape[0]], trades, fees, init_cash, shares,
            order, order_value, out[b],
        )
    return out


@numba.njit(cache=True, error_model="numpy", parallel=True)
def _statistics_nb(prices, baskets, weights, trades, fees, init_cash, periods, blocks):
    """The statistics of every basket, in ``blocks`` runs of baskets shared out to numba's
    threads as they come free (each basket's numbers depend on nothing else: not on the
    number of threads)."""
    n = baskets.shape[0]
    out = np.empty((n, 4))
    for block in numba.prange(blocks):
        first, last = n * block // blocks, n * (block + 1) // blocks
        _statistics_block(prices, baskets, weights, trades, fees, init_cash, periods, out,
                          first, last)
    return out


@numba.njit(cache=True, error_model="numpy")
def _statistics_block(prices, baskets, weights, trades, fees, init_cash, periods, out,
                      first, last):
    k = baskets.shape[1]
    sessions = prices.shape[1]
    values, returns = np.empty(sessions), np.empty(max(sessions - 1, 0))
    shares, order_value = np.empty(k), np.empty(k)
    order = np.empty(k, dtype=np.int64)
    for b in range(first, last):
        _simulate_one(
            prices, baskets[b], weights[b % weights.shape[0]], trades, fees, init_cash, shares,
            order, order_value, values,
        )
        # Maximum drawdown from the starting cash on (a division only at a new low).
        peak, trough = init_cash, 1.0
        for t in range(sessions):
            if values[t] > peak:
                peak = values[t]
            elif values[t] < trough * peak:
                trough = values[t] / peak
        drawdown = trough - 1.0
        final = values[sessions - 1]
        # Daily returns from the session after the purchase, sd ddof 1.  The returns loop
        # has no chain and runs over slices from 0 (vectorised); the sums keep their order.
        later, earlier = values[1:], values[:-1]
        for t in range(returns.shape[0]):
            returns[t] = later[t] / earlier[t] - 1.0
        total = 0.0
        for t in range(returns.shape[0] - 1, -1, -1):
            total += returns[t]
        mean = total / (sessions - 1)
        squares = 0.0
        for t in range(returns.shape[0]):
            deviation = returns[t] - mean
            squares += deviation * deviation
        sd = math.sqrt(squares / (sessions - 2)) if sessions > 2 else math.nan
        out[b, 0] = final / init_cash - 1.0
        out[b, 1] = mean / sd * math.sqrt(periods) if sd > 0 else math.nan
        out[b, 2] = drawdown
        out[b, 3] = sd * math.sqrt(periods)


def _checked(prices, baskets, weights, trade, fees):
    prices = np.ascontiguousarray(prices, dtype=np.float64)
    baskets = np.ascontiguousarray(baskets, dtype=np.int64)
    trade = np.ascontiguousarray(trade, dtype=np.bool_)
    if trade.shape != (prices.shape[0],) or not trade.any():
        raise ValueError("trade must have one flag per session (row of prices), one at least")
    weights = np.asarray(weights, dtype=np.float64)
    if baskets.ndim != 2:
        raise ValueError("baskets must be (n, k) column indices")
    n, k = baskets.shape
    if weights.ndim < 3 and weights.shape in ((n, k), (k,)):
        weights = weights.reshape(-1, 1, k)
    if weights.ndim != 3 or weights.shape[0] not in (1, n) or weights.shape[1] not in (
        1, int(trade.sum())
    ) or weights.shape[2] != k:
        raise ValueError(
            "weights must be (k,) or (n, k) for baskets (n, k) column indices, or (1 or n, "
            "trading sessions, k) for targets that change"
        )
    # A writable copy always (a read-only view would compile a second kernel).
    weights = np.array(weights, order="C")
    # One symbol's sessions contiguous: a basket reads k short streams, not k scattered cells.
    by_symbol = np.ascontiguousarray(prices.T)
    return by_symbol, baskets, weights, np.flatnonzero(trade), float(fees)


def basket_values(prices, baskets, weights, trade, fees: float = 0.0) -> np.ndarray:
    """Value of each basket on each session, shape ``(n_baskets, n_sessions)``, starting cash
    :data:`engine.portfolio.simulation.INITIAL_CASH`.

    ``prices``: ``(n_sessions, n_symbols)``; ``baskets``: ``(n_baskets, k)`` column indices;
    ``weights``: ``(k,)`` or ``(n_baskets, k)`` target weights, or per trading session
    ``(1 or n_baskets, n_trading_sessions, k)``; ``trade``: bool per session,
    the first true one the purchase (cash before it); ``fees``: proportional (0.001 = 10 bp)."""
    return _values_nb(*_checked(prices, baskets, weights, trade, fees), INITIAL_CASH)


def basket_statistics(
    prices,
    baskets,
    weights,
    trade,
    fees: float = 0.0,
    *,
    periods_per_year: int,
    chunk: int = 20_000,
    progress=None,
) -> np.ndarray:
    """Per basket ``total_return, sharpe, max_drawdown, volatility`` (:data:`STATISTICS`) with
    the formulas of :mod:`engine.analysis.metrics` (which passes its ``periods_per_year``):
    total against the starting cash, Sharpe ``mean(r) / sd(r) * sqrt(P)`` and volatility
    ``sd(r) * sqrt(P)`` of the daily returns
    after the purchase (ddof 1), maximum drawdown from the starting cash on.

    Works through ``chunk`` baskets at a time (``progress(done)`` after each); memory beyond
    the inputs is four floats per basket (``(k,)`` weights are shared, not copied per
    basket)."""
    prices, baskets, weights, trades, fees = _checked(prices, baskets, weights, trade, fees)
    out = np.empty((len(baskets), len(STATISTICS)))
    for first in range(0, len(baskets), chunk):
        last = min(first + chunk, len(baskets))
        # Many small blocks handed out one at a time: a thread slowed by another process on
        # the machine does not hold up the chunk.
        shared = weights if len(weights) == 1 else weights[first:last]
        with numba.parallel_chunksize(1):
            out[first:last] = _statistics_nb(
                prices, baskets[first:last], shared, trades, fees, INITIAL_CASH,
                periods_per_year, max(1, (last - first) // BLOCK),
            )
        if progress is not None:
            progress(last)
    return out
