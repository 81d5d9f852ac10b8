"""Is it real? Uncertainty on backtest figures: pure functions of arrays, one formula each.

Conventions (shared by every function, as in :mod:`engine.analysis.metrics`):

* ``returns`` are simple daily returns, ``ndarray of shape (T,)``, without NaN (drop them
  first); a Sharpe ratio here is *per period* (daily, not annualised) unless a name says
  otherwise, and ``skew``/``kurt`` are the sample's population moments (``kurt`` the raw
  kurtosis, 3 for a normal distribution), the estimates the papers plug in.
* Functions return NaN, never raise, when the sample is too short or degenerate to compute them.

The references are given per function.  Where a formula exists in a library it is tested
against that library (statsmodels' HAC covariance and ``multipletests``); the others against a
published worked example or an independent computation written out in the tests.  Normal and
Student-t distributions come from ``scipy.special`` (``ndtr``, ``ndtri``, ``stdtr``: what
``scipy.stats`` computes, without its import cost).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import special

#: Euler-Mascheroni constant, in the expected maximum of many Sharpe ratios.
EULER_GAMMA = 0.5772156649015329
#: Bootstrap replicates and seed: fixed, so a run's intervals are reproducible.
BOOTSTRAP_REPLICATES = 2000
BOOTSTRAP_SEED = 20250218


class MeanTest(NamedTuple):
    """A mean, its t-statistic and two-sided p-value (NaN when it cannot be computed)."""

    mean: float
    statistic: float
    pvalue: float


_NAN_MEAN_TEST = MeanTest(math.nan, math.nan, math.nan)


def newey_west_lags(n_obs: int) -> int:
    """The usual automatic lag of the Newey-West estimator: ``floor(4 (T / 100) ** (2 / 9))``
    (Newey & West 1994, the rule of thumb of their Bartlett-kernel plug-in; also statsmodels'
    and Stata's default).  3 lags for 41 daily returns, 4 for a year of 252, 6 for four years."""
    if n_obs <= 0:
        return 0
    return int(math.floor(4.0 * (n_obs / 100.0) ** (2.0 / 9.0)))


def hac_mean_test(values: np.ndarray, lags: int | None = None) -> MeanTest:
    """Newey-West (1987) t-test of a mean, robust to autocorrelation and heteroskedasticity.

    With ``e_t = x_t - mean(x)`` and Bartlett weights ``w_l = 1 - l / (L + 1)``::

        S = sum_t e_t^2 + 2 sum_{l=1}^{L} w_l sum_{t>l} e_t e_{t-l}
        var(mean) = S / T^2 * T / (T - 1)
        t = mean / sqrt(var(mean)),  p = 2 P(|t_{T-1}| > |t|)

    ``L`` defaults to :func:`newey_west_lags`.  The ``T / (T - 1)`` factor is the small-sample
    correction, so with ``L = 0`` this is the ordinary one-sample t-test; it is exactly
    statsmodels' ``OLS(x, ones).fit(cov_type="HAC", cov_kwds={"maxlags": L,
    "use_correction": True}, use_t=True)`` (Student's t with ``T - 1`` degrees of freedom).

    Parameters: ``values``, ndarray of shape (T,), e.g. daily excess returns; NaN entries are
    dropped.  NaN results with fewer than three values or a zero long-run variance.
    """
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = x.size
    if n < 3:
        return _NAN_MEAN_TEST
    lags = newey_west_lags(n) if lags is None else int(lags)
    lags = max(0, min(lags, n - 1))
    mean = float(x.mean())
    e = x - mean
    s = float(e @ e)
    for lag in range(1, lags + 1):
        s += 2.0 * (1.0 - lag / (lags + 1.0)) * float(e[lag:] @ e[:-lag])
    variance = s / n**2 * n / (n - 1)
    if not variance > 0:
        return MeanTest(mean, math.nan, math.nan)
    t = mean / math.sqrt(variance)
    return MeanTest(mean, float(t), float(2.0 * special.stdtr(n - 1, -abs(t))))


@functools.lru_cache(maxsize=8)
def stationary_bootstrap_indices(
    n_obs: int, mean_block: float, replicates: int, seed: int
) -> np.ndarray:
    """Row indices of the stationary bootstrap (Politis & Romano 1994), ``(replicates, T)``.

    Each resample is built from blocks of consecutive rows (wrapping from the last row to the
    first) whose lengths are geometric with mean ``mean_block``: row ``t`` starts a new block
    with probability ``p = 1 / mean_block`` (row 0 always does) at a uniform random row, else
    it continues the previous block with the next row.  The draws, in this order, are
    ``starts = rng.integers(0, T, (replicates, T))`` then ``u = rng.random((replicates, T))``
    with ``rng = numpy.random.default_rng(seed)``; a new block begins where ``u < p``.

    Drawn once per arguments and shared, read-only: the baskets of a run on the same number
    of sessions resample the same rows (drawing them costs more than the resampling).
    """
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n_obs, size=(replicates, n_obs))
    new_block = rng.random((replicates, n_obs)) < 1.0 / mean_block
    new_block[:, 0] = True
    positions = np.arange(n_obs)
    # Position of the row that began each row's block, and so how far into it the row is.
    began = np.maximum.accumulate(np.where(new_block, positions, 0), axis=1)
    first = np.take_along_axis(starts, began, axis=1)
    indices = (first + positions - began) % n_obs
    indices.setflags(write=False)
    return indices


