"""Robustness of a run: leave-one-out returns, the correlation and overlap of the baskets and the
effective number of themes, against hand computations from the price files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import (
    BACKTEST_TOLERANCE,
    PROJECT,
    assert_same_backtest,
    generated_baskets,
    only_run,
    real_run,
    sessions,
    write_yaml,
)

from engine.analysis.robustness import constituent_overlap
from engine.config.baskets import Basket, Constituent, load_basket

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


@pytest.fixture
def project(tmp_path, price_folder):
    folder, write = price_folder
    days = sessions("XNAS", "2024-12-02", "2025-03-31")
    rng = np.random.default_rng(29)
    closes = {}
    for symbol, drift in zip((*SYMBOLS, "^IXIC"), (0.004, 0.0, -0.002, 0.001, 0.0), strict=True):
        closes[symbol] = 50 * np.cumprod(1 + rng.normal(drift, 0.015, len(days)))
        write(symbol, days, closes[symbol])
    study = write_yaml(tmp_path / "study.yaml",
                       "name: Q\nbenchmark: ^IXIC\nstart: 2025-01-02\nend: 2025-03-31\n")
    first = write_yaml(tmp_path / "b" / "abc.yaml", "name: ABC\nconstituents:\n"
                       + "".join(f"  - symbol: {s}\n" for s in SYMBOLS[:3]))
    second = write_yaml(tmp_path / "b" / "cd.yaml", "name: CD\nconstituents:\n"
                        "  - symbol: CCC\n  - symbol: DDD\n")
    frame = pd.DataFrame(closes, index=pd.DatetimeIndex(days))
    return {"folder": folder, "study": study, "files": [first, second], "closes": frame,
            "out": tmp_path / "out"}


def _run_json(cli, p):
    result = cli("run", *p["files"], "--study", p["study"], "--prices", p["folder"], "--out",
                 p["out"], "--no-events", "--format", "json")
    assert result.exit_code == 0, result.output
    return {row["basket"]: row for row in json.loads(result.stdout)}


def test_leave_one_out_of_a_buy_and_hold_basket_is_the_mean_of_the_others(cli, project):
    rows = _run_json(cli, project)
    period = project["closes"].loc["2025-01-02":"2025-03-31"]
    growth = period.iloc[-1] / period.iloc[0] - 1  # each stock's return, bought on 01-02
    without = {s: growth[[o for o in SYMBOLS[:3] if o != s]].mean() for s in SYMBOLS[:3]}
    top = growth[list(SYMBOLS[:3])].idxmax()  # equal weights: the best stock contributes most
    abc = rows["ABC"]
    assert abc["top_contributor"] == top
    assert abc["return_without_top"] == pytest.approx(without[top], rel=1e-9)
    worst = min(without, key=without.get)
    assert abc["worst_leave_one_out"] == worst
    assert abc["return_worst_leave_one_out"] == pytest.approx(without[worst], rel=1e-9)
    assert rows["^IXIC"]["top_contributor"] is None


def test_correlation_overlap_and_effective_themes_written_with_the_run(cli, project):
    _run_json(cli, project)
    folder = only_run(project["out"])
    correlation = pd.read_csv(folder / "correlation.csv", index_col=0)
    equity = pd.read_csv(folder / "equity.csv", index_col=0)
    returns = equity.pct_change().iloc[1:]
    expected = np.corrcoef(returns["ABC"], returns["CD"])[0, 1]
    assert correlation.loc["ABC", "CD"] == pytest.approx(expected, rel=1e-7)  # 10 digits
    overlap = pd.read_csv(folder / "overlap.csv", index_col=0)
    assert overlap.loc["ABC", "CD"] == 1 and overlap.loc["ABC", "ABC"] == 3
    manifest = json.loads((folder / "manifest.json").read_text())
    # Two series with correlation rho: N_eff = 4 / (2 + 2 rho^2).
    assert manifest["effective_themes"] == pytest.approx(4 / (2 + 2 * expected**2), rel=1e-7)


def test_overlap_counts_symbols_held_in_common():
    baskets = [Basket("A", (Constituent("X", 0.5), Constituent("Y", 0.5))),
               Basket("B", (Constituent("Y", 1.0),)),
               Basket("C", (Constituent("Z", 1.0),))]
    np.testing.assert_array_equal(constituent_overlap(baskets).to_numpy(),
                                  [[2, 1, 0], [1, 1, 0], [0, 0, 1]])


def test_xiaomi_sits_in_three_shipped_baskets_smic_and_alibaba_in_two():
    baskets = [load_basket(p) for p in sorted((PROJECT / "baskets").glob("*.yaml"))]
    overlap = constituent_overlap(baskets)
    holders = {s: [b.name for b in baskets if s in b.symbols]
               for s in ("1810.HK", "0981.HK", "9988.HK")}
    assert len(holders["1810.HK"]) == 3
    assert len(holders["0981.HK"]) == len(holders["9988.HK"]) == 2
    assert overlap.loc["Report headliners", "Report headliners"] == 4
    assert overlap.loc["Report headliners", "Embodied intelligence"] == 1


def test_a_basket_whose_cap_cannot_hold_one_stock_fewer_gets_a_note_and_no_figures(cli, project):
    # Three stocks capped at 40 % each: with two left, 40 % + 40 % cannot make 100 %.
    write_yaml(project["files"][0], "name: ABC\ncaps: {single: 0.4}\nconstituents:\n"
               + "".join(f"  - symbol: {s}\n" for s in SYMBOLS[:3]))
    rows = _run_json(cli, project)
    assert rows["ABC"]["top_contributor"] is None and rows["CD"]["top_contributor"] is not None
    notes = json.loads((only_run(project["out"]) / "manifest.json").read_text())["notes"]
    assert [n for n in notes if "leave-one-out" in n] == [
        f"ABC: no leave-one-out returns ({project['files'][0]} on 2025-01-02, field "
        "'caps.single': caps.single 0.4 cannot hold 2 issuer(s))"
    ]


def leave_one_out_per_basket(result, *, rebalance):
    """The leave-one-out returns as they were computed before one call held them all: one
    ``run_backtest`` per basket of all its baskets without one constituent (the reference)."""
    from dataclasses import replace

    from engine.portfolio.simulation import run_backtest

    returns = {}
    for basket in result.baskets:
        if len(basket.constituents) < 2:
            continue
        schedule = rebalance or basket.rebalance or result.study.rebalance
        reduced = [replace(basket.without([s]), name=f"{basket.name} without {s}",
                           rebalance=schedule) for s in basket.symbols]
        alone = run_backtest(result.panel, reduced, result.prices, fees=result.study.fees)
        returns[basket.name] = {s: float(alone.equity[r.name].iloc[-1] - 1.0)
                                for s, r in zip(basket.symbols, reduced, strict=True)}
    return returns


@pytest.mark.parametrize("rebalance", [None, "monthly"])
def test_one_call_gives_the_backtest_and_leave_one_out_of_one_call_per_basket(shared_prices,
                                                                             rebalance):
    from engine.analysis.robustness import backtest_with_leave_one_out
    from engine.portfolio.simulation import run_backtest

    result = real_run(shared_prices, "deepseek.yaml")
    result.baskets = result.baskets + generated_baskets(result.panel, result.baskets, 30, seed=5)
    common = {"fees": result.study.fees, "rebalance": rebalance,
              "default_rebalance": result.study.rebalance}
    backtest, robust, notes = backtest_with_leave_one_out(
        result.panel, result.baskets, result.prices, **common
    )
    alone = run_backtest(result.panel, result.baskets, result.prices, **common)
    assert_same_backtest(backtest, alone)
    assert backtest.schedules == alone.schedules and backtest.bought == alone.bought
    expected = leave_one_out_per_basket(result, rebalance=rebalance)
    assert notes == [] and sorted(robust) == sorted(expected)
    for name, returns in expected.items():
        assert list(robust[name].returns) == list(returns)
        np.testing.assert_allclose(list(robust[name].returns.values()), list(returns.values()),
                                   rtol=BACKTEST_TOLERANCE, atol=BACKTEST_TOLERANCE, err_msg=name)
        contributions = alone.contributions[name]
        top = contributions.idxmax()
        assert robust[name].top_contributor == top
        assert robust[name].without_top == returns[top]
        assert robust[name].worst == min(returns, key=returns.get)
