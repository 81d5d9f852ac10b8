"""The fast paths of the main job give what the plain pandas code they replaced gave: each
reference below is that code, kept here."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import generated_baskets, real_run
from hypothesis import given
from hypothesis import strategies as st

from engine.portfolio.schedules import monthly, quarterly


def first_open_session_per_period(all_open: pd.Series, period: str, after: pd.Timestamp):
    """The schedules' rule written with pandas periods: the first open session of each month
    or quarter after the one of ``after`` (the reference)."""
    open_days = all_open.index[all_open.to_numpy()]
    open_days = open_days[open_days > after]
    first = pd.Series(open_days, index=open_days).groupby(open_days.to_period(period)).min()
    return list(first[first.index > after.to_period(period)])


@given(st.integers(0, 2**32 - 1), st.integers(1, 600), st.integers(-5, 600),
       st.sampled_from(["1968-11-01", "2023-01-02"]))
def test_monthly_and_quarterly_schedules_pick_the_first_open_session_of_each_period(
    seed, count, at, first_day
):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range(first_day, periods=count)
    all_open = pd.Series(rng.random(count) > rng.random(), index=days)
    # Purchases on a session or (at < 0) the day before the first.
    bought = days[min(max(at, 0), count - 1)] - pd.Timedelta(days=1 if at < 0 else 0)
    assert monthly(all_open, bought) == first_open_session_per_period(all_open, "M", bought)
    assert quarterly(all_open, bought) == first_open_session_per_period(all_open, "Q", bought)


def melted_weights(targets_by_basket) -> pd.DataFrame:
    """The run's weights table as ``DataFrame.melt`` made it (the reference)."""
    frames = [
        targets.weights.rename_axis("date").reset_index().melt(
            id_vars="date", var_name="symbol", value_name="weight"
        ).assign(basket=name).sort_values("date", kind="stable")
        for name, targets in targets_by_basket.items()
    ]
    return pd.concat(frames)[["basket", "date", "symbol", "weight"]].reset_index(drop=True)


def test_the_weights_table_is_the_melted_targets_of_every_basket(shared_prices):
    from engine.portfolio.simulation import run_backtest

    result = real_run(shared_prices, "deepseek.yaml")
    pd.testing.assert_frame_equal(result.weights_frame(), melted_weights(result.backtest.targets))
    baskets = result.baskets + generated_baskets(result.panel, result.baskets, 20, seed=3)
    result.backtest = run_backtest(result.panel, baskets, result.prices, rebalance="monthly")
    pd.testing.assert_frame_equal(result.weights_frame(), melted_weights(result.backtest.targets))


@given(st.integers(0, 2**32 - 1), st.integers(1, 9), st.floats(0.0, 0.3))
def test_the_rank_test_of_stocks_ranked_one_at_a_time_is_the_rank_test_to_the_last_bit(
    seed, stocks, missing
):
    from engine.analysis import significance as sig

    rng = np.random.default_rng(seed)
    estimation, window = rng.normal(0, 0.02, (120, stocks)), rng.normal(0, 0.02, (7, stocks))
    estimation[rng.random(estimation.shape) < missing] = np.nan
    window[rng.random(window.shape) < missing / 3] = np.nan
    one_at_a_time = np.column_stack([
        sig.rank_uniforms(estimation[:, [i]], window[:, [i]])[:, 0] for i in range(stocks)
    ])
    together = sig.rank_test(estimation, window)
    assert sig.rank_test_of_uniforms(one_at_a_time, 120) == together or (
        np.isnan(together.statistic)
        and np.isnan(sig.rank_test_of_uniforms(one_at_a_time, 120).statistic)
    )
