"""Each inference formula against an independent computation: statsmodels, scipy, a literal
loop over the same random draws, a published worked example or a Monte Carlo experiment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from engine.analysis import inference

DETERMINISTIC = settings(max_examples=60, deadline=None, derandomize=True)


def _ar1(n: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.001, 0.01, n)
    x = np.empty(n)
    x[0] = shocks[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + shocks[t]
    return x


def test_newey_west_lags_by_hand():
    # floor(4 * (T/100) ** (2/9)): 4 * 0.41 ** 0.2222 = 3.28; 4 * 2.52 ** 0.2222 = 4.91;
    # 4 * 10.08 ** 0.2222 = 6.68; 4 * 1 = 4 exactly at T = 100.
    assert [inference.newey_west_lags(n) for n in (41, 252, 1008, 100, 0)] == [3, 4, 6, 4, 0]


@pytest.mark.parametrize(("n", "phi", "lags"), [(41, 0.3, None), (300, 0.5, 7), (60, -0.4, 0)])
def test_hac_mean_test_is_statsmodels_hac_with_small_sample_correction(n, phi, lags):
    x = _ar1(n, phi, seed=n)
    used = inference.newey_west_lags(n) if lags is None else lags
    fit = sm.OLS(x, np.ones(n)).fit(
        cov_type="HAC", cov_kwds={"maxlags": used, "use_correction": True}, use_t=True
    )
    result = inference.hac_mean_test(x, lags)
    assert result.mean == pytest.approx(fit.params[0], rel=1e-12)
    assert result.statistic == pytest.approx(fit.tvalues[0], rel=1e-10)
    assert result.pvalue == pytest.approx(fit.pvalues[0], rel=1e-8)


def test_hac_with_no_lag_is_the_one_sample_t_test():
    x = _ar1(50, 0.0, seed=3)
    expected = stats.ttest_1samp(x, 0.0)
    result = inference.hac_mean_test(x, 0)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-10)


def test_hac_mean_test_degenerate_inputs_give_nan():
    assert all(math.isnan(v) for v in inference.hac_mean_test(np.array([0.1, 0.2])))
    flat = inference.hac_mean_test(np.zeros(20))
    assert flat.mean == 0 and math.isnan(flat.statistic) and math.isnan(flat.pvalue)
    # NaN entries are dropped, not propagated.
    x = _ar1(40, 0.2, seed=4)
    with_gap = np.concatenate([x[:10], [np.nan], x[10:]])
    assert inference.hac_mean_test(with_gap, 2) == inference.hac_mean_test(x, 2)


def _literal_indices(n: int, mean_block: float, replicates: int, seed: int) -> np.ndarray:
    """The stationary bootstrap written as Politis & Romano describe it, one row at a time,
    from the same draws in the same order as the docstring states."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n, size=(replicates, n))
    uniforms = rng.random((replicates, n))
    out = np.empty((replicates, n), dtype=int)
    for b in range(replicates):
        for t in range(n):
            if t == 0 or uniforms[b, t] < 1.0 / mean_block:
                out[b, t] = starts[b, t]
            else:
                out[b, t] = (out[b, t - 1] + 1) % n
    return out


def test_stationary_bootstrap_indices_match_a_literal_loop():
    got = inference.stationary_bootstrap_indices(23, 3.0, 200, seed=7)
    np.testing.assert_array_equal(got, _literal_indices(23, 3.0, 200, seed=7))


def test_bootstrap_indices_are_drawn_once_per_arguments_and_read_only():
    first = inference.stationary_bootstrap_indices(31, 2.5, 100, seed=3)
    assert inference.stationary_bootstrap_indices(31, 2.5, 100, seed=3) is first
    assert not first.flags.writeable
    np.testing.assert_array_equal(first, _literal_indices(31, 2.5, 100, seed=3))
    assert inference.stationary_bootstrap_indices(31, 2.5, 100, seed=4) is not first


def test_mean_block_one_draws_every_row_afresh():
    rng = np.random.default_rng(11)
    expected = rng.integers(0, 10, size=(5, 10))
    np.testing.assert_array_equal(inference.stationary_bootstrap_indices(10, 1.0, 5, 11), expected)


def test_excess_return_interval_is_the_literal_bootstrap_on_fixed_data():
    basket = np.array([0.02, -0.01, 0.03, 0.005, -0.02, 0.015, 0.01, -0.005, 0.025, 0.0])
    bench = np.array([0.01, -0.005, 0.0, 0.002, -0.01, 0.004, 0.003, 0.0, 0.006, -0.002])
    low, high = inference.excess_return_interval(
        basket, bench, replicates=500, seed=5, mean_block=2.0
    )
    indices = _literal_indices(10, 2.0, 500, seed=5)
    excess = []
    for row in indices:
        grow_basket = grow_bench = 1.0
        for i in row:
            grow_basket *= 1 + basket[i]
            grow_bench *= 1 + bench[i]
        excess.append(grow_basket - grow_bench)
    ordered = sorted(excess)
    # numpy's linear quantile at q: position q * (B - 1) between order statistics.
    def quantile(q: float) -> float:
        position = q * (len(ordered) - 1)
        below = math.floor(position)
        return ordered[below] + (position - below) * (ordered[below + 1] - ordered[below])

    assert low == pytest.approx(quantile(0.025), rel=1e-12)
    assert high == pytest.approx(quantile(0.975), rel=1e-12)
    point = np.prod(1 + basket) - np.prod(1 + bench)
    assert low < point < high


