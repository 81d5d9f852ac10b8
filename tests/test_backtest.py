"""Backtests on small generated prices, checked against hand computations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import sessions, weekdays

from engine.config.baskets import Basket, Constituent
from engine.config.studies import Study
from engine.data.csvfolder import CsvFolderSource
from engine.pipeline.runs import run


def basket(name: str, weights: dict[str, float], rebalance: str | None = None) -> Basket:
    return Basket(
        name=name,
        constituents=tuple(Constituent(s, w) for s, w in weights.items()),
        weighting="custom",
        rebalance=rebalance,
    )


def study(start: str, end: str, **changes) -> Study:
    return Study(
        benchmark=changes.pop("benchmark", "^IXIC"),
        start=dt.date.fromisoformat(start),
        end=dt.date.fromisoformat(end),
        **changes,
    )


def test_one_stock_basket_returns_the_stocks_close_to_close_return(price_folder):
    folder, write = price_folder
    days = ["2025-01-30", "2025-01-31", "2025-02-03", "2025-02-04"]
    write("AAA", days, [10.0, 11.0, 12.0, 6.0])
    write("^IXIC", days, [100.0, 101.0, 99.0, 100.0])
    result = run([basket("one", {"AAA": 1.0})], study(days[0], days[-1]), CsvFolderSource(folder))
    np.testing.assert_allclose(result.backtest.equity["one"], [1.0, 1.1, 1.2, 0.6], rtol=1e-12)
    assert result.summary[0].total_return == pytest.approx(-0.4, rel=1e-12)
    assert result.summary[0].benchmark_return == pytest.approx(0.0, abs=1e-15)


def test_equal_weight_monthly_rebalance_matches_hand_computation(price_folder):
    folder, write = price_folder
    days = ["2025-01-30", "2025-01-31", "2025-02-03", "2025-02-04"]
    write("AAA", days, [10.0, 11.0, 12.0, 6.0])
    write("BBB", days, [20.0, 18.0, 19.0, 38.0])
    write("^IXIC", days, [100.0, 101.0, 99.0, 100.0])
    baskets = [
        basket("monthly", {"AAA": 0.5, "BBB": 0.5}, "monthly"),
        basket("hold", {"AAA": 0.5, "BBB": 0.5}, "none"),
    ]
    result = run(baskets, study(days[0], days[-1]), CsvFolderSource(folder))
    # Hold: 0.5 * 6/10 + 0.5 * 38/20 = 1.25.  Monthly: worth 0.5*1.2 + 0.5*0.95 = 1.075 on the
    # first February session, reset to 0.5375 each, then 0.5375*(6/12) + 0.5375*(38/19) = 1.34375.
    np.testing.assert_allclose(
        result.backtest.equity["monthly"], [1.0, 1.0, 1.075, 1.34375], rtol=1e-12
    )
    np.testing.assert_allclose(result.backtest.equity["hold"], [1.0, 1.0, 1.075, 1.25], rtol=1e-12)
    assert result.backtest.rebalances["monthly"] == [pd.Timestamp("2025-02-03")]
    assert result.backtest.rebalances["hold"] == []


def test_fees_are_paid_out_of_the_starting_cash(price_folder):
    folder, write = price_folder
    days = ["2025-01-30", "2025-01-31", "2025-02-03"]
    write("AAA", days, [10.0, 11.0, 12.0])
    write("^IXIC", days, [100.0, 101.0, 99.0])
    fee = 0.002
    result = run(
        [basket("one", {"AAA": 1.0})], study(days[0], days[-1], fees=fee), CsvFolderSource(folder)
    )
    # Everything is invested: size * price * (1 + fee) = 1, so the position is worth 1 / (1 + fee).
    invested = 1.0 / (1.0 + fee)
    np.testing.assert_allclose(
        result.backtest.equity["one"], [invested, invested * 1.1, invested * 1.2], rtol=1e-12
    )
    assert result.summary[0].total_return == pytest.approx(invested * 1.2 - 1, rel=1e-12)
    assert result.backtest.fees["one"] == pytest.approx(fee * invested, rel=1e-12)


def test_usd_conversion_of_an_a_share_and_a_hong_kong_share(price_folder):
    folder, write = price_folder
    days = ["2025-01-22", "2025-01-23", "2025-01-24"]
    write("600000.SS", days, [10.0, 10.5, 11.0])
    write("0001.HK", days, [50.0, 49.0, 52.0])
    write("^IXIC", days, [100.0, 100.0, 100.0])
    write("CNY=X", days, [7.30, 7.25, 7.20])
    write("HKD=X", days, [7.80, 7.79, 7.78])
    result = run(
        [basket("cn", {"600000.SS": 1.0}), basket("hk", {"0001.HK": 1.0})],
        study(days[0], days[-1]),
        CsvFolderSource(folder),
    )
    cn = (11.0 / 7.20) / (10.0 / 7.30) - 1  # 1.1 * 7.30 / 7.20 - 1
    hk = (52.0 / 7.78) / (50.0 / 7.80) - 1
    assert result.summary[0].total_return == pytest.approx(cn, rel=1e-12)
    assert result.summary[1].total_return == pytest.approx(hk, rel=1e-12)
    assert cn == pytest.approx(0.115277777777, rel=1e-9)


def test_local_currency_keeps_prices_unconverted(price_folder):
    folder, write = price_folder
    days = ["2025-01-22", "2025-01-23", "2025-01-24"]
    write("0001.HK", days, [50.0, 49.0, 52.0])
    write("^HSI", days, [20000.0, 20100.0, 20200.0])
    result = run(
        [basket("hk", {"0001.HK": 1.0})],
        study(days[0], days[-1], benchmark="^HSI", currency="LOCAL"),
        CsvFolderSource(folder),
    )
    assert result.panel.currency == "HKD"
    assert result.summary[0].total_return == pytest.approx(0.04, rel=1e-12)


def test_no_rebalance_while_one_exchange_of_the_basket_is_closed(price_folder):
    """Shanghai is closed 2025-01-28..02-04 for the Lunar New Year while Hong Kong reopens on
    02-03: February's rebalance waits for 02-05, the first session both are open."""
    folder, write = price_folder
    shanghai = sessions("XSHG", "2025-01-02", "2025-03-31")
    hong_kong = sessions("XHKG", "2025-01-02", "2025-03-31")
    us = sessions("XNAS", "2025-01-02", "2025-03-31")
    fx = weekdays("2024-12-20", "2025-03-31")
    rng = np.random.default_rng(7)
    for symbol, days in (("600000.SS", shanghai), ("0001.HK", hong_kong), ("^IXIC", us)):
        write(symbol, days, 50 * np.cumprod(1 + rng.normal(0, 0.02, len(days))))
    write("CNY=X", fx, np.full(len(fx), 7.3))
    write("HKD=X", fx, np.full(len(fx), 7.8))
    result = run(
        [basket("mixed", {"600000.SS": 0.5, "0001.HK": 0.5}, "monthly")],
        study("2025-01-02", "2025-03-31"),
        CsvFolderSource(folder),
    )
    assert result.backtest.rebalances["mixed"] == [
        pd.Timestamp("2025-02-05"),
        pd.Timestamp("2025-03-03"),
    ]
    holdings = result.backtest.holdings["mixed"]
    shanghai_closed = pd.DatetimeIndex(["2025-01-28", "2025-02-03", "2025-02-04"])
    # Nothing traded while Shanghai was closed: the Shanghai position's value did not move.
    values = holdings.loc["2025-01-27":"2025-02-04", "600000.SS"]
    assert values.nunique() == 1
    assert not set(shanghai_closed) & set(result.backtest.rebalances["mixed"])
    # After the rebalance the two positions are worth the same again.
    after = holdings.loc["2025-02-05"]
    assert after["600000.SS"] == pytest.approx(after["0001.HK"], rel=1e-12)


