"""The fast kernel reproduces vectorbt's simulation (the engine's ``run_backtest``) to 1e-9."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import flat_history, sessions

from engine.config.baskets import Basket, Constituent
from engine.data.prices import PriceSet
from engine.market.panel import align
from engine.portfolio.kernel import STATISTICS, basket_statistics, basket_values
from engine.portfolio.simulation import run_backtest

#: Stocks on three exchanges with two currencies besides the dollar.
SYMBOLS = {
    "600001.SS": "XSHG", "600002.SS": "XSHG", "000003.SZ": "XSHG", "300004.SZ": "XSHG",
    "0005.HK": "XHKG", "0006.HK": "XHKG", "0007.HK": "XHKG", "0008.HK": "XHKG",
    "AAAA": "XNAS", "BBBB": "XNAS", "CCCC": "XNAS", "DDDD": "XNAS",
}
START, END = "2024-12-02", "2025-04-30"  # Christmas, New Year, Lunar New Year, Easter
#: A Hong Kong session without bars (a typhoon closure the calendar does not know).
CLOSURE = "2025-02-14"


def _walk(rng: np.random.Generator, n: int, start: float) -> np.ndarray:
    return start * np.cumprod(1 + rng.normal(0.0005, 0.03, n))


@pytest.fixture(scope="module")
def generated() -> PriceSet:
    rng = np.random.default_rng(20250127)
    histories = {}
    for symbol, calendar in SYMBOLS.items():
        days = sessions(calendar, "2024-10-01", END)
        if calendar == "XHKG":
            days = [d for d in days if d != CLOSURE]
        histories[symbol] = flat_history(symbol, _walk(rng, len(days), rng.uniform(5, 300)), days)
    for fx, level in (("CNY=X", 7.2), ("HKD=X", 7.8)):
        days = pd.bdate_range("2024-10-01", END).strftime("%Y-%m-%d").tolist()
        histories[fx] = flat_history(fx, level * (1 + rng.normal(0, 0.002, len(days))), days)
    days = sessions("XNAS", "2024-10-01", END)
    histories["^IXIC"] = flat_history("^IXIC", _walk(rng, len(days), 19000.0), days)
    return PriceSet(histories, "generated")


@pytest.fixture(scope="module")
def panel(generated):
    return align(generated, [*SYMBOLS, "^IXIC"], pd.Timestamp(START), pd.Timestamp(END))


def _sampled_baskets(count: int, seed: int) -> list[tuple[list[str], np.ndarray]]:
    rng = np.random.default_rng(seed)
    names = list(SYMBOLS)
    chosen = []
    for _ in range(count):
        size = int(rng.integers(1, 7))
        symbols = list(rng.choice(names, size=size, replace=False))
        weights = rng.dirichlet(np.ones(size)) if rng.random() < 0.6 else np.full(size, 1 / size)
        chosen.append((symbols, weights))
    return chosen


#: Custom weights need no prices beyond the panel's.
NO_PRICES = PriceSet({}, "generated")


def _basket(name: str, symbols: list[str], weights: np.ndarray, rebalance: str) -> Basket:
    constituents = tuple(Constituent(s, float(w)) for s, w in zip(symbols, weights, strict=True))
    return Basket(name, constituents, weighting="custom", rebalance=rebalance)


@pytest.mark.parametrize("fees", [0.0, 0.001, 0.003])
@pytest.mark.parametrize("rebalance", ["none", "monthly", "quarterly"])
def test_kernel_equals_vectorbt_on_sampled_baskets(panel, fees, rebalance):
    drawn = _sampled_baskets(12, seed=int(fees * 1e4) + len(rebalance))
    baskets = [_basket(f"b{i}", s, w, rebalance) for i, (s, w) in enumerate(drawn)]
    reference = run_backtest(panel, baskets, NO_PRICES, fees=fees)
    columns = {s: i for i, s in enumerate(panel.prices.columns)}
    for basket, (symbols, weights) in zip(baskets, drawn, strict=True):
        trade = panel.sessions.isin(
            [reference.bought[basket.name], *reference.rebalances[basket.name]]
        )
        slots = np.array([[columns[s] for s in symbols]])
        values = basket_values(panel.prices.to_numpy(), slots, weights, trade, fees)
        np.testing.assert_allclose(
            values[0], reference.equity[basket.name].to_numpy(), rtol=1e-9, atol=1e-12
        )


def test_rebalancing_with_fees_cuts_the_last_buy_to_the_cash_left(panel):
    """Fees on top of the traded value: the buys cost more than the cash there is, so the last
    buy is cut to the cash left.  At the purchase all the cash is spent, on assets worth
    ``1 / (1 + fees)``."""
    symbols = ["600001.SS", "0005.HK", "AAAA"]
    weights = np.array([0.5, 0.3, 0.2])
    fees = 0.01
    reference = run_backtest(
        panel, [_basket("cut", symbols, weights, "monthly")], NO_PRICES, fees=fees
    )
    columns = [list(panel.prices.columns).index(s) for s in symbols]
    trade = panel.sessions.isin([reference.bought["cut"], *reference.rebalances["cut"]])
    values = basket_values(panel.prices.to_numpy(), np.array([columns]), weights, trade, fees)
    np.testing.assert_allclose(values[0], reference.equity["cut"].to_numpy(), rtol=1e-9)
    assert values[0, 0] == pytest.approx(1 / (1 + fees), rel=1e-12)


def test_statistics_follow_the_metrics_formulas(panel):
    from engine.analysis.metrics import PERIODS_PER_YEAR, max_drawdown, sharpe_ratio, volatility

    drawn = _sampled_baskets(20, seed=7)
    size = 3
    drawn = [(s[:size], w[:size] / w[:size].sum()) for s, w in drawn if len(s) >= size]
    columns = {s: i for i, s in enumerate(panel.prices.columns)}
    slots = np.array([[columns[s] for s in symbols] for symbols, _ in drawn])
    weights = np.array([w for _, w in drawn])
    trade = panel.sessions.isin(panel.sessions[[0, 30, 60]])
    prices = panel.prices.to_numpy()
    values = basket_values(prices, slots, weights, trade, 0.002)
    stats = basket_statistics(
        prices, slots, weights, trade, 0.002, periods_per_year=PERIODS_PER_YEAR, chunk=4
    )
    for row, v in zip(stats, values, strict=True):
        r = v[1:] / v[:-1] - 1
        expected = dict(
            total_return=v[-1] - 1.0,
            sharpe=sharpe_ratio(r),
            max_drawdown=max_drawdown(np.concatenate([[1.0], v])),
            volatility=volatility(r),
        )
        np.testing.assert_allclose(row, [expected[k] for k in STATISTICS], rtol=1e-10)


def test_one_stock_held_is_its_price_relative_less_the_purchase_fee():
    prices = np.array([[10.0, 1.0], [11.0, 1.0], [12.1, 1.0]])
    bought_first = np.array([True, False, False])
    values = basket_values(prices, np.array([[0]]), np.array([1.0]), bought_first, 0.001)
    np.testing.assert_allclose(values[0], np.array([10, 11, 12.1]) / 10 / 1.001, rtol=1e-14)
    # Bought a session later: cash (1.0) until then.
    later = basket_values(prices, np.array([[0]]), np.array([1.0]), np.roll(bought_first, 1))
    np.testing.assert_allclose(later[0], [1.0, 1.0, 1.1], rtol=1e-14)


def test_bad_shapes_are_refused():
    prices = np.ones((3, 2))
    with pytest.raises(ValueError, match="one flag per session"):
        basket_values(prices, np.array([[0]]), np.array([1.0]), np.ones(2, bool))
    with pytest.raises(ValueError, match="one at least"):
        basket_values(prices, np.array([[0]]), np.array([1.0]), np.zeros(3, bool))
    with pytest.raises(ValueError, match="column indices"):
        basket_values(prices, np.array([[0, 1]]), np.array([1.0]), np.ones(3, bool))


def test_kernel_equals_plain_vectorbt_from_orders(panel):
    """The same check against ``vbt.Portfolio.from_orders`` itself (the reference the
    engine's compiled path is tested against)."""
    from engine.portfolio.orders import simulate_portfolio

    drawn = _sampled_baskets(8, seed=99)
    baskets = [_basket(f"b{i}", s, w, "monthly") for i, (s, w) in enumerate(drawn)]
    reference = run_backtest(
        panel, baskets, NO_PRICES, fees=0.002, simulator=lambda o: (simulate_portfolio(o), [])
    )
    columns = {s: i for i, s in enumerate(panel.prices.columns)}
    for basket, (symbols, weights) in zip(baskets, drawn, strict=True):
        trade = panel.sessions.isin(
            [reference.bought[basket.name], *reference.rebalances[basket.name]]
        )
        slots = np.array([[columns[s] for s in symbols]])
        values = basket_values(panel.prices.to_numpy(), slots, weights, trade, 0.002)
        np.testing.assert_allclose(
            values[0], reference.equity[basket.name].to_numpy(), rtol=1e-9, atol=1e-12
        )


def test_golden_draws_and_statistics_stay_as_they_were():
    """Same seed, same draws, same numbers: the kernel's results on exactly representable
    prices (integer arithmetic over powers of ten) as the first kernel gave them, so a faster
    kernel or draw cannot change a published sweep."""
    from engine.analysis.null import draw_baskets

    t = np.arange(300)[:, None]
    s = np.arange(40)[None, :]
    prices = 20.0 + s + ((t * (s + 3) * 7919) % 997) / 100.0 + t * (s % 5 - 2) / 50.0
    trade = t[:, 0] % 21 == 5
    pools = {"A": np.arange(0, 25), "B": np.arange(25, 40)}
    draws = draw_baskets(["A", "B", "A", "A", "B", "A"], pools, 400,
                         np.random.default_rng([12, 2025]))
    weights = np.array([0.3, 0.2, 0.15, 0.15, 0.1, 0.1])
    stats = basket_statistics(prices, draws, weights, trade, 0.002, periods_per_year=252,
                              chunk=64)
    values = basket_values(prices, draws[:3], weights, trade, 0.002)
    assert draws[:3].tolist() == [
        [19, 29, 17, 22, 39, 3], [20, 30, 19, 16, 38, 13], [2, 38, 21, 23, 26, 0],
    ]
    golden = {
        "first three": (stats[:3], [
            [0.1752319902174455, 0.5285745083898624, -0.1213739866993172, 0.6679223313090425],
            [-0.005171503358552654, 0.341046135632646, -0.17205445357704519, 0.7088758258816066],
            [0.029628745861600914, 0.5053863587653672, -0.1963962565543007, 1.0063304799430837],
        ]),
        "sums": (stats.sum(axis=0),
                 [5.586342108755428, 174.18433859514778, -74.7105312499393, 341.59352474664024]),
        "values": (values[:, [0, 5, 6, 150, 299]], [
            [1.0, 0.9980039920159679, 0.954690180554264, 1.0622343207372602, 1.1752319902174455],
            [1.0, 0.9980039920159679, 0.9821466238627701, 0.964144330555537, 0.9948284966414473],
            [1.0, 0.9980039920159679, 1.0224705714032332, 0.9276977460387112, 1.029628745861601],
        ]),
    }
    for name, (actual, expected) in golden.items():
        np.testing.assert_allclose(actual, expected, rtol=1e-14, atol=0, err_msg=name)


@pytest.mark.parametrize("weighting", ["membership", "inverse_vol"])
def test_kernel_equals_vectorbt_with_targets_that_change(panel, generated, weighting):
    """Targets per trading session (members joining and leaving; inverse-volatility weights
    recomputed at every rebalance) given to the kernel as ``(1, sessions, k)``."""
    import datetime as dt
    from dataclasses import replace

    symbols = ["600001.SS", "0005.HK", "AAAA", "0006.HK"]
    constituents = [Constituent(s, 0.25) for s in symbols]
    if weighting == "membership":
        constituents[1] = replace(constituents[1], leaves=dt.date(2025, 2, 10))
        constituents[3] = replace(constituents[3], joins=dt.date(2025, 1, 20))
        basket = Basket("changing", tuple(constituents), weighting="equal", rebalance="monthly")
        prices = NO_PRICES
    else:
        basket = Basket("changing", tuple(constituents), weighting="inverse_vol", lookback=10,
                        rebalance="monthly")
        prices = generated
    reference = run_backtest(panel, [basket], prices, fees=0.002)
    targets = reference.targets["changing"].weights
    assert not np.allclose(targets.to_numpy(), targets.to_numpy()[0])  # they do change
    trade = panel.sessions.isin(targets.index)
    columns = [list(panel.prices.columns).index(s) for s in symbols]
    values = basket_values(panel.prices.to_numpy(), np.array([columns]),
                           targets.to_numpy()[None], trade, 0.002)
    np.testing.assert_allclose(values[0], reference.equity["changing"].to_numpy(), rtol=1e-9,
                               atol=1e-12)

