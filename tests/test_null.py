"""Matched random baskets: draws, ranks, p-values, basket CARs (engine.analysis.null)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.analysis.null import (
    basket_cars,
    draw_baskets,
    liquidity_quintiles,
    rank_against,
)
from engine.errors import OptionError

POOLS = {("A", "chips"): np.arange(0, 12), ("A", "banks"): np.arange(12, 20),
         ("HK",): np.arange(20, 50)}
SLOTS = [("A", "chips"), ("HK",), ("A", "chips"), ("A", "banks"), ("HK",), ("HK",)]


def test_same_seed_same_draws_and_another_seed_other_draws():
    first = draw_baskets(SLOTS, POOLS, 500, np.random.default_rng([7, 1]))
    again = draw_baskets(SLOTS, POOLS, 500, np.random.default_rng([7, 1]))
    other = draw_baskets(SLOTS, POOLS, 500, np.random.default_rng([8, 1]))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def test_draws_do_not_depend_on_the_shuffle_block(monkeypatch):
    """The slots are shuffled a block of baskets at a time (to bound memory): the same
    random stream, so the same draws as one block."""
    import engine.analysis.null as null

    whole = draw_baskets(SLOTS, POOLS, 1000, np.random.default_rng([7, 1]))
    monkeypatch.setattr(null, "SHUFFLE_BLOCK", 64)
    blocks = draw_baskets(SLOTS, POOLS, 1000, np.random.default_rng([7, 1]))
    np.testing.assert_array_equal(blocks, whole)


def test_every_draw_keeps_the_strata_counts_and_distinct_names():
    draws = draw_baskets(SLOTS, POOLS, 2000, np.random.default_rng(3))
    for j, stratum in enumerate(SLOTS):
        assert np.isin(draws[:, j], POOLS[stratum]).all()
    for row in draws:
        assert len(set(row)) == len(row)


def test_draws_are_uniform_over_each_pool_and_over_slots():
    """Each stock of a pool is in a basket with probability slots / pool size, and in each
    slot equally often (the order is shuffled): chi-square tests at 0.1 %."""
    n = 20_000
    draws = draw_baskets(SLOTS, POOLS, n, np.random.default_rng(11))
    hk = draws[:, [1, 4, 5]]
    counts = np.bincount(hk.ravel() - 20, minlength=30)
    assert stats.chisquare(counts).pvalue > 1e-3
    for column in range(3):
        per_slot = np.bincount(hk[:, column] - 20, minlength=30)
        assert stats.chisquare(per_slot).pvalue > 1e-3


def test_a_stratum_smaller_than_its_slots_is_a_clear_error():
    with pytest.raises(OptionError, match=r"only 8 universe stock\(s\) match A / banks for 9"):
        draw_baskets([("A", "banks")] * 9, POOLS, 10, np.random.default_rng(0))


def test_rank_against_a_hand_computed_example():
    random = np.array([0.1, 0.2, 0.2, 0.3, np.nan, 0.5])
    ranking = rank_against(0.2, random)
    # 5 finite values: 1 below 0.2, 2 equal; percentile (1 + 2/2) / 5 = 40 %;
    # p = (1 + #{>= 0.2} = 4) / 6.
    assert ranking.n_random == 5
    assert ranking.percentile == pytest.approx(40.0)
    assert ranking.p_value == pytest.approx(5 / 6)
    assert ranking.random_mean == pytest.approx(1.3 / 5)
    assert ranking.random_p50 == pytest.approx(0.2)
    # numpy's linear interpolation: 5th percentile at rank 0.2 of [0.1, 0.2, ...].
    assert ranking.random_p05 == pytest.approx(0.1 + 0.2 * 0.1)
    assert rank_against(9.0, random).p_value == pytest.approx(1 / 6)
    assert np.isnan(rank_against(np.nan, random).p_value)


def test_p_values_are_uniform_when_the_theme_is_one_more_random_basket():
    """Under the null (the theme drawn like its random baskets) the empirical p-value
    (1 + #{x >= v}) / (1 + N) is uniform on {1, ..., N + 1} / (N + 1): 400 themes from a small
    universe, each against 99 baskets, pass a Kolmogorov-Smirnov test and put about 5 % of
    p-values at or below 0.05."""
    rng = np.random.default_rng(2025)
    returns = rng.normal(0.0, 0.02, size=40)  # each stock's return over the period
    pools = {("US",): np.arange(40)}
    p_values = []
    for _ in range(400):
        draws = draw_baskets([("US",)] * 5, pools, 100, rng)
        basket_returns = returns[draws].mean(axis=1)
        p_values.append(rank_against(basket_returns[0], basket_returns[1:]).p_value)
    p_values = np.array(p_values)
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert 0.02 < (p_values <= 0.05).mean() < 0.09


def test_basket_cars_renormalise_the_weights_over_stocks_with_a_car():
    cars = np.array([0.10, np.nan, -0.02, 0.04])
    baskets = np.array([[0, 1, 2], [3, 2, 0], [1, 1, 1]])
    weights = np.array([0.5, 0.3, 0.2])
    got = basket_cars(cars, baskets, weights, "basket")
    # Basket 0: stock 1 has no CAR: (0.5 * 0.10 + 0.2 * -0.02) / 0.7.
    assert got[0] == pytest.approx((0.05 - 0.004) / 0.7)
    assert got[1] == pytest.approx(0.5 * 0.04 + 0.3 * -0.02 + 0.2 * 0.10)
    assert np.isnan(got[2])
    equal = basket_cars(cars, baskets, weights, "equal")
    assert equal[0] == pytest.approx((0.10 - 0.02) / 2)


def test_liquidity_quintiles_rank_within_each_market():
    traded = np.array([5.0, 1.0, 3.0, 2.0, 4.0, 10.0, 20.0, np.nan, 30.0, 40.0, 50.0])
    markets = np.array(["A"] * 5 + ["HK"] * 6)
    quintiles = liquidity_quintiles(traded, markets, np.ones(11, bool))
    np.testing.assert_array_equal(quintiles[:5], [5, 1, 3, 2, 4])
    # HK: five known values, one each quintile; no traded value: quintile 0.
    np.testing.assert_array_equal(quintiles[5:], [1, 2, 0, 3, 4, 5])


def test_rule_scores_follow_the_weighting_rules_on_each_stock_own_bars():
    """inverse_vol and liquidity scores of the universe's stocks, against the rules computed
    by hand from each stock's bars before the day (gaps are not bars)."""
    from engine.analysis.null import rule_scores, rule_weights

    dates = pd.bdate_range("2025-01-01", periods=12)
    closes = np.array([[10, 20], [11, np.nan], [10.5, 21], [12, 22], [11.5, np.nan],
                       [12.5, 23.5], [13, 23], [12, 24], [12.2, 25], [13, 24.5],
                       [13.5, 26], [14, 27]], dtype=float)
    volume = np.array([[100.0, np.nan]] * 12)
    volume[3, 0] = np.nan
    days = [dates[6], dates[11]]
    to_report = np.array([[0.5, 1.0], [0.25, 1.0]])
    inverse = rule_scores("inverse_vol", dates, closes, volume, days, 3, to_report)
    # Stock 0 before dates[6]: closes 10.5, 12, 11.5, 12.5 (the last four), three returns.
    r = np.array([12 / 10.5, 11.5 / 12, 12.5 / 11.5]) - 1
    assert inverse[0, 0] == pytest.approx(1 / np.std(r, ddof=1), rel=1e-12)
    # Stock 1 before dates[6]: its bars 20, 21, 22, 23.5 (two gaps skipped).
    r = np.array([21 / 20, 22 / 21, 23.5 / 22]) - 1
    assert inverse[0, 1] == pytest.approx(1 / np.std(r, ddof=1), rel=1e-12)
    liquid = rule_scores("liquidity", dates, closes, volume, days, 3, to_report)
    # Stock 0 before dates[6]: bars 12 (no volume), 11.5, 12.5: median of 1150 and 1250.
    assert liquid[0, 0] == pytest.approx(1200 * 0.5, rel=1e-12)
    assert liquid[1, 0] == pytest.approx(1300 * 0.25, rel=1e-12)  # 1220, 1300, 1350
    assert np.isnan(liquid[:, 1]).all()  # no volume
    # Too few bars before the day: no score.
    early = rule_scores("inverse_vol", dates, closes, volume, [dates[2]], 3, to_report[:1])
    assert np.isnan(early).all()
    # Weights: members only, normalised per session.
    members = np.array([[True, True], [True, False]])
    weights = rule_weights(members, np.array([[0, 1], [1, 0]]), inverse)
    np.testing.assert_allclose(weights.sum(axis=2), 1.0)
    assert weights[0, 1].tolist() == [1.0, 0.0]
    assert weights[1, 0, 0] == pytest.approx(inverse[0, 1] / inverse[0].sum())