def test_bootstrap_standard_error_of_a_mean_agrees_with_the_textbook_one():
    # iid data: the bootstrap's spread of the mean is sd / sqrt(T) (within Monte Carlo error).
    x = np.random.default_rng(8).normal(0.0, 1.0, 400)
    indices = inference.stationary_bootstrap_indices(400, 1.0, 4000, seed=1)
    assert x[indices].mean(axis=1).std() == pytest.approx(x.std() / 20, rel=0.05)


def test_bootstrap_interval_degenerate_inputs():
    assert all(math.isnan(v) for v in inference.excess_return_interval([0.1, 0.2], [0.0, 0.0]))
    bad = np.array([0.01, np.nan, 0.02, 0.0])
    assert all(math.isnan(v) for v in inference.excess_return_interval(bad, np.zeros(4)))


def test_block_length_grows_like_the_cube_root():
    assert inference.bootstrap_block_length(41) == pytest.approx(41 ** (1 / 3))
    assert inference.bootstrap_block_length(1000) == pytest.approx(10.0)
    assert inference.bootstrap_block_length(0) == 1.0


def test_sample_moments_against_scipy_formulas_by_hand():
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.015, -0.005])
    sharpe, skew, kurt = inference.sample_moments(r)
    e = r - r.mean()
    m2, m3, m4 = (e**2).mean(), (e**3).mean(), (e**4).mean()
    assert sharpe == pytest.approx(r.mean() / math.sqrt((e**2).sum() / 5))
    assert skew == pytest.approx(m3 / m2**1.5)
    assert kurt == pytest.approx(m4 / m2**2)
    assert all(math.isnan(v) for v in inference.sample_moments(np.ones(5)))


def test_mertens_reduces_to_lo_for_normal_returns():
    # Lo (2002): se = sqrt((1 + SR^2 / 2) / T) for iid normal returns.
    assert inference.sharpe_standard_error(0.2, 0.0, 3.0, 250) == pytest.approx(
        math.sqrt((1 + 0.02) / 250)
    )


def test_mertens_standard_error_matches_a_monte_carlo_of_skewed_returns():
    # Negatively skewed iid returns: minus a centred chi-square with 4 degrees of freedom,
    # skew -sqrt(8/4), raw kurtosis 3 + 12/4; true per-period Sharpe ratio 0.3.
    k, n, samples = 4, 250, 20000
    rng = np.random.default_rng(2002)
    shocks = -(rng.chisquare(k, size=(samples, n)) - k) / math.sqrt(2 * k)
    returns = 0.3 + shocks
    sharpes = returns.mean(axis=1) / returns.std(axis=1, ddof=1)
    mertens = inference.sharpe_standard_error(0.3, -math.sqrt(8 / k), 3 + 12 / k, n)
    lo = math.sqrt((1 + 0.3**2 / 2) / n)
    # Mertens' formula is the asymptotic (delta-method) variance: at T = 250 the simulated
    # spread is 2 % above it (1.5 % at T = 1000), against 24 % above Lo's normal formula.
    assert sharpes.std() == pytest.approx(mertens, rel=0.03)
    assert sharpes.std() / lo > 1.15  # the normal-returns formula understates it


def test_deflated_sharpe_ratio_reproduces_bailey_lopez_de_prado_numerical_example():
    # Bailey & López de Prado (2014), section "A numerical example": 100 trials, variance of
    # their annualised Sharpe ratios 1/2, best annualised SR 2.5 over 5 years of 250 days
    # (T = 1250), skew -3, kurtosis 10: SR_0 = 0.1132 (per day), DSR = 0.9004.
    days = 250
    sr0 = inference.expected_maximum_sharpe(100, 0.5 / days)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = inference.deflated_sharpe_ratio(2.5 / math.sqrt(days), -3.0, 10.0, 1250, 100, 0.5 / days)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_expected_maximum_sharpe_is_close_to_a_simulated_maximum():
    # E[max of 100 standard normals] = 2.5076 (tables); the approximation gives 2.5306.
    simulated = np.random.default_rng(14).normal(size=(20000, 100)).max(axis=1).mean()
    assert inference.expected_maximum_sharpe(100, 1.0) == pytest.approx(simulated, rel=0.015)
    assert inference.expected_maximum_sharpe(1, 1.0) == 0.0
    assert math.isnan(inference.expected_maximum_sharpe(5, math.nan))


