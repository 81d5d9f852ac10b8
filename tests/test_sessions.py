"""Sessions a basket trades and is measured on: closures the data show, per-basket calendars,
purchase and rebalancing on sessions where all the basket's exchanges trade.

Expected values are written down from the calendars and the generated prices by hand; the real
cases (Hong Kong's typhoon Saola on 2023-09-01 and black rainstorm on 2023-09-08, Easter Monday
2024-04-01) run on the shared prices and skip when they are absent.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.calendars import Closures
from engine.config.baskets import Basket, Constituent, load_basket
from engine.config.studies import Study, load_study
from engine.data.csvfolder import CsvFolderSource
from engine.data.quality import quality_flags
from engine.market.sessions import detect_closures
from engine.pipeline.runs import run
from engine.pipeline.study import resolve_study
from tests.conftest import flat_history, sessions

PROJECT = Path(__file__).resolve().parents[1]
TYPHOON, RAINSTORM = pd.Timestamp("2023-09-01"), pd.Timestamp("2023-09-08")


def hk_days(start: str, end: str, without: tuple[str, ...] = ()) -> list[str]:
    return [d for d in sessions("XHKG", start, end) if d not in without]


# -- detection on generated data ----------------------------------------------------------------


def test_a_session_no_symbol_of_the_exchange_traded_is_a_closure():
    days = hk_days("2023-08-28", "2023-09-12")
    assert "2023-09-01" in days  # exchange_calendars lists the typhoon day as a session
    closed = ("2023-09-01",)
    histories = {
        "0001.HK": flat_history("0001.HK", np.ones(9), hk_days("2023-08-28", "2023-09-12", closed)),
        "0002.HK": flat_history("0002.HK", np.ones(9), hk_days("2023-08-28", "2023-09-12", closed)),
        "NVDA": flat_history("NVDA", np.ones(10), sessions("XNAS", "2023-08-28", "2023-09-12")),
    }
    closures = detect_closures(histories)
    assert {k: list(v) for k, v in closures.days.items()} == {"XHKG": [TYPHOON]}
    assert TYPHOON not in closures.all_sessions("XHKG")
    assert list(closures.sessions("XHKG", TYPHOON, pd.Timestamp("2023-09-04"))) == [
        pd.Timestamp("2023-09-04")
    ]
    assert closures.notes() == [
        "XHKG: closed on 2023-09-01 (no bar for any of its symbols although exchange_calendars "
        "lists a session); not a session of this run"
    ]
    assert closures.notes(pd.Timestamp("2023-09-02"), None) == []


def test_one_symbol_without_a_bar_while_its_exchange_trades_is_no_closure():
    full = hk_days("2023-08-28", "2023-09-12")
    histories = {
        "0001.HK": flat_history("0001.HK", np.ones(9), hk_days("2023-08-28", "2023-09-12",
                                                               ("2023-09-01",))),
        "0002.HK": flat_history("0002.HK", np.ones(len(full)), full),
    }
    assert detect_closures(histories).days == {}


def test_a_symbol_counts_only_inside_its_own_data():
    # 0002.HK lists on 2023-09-05: before it only 0001.HK says whether Hong Kong traded.
    histories = {
        "0001.HK": flat_history("0001.HK", np.ones(9), hk_days("2023-08-28", "2023-09-12",
                                                               ("2023-09-01",))),
        "0002.HK": flat_history("0002.HK", np.ones(6), hk_days("2023-09-05", "2023-09-12")),
    }
    assert list(detect_closures(histories).days["XHKG"]) == [TYPHOON]
    # After the last bar of every symbol nothing is known: no closure is inferred there.
    short = {"0001.HK": flat_history("0001.HK", np.ones(3), hk_days("2023-08-28", "2023-08-30"))}
    assert detect_closures(short).days == {}


def test_fx_series_and_listing_overrides_choose_the_exchange():
    from engine.symbols import Listing

    days = hk_days("2023-08-28", "2023-09-12", ("2023-09-01",))
    histories = {
        "HKD=X": flat_history("HKD=X", np.ones(len(days)), days),
        "ABC": flat_history("ABC", np.ones(len(days)), days),
    }
    # FX rates are no exchange's; ABC looks like a US ticker but is listed in Hong Kong here.
    assert list(detect_closures(histories, {"ABC": Listing("XHKG", "HKD")}).days) == ["XHKG"]
    assert "XNAS" in detect_closures(histories).days


def test_a_closure_raises_no_missing_bar_flag():
    days = hk_days("2023-08-28", "2023-09-12", ("2023-09-01",))
    histories = {"0001.HK": flat_history("0001.HK", np.arange(1, len(days) + 1), days)}
    closures = detect_closures(histories)
    assert [f.kind for f in quality_flags(histories)] == ["missing_sessions"]
    assert quality_flags(histories, closures=closures) == []


# -- runs on generated data ---------------------------------------------------------------------


def _write(folder: Path, symbol: str, dates: list[str], closes) -> None:
    from engine.symbols import file_stem

    pd.DataFrame({"date": dates, "close": list(closes)}).to_csv(
        folder / f"{file_stem(symbol)}.csv", index=False
    )


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """Two US stocks, the NASDAQ, two Hong Kong stocks closed on the typhoon day, one Shanghai
    stock and FX, with random-walk closes (fixed seed) from 2023-08-01 to 2023-10-31."""
    folder = tmp_path / "prices"
    folder.mkdir()
    rng = np.random.default_rng(9)
    start, end = "2023-08-01", "2023-10-31"
    for symbol in ("AAA", "BBB", "^IXIC"):
        days = sessions("XNAS", start, end)
        _write(folder, symbol, days, 100 * np.cumprod(1 + rng.normal(0, 0.02, len(days))))
    for symbol in ("0001.HK", "0002.HK"):
        days = hk_days(start, end, ("2023-09-01",))
        _write(folder, symbol, days, 50 * np.cumprod(1 + rng.normal(0, 0.02, len(days))))
    days = sessions("XSHG", start, end)
    _write(folder, "600000.SS", days, 10 * np.cumprod(1 + rng.normal(0, 0.02, len(days))))
    every_day = [d.strftime("%Y-%m-%d") for d in pd.bdate_range(start, end)]
    _write(folder, "HKD=X", every_day, 7.8 + rng.normal(0, 0.01, len(every_day)))
    _write(folder, "CNY=X", every_day, 7.2 + rng.normal(0, 0.01, len(every_day)))
    return folder


def basket(name: str, *symbols: str, rebalance: str | None = None) -> Basket:
    weight = 1.0 / len(symbols)
    return Basket(
        name=name,
        constituents=tuple(Constituent(s, weight) for s in symbols),
        rebalance=rebalance,
    )


def study(start: str, end: str, **changes) -> Study:
    return Study(
        start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end), benchmark="^IXIC",
        **changes,
    )


def rows(result) -> dict[str, dict]:
    return {s.basket: without_trials(s.to_dict()) for s in result.summary}


def without_trials(row: dict) -> dict:
    """A summary row without its deflated Sharpe ratio and its count of trials: the DSR deflates
    by the run's baskets (its trials), so they alone are meant to change with the company a
    basket keeps."""
    return {k: v for k, v in row.items() if k not in ("dsr", "n_trials")}


def test_a_basket_row_does_not_depend_on_the_company_it_keeps(mixed_folder):
    source = CsvFolderSource(mixed_folder)
    period = study("2023-08-15", "2023-10-20", fees=0.001, rebalance="monthly")
    us = basket("US", "AAA", "BBB")
    alone = rows(run([us], period, source))
    beside = rows(run([basket("HK", "0001.HK", "0002.HK"), us, basket("CN", "600000.SS")],
                      period, source))
    assert alone["US"] == beside["US"]
    assert alone["^IXIC"] == beside["^IXIC"]
    hk_alone = rows(run([basket("HK", "0001.HK", "0002.HK")], period, source))
    assert hk_alone["HK"] == beside["HK"]


def test_statistics_use_the_basket_own_sessions(mixed_folder):
    source = CsvFolderSource(mixed_folder)
    result = run([basket("US", "AAA", "BBB"), basket("CN", "600000.SS")],
                 study("2023-08-28", "2023-09-20"), source)
    # Shanghai trades on Labor Day 2023-09-04 while the NASDAQ is closed; the US basket's
    # volatility is that of its own daily returns on NASDAQ sessions, computed here with numpy
    # from the CSV closes (equal-weight buy and hold: value = mean of price relatives).
    frame = {s: pd.read_csv(mixed_folder / f"{s}.csv", index_col="date")["close"]
             for s in ("AAA", "BBB")}
    days = sessions("XNAS", "2023-08-28", "2023-09-20")
    value = np.mean([frame[s].loc[days].to_numpy() / frame[s].loc[days[0]] for s in frame], axis=0)
    daily = value[1:] / value[:-1] - 1
    assert rows(result)["US"]["volatility"] == pytest.approx(np.std(daily, ddof=1) * 252**0.5,
                                                             rel=1e-12)
    assert "2023-09-04" not in days
    assert pd.Timestamp("2023-09-04") in result.panel.sessions  # the panel keeps the union


def test_a_hong_kong_basket_never_trades_on_a_closure(mixed_folder):
    source = CsvFolderSource(mixed_folder)
    result = run([basket("HK", "0001.HK", "0002.HK", rebalance="monthly")],
                 study("2023-08-15", "2023-10-20"), source)
    # September's first Hong Kong session is the typhoon day: the rebalance moves to 09-04.
    assert result.backtest.rebalances["HK"] == [pd.Timestamp("2023-09-04"),
                                                pd.Timestamp("2023-10-03")]
    assert not result.panel.open.loc["2023-09-01", "0001.HK"]
    assert any(n.startswith("XHKG: closed on 2023-09-01") for n in result.notes)
    assert not any("missing_sessions" in n or "suspended" in n for n in result.notes)


def test_a_purchase_waits_for_every_exchange_of_the_basket(mixed_folder):
    source = CsvFolderSource(mixed_folder)
    # 2023-09-01 is a session for the NASDAQ and Shanghai but the data show Hong Kong closed.
    result = run([basket("HKCN", "0001.HK", "600000.SS")], study("2023-09-01", "2023-09-20"),
                 source)
    assert result.backtest.bought["HKCN"] == pd.Timestamp("2023-09-04")
    equity = result.backtest.equity["HKCN"]
    assert equity.loc["2023-09-01"] == 1.0  # cash until the purchase
    assert (
        "HKCN: bought on 2023-09-04, the first session on which all its exchanges trade "
        "(held as cash from 2023-09-01)" in result.notes
    )


def test_a_suspended_stock_keeps_its_last_close(mixed_folder):
    frame = pd.read_csv(mixed_folder / "0002.HK.csv")
    frame[frame["date"] != "2023-09-12"].to_csv(mixed_folder / "0002.HK.csv", index=False)
    result = run([basket("HK", "0001.HK", "0002.HK")], study("2023-09-05", "2023-09-20"),
                 CsvFolderSource(mixed_folder))
    local = result.panel.local["0002.HK"]
    assert local.loc["2023-09-12"] == local.loc["2023-09-11"]
    assert result.panel.open.loc["2023-09-12", "0002.HK"]
    assert any(n.startswith("0002.HK: suspended (no bar while its exchange traded) on 1 ")
               for n in result.notes)
    assert "XHKG" not in result.prices.closures.days or (
        pd.Timestamp("2023-09-12") not in result.prices.closures.days["XHKG"]
    )


def test_event_time_skips_a_closure():
    from engine.analysis.events import EventBasket, run_event_study

    days = hk_days("2022-06-01", "2023-09-29", ("2023-09-01",))
    rng = np.random.default_rng(3)
    histories = {
        s: flat_history(s, 50 * np.cumprod(1 + rng.normal(0, 0.01, len(days))), days)
        for s in ("0001.HK", "^HSI")
    }
    closures = detect_closures(histories)
    kwargs = {"windows": [(0, 1)], "estimation": (-120, -10), "markets": {"XHKG": "^HSI"}}
    event = [(pd.Timestamp("2023-09-01"), "typhoon")]
    hk = [EventBasket("HK", {"0001.HK": 1.0})]
    study_ = run_event_study(histories, hk, event, closures=closures, **kwargs)
    assert study_.day0["day0"].tolist() == ["2023-09-04"]
    ar = study_.abnormal_returns
    assert ar.loc[ar["day"].between(0, 1), "date"].tolist() == ["2023-09-04", "2023-09-05"]
    # Without the closure the typhoon day would be day 0, with no bar: a gap.
    assert run_event_study(histories, hk, event, **kwargs).day0["day0"].tolist() == ["2023-09-01"]


def test_no_closures_leave_the_calendar_as_it_is():
    none = Closures()
    assert none.all_sessions("XHKG").equals(Closures({"XHKG": []}).all_sessions("XHKG"))
    assert none.notes() == []


# -- the real cases on the shared prices --------------------------------------------------------


def test_hong_kong_typhoon_and_rainstorm_are_closures_in_the_shared_prices(shared_prices):
    study_ = resolve_study(load_study(PROJECT / "baskets/studies/since_2023.yaml"))
    hk = load_basket(PROJECT / "baskets/report_headliners.yaml")
    monthly = hk.__class__(**{**hk.__dict__, "rebalance": "monthly"})
    result = run([monthly], study_, CsvFolderSource(shared_prices))
    assert list(result.prices.closures.days["XHKG"]) == [TYPHOON, RAINSTORM]
    assert [n for n in result.notes if n.startswith("XHKG: closed")] == [
        "XHKG: closed on 2023-09-01 (no bar for any of its symbols although exchange_calendars "
        "lists a session); not a session of this run",
        "XHKG: closed on 2023-09-08 (no bar for any of its symbols although exchange_calendars "
        "lists a session); not a session of this run",
    ]
    rebalances = result.backtest.rebalances[monthly.name]
    assert pd.Timestamp("2023-09-04") in rebalances
    assert TYPHOON not in rebalances and RAINSTORM not in rebalances
    # The basket's own sessions (XHKG and the benchmark's XNAS) keep 09-01 and 09-08 as NASDAQ
    # sessions, on which Hong Kong contributes no move: local prices keep their last close.
    local = result.panel.local[list(monthly.symbols)]
    assert local.loc[TYPHOON].equals(local.loc["2023-08-31"])
    assert local.loc[RAINSTORM].equals(local.loc["2023-09-07"])
    assert not any("missing_sessions" in n and ".HK" in n and "2023-09-01" in n
                   for n in result.notes)


def test_easter_monday_start_buys_the_hong_kong_leg_on_tuesday(shared_prices):
    hk = load_basket(PROJECT / "baskets/report_headliners.yaml")
    period = Study(start=dt.date(2024, 4, 1), end=dt.date(2024, 6, 28), benchmark="^IXIC")
    result = run([hk], period, CsvFolderSource(shared_prices))
    assert result.backtest.bought[hk.name] == pd.Timestamp("2024-04-02")
    assert result.backtest.equity[hk.name].loc["2024-04-01"] == 1.0


def test_us_basket_alone_and_beside_chinese_baskets_on_the_shared_prices(shared_prices, cli,
                                                                          tmp_path):
    study_file = PROJECT / "baskets/studies/deepseek.yaml"
    us = PROJECT / "baskets/us_ai_leaders.yaml"
    chinese = [PROJECT / f"baskets/{n}.yaml" for n in ("domestic_chips", "large_models_cloud")]

    def table(*files):
        result = cli("run", *files, "--study", study_file, "--prices", shared_prices,
                     "--out", tmp_path / "results", "--no-events", "--format", "json")
        assert result.exit_code == 0, result.output
        return {row["basket"]: without_trials(row) for row in json.loads(result.stdout)}

    alone, beside = table(us), table(*chinese, us)
    assert alone["US AI leaders"] == beside["US AI leaders"]
    assert alone["^IXIC"] == beside["^IXIC"]



def test_a_hong_kong_basket_against_the_hang_seng_leaves_the_closures_out(shared_prices):
    from engine.pipeline.runs import basket_sessions

    hk = load_basket(PROJECT / "baskets/report_headliners.yaml")
    period = Study(start=dt.date(2023, 8, 15), end=dt.date(2023, 9, 29), benchmark="^HSI")
    result = run([hk], period, CsvFolderSource(shared_prices))
    own = basket_sessions(result.panel, [hk], "^HSI")
    assert TYPHOON not in own[hk.name] and RAINSTORM not in own[hk.name]
    assert TYPHOON not in result.panel.sessions  # no exchange of this run traded that day
    # The volatility is that of the value on the Hong Kong sessions the data show open.
    values = result.backtest.equity[hk.name].loc[own[hk.name]].to_numpy()
    row = {s.basket: s for s in result.summary}[hk.name]
    daily = values[1:] / values[:-1] - 1
    assert row.volatility == pytest.approx(np.std(daily, ddof=1) * 252**0.5, rel=1e-12)
    assert len(own[hk.name]) == len(sessions("XHKG", "2023-08-15", "2023-09-29")) - 2


def test_the_report_of_a_study_without_events_says_so(mixed_folder, tmp_path):
    from engine.pipeline.writing import write_run

    result = run([basket("US", "AAA", "BBB")], study("2023-08-15", "2023-09-20"),
                 CsvFolderSource(mixed_folder))
    page = (write_run(result, tmp_path) / "report.html").read_text(encoding="utf-8")
    assert "The study has no events, so this run has no event study." in page
    assert "--no-events" not in page
