"""Performance measures: pure functions of arrays, one formula each.

Conventions (shared by every function):

* ``returns`` are simple daily returns on the study calendar, ``ndarray of shape (n_obs,)``,
  starting with the session *after* the purchase (n sessions give n - 1 returns).  NaN is not
  allowed: the aligned panel has none.
* ``PERIODS_PER_YEAR`` = 252 sessions annualise volatility, Sharpe, tracking error and the
  information ratio; the annualised return uses the calendar: 365.25 days a year.
* Sample statistics use ``ddof=1``; the risk-free rate is 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from engine.analysis import inference

PERIODS_PER_YEAR = 252
DAYS_PER_YEAR = 365.25


def total_return(values: np.ndarray, initial: float) -> float:
    """Growth of the starting capital: ``values[-1] / initial - 1``.

    ``values``: portfolio values per session; ``initial``: the cash before the purchase, so
    costs paid at the purchase count.
    """
    return float(values[-1] / initial - 1.0)


def annualized_return(total: float, days: float) -> float:
    """Geometric annual rate: ``(1 + total) ** (365.25 / days) - 1``, with ``days`` the calendar
    days from the first to the last session.  NaN for a period of zero days."""
    if days <= 0:
        return math.nan
    return float((1.0 + total) ** (DAYS_PER_YEAR / days) - 1.0)


def volatility(returns: np.ndarray) -> float:
    """Annualised volatility: ``std(r, ddof=1) * sqrt(252)``."""
    return float(np.std(returns, ddof=1) * math.sqrt(PERIODS_PER_YEAR))


def sharpe_ratio(returns: np.ndarray) -> float:
    """Annualised Sharpe ratio with a zero risk-free rate:
    ``mean(r) / std(r, ddof=1) * sqrt(252)``.  NaN when the volatility is 0."""
    sd = np.std(returns, ddof=1)
    return float(np.mean(returns) / sd * math.sqrt(PERIODS_PER_YEAR)) if sd > 0 else math.nan


def max_drawdown(values: np.ndarray) -> float:
    """Largest fall from a running peak, as a negative decimal:
    ``min_t(values_t / max_{s<=t} values_s - 1)`` (0 when values never fall)."""
    peaks = np.maximum.accumulate(values)
    return float(np.min(values / peaks - 1.0))


def beta(returns: np.ndarray, benchmark: np.ndarray) -> float:
    """``cov(r, r_b) / var(r_b)`` (both with ``ddof=1``).  NaN when the benchmark is flat."""
    var_b = np.var(benchmark, ddof=1)
    if var_b == 0:
        return math.nan
    return float(np.cov(returns, benchmark, ddof=1)[0, 1] / var_b)


def alpha(returns: np.ndarray, benchmark: np.ndarray) -> float:
    """Annualised Jensen's alpha (risk-free 0):
    ``(mean(r) - beta * mean(r_b)) * 252``, the daily intercept of the OLS of r on r_b
    scaled to a year."""
    return float(
        (np.mean(returns) - beta(returns, benchmark) * np.mean(benchmark)) * PERIODS_PER_YEAR
    )


def tracking_error(returns: np.ndarray, benchmark: np.ndarray) -> float:
    """Annualised tracking error: ``std(r - r_b, ddof=1) * sqrt(252)``."""
    return float(np.std(returns - benchmark, ddof=1) * math.sqrt(PERIODS_PER_YEAR))


def information_ratio(returns: np.ndarray, benchmark: np.ndarray) -> float:
    """Annualised information ratio: ``mean(r - r_b) / std(r - r_b, ddof=1) * sqrt(252)``.
    NaN when the tracking error is 0 (e.g. the benchmark against itself)."""
    active = returns - benchmark
    sd = np.std(active, ddof=1)
    return float(np.mean(active) / sd * math.sqrt(PERIODS_PER_YEAR)) if sd > 0 else math.nan


@dataclass(frozen=True)
class Summary:
    """One row of the comparison table (decimals: 0.05 means 5 %).

    The first block is the performance against the primary benchmark; then the same against
    the basket's *local* blend of its markets' indices (NaN when there is none) and against
    the equal-weight *pool* of its markets' universe stocks (``basket run --universe``; NaN
    without), and the uncertainty on the figures (:mod:`engine.analysis.inference`): the Dimson
    beta, the mean daily excess return over the primary benchmark with its Newey-West t and p,
    a stationary-bootstrap 95 % interval of the total excess return, the Sharpe ratio's
    standard error (annualised like it), the probabilistic and deflated Sharpe ratios (against
    0; the DSR over ``n_trials`` trials, filled in by :func:`with_deflated_sharpe`), the daily
    returns' skewness, raw kurtosis and count, and ``selected_after``: the basket's
    ``defined`` date when the period starts before it (constituents chosen after the fact),
    else None.  Last, the robustness of the total return (:mod:`engine.analysis.robustness`):
    its top contributor and the return without it, the constituent whose absence hurts most
    and the return without that one, and with a universe the total return's percentile and
    empirical p-value among ``n_random`` matched random baskets
    (:func:`engine.analysis.null.rank_against`).
    """

    basket: str
    total_return: float
    annualized_return: float
    volatility: float
    sharpe: float
    max_drawdown: float
    beta: float
    alpha: float
    tracking_error: float
    information_ratio: float
    benchmark_return: float
    excess_return: float
    beta_dimson: float = math.nan
    local_return: float = math.nan
    excess_return_local: float = math.nan
    beta_local: float = math.nan
    alpha_local: float = math.nan
    pool_return: float = math.nan
    excess_return_pool: float = math.nan
    beta_pool: float = math.nan
    alpha_pool: float = math.nan
    excess_mean_daily: float = math.nan
    t_excess_hac: float = math.nan
    p_excess_hac: float = math.nan
    excess_ci_low: float = math.nan
    excess_ci_high: float = math.nan
    sharpe_se: float = math.nan
    psr: float = math.nan
    dsr: float = math.nan
    n_trials: int = 0
    skew: float = math.nan
    kurtosis: float = math.nan
    n_returns: int = 0
    selected_after: str | None = None
    top_contributor: str | None = None
    return_without_top: float = math.nan
    worst_leave_one_out: str | None = None
    return_worst_leave_one_out: float = math.nan
    null_percentile: float = math.nan
    null_p_value: float = math.nan
    n_random: int = 0
    versus: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, float | str | None]:
        """JSON-ready: NaN becomes None; the figures against the further benchmarks
        (``versus``) as flat keys after the fixed ones (:func:`versus_key`)."""
        fixed = {k: v for k, v in asdict(self).items() if k != "versus"}
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in {**fixed, **self.versus}.items()
        }


#: The fixed columns of every summary row (the ``versus`` figures come after them).
COLUMNS = tuple(c for c in Summary.__dataclass_fields__ if c != "versus")
#: The figures of a basket against each further benchmark of a study (``benchmarks:``).
VERSUS = ("benchmark_return", "excess_return", "beta", "alpha")


def versus_key(figure: str, benchmark: str) -> str:
    """The flat key of ``figure`` (one of :data:`VERSUS`) against a further benchmark:
    ``excess_return_vs_^HSI``."""
    return f"{figure}_vs_{benchmark}"


def figure_of(column: str) -> str:
    """The figure a summary column holds: ``excess_return`` for ``excess_return_vs_^HSI``
    (:func:`versus_key`), the column itself for the fixed ones."""
    return next((f for f in VERSUS if column.startswith(versus_key(f, ""))), column)


def is_versus_key(column: str) -> bool:
    """Whether a summary column is a figure against a further benchmark (:func:`versus_key`)."""
    return figure_of(column) != column


def versus_figures(
    values: pd.Series, benchmark_values: pd.Series, initial: float, benchmark: str
) -> dict[str, float]:
    """The basket's total-return excess, beta and alpha against one further benchmark, and that
    benchmark's total return, from value series on the same sessions (the basket's exchanges'
    and that benchmark's), keyed by :func:`versus_key`; the formulas are the primary
    benchmark's (:func:`total_return`, :func:`beta`, :func:`alpha`)."""
    v = values.to_numpy(dtype=float)
    b = benchmark_values.to_numpy(dtype=float)
    figures = relative_figures(total_return(v, initial), _returns(v), b, b[0])
    return {versus_key(name, benchmark): value
            for name, value in zip(VERSUS, figures, strict=True)}