def bootstrap_block_length(n_obs: int) -> float:
    """Mean block length of the stationary bootstrap: ``max(1, T ** (1/3))``.  Block lengths
    growing like ``T^(1/3)`` are the optimal order for bootstrap variances and distributions
    (Hall, Horowitz & Jing 1995; Politis & White 2004); about 3.4 sessions for 41 returns."""
    return max(1.0, n_obs ** (1.0 / 3.0))


def stationary_bootstrap_interval(
    rows: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    level: float = 0.95,
    replicates: int = BOOTSTRAP_REPLICATES,
    seed: int = BOOTSTRAP_SEED,
    mean_block: float | None = None,
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` under the stationary bootstrap (Politis & Romano
    1994): resample whole rows (so paired series keep their same-day dependence) with
    :func:`stationary_bootstrap_indices`, apply ``statistic`` to every resample and take the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (numpy's default linear
    interpolation) of the replicates (Efron's percentile interval).

    ``rows``: ndarray of shape (T, k); ``statistic`` maps an array of shape (replicates, T, k)
    to shape (replicates,).  ``mean_block`` defaults to :func:`bootstrap_block_length`.  NaN
    with fewer than three rows.
    """
    data = np.asarray(rows, dtype=float)
    n = data.shape[0]
    if n < 3 or not np.isfinite(data).all():
        return math.nan, math.nan
    block = bootstrap_block_length(n) if mean_block is None else mean_block
    indices = stationary_bootstrap_indices(n, block, replicates, seed)
    draws = np.asarray(statistic(data[indices]), dtype=float)
    low, high = np.quantile(draws, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(low), float(high)


def excess_return_interval(
    returns: np.ndarray, benchmark: np.ndarray, **options: float
) -> tuple[float, float]:
    """Stationary-bootstrap 95 % interval of the total excess return ``prod(1 + r) -
    prod(1 + r_b)``, resampling the days of basket and benchmark together (see
    :func:`stationary_bootstrap_interval`, whose options this takes)."""
    rows = np.column_stack([returns, benchmark])

    def excess(samples: np.ndarray) -> np.ndarray:
        growth = np.prod(1.0 + samples, axis=1)
        return growth[:, 0] - growth[:, 1]

    return stationary_bootstrap_interval(rows, excess, **options)


def sample_moments(returns: np.ndarray) -> tuple[float, float, float]:
    """Per-period Sharpe ratio ``mean / std(ddof=1)``, skewness and raw kurtosis (population
    moments: ``m3 / m2^1.5`` and ``m4 / m2^2``) of ``returns``; NaN when the std is 0."""
    r = np.asarray(returns, dtype=float).ravel()
    sd = r.std(ddof=1) if r.size > 1 else 0.0
    if not sd > 0:
        return math.nan, math.nan, math.nan
    deviations = r - r.mean()
    m2 = float(np.mean(deviations**2))
    skew = float(np.mean(deviations**3)) / m2**1.5
    kurt = float(np.mean(deviations**4)) / m2**2
    return float(r.mean() / sd), skew, kurt


def _sharpe_variance_factor(sharpe: float, skew: float, kurt: float) -> float:
    """``1 + SR^2 / 2 - skew SR + (kurt - 3) / 4 SR^2``, the same as Bailey & López de
    Prado's ``1 - skew SR + (kurt - 1) / 4 SR^2``."""
    return 1.0 + sharpe**2 / 2.0 - skew * sharpe + (kurt - 3.0) / 4.0 * sharpe**2


def sharpe_standard_error(sharpe: float, skew: float, kurt: float, n_obs: int) -> float:
    """Standard error of a per-period Sharpe ratio allowing for skew and fat tails (Mertens
    2002; Lo 2002 for normal returns, where it is ``sqrt((1 + SR^2 / 2) / T)``)::

        se(SR) = sqrt((1 + SR^2 / 2 - skew SR + (kurt - 3) / 4 SR^2) / T)

    Annualise it like the Sharpe ratio: multiply by ``sqrt(252)`` for daily returns.  NaN for
    NaN inputs or ``T < 2``.
    """
    if n_obs < 2 or not all(map(math.isfinite, (sharpe, skew, kurt))):
        return math.nan
    factor = _sharpe_variance_factor(sharpe, skew, kurt)
    return math.sqrt(factor / n_obs) if factor > 0 else math.nan


def probabilistic_sharpe_ratio(
    sharpe: float, skew: float, kurt: float, n_obs: int, benchmark: float = 0.0
) -> float:
    """Probability that the true per-period Sharpe ratio exceeds ``benchmark`` (Bailey &
    López de Prado 2012, "The Sharpe ratio efficient frontier", eq. 11)::

        PSR(SR*) = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - skew SR + (kurt - 1) / 4 SR^2))

    ``sharpe`` and ``benchmark`` per period (daily for daily returns).  NaN for NaN inputs or
    ``T < 2``.
    """
    if n_obs < 2 or not all(map(math.isfinite, (sharpe, skew, kurt, benchmark))):
        return math.nan
    factor = _sharpe_variance_factor(sharpe, skew, kurt)
    if not factor > 0:
        return math.nan
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(factor)
    return float(special.ndtr(z))


def expected_maximum_sharpe(n_trials: int, trials_variance: float) -> float:
    """Expected largest of ``N`` independent Sharpe ratios whose true value is 0 and whose
    estimates have variance ``V`` (Bailey & López de Prado 2014, eq. 2, the false strategy
    theorem)::

        SR_0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))

    with ``gamma`` the Euler-Mascheroni constant.  0 for one trial (nothing was selected); NaN
    when ``V`` is NaN or negative.
    """
    if n_trials <= 1:
        return 0.0
    if not trials_variance >= 0:
        return math.nan
    quantiles = (1.0 - EULER_GAMMA) * special.ndtri(1.0 - 1.0 / n_trials) + EULER_GAMMA * (
        special.ndtri(1.0 - 1.0 / (n_trials * math.e))
    )
    return float(math.sqrt(trials_variance) * quantiles)


def deflated_sharpe_ratio(
    sharpe: float,
    skew: float,
    kurt: float,
    n_obs: int,
    n_trials: int,
    trials_variance: float,
) -> float:
    """Deflated Sharpe ratio (Bailey & López de Prado 2014, eq. 3): the probabilistic Sharpe
    ratio against the Sharpe ratio the best of ``n_trials`` worthless strategies would show,
    ``DSR = PSR(SR_0)`` with ``SR_0`` from :func:`expected_maximum_sharpe`.

    ``sharpe`` per period; ``trials_variance`` the variance of the per-period Sharpe ratios of
    all the trials (the baskets and variants the run tried).  With one trial it is the PSR.
    Their numerical example (annual SR 2.5 over 1250 days, skew -3, kurtosis 10, 100 trials of
    variance 1/2 a year, 250 days a year) gives ``SR_0 = 0.1132`` and ``DSR = 0.9004``.
    """
    benchmark = expected_maximum_sharpe(n_trials, trials_variance)
    return probabilistic_sharpe_ratio(sharpe, skew, kurt, n_obs, benchmark)


def dimson_beta(returns: np.ndarray, benchmark: np.ndarray) -> float:
    """Dimson (1979) beta for asynchronous closes: the OLS of ``r_t`` on a constant and
    ``r_b(t-1), r_b(t), r_b(t+1)``, over the ``T - 2`` days with all three, the three slope
    coefficients summed.  A market that closes before the benchmark's (Hong Kong, Shanghai
    before New York) reacts to the benchmark's day ``t`` on its day ``t + 1``, which a same-day
    beta misses.

    Parameters: ``returns`` and ``benchmark``, ndarrays of shape (T,) on the same sessions.
    NaN with fewer than six days or a singular design.
    """
    r = np.asarray(returns, dtype=float).ravel()
    b = np.asarray(benchmark, dtype=float).ravel()
    if r.size != b.size or r.size < 6:
        return math.nan
    design = np.column_stack([np.ones(r.size - 2), b[:-2], b[1:-1], b[2:]])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        return math.nan
    coefficients, *_ = np.linalg.lstsq(design, r[1:-1], rcond=None)
    return float(coefficients[1:].sum())


def _adjusted(pvalues: np.ndarray, step: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``step`` applied to the finite p-values sorted ascending, put back in their places;
    NaN entries stay NaN and do not count."""
    p = np.asarray(pvalues, dtype=float).ravel()
    keep = np.flatnonzero(np.isfinite(p))
    adjusted = np.full(p.shape, np.nan)
    order = keep[np.argsort(p[keep], kind="stable")]
    if order.size:
        adjusted[order] = np.minimum(1.0, step(p[order]))
    return adjusted


def holm_adjusted(pvalues: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, controlling the family-wise error rate.

    With the ``m`` finite p-values sorted ``p_(1) <= ... <= p_(m)``:
    ``adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))``.  NaN entries stay NaN and do not
    count in ``m``.  Same as statsmodels' ``multipletests(p, method="holm")``.
    """

    def step_down(ordered: np.ndarray) -> np.ndarray:
        return np.maximum.accumulate((ordered.size - np.arange(ordered.size)) * ordered)

    return _adjusted(pvalues, step_down)


def bh_adjusted(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini & Hochberg (1995) adjusted p-values, controlling the false discovery rate.

    With the ``m`` finite p-values sorted ascending:
    ``adj_(i) = min(1, min_{j >= i} m p_(j) / j)``.  NaN entries stay NaN and do not count in
    ``m``.  Same as statsmodels' ``multipletests(p, method="fdr_bh")``.
    """

    def step_up(ordered: np.ndarray) -> np.ndarray:
        scaled = ordered.size * ordered / np.arange(1, ordered.size + 1)
        return np.minimum.accumulate(scaled[::-1])[::-1]

    return _adjusted(pvalues, step_up)


def effective_number(correlation: np.ndarray) -> float:
    """Effective number of independent series behind a correlation matrix: the participation
    ratio of its eigenvalues ``N_eff = (sum_i lambda_i)^2 / sum_i lambda_i^2`` (Bell & Dean
    1970; used for correlation spectra by Bouchaud & Potters, *Theory of Financial Risk*).
    Since ``sum lambda = N`` and ``sum lambda^2 = sum_ij rho_ij^2`` it is ``N^2 / sum_ij
    rho_ij^2``: ``N`` for uncorrelated series, 1 when all move together, ``N / (1 + (N - 1)
    rho^2)`` for a common correlation ``rho``.

    Parameters: ``correlation``, ndarray of shape (N, N), symmetric with a unit diagonal.  NaN
    when an entry is NaN.
    """
    matrix = np.asarray(correlation, dtype=float)
    if matrix.size == 0 or not np.isfinite(matrix).all():
        return math.nan
    eigenvalues = np.linalg.eigvalsh(matrix)
    return float(eigenvalues.sum() ** 2 / (eigenvalues**2).sum())
