"""Each statistic of engine.significance against literal numbers or an independent route."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from engine.analysis import significance as sig

CARS = np.array([0.01, 0.03, -0.02, 0.04])


def test_cross_sectional_t_literal() -> None:
    # mean 0.015, sd sqrt(0.0021 / 3) = 0.0264575, t = 0.015 / (0.0264575 / 2)
    result = sig.cross_sectional_t_test(CARS)
    assert result.statistic == pytest.approx(1.1338934190276817, rel=1e-12)
    assert result.pvalue == pytest.approx(2 * stats.t.sf(1.1338934190276817, 3), rel=1e-12)


def test_cross_sectional_t_matches_scipy_and_drops_nan() -> None:
    values = np.array([0.02, np.nan, -0.01, 0.05, 0.03, np.nan])
    expected = stats.ttest_1samp(values[np.isfinite(values)], 0.0)
    result = sig.cross_sectional_t_test(values)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-10)


@pytest.mark.parametrize("values", [[], [0.1], [np.nan, 0.2], [0.1, 0.1, 0.1]])
def test_cross_sectional_t_undefined(values: list[float]) -> None:
    result = sig.cross_sectional_t_test(np.array(values))
    assert math.isnan(result.statistic) and math.isnan(result.pvalue)


def test_market_model_car_se_matches_statsmodels_prediction_covariance() -> None:
    rng = np.random.default_rng(7)
    market = rng.normal(0.0005, 0.012, 120)
    stock = 0.0002 + 1.4 * market + rng.normal(0, 0.02, 120)
    fit = sm.OLS(stock, sm.add_constant(market)).fit()
    window = rng.normal(0, 0.03, 6)
    design = sm.add_constant(window, has_constant="add")
    ones = np.ones(len(window))
    # Var(sum of prediction errors) = L s^2 + 1' X_w Cov(b) X_w' 1
    variance = len(window) * fit.scale + ones @ design @ fit.cov_params() @ design.T @ ones
    se = sig.market_model_car_se(math.sqrt(fit.scale), window, market)
    assert se == pytest.approx(math.sqrt(variance), rel=1e-10)


def test_mean_and_market_adjusted_car_se_literal() -> None:
    assert sig.mean_adjusted_car_se(0.02, 3, 100) == pytest.approx(0.02 * math.sqrt(3.09))
    assert sig.market_adjusted_car_se(0.02, 4) == pytest.approx(0.04)


def test_patell_literal() -> None:
    # sum 2.5 / sqrt(98/96 + 98/96 + 198/196)
    result = sig.patell_test(np.array([1.0, 2.0, -0.5]), np.array([98, 98, 198]))
    z = 2.5 / math.sqrt(98 / 96 * 2 + 198 / 196)
    assert z == pytest.approx(1.4310570, rel=1e-6)
    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.pvalue == pytest.approx(0.1524, abs=1e-4)


def test_patell_drops_nan_and_tiny_dof() -> None:
    result = sig.patell_test(np.array([1.0, np.nan, 3.0]), np.array([50, 50, 2]))
    assert result.statistic == pytest.approx(1.0 / math.sqrt(50 / 48))


def test_bmp_is_a_t_test_of_standardized_cars() -> None:
    scars = np.array([0.8, 1.9, -0.4, 1.1, 2.5])
    expected = stats.ttest_1samp(scars, 0.0)
    result = sig.bmp_test(scars)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-10)


def test_average_cross_correlation_complete_and_pairwise() -> None:
    rng = np.random.default_rng(3)
    common = rng.normal(size=200)
    matrix = np.column_stack([common + rng.normal(size=200) for _ in range(4)])
    corr = np.corrcoef(matrix, rowvar=False)
    expected = corr[np.triu_indices(4, 1)].mean()
    assert sig.average_cross_correlation(matrix) == pytest.approx(expected, rel=1e-12)

    holed = matrix.copy()
    holed[:50, 0] = np.nan
    pairs = []
    for i in range(4):
        for j in range(i + 1, 4):
            keep = np.isfinite(holed[:, i]) & np.isfinite(holed[:, j])
            pairs.append(np.corrcoef(holed[keep, i], holed[keep, j])[0, 1])
    assert sig.average_cross_correlation(holed) == pytest.approx(np.mean(pairs), rel=1e-12)
    assert math.isnan(sig.average_cross_correlation(matrix[:, :1]))


def test_kolari_pynnonen_literal_adjustment() -> None:
    scars = np.array([0.8, 1.9, -0.4, 1.1, 2.5])
    t_bmp = sig.bmp_test(scars).statistic
    result = sig.kolari_pynnonen_test(scars, 0.1)
    assert result.statistic == pytest.approx(t_bmp * math.sqrt(0.9 / 1.4), rel=1e-12)
    assert result.pvalue == pytest.approx(2 * stats.t.sf(abs(result.statistic), 4), rel=1e-10)
    assert sig.kolari_pynnonen_test(scars, 0.0) == pytest.approx(sig.bmp_test(scars))
    assert math.isnan(sig.kolari_pynnonen_test(scars, math.nan).statistic)


def test_rank_test_literal() -> None:
    # Stock A: est [0.1, -0.2, 0.3], window 0.5 -> U = [.4, .2, .6, .8]
    # Stock B: est [0.0, 0.2, -0.1], window 0.4 -> U = [.4, .6, .2, .8]
    # Ubar - 1/2 = [-.1, -.1, -.1, .3]; S_U^2 = 0.12 / 4; z = 0.3 / sqrt(0.03) = sqrt(3)
    estimation = np.array([[0.1, 0.0], [-0.2, 0.2], [0.3, -0.1]])
    window = np.array([[0.5, 0.4]])
    result = sig.rank_test(estimation, window)
    assert result.statistic == pytest.approx(math.sqrt(3), rel=1e-12)
    assert result.pvalue == pytest.approx(2 * stats.norm.sf(math.sqrt(3)), rel=1e-12)


def _rank_test_by_loops(estimation: np.ndarray, window: np.ndarray) -> float:
    """Campbell & Wasley (1993) written out with scipy's rankdata, day by day."""
    combined = np.vstack([estimation, window])
    n_days, n_stocks = combined.shape
    uniform = np.full(combined.shape, np.nan)
    for i in range(n_stocks):
        present = np.isfinite(combined[:, i])
        ranks = stats.rankdata(combined[present, i])
        uniform[present, i] = ranks / (present.sum() + 1)
    ubar, weights = [], []
    for t in range(n_days):
        row = uniform[t][np.isfinite(uniform[t])]
        ubar.append(row.mean() if row.size else np.nan)
        weights.append(row.size / n_stocks)
    ubar_array, weight_array = np.array(ubar), np.array(weights)
    used = np.isfinite(ubar_array)
    s_u = math.sqrt(np.sum(weight_array[used] * (ubar_array[used] - 0.5) ** 2) / used.sum())
    event = ubar_array[len(estimation) :]
    event = event[np.isfinite(event)]
    return math.sqrt(event.size) * (event.mean() - 0.5) / s_u