#: The columns holding text: names, symbols and a date.
TEXT_COLUMNS = ("basket", "selected_after", "top_contributor", "worst_leave_one_out")
#: The columns holding numbers.
NUMERIC_COLUMNS = tuple(c for c in COLUMNS if c not in TEXT_COLUMNS)


def _returns(values: np.ndarray) -> np.ndarray:
    return values[1:] / values[:-1] - 1.0


def relative_figures(
    total: float, returns: np.ndarray, other: np.ndarray, initial: float
) -> tuple[float, float, float, float]:
    """A basket against another value series on its sessions: the other's total return
    (:func:`total_return` from ``initial``), the basket's excess ``total - that``, and
    :func:`beta` and :func:`alpha` of the basket's daily ``returns`` on the other's."""
    other_total = total_return(other, initial)
    other_returns = _returns(other)
    return (other_total, total - other_total, beta(returns, other_returns),
            alpha(returns, other_returns))


def summarize(
    name: str,
    values: pd.Series,
    benchmark_values: pd.Series,
    initial: float,
    local_values: pd.Series | None = None,
    pool_values: pd.Series | None = None,
) -> Summary:
    """Every measure of a value series against the benchmark's, on the same sessions.

    ``values`` starts at the purchase session; ``initial`` is the cash before it (for the
    benchmark itself pass its first value).  Daily returns are taken from the second session.
    ``local_values``, on the same sessions, is the basket's local benchmark (its markets'
    blend, see :func:`engine.market.benchmarks.blend_values`); without it the local figures are
    NaN.  ``pool_values``, on the same sessions, is the value of the equal-weight pool of the
    basket's markets started with the same ``initial`` cash
    (:func:`engine.market.benchmarks.pool_weights`); without it the pool figures are NaN.
    Against each: its total return, the basket's excess over it, beta and alpha
    (:func:`relative_figures`).
    """
    v = values.to_numpy(dtype=float)
    b = benchmark_values.to_numpy(dtype=float)
    r, rb = _returns(v), _returns(b)
    total = total_return(v, initial)
    bench_total = total_return(b, b[0])
    days = (values.index[-1] - values.index[0]).days
    sharpe, skew, kurt = inference.sample_moments(r)
    excess = inference.hac_mean_test(r - rb)
    ci_low, ci_high = inference.excess_return_interval(r, rb)
    local = {}
    if local_values is not None:
        blend = local_values.to_numpy(dtype=float)
        local.update(zip(("local_return", "excess_return_local", "beta_local", "alpha_local"),
                         relative_figures(total, r, blend, blend[0]), strict=True))
    if pool_values is not None:
        local.update(zip(("pool_return", "excess_return_pool", "beta_pool", "alpha_pool"),
                         relative_figures(total, r, pool_values.to_numpy(dtype=float), initial),
                         strict=True))
    return Summary(
        basket=name,
        total_return=total,
        annualized_return=annualized_return(total, days),
        volatility=volatility(r),
        sharpe=sharpe_ratio(r),
        max_drawdown=max_drawdown(np.concatenate([[initial], v])),
        beta=beta(r, rb),
        alpha=alpha(r, rb),
        tracking_error=tracking_error(r, rb),
        information_ratio=information_ratio(r, rb),
        benchmark_return=bench_total,
        excess_return=total - bench_total,
        beta_dimson=inference.dimson_beta(r, rb),
        **local,
        excess_mean_daily=excess.mean,
        t_excess_hac=excess.statistic,
        p_excess_hac=excess.pvalue,
        excess_ci_low=ci_low,
        excess_ci_high=ci_high,
        sharpe_se=inference.sharpe_standard_error(sharpe, skew, kurt, r.size)
        * math.sqrt(PERIODS_PER_YEAR),
        psr=inference.probabilistic_sharpe_ratio(sharpe, skew, kurt, r.size),
        skew=skew,
        kurtosis=kurt,
        n_returns=int(r.size),
    )