def test_probabilistic_sharpe_ratio_properties():
    # At its own Sharpe ratio the PSR is one half; with one trial the DSR is the PSR.
    assert inference.probabilistic_sharpe_ratio(0.1, -0.5, 5.0, 100, benchmark=0.1) == 0.5
    psr = inference.probabilistic_sharpe_ratio(0.1, -0.5, 5.0, 100)
    assert inference.deflated_sharpe_ratio(0.1, -0.5, 5.0, 100, 1, math.nan) == psr
    # Normal returns: Phi(SR sqrt(T - 1) / sqrt(1 + SR^2 / 2)).
    expected = stats.norm.cdf(0.1 * math.sqrt(99) / math.sqrt(1 + 0.005))
    assert inference.probabilistic_sharpe_ratio(0.1, 0.0, 3.0, 100) == pytest.approx(expected)
    assert math.isnan(inference.probabilistic_sharpe_ratio(math.nan, 0.0, 3.0, 100))
    assert math.isnan(inference.probabilistic_sharpe_ratio(0.1, 0.0, 3.0, 1))


def test_dimson_beta_is_the_sum_of_statsmodels_lag_lead_slopes():
    rng = np.random.default_rng(21)
    bench = rng.normal(0.0, 0.01, 120)
    basket = 0.2 * bench + 0.7 * np.concatenate([[0.0], bench[:-1]]) + rng.normal(0, 0.004, 120)
    frame = pd.DataFrame({"r": basket, "b": bench})
    frame["lag"], frame["lead"] = frame["b"].shift(1), frame["b"].shift(-1)
    frame = frame.dropna()
    fit = sm.OLS(frame["r"], sm.add_constant(frame[["lag", "b", "lead"]])).fit()
    expected = fit.params[["lag", "b", "lead"]].sum()
    assert inference.dimson_beta(basket, bench) == pytest.approx(expected, rel=1e-10)
    # A market reacting a day late: the plain beta sees 0.2, Dimson's about 0.9.
    assert inference.dimson_beta(basket, bench) == pytest.approx(0.9, abs=0.1)


def test_dimson_beta_degenerate_inputs():
    assert math.isnan(inference.dimson_beta(np.ones(5), np.arange(5.0)))
    assert math.isnan(inference.dimson_beta(np.arange(10.0), np.zeros(10)))
    assert math.isnan(inference.dimson_beta(np.arange(10.0), np.arange(9.0)))


pvalue_lists = st.lists(
    st.one_of(st.floats(0.0, 1.0), st.just(math.nan)), min_size=1, max_size=40
)


@DETERMINISTIC
@given(pvalue_lists)
def test_holm_and_bh_equal_statsmodels_multipletests(pvalues):
    p = np.array(pvalues)
    finite = np.isfinite(p)
    holm, bh = inference.holm_adjusted(p), inference.bh_adjusted(p)
    assert np.isnan(holm[~finite]).all() and np.isnan(bh[~finite]).all()
    if finite.any():
        np.testing.assert_allclose(holm[finite], multipletests(p[finite], method="holm")[1])
        np.testing.assert_allclose(bh[finite], multipletests(p[finite], method="fdr_bh")[1])
        # BH never adjusts more than Holm, and neither below the raw p-value.
        assert (bh[finite] <= holm[finite] + 1e-12).all()
        assert (bh[finite] >= p[finite] - 1e-12).all()


def test_holm_and_bh_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max.
    np.testing.assert_allclose(inference.holm_adjusted(p), [0.03, 0.06, 0.06, 0.02])
    # BH: 0.005*4/1, 0.01*4/2, 0.03*4/3, 0.04*4/4 = 0.02, 0.02, 0.04, 0.04 -> running min from top.
    np.testing.assert_allclose(inference.bh_adjusted(p), [0.02, 0.04, 0.04, 0.02])
    assert inference.holm_adjusted([]).size == 0


def test_effective_number_is_the_participation_ratio():
    rng = np.random.default_rng(5)
    correlation = np.corrcoef(rng.normal(size=(6, 80)) + rng.normal(size=80))
    # N^2 / sum of squared correlations, with no eigenvalue computed.
    assert inference.effective_number(correlation) == pytest.approx(36 / (correlation**2).sum())
    common = np.full((7, 7), 0.5) + 0.5 * np.eye(7)
    assert inference.effective_number(common) == pytest.approx(7 / (1 + 6 * 0.25))
    assert inference.effective_number(np.eye(4)) == pytest.approx(4.0)
    assert inference.effective_number(np.ones((3, 3))) == pytest.approx(1.0)
    assert math.isnan(inference.effective_number(np.array([[1.0, np.nan], [np.nan, 1.0]])))