def test_rank_test_matches_loop_implementation_with_missing_values() -> None:
    rng = np.random.default_rng(11)
    estimation = rng.normal(size=(120, 5))
    window = rng.normal(0.5, 1, size=(6, 5))
    estimation[rng.random(estimation.shape) < 0.05] = np.nan
    window[2, 1] = np.nan
    estimation[5, 3] = estimation[6, 3]  # a tie
    result = sig.rank_test(estimation, window)
    assert result.statistic == pytest.approx(_rank_test_by_loops(estimation, window), rel=1e-12)


def test_generalized_sign_literal() -> None:
    cars = np.array([0.1, 0.2, -0.1, 0.05, 0.3])
    positives = [4, 6, 5, 5, 5]  # of 10 estimation days each: p = 0.5
    estimation = np.array([[1.0] * k + [-1.0] * (10 - k) for k in positives]).T
    result = sig.generalized_sign_test(cars, estimation)
    # (4 - 2.5) / sqrt(5 * 0.25)
    assert result.statistic == pytest.approx(1.3416407864998738, rel=1e-12)
    assert result.pvalue == pytest.approx(0.17971249, rel=1e-6)


def test_generalized_sign_uses_each_stocks_own_fraction() -> None:
    cars = np.array([0.1, -0.2, np.nan])
    estimation = np.array([[1.0, -1.0, 5.0], [1.0, np.nan, 5.0], [-1.0, 1.0, 5.0], [1.0, 1.0, 5.0]])
    p = (3 / 4 + 2 / 3) / 2
    result = sig.generalized_sign_test(cars, estimation)
    assert result.statistic == pytest.approx((1 - 2 * p) / math.sqrt(2 * p * (1 - p)), rel=1e-12)