def with_deflated_sharpe(rows: Sequence[Summary], extra_trials: int = 0) -> list[Summary]:
    """``rows`` with their deflated Sharpe ratio and the number of trials it counts.

    The trials are the rows (the run's baskets, not the benchmark) plus ``extra_trials``
    strategies tried and not shown (grid points of a sweep, ``basket run --trials N`` for
    trials run elsewhere): ``n_trials = len(rows) + extra_trials``, the ``N`` of Bailey &
    López de Prado (2014), who ask for every trial, not only those reported.  The variance of
    the trials' daily Sharpe ratios (``ddof=1``) sets the Sharpe ratio the best of them would
    show by luck (:func:`engine.analysis.inference.deflated_sharpe_ratio`); with one row it is
    that row's squared standard error (:func:`engine.analysis.inference.sharpe_standard_error`),
    the spread worthless trials would show by sampling alone."""
    daily = np.array([row.sharpe for row in rows], dtype=float) / math.sqrt(PERIODS_PER_YEAR)
    finite = daily[np.isfinite(daily)]
    variance = float(np.var(finite, ddof=1)) if finite.size > 1 else math.nan
    trials = len(rows) + extra_trials
    out = []
    for row, sharpe in zip(rows, daily, strict=True):
        spread = variance
        if finite.size <= 1:
            spread = inference.sharpe_standard_error(sharpe, row.skew, row.kurtosis,
                                                     row.n_returns) ** 2
        dsr = inference.deflated_sharpe_ratio(
            sharpe, row.skew, row.kurtosis, row.n_returns, trials, spread
        )
        out.append(replace(row, dsr=dsr, n_trials=trials))
    return out