def test_quarterly_rebalances_once_per_quarter(price_folder):
    folder, write = price_folder
    days = sessions("XNAS", "2024-11-01", "2025-07-31")
    rng = np.random.default_rng(3)
    for symbol in ("AAA", "BBB", "^IXIC"):
        write(symbol, days, 30 * np.cumprod(1 + rng.normal(0, 0.01, len(days))))
    result = run(
        [basket("q", {"AAA": 0.3, "BBB": 0.7}, "quarterly")],
        study("2024-11-01", "2025-07-31"),
        CsvFolderSource(folder),
    )
    assert result.backtest.rebalances["q"] == [
        pd.Timestamp("2025-01-02"),
        pd.Timestamp("2025-04-01"),
        pd.Timestamp("2025-07-01"),
    ]
    after = result.backtest.holdings["q"].loc["2025-04-01"]
    assert after["AAA"] / after.sum() == pytest.approx(0.3, rel=1e-9)


def test_contributions_add_up_to_the_total_return(price_folder):
    folder, write = price_folder
    days = sessions("XNAS", "2025-01-02", "2025-04-30")
    rng = np.random.default_rng(11)
    for symbol in ("AAA", "BBB", "CCC", "^IXIC"):
        write(symbol, days, 30 * np.cumprod(1 + rng.normal(0, 0.02, len(days))))
    result = run(
        [basket("b", {"AAA": 0.2, "BBB": 0.3, "CCC": 0.5}, "monthly")],
        study(days[0], days[-1], fees=0.001),
        CsvFolderSource(folder),
    )
    attribution = result.attribution_frame()
    assert attribution["contribution"].sum() == pytest.approx(result.summary[0].total_return)


def test_a_stock_without_a_close_on_its_own_sessions_up_to_the_start_is_refused(price_folder):
    """Bars dated on days Hong Kong was closed (2025-01-30, 01-31) are not closes: bought on
    2025-01-30, the stock has no price yet, which must be an error, not a silent empty
    position."""
    from engine.errors import MissingDataError

    folder, write = price_folder
    days = ["2025-01-30", "2025-01-31", "2025-02-03", "2025-02-04"]
    write("0001.HK", days, [50.0, 51.0, 52.0, 53.0])
    write("^IXIC", days, [100.0, 101.0, 99.0, 100.0])
    write("HKD=X", days, [7.8, 7.8, 7.8, 7.8])
    with pytest.raises(MissingDataError, match=r"0001.HK \(no bar in the 31 days up to the start"):
        run([basket("hk", {"0001.HK": 1.0})], study(days[0], days[-1]), CsvFolderSource(folder))