def test_time_series_t_literal() -> None:
    result = sig.time_series_t_test(0.05, 0.01, 4, 218)
    assert result.statistic == pytest.approx(2.5)
    assert result.pvalue == pytest.approx(2 * stats.t.sf(2.5, 218), rel=1e-12)
    assert math.isnan(sig.time_series_t_test(math.nan, 0.01, 4, 218).statistic)


finite_cars = st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=3, max_size=30).filter(
    lambda values: np.std(values) > 1e-6
)


@settings(max_examples=50, deadline=None)
@given(finite_cars, st.floats(0.1, 100))
def test_t_statistics_are_scale_free_and_odd(values: list[float], scale: float) -> None:
    cars = np.array(values)
    base = sig.cross_sectional_t_test(cars).statistic
    assert sig.cross_sectional_t_test(cars * scale).statistic == pytest.approx(base, rel=1e-6)
    assert sig.cross_sectional_t_test(-cars).statistic == pytest.approx(-base, rel=1e-9)
    assert sig.bmp_test(cars).statistic == pytest.approx(base, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 10), st.floats(-1, 1))
def test_rank_test_ignores_increasing_transforms(seed: int, scale: float, shift: float) -> None:
    rng = np.random.default_rng(seed)
    estimation = rng.normal(size=(40, 4))
    window = rng.normal(size=(3, 4))
    base = sig.rank_test(estimation, window).statistic
    moved = sig.rank_test(estimation * scale + shift, window * scale + shift).statistic
    assert moved == pytest.approx(base, rel=1e-9)


# p-values written down from scipy.stats 1.17.1 (``2 * stats.norm.sf(|z|)``,
# ``2 * stats.t.sf(|t|, df)``): the tests use scipy.special, which must give the same numbers.
NORMAL_PVALUES = [
    (0.0, 1.0),
    (0.5, 0.6170750774519738),
    (1.959963984540054, 0.05),
    (3.0, 0.0026997960632601866),
    (8.5, 1.89590696444065e-17),
    (-2.2, 0.02780689502699719),
]
T_PVALUES = [
    (1.1338934190276817, 3, 0.3392540508564546),
    (2.5, 218, 0.013156080966429316),
    (0.3, 1, 0.8144528418445154),
    (-4.0, 7.5, 0.004506110350185178),
    (12.0, 30, 5.580185415199261e-13),
]


@pytest.mark.parametrize(("z", "pvalue"), NORMAL_PVALUES)
def test_normal_pvalues_are_scipy_stats_values(z, pvalue) -> None:
    assert sig._normal_result(z) == (z, pytest.approx(pvalue, rel=1e-15, abs=0))
    # and the textbook identity 2 * Phi(-|z|) = erfc(|z| / sqrt 2)
    erfc = math.erfc(abs(z) / math.sqrt(2))
    assert sig._normal_result(z).pvalue == pytest.approx(erfc, rel=1e-14)


@pytest.mark.parametrize(("t", "df", "pvalue"), T_PVALUES)
def test_t_pvalues_are_scipy_stats_values(t, df, pvalue) -> None:
    assert sig._t_result(t, df) == (t, pytest.approx(pvalue, rel=1e-15, abs=0))


def test_t_pvalue_with_one_degree_of_freedom_is_the_cauchy_tail() -> None:
    # Student's t with 1 df is the Cauchy distribution: P(|T| > t) = 1 - 2 atan(t) / pi.
    cauchy = 1 - 2 * math.atan(0.3) / math.pi
    assert sig._t_result(0.3, 1).pvalue == pytest.approx(cauchy, rel=1e-14)


def test_significance_does_not_import_scipy_stats() -> None:
    import subprocess
    import sys

    from conftest import PROJECT

    code = "import sys, engine.analysis.significance; print('scipy.stats' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "False"
