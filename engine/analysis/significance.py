"""Test statistics for event studies: pure functions of arrays, one function per formula.

Notation used in every docstring:

* ``n`` stocks (one event), ``i = 1..n``; ``T_i`` valid estimation-window returns of stock ``i``;
  ``L`` days in the tested window ``W = [a, b]``.
* ``AR_it`` abnormal return, ``CAR_i = sum_{t in W} AR_it``, ``s_i`` the standard deviation of
  stock ``i``'s estimation-window residuals, ``SCAR_i = CAR_i / se(CAR_i)`` the standardized CAR.

NaN marks a missing value: the functions drop it (a stock without a CAR, a day without an
abnormal return) and return NaN statistics when too little is left to compute them.  Every test
returns a :class:`TestResult` with the statistic and its two-sided p-value under the reference
distribution the paper gives.

R's ``estudy2`` (Rudnytskyi) implements the daily versions of most of these tests and was used
as the reference; differences are noted where they exist.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special


class TestResult(NamedTuple):
    """A test statistic and its two-sided p-value (NaN when the test cannot be computed)."""

    statistic: float
    pvalue: float


_NAN_RESULT = TestResult(float("nan"), float("nan"))


def _normal_result(z: float) -> TestResult:
    """Two-sided p-value ``2 * Phi(-|z|)`` under the standard normal: ``special.ndtr`` is what
    ``scipy.stats.norm.sf`` computes, without importing ``scipy.stats`` (half a second)."""
    if not np.isfinite(z):
        return _NAN_RESULT
    return TestResult(float(z), float(2.0 * special.ndtr(-abs(z))))


def _t_result(t: float, df: float) -> TestResult:
    """Two-sided p-value ``2 * F_df(-|t|)`` under Student's t with ``df`` degrees of freedom
    (``special.stdtr``, what ``scipy.stats.t.sf`` computes)."""
    if not np.isfinite(t) or not df > 0:
        return _NAN_RESULT
    return TestResult(float(t), float(2.0 * special.stdtr(df, -abs(t))))


def _finite(values: np.ndarray | list[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def cross_sectional_t_test(cars: np.ndarray) -> TestResult:
    """Cross-sectional t-test of the mean CAR (Brown & Warner 1985; Boehmer et al. 1991).

    ``t = mean(CAR) / (sd(CAR) / sqrt(n))`` with ``sd`` the sample standard deviation
    (``n - 1`` in the denominator); two-sided p-value from Student's t with ``n - 1`` degrees of
    freedom.  Robust to event-induced variance, assumes cross-sectional independence.

    Parameters: ``cars``, ndarray of shape (n_stocks,); NaN entries are dropped.  Returns NaN
    with fewer than two CARs or zero dispersion.
    """
    values = _finite(cars)
    n = values.size
    if n < 2:
        return _NAN_RESULT
    if np.ptp(values) == 0:  # identical values: no dispersion to test against
        return _NAN_RESULT
    sd = values.std(ddof=1)
    return _t_result(values.mean() / (sd / np.sqrt(n)), n - 1)


def market_model_car_se(
    sigma: float, market_window: np.ndarray, market_estimation: np.ndarray
) -> float:
    """Standard error of a market-model CAR, corrected for the estimation error of alpha, beta.

    ``se(CAR_i) = s_i * sqrt(L + L^2 / T + (sum_{t in W} (Rm_t - mean(Rm)))^2 / sum_tau (Rm_tau
    - mean(Rm))^2)`` with ``mean(Rm)`` and the sum over ``tau`` taken over the ``T`` estimation
    days: the variance of a sum of ``L`` out-of-sample OLS prediction errors (Campbell, Lo &
    MacKinlay 1997, section 4.4; Patell 1976 for one day).

    Parameters: ``sigma`` = ``s_i``; ``market_window``, ndarray of shape (L,), the market returns
    of the window days; ``market_estimation``, ndarray of shape (T,), the market returns of the
    estimation days the regression used.  Any NaN gives NaN.
    """
    window = np.asarray(market_window, dtype=float)
    estimation = np.asarray(market_estimation, dtype=float)
    length, size = window.size, estimation.size
    mean = estimation.mean()
    sxx = ((estimation - mean) ** 2).sum()
    factor = length + length**2 / size + (window - mean).sum() ** 2 / sxx
    return float(sigma * np.sqrt(factor))


def mean_adjusted_car_se(sigma: float, window_length: int, n_estimation: int) -> float:
    """Standard error of a mean-adjusted CAR: ``se = s_i * sqrt(L + L^2 / T)``.

    The ``L^2 / T`` term is the estimation error of the mean return, which enters each of the
    ``L`` window days (Campbell, Lo & MacKinlay 1997, section 4.4 with beta = 0).
    """
    return float(sigma * np.sqrt(window_length + window_length**2 / n_estimation))


def market_adjusted_car_se(sigma: float, window_length: int) -> float:
    """Standard error of a market-adjusted CAR: ``se = s_i * sqrt(L)`` (no estimated parameter)."""
    return float(sigma * np.sqrt(window_length))


def patell_test(scars: np.ndarray, dof: np.ndarray) -> TestResult:
    """Patell (1976) standardized-residual test on standardized CARs.

    ``z = sum_i SCAR_i / sqrt(sum_i d_i / (d_i - 2))``, standard normal under H0.  ``SCAR_i`` is
    ``CAR_i`` over its forecast-error corrected standard error (:func:`market_model_car_se`), so
    under normal residuals it is Student-t with ``d_i`` degrees of freedom (``T_i - 2`` for the
    market model) and variance ``d_i / (d_i - 2)``.  Assumes cross-sectional independence and no
    event-induced variance.  ``estudy2::patell`` computes the daily version with the same terms.

    Parameters: ``scars`` and ``dof``, ndarrays of shape (n_stocks,); a stock with a NaN SCAR or
    ``d_i <= 2`` is dropped.
    """
    scar = np.asarray(scars, dtype=float).ravel()
    d = np.asarray(dof, dtype=float).ravel()
    keep = np.isfinite(scar) & np.isfinite(d) & (d > 2)
    if not keep.any():
        return _NAN_RESULT
    return _normal_result(scar[keep].sum() / np.sqrt((d[keep] / (d[keep] - 2)).sum()))


def bmp_test(scars: np.ndarray) -> TestResult:
    """Boehmer, Musumeci & Poulsen (1991) standardized cross-sectional test.

    ``t = mean(SCAR) / (sd(SCAR) / sqrt(n))``, Student's t with ``n - 1`` degrees of freedom:
    Patell's standardized CARs, but their dispersion measured across stocks in the event window,
    so the test survives event-induced variance.  Same distribution as ``estudy2::boehmer``.

    Parameters: ``scars``, ndarray of shape (n_stocks,); NaN entries are dropped.  NaN with fewer
    than two SCARs.
    """
    # The same t-test as the cross-sectional one, on standardized CARs.
    return cross_sectional_t_test(scars)


def average_cross_correlation(residuals: np.ndarray, min_periods: int = 30) -> float:
    """Average pairwise correlation of estimation-window residuals (Kolari & Pynnönen 2010).

    ``rbar = 2 / (n (n - 1)) * sum_{i < j} corr(e_i, e_j)``, each correlation a Pearson
    correlation over the rows where both stocks have a residual.

    Parameters: ``residuals``, ndarray of shape (n_days, n_stocks), rows aligned on calendar
    dates, NaN where a stock has no residual that day; pairs with fewer than ``min_periods``
    common rows are left out of the average.  NaN with fewer than two stocks or no usable pair.
    """
    matrix = np.asarray(residuals, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        return float("nan")
    corr = pd.DataFrame(matrix).corr(min_periods=min_periods).to_numpy()
    upper = corr[np.triu_indices_from(corr, k=1)]
    upper = upper[np.isfinite(upper)]
    return float(upper.mean()) if upper.size else float("nan")


def kolari_pynnonen_test(scars: np.ndarray, rbar: float) -> TestResult:
    """Kolari & Pynnönen (2010) adjusted BMP test, robust to cross-correlated abnormal returns.

    ``t_KP = t_BMP * sqrt((1 - rbar) / (1 + (n - 1) * rbar))`` with ``t_BMP`` from
    :func:`bmp_test` and ``rbar`` from :func:`average_cross_correlation`; Student's t with
    ``n - 1`` degrees of freedom like the BMP test it adjusts.

    Parameters: ``scars``, ndarray of shape (n_stocks,), NaN dropped; ``rbar`` a float.  NaN when
    ``rbar`` is NaN or the adjustment is undefined (``1 + (n - 1) rbar <= 0``).
    """
    values = _finite(scars)
    n = values.size
    t_bmp = bmp_test(values).statistic
    denominator = 1 + (n - 1) * rbar
    if not np.isfinite(rbar) or not np.isfinite(t_bmp) or denominator <= 0:
        return _NAN_RESULT
    return _t_result(t_bmp * np.sqrt((1 - rbar) / denominator), n - 1)


def kolari_pynnonen_car_band(
    cars: np.ndarray, weights: np.ndarray, rbar: float, level: float = 0.95
) -> tuple[float, float]:
    """Half-width of a confidence band around a basket's weighted CAR, from the cross-sectional
    standard error adjusted for the cross-correlation of abnormal returns (Kolari & Pynnönen
    2010), and that standard error: ``(half_width, se)``.

    With ``n`` stocks, weights ``w_i`` (summing to 1 over the stocks kept), the sample variance
    ``s^2`` of their ``CAR_i`` (``n - 1`` in the denominator) and the average residual
    correlation ``rbar`` (:func:`average_cross_correlation`):
    ``se^2 = s^2 * (sum_i w_i^2 + rbar / (1 - rbar))``.  Under equicorrelated CARs of
    variance ``sigma^2``, ``E[s^2] = sigma^2 (1 - rbar)`` and ``Var(sum_i w_i CAR_i) = sigma^2
    ((1 - rbar) sum_i w_i^2 + rbar)``; with equal weights this is ``s^2 / n * (1 + (n - 1)
    rbar) / (1 - rbar)``, the variance behind :func:`kolari_pynnonen_test` (their eq. 6 and
    the adjustment of the t statistic).  ``half_width = t_{(1 + level) / 2, n - 1} * se``,
    Student's t with ``n - 1`` degrees of freedom like the test.

    Parameters: ``cars`` and ``weights``, ndarrays of shape (n_stocks,); a stock with a NaN CAR
    is dropped and the remaining weights renormalised.  NaN with fewer than two stocks, a NaN
    ``rbar`` or ``rbar >= 1``.
    """
    cars = np.asarray(cars, dtype=float).ravel()
    weights = np.asarray(weights, dtype=float).ravel()
    keep = np.isfinite(cars) & np.isfinite(weights)
    n = int(keep.sum())
    if n < 2 or not np.isfinite(rbar) or rbar >= 1 or weights[keep].sum() <= 0:
        return float("nan"), float("nan")
    w = weights[keep] / weights[keep].sum()
    variance = cars[keep].var(ddof=1) * ((w**2).sum() + rbar / (1 - rbar))
    if variance < 0:  # a strongly negative rbar: the adjustment is undefined
        return float("nan"), float("nan")
    se = float(np.sqrt(variance))
    return float(special.stdtrit(n - 1, (1 + level) / 2) * se), se


def rank_test(estimation_ar: np.ndarray, window_ar: np.ndarray) -> TestResult:
    """Corrado (1989) rank test, multi-day form of Campbell & Wasley (1993) / Cowan (1992).

    Per stock, the abnormal returns of the estimation days and of the window days are ranked
    together (ties averaged): ``K_it``, and standardized ``U_it = K_it / (M_i + 1)`` with ``M_i``
    the stock's non-missing abnormal returns, so ``E[U] = 1/2`` whatever ``M_i``.  With
    ``Ubar_t`` the mean of ``U_it`` over the ``N_t`` stocks present on day ``t``:

    ``z = sqrt(L) * (mean_{t in W} Ubar_t - 1/2) / S_U``,
    ``S_U^2 = 1 / T_all * sum_t (N_t / N) (Ubar_t - 1/2)^2`` over all ``T_all`` days (estimation
    and window) with at least one stock; standard normal under H0.  ``estudy2::car_rank_test``
    uses raw ranks ``K_it``, which is the same when every stock has the same ``M_i``.

    Parameters: ``estimation_ar``, ndarray of shape (n_est_days, n_stocks) and ``window_ar``,
    ndarray of shape (L, n_stocks), rows in event time (day -250 ... day b), NaN where missing.
    """
    est = np.asarray(estimation_ar, dtype=float)
    win = np.asarray(window_ar, dtype=float)
    if est.ndim != 2 or win.ndim != 2 or est.shape[1] != win.shape[1] or est.shape[1] == 0:
        return _NAN_RESULT
    return rank_test_of_uniforms(rank_uniforms(est, win), est.shape[0])


def rank_uniforms(estimation_ar: np.ndarray, window_ar: np.ndarray) -> np.ndarray:
    """The standardized ranks ``U_it = K_it / (M_i + 1)`` of :func:`rank_test`: per stock
    column, the ranks (ties averaged) of its estimation-day and window-day abnormal returns
    together over its count of non-missing ones plus one; NaN where missing.  Shape
    (n_est_days + L, n_stocks); a column depends on its own stock only."""
    combined = np.vstack([estimation_ar, window_ar])
    present = np.isfinite(combined)
    ranks = pd.DataFrame(np.where(present, combined, np.nan)).rank(method="average").to_numpy()
    return ranks / (present.sum(axis=0) + 1)


def rank_test_of_uniforms(uniform: np.ndarray, n_estimation: int) -> TestResult:
    """:func:`rank_test` from its standardized ranks (:func:`rank_uniforms`, one column per
    stock, the first ``n_estimation`` rows the estimation days, then the window's)."""
    if uniform.ndim != 2 or uniform.shape[1] == 0:
        return _NAN_RESULT
    # Column-major, as a DataFrame's ranks come: the sums across stocks then add in the same
    # order (to the last bit) whether the columns were ranked together or one at a time.
    uniform = np.asfortranarray(uniform)
    present = np.isfinite(uniform)
    counts = present.sum(axis=1)
    has_any = counts > 0
    with np.errstate(invalid="ignore"):
        ubar = np.where(has_any, np.nansum(uniform, axis=1) / np.maximum(counts, 1), np.nan)
    n_stocks = uniform.shape[1]
    deviation = ubar - 0.5
    s_u = np.sqrt(np.sum((counts / n_stocks * deviation**2)[has_any]) / has_any.sum())
    window_rows = has_any[n_estimation:]
    length = int(window_rows.sum())
    if length == 0 or not s_u > 0:
        return _NAN_RESULT
    window_mean = deviation[n_estimation:][window_rows].mean()
    return _normal_result(np.sqrt(length) * window_mean / s_u)


def generalized_sign_test(cars: np.ndarray, estimation_ar: np.ndarray) -> TestResult:
    """Generalized sign test (Cowan 1992) of the number of positive CARs.

    ``z = (w - n * p) / sqrt(n * p * (1 - p))`` with ``w`` the number of stocks with a positive
    CAR, ``n`` the stocks with a CAR, and ``p = 1/n * sum_i (1/T_i) sum_t 1[AR_it > 0]`` the
    average fraction of positive abnormal returns in the estimation windows; standard normal.
    ``estudy2::generalized_sign_test`` pools the estimation fractions and puts ``w`` instead of
    ``n`` under the square root; this follows Cowan's paper.

    Parameters: ``cars``, ndarray of shape (n_stocks,); ``estimation_ar``, ndarray of shape
    (n_est_days, n_stocks) in the same stock order; NaN entries are dropped (a stock without a
    CAR is dropped from both).
    """
    car = np.asarray(cars, dtype=float).ravel()
    est = np.asarray(estimation_ar, dtype=float)
    keep = np.isfinite(car)
    car, est = car[keep], est[:, keep]
    valid = np.isfinite(est)
    sizes = valid.sum(axis=0)
    if car.size == 0 or (sizes == 0).any():
        return _NAN_RESULT
    p = np.mean((np.where(valid, est, 0.0) > 0).sum(axis=0) / sizes)
    n = car.size
    if not 0 < p < 1:
        return _NAN_RESULT
    w = (car > 0).sum()
    return _normal_result((w - n * p) / np.sqrt(n * p * (1 - p)))


def time_series_t_test(car: float, sigma: float, window_length: int, dof: float) -> TestResult:
    """Time-series t-test of one portfolio's CAR (Brown & Warner 1980, 'crude dependence').

    ``t = CAR / (s * sqrt(L))`` with ``s`` the standard deviation of the portfolio's
    estimation-window residuals; Student's t with ``dof`` degrees of freedom (``T - 2`` for the
    market model).  Treating the basket as one security absorbs the cross-correlation of its
    constituents.  NaN when ``car`` or ``sigma`` is NaN or ``sigma`` is zero.
    """
    if not (np.isfinite(car) and np.isfinite(sigma) and sigma > 0 and window_length > 0):
        return _NAN_RESULT
    return _t_result(car / (sigma * np.sqrt(window_length)), dof)
