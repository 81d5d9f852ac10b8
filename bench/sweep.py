"""Speed of the random-basket kernel against a plain numpy reference and vectorbt.

    OPENBLAS_NUM_THREADS=1 python bench/sweep.py [--universe FILE] [--sizes 10000,100000,1000000]
                                                 [--no-vectorbt]

In one process and one run: random 10-stock baskets drawn from the universe's stocks that trade
through the whole period (three years to the last A-share date, local closes carried over the
union of the markets' dates), bought at the first session, rebalanced to equal weights on the
first session of every month, 10 bp fees.  For each size it times

* the engine's kernel (:func:`engine.portfolio.kernel.basket_statistics`: total return, Sharpe,
  maximum drawdown, volatility per basket, in chunks),
* a plain numpy reference written here (the same orders, vectorised over baskets),
* and, for the first size only, vectorbt's ``Portfolio.from_orders`` (chunks of 1,000 baskets),

and prints the time to draw the baskets, baskets per second, the CPU time per basket (all
threads; on a loaded machine the wall time is not the cost), the ratios, the largest
differences between them, the memory
the draws and the kernel take (numpy's allocations, traced) and the peak resident memory of the
whole process (the universe read included) after each size.  Not a test: figures depend on
the machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from engine.analysis.metrics import PERIODS_PER_YEAR  # noqa: E402
from engine.analysis.null import draw_baskets  # noqa: E402
from engine.data.universe import UniverseSource  # noqa: E402
from engine.portfolio.kernel import basket_statistics, basket_values  # noqa: E402

SIZE, FEES, YEARS = 10, 0.001, 3
#: vectorbt 1.2 refuses orders of fewer shares (its ``min_size`` default).
MIN_SIZE = 1e-8
VECTORBT_CHUNK = 1_000


def universe_prices(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Closes (sessions x stocks) of the stocks with a close at the start and the end, carried
    forward, and the monthly trading flags."""
    source = UniverseSource(path)
    end = pd.Timestamp("2025-08-22")
    matrix = source.matrix(end - pd.DateOffset(years=YEARS), end)
    closes = pd.DataFrame(matrix.closes, index=matrix.dates).ffill().to_numpy()
    keep = np.isfinite(closes[0]) & np.isfinite(closes[-1])
    months = matrix.dates.to_period("M")
    trade = np.r_[True, months[1:] != months[:-1]]
    return closes[:, keep], trade


def numpy_reference(prices: np.ndarray, baskets: np.ndarray, trade: np.ndarray,
                    fees: float, chunk: int = 10_000) -> np.ndarray:
    """Total return, Sharpe, maximum drawdown and volatility of equal-weight baskets traded on
    ``trade`` with vectorbt's order semantics (value at the closes; orders in ascending order
    of their value, sells first; fees on top; the last buys cut to the cash left; orders of
    fewer than ``MIN_SIZE`` shares refused), in numpy."""
    out = np.empty((len(baskets), 4))
    k = baskets.shape[1]
    weight = 1.0 / k
    days = np.flatnonzero(trade)
    ends = np.r_[days[1:], len(prices)]
    for first in range(0, len(baskets), chunk):
        cols = baskets[first:first + chunk]
        n = len(cols)
        cash, shares = np.ones(n), np.zeros((n, k))
        values = np.empty((n, len(prices)))
        rows = np.arange(n)[:, None]
        for day, stop in zip(days, ends, strict=True):
            p = prices[day][cols]
            # Summed in slot order as vectorbt does: near-equal order values then sort alike.
            value = cash.copy()
            for j in range(k):
                value += shares[:, j] * p[:, j]
            order = np.argsort(weight * value[:, None] - shares * p, axis=1, kind="stable")
            for step in range(k):
                j = order[:, step]
                price = p[rows[:, 0], j]
                size = weight * value / price - shares[rows[:, 0], j]
                size = np.where(np.abs(size) < MIN_SIZE, 0.0, size)  # vectorbt refuses these
                sell = size < 0
                # The float operations in vectorbt's order (buy_nb, sell_nb): exact ties in the
                # order values (prices unchanged since the last trade) then break alike.
                proceeds = -size * price
                cash = np.where(sell, cash + (proceeds - proceeds * fees), cash)
                traded = size * price
                cost = traded + traded * fees
                full = ~sell & (cost <= cash)
                bought = np.where(full | sell, size, cash / (1 + fees) / price)
                cash = np.where(sell, cash, np.where(full, cash - cost, 0.0))
                shares[rows[:, 0], j] += bought
            segment = prices[day:stop][:, cols]  # (L, n, k)
            values[:, day:stop] = cash[:, None] + np.einsum("lnk,nk->nl", segment, shares)
        returns = values[:, 1:] / values[:, :-1] - 1
        sd = returns.std(axis=1, ddof=1)
        peaks = np.maximum.accumulate(np.concatenate([np.ones((n, 1)), values], axis=1), axis=1)
        out[first:first + n, 0] = values[:, -1] - 1
        out[first:first + n, 1] = returns.mean(axis=1) / sd * np.sqrt(PERIODS_PER_YEAR)
        out[first:first + n, 2] = (values / peaks[:, 1:] - 1).min(axis=1)
        out[first:first + n, 3] = sd * np.sqrt(PERIODS_PER_YEAR)
    return out


