"""vectorbt's compiled engine called directly (engine.portfolio.orders) against the full
``vbt.Portfolio.from_orders`` path, the reference: equal to 1e-12 on generated orders and on
real baskets, so an upgrade of vectorbt cannot silently change a number."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from conftest import PROJECT, assert_same_backtest, generated_baskets, real_run
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.portfolio import orders as engine_orders
from engine.portfolio.orders import (
    FALLBACK_NOTE,
    LOG_RECORD,
    ORDER_DEFAULTS,
    ORDER_RECORD,
    SIZE_TYPES,
    Orders,
    simulate,
    simulate_compiled,
    simulate_portfolio,
)

TOLERANCE = 1e-12


def assert_same(compiled, reference) -> None:
    """Both simulations agree: the same orders (columns, sessions, sides exactly; sizes, prices
    and fees to 1e-12) and the same values and cash flows."""
    assert compiled.records.dtype == reference.records.dtype
    for name in ("id", "col", "idx", "side"):
        np.testing.assert_array_equal(compiled.records[name], reference.records[name])
    for name in ("size", "price", "fees"):
        np.testing.assert_allclose(
            compiled.records[name], reference.records[name], rtol=TOLERANCE, atol=TOLERANCE
        )
    for name in ("value", "asset_value", "cash_flow"):
        np.testing.assert_allclose(
            getattr(compiled, name), getattr(reference, name), rtol=TOLERANCE, atol=TOLERANCE,
            err_msg=name,
        )


def generated_orders(
    seed: int, groups: list[int], sessions: int, init_cash: float = 1.0, **order_args
) -> Orders:
    """Random-walk closes, random target weights per group bought on the first session and
    rebalanced on random sessions."""
    rng = np.random.default_rng(seed)
    columns = sum(groups)
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.03, (sessions, columns)), axis=0))
    weights = np.concatenate([rng.dirichlet(np.ones(n)) for n in groups])
    size = np.full((sessions, columns), np.nan)
    size[0] = weights
    size[rng.random(sessions) < 0.15] = weights
    return Orders(close, size, np.array(groups), init_cash, order_args=order_args)


def test_the_defaults_and_codes_are_vectorbts():
    from vectorbt._settings import settings as vbt_settings
    from vectorbt.portfolio.enums import Direction, SizeType, log_dt, order_dt

    assert order_dt == ORDER_RECORD
    assert log_dt == LOG_RECORD
    assert {name.lower(): code for name, code in SizeType._asdict().items()} == SIZE_TYPES
    portfolio = vbt_settings["portfolio"]
    defaults = {name: value for name, (value, _) in ORDER_DEFAULTS.items()}
    assert defaults.pop("price") == np.inf  # from_orders' own default, not a setting
    assert defaults.pop("direction") == getattr(Direction, portfolio["order_direction"].title())
    for name, value in defaults.items():
        np.testing.assert_equal(value, portfolio[name], err_msg=name)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    groups=st.lists(st.integers(1, 6), min_size=1, max_size=5),
    sessions=st.integers(2, 80),
    fees=st.sampled_from([0.0, 0.001, 0.01]),
)
def test_compiled_engine_equals_the_portfolio_on_generated_orders(seed, groups, sessions, fees):
    orders = generated_orders(seed, groups, sessions, fees=fees)
    assert_same(simulate_compiled(orders), simulate_portfolio(orders))


@pytest.mark.parametrize(
    "order_args",
    [
        {"fees": "per element"},
        {"fees": "per column", "fixed_fees": 0.0001},
        {"size_granularity": 1.0, "min_size": 1.0},
        {"slippage": 0.002, "max_size": 0.05},
    ],
    ids=["fees-per-element", "fees-per-column", "board-lots", "slippage-max-size"],
)
def test_order_arguments_pass_through_both_paths(order_args):
    """What later issues pass (market costs per element, board lots) reaches the engine the
    same way on both paths."""
    shape = generated_orders(7, [3, 4], 60).shape
    rng = np.random.default_rng(3)
    if order_args.get("fees") == "per element":
        order_args = {"fees": rng.uniform(0, 0.003, shape)}
    elif order_args.get("fees") == "per column":
        order_args = {**order_args, "fees": rng.uniform(0, 0.003, shape[1])}
    # Enough cash to buy whole shares at about 10 each.
    orders = generated_orders(7, [3, 4], 60, init_cash=1000.0, **order_args)
    compiled, reference = simulate_compiled(orders), simulate_portfolio(orders)
    assert_same(compiled, reference)
    assert len(compiled.records) > 7  # the rebalancing orders went through
    if "size_granularity" in order_args:
        np.testing.assert_array_equal(compiled.records["size"] % 1.0, 0.0)


def test_a_closed_price_before_a_columns_first_close_is_filled_like_vectorbt():
    orders = generated_orders(11, [2, 3], 30)
    close = orders.close.copy()
    close[:3, 1] = np.nan  # no price yet: vectorbt skips its orders and values it backfilled
    close[10:12, 4] = np.nan
    orders = dataclasses.replace(orders, close=close)
    assert_same(simulate_compiled(orders), simulate_portfolio(orders))


def test_an_unknown_order_argument_or_size_type_is_refused():
    orders = generated_orders(1, [2], 5)
    with pytest.raises(ValueError, match="not an order argument of from_orders: fee"):
        dataclasses.replace(orders, order_args={"fee": 0.001})
    with pytest.raises(ValueError, match="size_type 'weights' is not one of amount, value"):
        dataclasses.replace(orders, size_type="weights")
    with pytest.raises(ValueError, match=r"close \(5, 2\), size \(5, 2\) and groups of 3"):
        dataclasses.replace(orders, group_lens=np.array([3]))


def test_without_the_compiled_engine_the_portfolio_simulates_with_a_note(monkeypatch):
    def missing():
        raise ImportError("No module named 'vectorbt_rust'")

    monkeypatch.setattr(engine_orders, "_compiled_engine", missing)
    orders = generated_orders(5, [2, 3], 20, fees=0.001)
    simulated, notes = simulate(orders)
    assert notes == [FALLBACK_NOTE]
    assert_same(simulated, simulate_portfolio(orders))


def test_the_compiled_path_imports_no_vectorbt_and_leaves_it_importable():
    """The stand-in record module is lent for the call only: vectorbt imports normally after it,
    and the reference computed afterwards in the same process agrees."""
    code = (
        "import sys, numpy as np\n"
        "from test_orders import generated_orders, assert_same\n"
        "from engine.portfolio.orders import simulate, simulate_portfolio\n"
        "orders = generated_orders(2, [3, 2], 40, fees=0.001)\n"
        "compiled, notes = simulate(orders)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'vectorbt')\n"
        "print(loaded, notes)\n"
        "assert_same(compiled, simulate_portfolio(orders))\n"
        "import vectorbt.portfolio.enums as enums\n"
        "print(hasattr(enums, 'trade_dt'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                          text=True, check=True, env=_test_env())
    assert done.stdout.split("\n")[:2] == ["[] []", "True"], done.stderr


def _test_env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'tests'}"}


# -- real baskets -------------------------------------------------------------------------------


@pytest.mark.parametrize("study_file", ["deepseek.yaml", "since_2023.yaml"])
def test_compiled_engine_equals_the_portfolio_on_real_and_generated_baskets(
    shared_prices, study_file
):
    from engine.portfolio.simulation import run_backtest

    result = real_run(shared_prices, study_file)
    baskets = result.baskets + generated_baskets(result.panel, result.baskets, 40, seed=17)
    for rebalance in (None, "monthly"):
        common = {"fees": result.study.fees, "rebalance": rebalance}
        compiled = run_backtest(result.panel, baskets, result.prices, **common)
        reference = run_backtest(
            result.panel,
            baskets,
            result.prices,
            **common,
            simulator=lambda o: (simulate_portfolio(o), []),
        )
        assert_same_backtest(compiled, reference)
        assert compiled.notes == []
    # The run's own backtest is the compiled one.
    assert_same_backtest(
        result.backtest,
        run_backtest(result.panel, result.baskets, result.prices, fees=result.study.fees,
                     default_rebalance=result.study.rebalance,
                     simulator=lambda o: (simulate_portfolio(o), [])),
    )
