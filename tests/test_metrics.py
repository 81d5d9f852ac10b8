"""Each measure against a hand computation or an independent reference implementation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.analysis import metrics


def test_hand_computed_series():
    values = np.array([1.0, 1.1, 0.99, 1.2])
    returns = values[1:] / values[:-1] - 1  # 0.1, -0.1, 0.2121...
    assert metrics.total_return(values, 1.0) == pytest.approx(0.2)
    assert metrics.max_drawdown(values) == pytest.approx(0.99 / 1.1 - 1)
    mean = (0.1 - 0.1 + 0.21 / 0.99) / 3
    sd = math.sqrt(sum((r - mean) ** 2 for r in (0.1, -0.1, 0.21 / 0.99)) / 2)
    assert metrics.volatility(returns) == pytest.approx(sd * math.sqrt(252))
    assert metrics.sharpe_ratio(returns) == pytest.approx(mean / sd * math.sqrt(252))


def test_annualized_return_uses_calendar_days():
    # 10 % over 73.05 days is five periods a year: 1.1 ** 5 - 1.
    assert metrics.annualized_return(0.1, 73.05) == pytest.approx(1.1**5 - 1)
    assert math.isnan(metrics.annualized_return(0.1, 0))


def test_beta_and_alpha_equal_the_ols_slope_and_annualized_intercept():
    rng = np.random.default_rng(1)
    bench = rng.normal(0.0005, 0.01, 300)
    basket = 0.0002 + 1.3 * bench + rng.normal(0, 0.005, 300)
    fit = sm.OLS(basket, sm.add_constant(bench)).fit()
    assert metrics.beta(basket, bench) == pytest.approx(fit.params[1], rel=1e-10)
    assert metrics.alpha(basket, bench) == pytest.approx(fit.params[0] * 252, rel=1e-10)


def test_tracking_error_and_information_ratio_against_pandas():
    rng = np.random.default_rng(2)
    bench = pd.Series(rng.normal(0, 0.01, 120))
    basket = pd.Series(rng.normal(0.001, 0.012, 120))
    active = basket - bench
    assert metrics.tracking_error(basket.to_numpy(), bench.to_numpy()) == pytest.approx(
        active.std() * 252**0.5
    )
    assert metrics.information_ratio(basket.to_numpy(), bench.to_numpy()) == pytest.approx(
        active.mean() / active.std() * 252**0.5
    )


def test_degenerate_inputs_give_nan_not_errors():
    flat = np.zeros(10)
    assert math.isnan(metrics.sharpe_ratio(flat))
    assert math.isnan(metrics.beta(np.ones(10), flat))
    assert math.isnan(metrics.information_ratio(flat, flat))


def test_summary_of_the_benchmark_against_itself():
    index = pd.bdate_range("2025-01-01", periods=5)
    bench = pd.Series([100.0, 102.0, 101.0, 104.0, 103.0], index=index)
    row = metrics.summarize("^IXIC", bench, bench, bench.iloc[0])
    assert row.beta == pytest.approx(1.0)
    assert row.alpha == pytest.approx(0.0, abs=1e-15)
    assert row.tracking_error == 0.0
    assert math.isnan(row.information_ratio)
    assert row.excess_return == 0.0
    assert row.to_dict()["information_ratio"] is None
    assert list(row.to_dict()) == list(metrics.COLUMNS)


values_strategy = arrays(float, st.integers(3, 60), elements=st.floats(0.1, 10.0, allow_nan=False))


@given(values_strategy)
def test_max_drawdown_is_between_minus_one_and_zero(values):
    drawdown = metrics.max_drawdown(values)
    assert -1.0 < drawdown <= 0.0
    if np.all(np.diff(values) >= 0):
        assert drawdown == 0.0


@given(values_strategy)
def test_total_return_is_the_product_of_daily_returns(values):
    returns = values[1:] / values[:-1] - 1
    assert metrics.total_return(values, values[0]) == pytest.approx(
        np.prod(1 + returns) - 1, rel=1e-9, abs=1e-12
    )