def vectorbt_totals(prices: np.ndarray, baskets: np.ndarray, trade: np.ndarray,
                    fees: float) -> np.ndarray:
    """Total returns of the baskets through plain ``vbt.Portfolio.from_orders``."""
    from engine.portfolio.orders import numba_cache_dir

    numba_cache_dir()
    import vectorbt as vbt

    totals = []
    k = baskets.shape[1]
    for first in range(0, len(baskets), VECTORBT_CHUNK):
        cols = baskets[first:first + VECTORBT_CHUNK]
        close = prices[:, cols.ravel()]
        size = np.where(trade[:, None], 1.0 / k, np.nan) * np.ones_like(close)
        groups = np.repeat(np.arange(len(cols)), k)
        portfolio = vbt.Portfolio.from_orders(
            close, size, size_type="targetpercent", group_by=groups, cash_sharing=True,
            call_seq="auto", fees=fees, init_cash=1.0, freq="1D",
        )
        totals.append(np.asarray(portfolio.value()).reshape(len(prices), -1)[-1] - 1)
    return np.concatenate(totals)


def _load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--universe", type=Path,
                        default=PROJECT.parent / "shared" / "data" / "universe" / "prices.parquet")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--no-vectorbt", action="store_true",
                        help="Skip vectorbt (minutes: a few dozen baskets a second).")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    began = time.perf_counter()
    prices, trade = universe_prices(args.universe)
    print(f"load average {_load()} (the machine is shared: compare the ratios)")
    print(f"universe: {prices.shape[1]} stocks x {prices.shape[0]} sessions, "
          f"{int(trade.sum())} trading sessions, read in {time.perf_counter() - began:.2f} s; "
          f"{SIZE}-stock equal-weight baskets, monthly, fees {FEES:g}")
    rng = np.random.default_rng(0)
    pool = {"all": np.arange(prices.shape[1])}
    weights = np.full(SIZE, 1.0 / SIZE)
    basket_statistics(prices, np.arange(SIZE)[None], weights, trade, FEES,
                      periods_per_year=PERIODS_PER_YEAR)  # load the compiled kernel

    print(f"{'baskets':>9}  {'draw s':>6}  {'kernel s':>8}  {'kernel/s':>9}  {'cpu us':>6}  "
          f"{'numpy s':>8}  {'numpy/s':>8}  {'cpu us':>6}  {'kernel/numpy':>12}  "
          f"{'max diff':>8}  {'kernel MB':>9}  {'peak MB':>8}")
    for n in sizes:
        tracemalloc.start()
        started = time.perf_counter()
        baskets = draw_baskets(["all"] * SIZE, pool, n, rng)
        draw_time = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        kernel = basket_statistics(prices, baskets, weights, trade, FEES,
                                   periods_per_year=PERIODS_PER_YEAR)
        kernel_time = time.perf_counter() - started
        kernel_cpu = (time.process_time() - cpu) / n * 1e6
        # The draws, the statistics and the kernel's copy of the prices (numpy memory).
        kernel_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        started, cpu = time.perf_counter(), time.process_time()
        reference = numpy_reference(prices, baskets, trade, FEES)
        numpy_time = time.perf_counter() - started
        numpy_cpu = (time.process_time() - cpu) / n * 1e6
        difference = np.nanmax(np.abs(kernel[:, :3] - reference[:, :3]))
        print(f"{n:>9,}  {draw_time:>6.2f}  {kernel_time:>8.2f}  {n / kernel_time:>9,.0f}  "
              f"{kernel_cpu:>6.1f}  {numpy_time:>8.2f}  {n / numpy_time:>8,.0f}  "
              f"{numpy_cpu:>6.1f}  {kernel_time / numpy_time:>12.2f}  {difference:>8.1e}  "
              f"{kernel_mb:>9,.0f}  {peak_memory_mb():>8,.0f}")
        if n == sizes[0]:
            first = (baskets, kernel, kernel_time)
    print(f"load average {_load()}")
    if args.no_vectorbt:
        return
    # vectorbt last: its memory would hide the kernel's in the peak.
    baskets, kernel, kernel_time = first
    n = len(baskets)
    started = time.perf_counter()
    totals = vectorbt_totals(prices, baskets, trade, FEES)
    vbt_time = time.perf_counter() - started
    paths = basket_values(prices, baskets[:100], weights, trade, FEES)
    print(f"vectorbt from_orders, {n:,} baskets: {vbt_time:.2f} s, {n / vbt_time:,.0f} baskets/s; "
          f"the kernel is {vbt_time / kernel_time:,.0f}x faster; max |total return difference| "
          f"{np.max(np.abs(kernel[:, 0] - totals)):.1e} (value paths of the first 100: "
          f"{np.max(np.abs(paths[:, -1] - 1 - totals[:100])):.1e}); peak "
          f"{peak_memory_mb():,.0f} MB")


if __name__ == "__main__":
    main()
