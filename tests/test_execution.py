"""Trading like the market: costs by side and date, lots, price limits, suspensions, cash drag.

Every expected number is computed by hand in the test from the statutory rates written down
here (not read from engine.portfolio.costs).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import flat_history
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config.baskets import Basket, Commission, Constituent, basket_from_mapping
from engine.config.studies import Study
from engine.data.csvfolder import CsvFolderSource
from engine.data.prices import PriceSet
from engine.errors import ConfigError, OptionError
from engine.market.panel import Panel
from engine.pipeline.runs import run
from engine.pipeline.writing import write_run
from engine.portfolio.costs import market_rates
from engine.portfolio.execution import Lot, board_lot, limit_closes, plan_orders
from engine.portfolio.targets import Targets
from engine.symbols import Listing

# A-share levies after 2023-08-28: handling 0.00341 %, management 0.002 %, transfer 0.001 %.
A_LEVIES = 0.0000341 + 0.00002 + 0.00001
A_STAMP_SELL = 0.0005
# Hong Kong in 2024: stamp 0.1 % both sides; trading 0.00565 %, SFC 0.0027 %, AFRC 0.00015 %,
# settlement 0.002 % (0.0042 % from 2025-06-30).
HK_LEVIES_2024 = 0.0000565 + 0.000027 + 0.0000015 + 0.00002


def test_market_rates_follow_the_effective_dates():
    days = pd.DatetimeIndex(["2023-08-25", "2023-08-28", "2023-11-16", "2023-11-17", "2025-06-30"])
    a_sell = market_rates("XSHG", "sell", days)
    np.testing.assert_allclose(a_sell["stamp_duty"], [0.001, 0.0005, 0.0005, 0.0005, 0.0005])
    assert market_rates("XSHG", "buy", days)["stamp_duty"].tolist() == [0.0] * 5
    # The handling fee was cut from 0.00487 % to 0.00341 % on 2023-08-28 too.
    np.testing.assert_allclose(
        a_sell["levies"], [0.0000487 + 0.00003] + [A_LEVIES] * 4, rtol=1e-12
    )
    hk_buy = market_rates("XHKG", "buy", days)
    np.testing.assert_allclose(hk_buy["stamp_duty"], [0.0013, 0.0013, 0.0013, 0.001, 0.001])
    np.testing.assert_allclose(
        hk_buy["levies"][3:], [HK_LEVIES_2024, HK_LEVIES_2024 - 0.00002 + 0.000042], rtol=1e-12
    )
    assert not any(r.any() for r in market_rates("XNAS", "sell", days).values())


def test_board_lots():
    assert board_lot("600519.SS", "XSHG", None) == (Lot(100, 100), False)
    assert board_lot("688981.SS", "XSHG", None) == (Lot(200, 1), False)
    assert board_lot("300308.SZ", "XSHG", None) == (Lot(100, 100), False)
    assert board_lot("0700.HK", "XHKG", None) == (Lot(100, 100), True)
    assert board_lot("0981.HK", "XHKG", 500) == (Lot(500, 500), False)
    assert board_lot("NVDA", "XNAS", None) == (Lot(1, 1), False)
    assert Lot(200, 1).round_down(199.9) == 0.0  # below the STAR minimum
    assert Lot(200, 1).round_down(250.7) == 250.0
    assert Lot(100, 100).round_down(1299.99) == 1200.0


DAYS = pd.DatetimeIndex(
    ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"], name="date"
)


#: Five sessions before DAYS: a listing's first five sessions have no limits, so every series
#: here starts with them, flat at its first close.
LISTING = pd.DatetimeIndex(["2024-02-26", "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"])


def _bars(symbol: str, closes, highs=None, days=DAYS):
    closes = [closes[0]] * len(LISTING) + list(closes)
    history = flat_history(symbol, closes, LISTING.append(days))
    if highs is not None:
        history.frame["high"] = [highs[0]] * len(LISTING) + list(highs)
    return history


def test_limit_closes_allow_for_the_tick_and_need_the_close_at_the_high():
    # Previous close 9.83: the limit-up price is round(10.813, 2) = 10.81, a move of +9.97 %,
    # within half a tick (0.005 / 9.83 = 0.05 %) of +10 %.  10.80 is not the limit.  A close
    # at the limit move but below the day's high (10.90) is not a limit close either.
    history = _bars("600000.SS", [9.83, 10.81, 11.89, 10.70, 10.70],
                    highs=[9.9, 10.81, 11.89, 10.9, 10.70])
    up, down = limit_closes(history, DAYS)
    assert up.tolist() == [False, True, True, False, False]
    assert down.tolist() == [False, False, False, True, False]  # -10.01 %, the low
    below = _bars("600000.SS", [9.83, 10.80, 10.80, 10.80, 10.80])
    assert not limit_closes(below, DAYS)[0].any()
    # 10.70 after 11.89 is -10.01 %: limit-down when the low is the close.


def test_chinext_and_st_limits():
    # ChiNext: +20 % is the limit, +10 % is not.
    chinext = _bars("300308.SZ", [10.0, 12.0, 13.2, 13.2, 13.2])
    assert limit_closes(chinext, DAYS)[0].tolist() == [False, True, False, False, False]
    # A main-board ST share: +5 % is its limit (until 2026-07-05).
    st = _bars("600001.SS", [10.0, 10.5, 10.5, 10.5, 10.5])
    assert limit_closes(st, DAYS, st=True)[0].tolist() == [False, True, False, False, False]
    assert not limit_closes(st, DAYS)[0].any()
    # The same move in a listing's first five sessions has no limit.
    new = flat_history("300308.SZ", [10.0, 12.0, 13.2], DAYS)
    assert not limit_closes(new, DAYS)[0].any()
    # Not an A-share: no limits.
    assert not limit_closes(_bars("0700.HK", [10.0, 13.0, 13.0, 13.0, 13.0]), DAYS)[0].any()


def _panel(closes: dict[str, list[float]], calendars: dict[str, str], days=DAYS) -> Panel:
    local = pd.DataFrame(closes, index=days[: len(next(iter(closes.values())))])
    return Panel(
        prices=local,
        local=local,
        open=pd.DataFrame(True, index=local.index, columns=list(closes)),
        listings={s: Listing(c, "CNY") for s, c in calendars.items()},
        currency="CNY",
    )


def _targets(rows: dict[str, list[float]], symbols) -> Targets:
    return Targets(pd.DataFrame(list(rows.values()), index=pd.DatetimeIndex(list(rows)),
                                columns=symbols))


def test_a_round_trip_pays_stamp_duty_on_the_sell_only():
    symbol = "600000.SS"
    basket = Basket("rt", (Constituent(symbol, 1.0),), costs="market")
    panel = _panel({symbol: [10.0, 11.0, 12.0]}, {symbol: "XSHG"})
    prices = PriceSet({symbol: _bars(symbol, [10.0, 11.0, 12.0])}, "test")
    targets = _targets({"2024-03-04": [1.0], "2024-03-06": [0.0]}, [symbol])
    plan = plan_orders(basket, targets, panel, prices)
    # Buy with all the cash at 10: shares * 10 * (1 + levies) = 1.
    shares = 1 / (10 * (1 + A_LEVIES))
    assert plan.shares[0, 0] == pytest.approx(shares, rel=1e-11)
    assert plan.shares[2, 0] == pytest.approx(-shares, rel=1e-11)
    # Sell at 12: the proceeds less levies and the 0.05 % stamp duty are the cash left.
    assert plan.cash[-1] == pytest.approx(shares * 12 * (1 - A_LEVIES - A_STAMP_SELL), rel=1e-11)
    assert plan.costs["stamp_duty"] == pytest.approx(shares * 12 * A_STAMP_SELL, rel=1e-11)
    assert plan.costs["levies"] == pytest.approx(shares * 22 * A_LEVIES, rel=1e-11)
    assert plan.costs["commission"] == 0.0


def test_a_buy_after_a_limit_up_close_waits_for_the_next_session(price_folder):
    folder, write = price_folder
    days = [d.strftime("%Y-%m-%d") for d in DAYS]
    # 600000.SS closes at +10 % (its high) on 2024-03-05, the purchase: it cannot be bought
    # then; 601000.SS is bought.  The buy goes through at 2024-03-06's close of 11.50.
    listed = [d.strftime("%Y-%m-%d") for d in LISTING]  # past its first five sessions
    write("600000.SS", listed + days, [10.0] * 5 + [10.0, 11.0, 11.5, 11.5, 11.5],
          high=[10.0] * 5 + [10.0, 11.0, 11.8, 11.6, 11.5])
    write("601000.SS", days, [20.0, 20.0, 22.0, 22.0, 22.0])
    write("000300.SS", days, [100.0] * 5)
    basket = Basket(
        "limits",
        (Constituent("600000.SS", 0.5), Constituent("601000.SS", 0.5)),
        weighting="custom",
        commission=Commission(0.0),
    )
    study = Study(benchmark="000300.SS", currency="CNY", start=dt.date(2024, 3, 5),
                  end=dt.date(2024, 3, 8))
    result = run([basket], study, CsvFolderSource(folder))
    # 2024-03-05: 0.5 of the cash buys 601000 at 20 (0.025 shares); 0.5 stays cash.
    # 2024-03-06: value 0.5 + 0.025 * 22 = 1.05; the deferred buy targets 0.5 * 1.05 = 0.525
    # of 600000 at 11.5, more than the 0.5 of cash: the cash buys 0.5 / 11.5 shares.
    # 2024-03-08: 0.5/11.5 * 11.5 + 0.025 * 22 = 1.05.
    np.testing.assert_allclose(result.backtest.equity["limits"], [1.0, 1.05, 1.05, 1.05],
                               rtol=1e-9)
    plan = result.backtest.executions["limits"]
    np.testing.assert_allclose(plan.shares[1], [0.5 / 11.5, 0.0], rtol=1e-9)
    assert "limits: buy of 600000.SS deferred from 2024-03-05 to 2024-03-06 (closed at " \
        "limit-up)" in result.notes


def test_a_suspended_stock_is_sold_when_it_trades_again():
    symbols = ["600000.SS", "601000.SS"]
    basket = Basket("s", tuple(Constituent(s, 0.5) for s in symbols), commission=Commission(0.0))
    panel = _panel({s: [10.0] * 5 for s in symbols}, dict.fromkeys(symbols, "XSHG"))
    suspended = _bars("600000.SS", [10.0, 10.0, 10.0], days=DAYS[[0, 1, 4]])  # no bar 6th, 7th
    prices = PriceSet({"600000.SS": suspended, "601000.SS": _bars("601000.SS", [10.0] * 5)}, "t")
    targets = _targets({"2024-03-04": [0.5, 0.5], "2024-03-06": [0.0, 1.0]}, symbols)
    plan = plan_orders(basket, targets, panel, prices)
    # 2024-03-06: the sell of 600000.SS waits for its next bar (2024-03-08); the buy of
    # 601000.SS finds no cash, and waits with it; on 2024-03-08 the sale pays for the buy.
    np.testing.assert_allclose(plan.shares[:, 0], [0.05, 0, 0, 0, -0.05], rtol=1e-11)
    np.testing.assert_allclose(plan.shares[:, 1], [0.05, 0, 0, 0, 0.05], rtol=1e-11)
    assert plan.notes == [
        "sell of 600000.SS deferred from 2024-03-06 to 2024-03-08 (suspended: no bar)"
    ]


def test_lots_commission_minimum_and_cash_drag_on_a_small_capital(price_folder, tmp_path):
    folder, write = price_folder
    days = [d.strftime("%Y-%m-%d") for d in DAYS]
    write("600000.SS", days, [12.34] * 3 + [13.0] * 2)
    write("688981.SS", days, [45.67] * 5)
    write("000300.SS", days, [100.0] * 5)
    basket = Basket(
        "small",
        (Constituent("600000.SS", 0.5), Constituent("688981.SS", 0.5)),
        weighting="custom",
        costs="market",
        commission=Commission(0.00025, 5.0),
        capital=10_000.0,
    )
    study = Study(benchmark="000300.SS", currency="CNY", start=dt.date(2024, 3, 4),
                  end=dt.date(2024, 3, 8))
    result = run([basket], study, CsvFolderSource(folder))
    plan = result.backtest.executions["small"]
    # 5,000 CNY each.  600000.SS: 5000 / 12.34 = 405.2 -> 400 shares (lots of 100) = 4,936 CNY,
    # commission max(0.025 % * 4936 = 1.23, 5) = 5, levies 4936 * 0.00641 % = 0.3164.
    # 688981.SS (STAR): 5000 / 45.67 = 109.5 shares, below the 200-share minimum: none.
    assert plan.shares[0] * 10_000 == pytest.approx([400.0, 0.0])
    cash = 10_000 - 4936 - 5 - 4936 * A_LEVIES
    assert plan.cash[-1] == pytest.approx(cash, rel=1e-12)
    assert plan.costs["commission"] == pytest.approx(5.0)
    # vectorbt keeps the same books: the final value is the cash plus 400 shares at 13.
    final = (cash + 400 * 13.0) / 10_000
    assert result.backtest.equity["small"].iloc[-1] == pytest.approx(final, rel=1e-12)
    drag = f"{cash / (cash + 400 * 13.0):.2%} at the end (cash drag)"
    assert any(drag in note for note in result.notes), result.notes
    assert "small: costs commission 0.050%, levies 0.003% of the starting capital" in result.notes
    costs = pd.read_csv(write_run(result, tmp_path / "results") / "costs.csv")
    assert costs.columns.tolist() == [
        "basket", "capital", "commission", "stamp_duty", "levies", "fees", "total", "cash_mean",
        "cash_end",
    ]
    assert costs.loc[0, "commission"] == pytest.approx(5.0)
    assert costs.loc[0, "cash_end"] == pytest.approx(cash / (cash + 400 * 13.0), rel=1e-9)


def test_capital_option_and_its_error(price_folder):
    folder, write = price_folder
    days = [d.strftime("%Y-%m-%d") for d in DAYS]
    write("NVDA", days, [100.0, 101.0, 102.0, 103.0, 104.0])
    write("^IXIC", days, [100.0] * 5)
    basket = Basket("us", (Constituent("NVDA", 1.0),), weighting="custom")
    study = Study(start=dt.date(2024, 3, 4), end=dt.date(2024, 3, 8))
    result = run([basket], study, CsvFolderSource(folder), capital=1050.0)
    # 10 whole shares at 100 (1 share lots), 50 left as cash; worth 50 + 10 * 104 at the end.
    assert result.backtest.equity["us"].iloc[-1] == pytest.approx((50 + 1040) / 1050, rel=1e-12)
    with pytest.raises(OptionError, match="--capital: -5 is not a positive amount"):
        run([basket], study, CsvFolderSource(folder), capital=-5.0)


def test_plain_cost_number_on_a_basket_is_proportional_on_both_sides(price_folder):
    folder, write = price_folder
    days = [d.strftime("%Y-%m-%d") for d in DAYS]
    write("NVDA", days, [100.0] * 5)
    write("^IXIC", days, [100.0] * 5)
    basket = Basket("us", (Constituent("NVDA", 1.0),), weighting="custom", costs=0.01)
    study = Study(start=dt.date(2024, 3, 4), end=dt.date(2024, 3, 8), fees=0.0)
    result = run([basket], study, CsvFolderSource(folder))
    # All the cash buys at 100 with 1 % fees: 1/1.01 of it in stock, the rest paid in fees.
    assert result.backtest.equity["us"].iloc[-1] == pytest.approx(1 / 1.01, rel=1e-12)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"costs": "marke"}, "field 'costs': 'marke' is neither 'market' nor a proportional fee"),
        ({"costs": 0.2}, r"field 'costs': 0.2 is not a proportional fee in \[0, 0.1\)"),
        ({"commission": {"minimum": 5}}, "field 'commission.rate': is required"),
        ({"commission": {"rate": 0.0003, "minimum": -1}}, "'commission.minimum': must be >= 0"),
        ({"commission": 0.5}, r"field 'commission': 0.5 is not a proportional rate"),
        ({"capital": 0}, "field 'capital': must be > 0, got 0"),
        (
            {"constituents": [{"symbol": "0700.HK", "lot": 0}]},
            r"field 'constituents\[0\].lot': 0 is not a whole number of shares >= 1",
        ),
        (
            {"constituents": [{"symbol": "600000.SS", "st": "yes"}]},
            r"field 'constituents\[0\].st': must be true or false",
        ),
    ],
)
def test_bad_market_keys_are_clear_errors(tmp_path, changes, message):
    data = {"name": "m", "constituents": [{"symbol": "0700.HK"}]} | changes
    with pytest.raises(ConfigError, match=message):
        basket_from_mapping(data, str(tmp_path / "m.yaml"))


def test_market_keys_are_read_and_written_back(tmp_path):
    basket = basket_from_mapping(
        {
            "name": "m",
            "costs": "market",
            "commission": {"rate": 0.0003, "minimum": 5},
            "capital": 1_000_000,
            "constituents": [
                {"symbol": "0700.HK", "lot": 100},
                {"symbol": "600000.SS", "st": True},
            ],
        },
        str(tmp_path / "m.yaml"),
    )
    assert basket.trades_like_the_market
    assert basket.commission == Commission(0.0003, 5.0)
    assert basket.to_dict()["constituents"][0]["lot"] == 100
    assert basket.to_dict()["constituents"][1]["st"] is True
    assert basket.to_dict()["capital"] == 1_000_000


@settings(derandomize=True, max_examples=25, deadline=None)
@given(
    st.lists(st.floats(-0.09, 0.09), min_size=3 * 11, max_size=3 * 11),
    st.floats(2_000, 200_000),
)
def test_vectorbt_keeps_the_planned_books_in_whole_lots_without_overdrawing(moves, capital):
    from engine.portfolio.execution import simulate_baskets
    from engine.portfolio.orders import simulate

    symbols = ["600000.SS", "688981.SS", "0700.HK"]
    days = pd.DatetimeIndex(pd.bdate_range("2024-03-04", periods=12), name="date")
    paths = 10 * np.cumprod(np.vstack([np.ones(3), 1 + np.array(moves).reshape(11, 3)]), axis=0)
    paths = np.round(paths, 2)
    closes = {s: paths[:, j].tolist() for j, s in enumerate(symbols)}
    panel = _panel(closes, {"600000.SS": "XSHG", "688981.SS": "XSHG", "0700.HK": "XHKG"}, days)
    prices = PriceSet({s: _bars(s, closes[s], days=days) for s in symbols}, "t")
    basket = Basket(
        "p",
        tuple(Constituent(s, 1 / 3) for s in symbols),
        costs="market",
        commission=Commission(0.0003, 5.0),
        capital=capital,
    )
    targets = _targets(
        {"2024-03-04": [0.2, 0.5, 0.3], "2024-03-11": [0.6, 0.1, 0.3], "2024-03-15": [0, 0.5, 0.5]},
        symbols,
    )
    close = panel.prices.to_numpy()
    simulated, _, executions = simulate_baskets(
        close, np.full(close.shape, np.nan), [basket], {"p": targets}, panel, prices,
        fees=0.0, init_cash=1.0, simulator=simulate,
    )
    plan = executions["p"]
    held = np.cumsum(plan.shares, axis=0) * capital
    assert np.all(plan.cash >= 0)
    lots = held[:, 0] / 100
    np.testing.assert_allclose(lots, np.round(lots), atol=1e-9)  # main board: lots of 100
    assert np.all((held[:, 1] < 1e-6) | (held[:, 1] >= 200 - 1e-6))  # STAR: 0 or >= 200
    np.testing.assert_allclose(np.round(held[:, 1]), held[:, 1], atol=1e-6)
    value = (plan.cash + (held * close).sum(axis=1)) / capital
    np.testing.assert_allclose(simulated.value[:, 0], value, rtol=1e-9)


def test_the_hang_seng_tech_rules_example_on_real_data(shared_prices):
    from conftest import PROJECT

    from engine.config.baskets import load_basket
    from engine.config.studies import load_study
    from engine.pipeline.study import resolve_study

    rules = load_basket(PROJECT / "baskets/examples/hang_seng_tech_rules.yaml")
    plain = load_basket(PROJECT / "baskets/examples/hang_seng_tech_plain.yaml")
    assert rules.symbols == plain.symbols
    study = resolve_study(load_study(PROJECT / "baskets/studies/since_2023.yaml"))
    result = run([rules, plain], study, CsvFolderSource(shared_prices))
    weights = result.backtest.targets["HS TECH rules"].weights
    assert (weights.to_numpy() <= 0.08 + 1e-12).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)
    plan = result.backtest.executions["HS TECH rules"]
    held = np.cumsum(plan.shares, axis=0)[-1] * plan.capital
    np.testing.assert_allclose(held / 100, np.round(held / 100), atol=1e-9)  # lots of 100
    close = result.panel.prices[rules.symbols].to_numpy()[-1]
    value = (plan.cash[-1] + held @ close) / plan.capital
    assert result.backtest.equity["HS TECH rules"].iloc[-1] == pytest.approx(value, rel=1e-9)
    assert plan.costs["stamp_duty"] > plan.costs["levies"] > 0
    assert "HS TECH plain" not in result.backtest.executions


def test_baskets_run_together_or_alone_give_the_same_numbers(price_folder):
    folder, write = price_folder
    days = [d.strftime("%Y-%m-%d") for d in DAYS]
    write("NVDA", days, [100.0, 103.0, 99.0, 104.0, 108.0])
    write("AMD", days, [50.0, 49.0, 52.0, 51.0, 55.0])
    write("^IXIC", days, [100.0] * 5)
    weights = (Constituent("NVDA", 0.5), Constituent("AMD", 0.5))
    plain = Basket("plain", weights, weighting="custom", rebalance="monthly")
    market = Basket("market", weights, weighting="custom", capital=1000.0,
                    commission=Commission(0.001, 1.0))
    study = Study(start=dt.date(2024, 3, 4), end=dt.date(2024, 3, 8), fees=0.002)
    source = CsvFolderSource(folder)
    together = run([market, plain], study, source).backtest
    for alone in (run([plain], study, source).backtest, run([market], study, source).backtest):
        name = alone.equity.columns[0]
        np.testing.assert_allclose(together.equity[name], alone.equity[name], rtol=1e-12)
        assert together.fees[name] == pytest.approx(alone.fees[name], rel=1e-12)
        np.testing.assert_allclose(
            together.contributions[name], alone.contributions[name], rtol=1e-12
        )
    # The market basket aims at 5 NVDA (500) and 10 AMD (500), paying the study's 0.2 % fees
    # and the 1 minimum commission (0.1 % of 500 is 0.50).  NVDA costs 500 * 1.002 + 1, leaving
    # 498: (498 - 1) / (50 * 1.002) = 9.92 AMD, 9 whole shares.
    plan = together.executions["market"]
    assert plan.shares[0] * 1000 == pytest.approx([5.0, 9.0])
    assert plan.costs["commission"] == pytest.approx(2.0)
    assert plan.costs["fees"] == pytest.approx(0.002 * 950)
    assert plan.cash[0] == pytest.approx(1000 - 950 * 1.002 - 2)
