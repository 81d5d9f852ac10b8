"""engine.analysis.events: event time per exchange, normal-return models, CARs, tests and errors.

Expected numbers come from a different route than the engine's: statsmodels OLS on returns
computed with pandas from the rows of the price tables, scipy for the t-tests.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import exchange_calendars as xc
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from engine.analysis.events import DEFAULT_MARKETS, EventBasket, EventStudy, run_event_study
from engine.analysis.events.multiple import adjusted_columns
from engine.data.csvfolder import CsvFolderSource
from engine.data.prices import PRICE_COLUMNS, PriceHistory
from engine.errors import DateRangeError, MissingDataError, OptionError

XNAS = pd.DatetimeIndex(xc.get_calendar("XNAS").sessions)
SESSIONS = XNAS[(XNAS >= "2023-01-03") & (XNAS <= "2024-06-28")]
EVENT_POSITION = 300
EVENT = SESSIONS[EVENT_POSITION]  # 2024-03-14
STOCKS = ("AAA", "BBB", "CCC", "DDD")


def history(symbol: str, closes: pd.Series) -> PriceHistory:
    frame = pd.DataFrame({column: np.nan for column in PRICE_COLUMNS}, index=closes.index)
    frame["close"] = frame["adj_close"] = closes.to_numpy(dtype=float)
    frame.index.name = "date"
    return PriceHistory(symbol, frame, "test")


def from_returns(returns: np.ndarray, dates: pd.DatetimeIndex, start: float = 100.0) -> pd.Series:
    return pd.Series(start * np.cumprod(1 + returns), index=dates)


@pytest.fixture(scope="module")
def synthetic() -> dict[str, PriceHistory]:
    """A market index and four US stocks with known betas on every XNAS session."""
    rng = np.random.default_rng(2025)
    market = rng.normal(0.0004, 0.011, len(SESSIONS))
    prices = {"^IXIC": history("^IXIC", from_returns(market, SESSIONS, 15000))}
    for k, symbol in enumerate(STOCKS):
        noise = rng.normal(0, 0.015 + 0.005 * k, len(SESSIONS))
        returns = 0.0003 * k + (0.6 + 0.4 * k) * market + noise
        returns[EVENT_POSITION : EVENT_POSITION + 3] += 0.02 * (k - 1)  # an event effect
        prices[symbol] = history(symbol, from_returns(returns, SESSIONS, 50 + k))
    return prices


def reference_market_model(
    prices: dict[str, PriceHistory],
    symbol: str,
    market: str,
    window: tuple[int, int],
    p0: int,
    estimation: tuple[int, int] = (-250, -30),
) -> dict[str, object]:
    """Market model by statsmodels on row-based returns (valid when no session is missing)."""
    stock = prices[symbol].closes()
    index = prices[market].closes().reindex(stock.index)
    r, m = stock.pct_change().to_numpy(), index.pct_change().to_numpy()
    est = slice(p0 + estimation[0], p0 + estimation[1] + 1)
    fit = sm.OLS(r[est], sm.add_constant(m[est])).fit()
    win = slice(p0 + window[0], p0 + window[1] + 1)
    design = sm.add_constant(m[win], has_constant="add")
    normal = fit.predict(design)
    ones = np.ones(len(normal))
    variance = len(normal) * fit.scale + ones @ design @ fit.cov_params() @ design.T @ ones
    car = float(np.sum(r[win] - normal))
    return {
        "alpha": fit.params[0],
        "beta": fit.params[1],
        "normal": normal,
        "returns": r[win],
        "car": car,
        "bhar": float(np.prod(1 + r[win]) - np.prod(1 + normal)),
        "scar": car / math.sqrt(variance),
        "dof": fit.df_resid,
        "residuals": fit.resid,
        "estimation_ar": r[est] - fit.predict(sm.add_constant(m[est])),
        "window_ar": r[win] - normal,
    }


def test_market_model_against_statsmodels(synthetic: dict[str, PriceHistory]) -> None:
    windows = [(-1, 1), (0, 5)]
    basket = EventBasket("four", {s: 0.25 for s in STOCKS})
    study = run_event_study(synthetic, [basket], [(EVENT, "synthetic")], windows=windows)
    assert study.excluded.empty
    for window in windows:
        refs = {
            s: reference_market_model(synthetic, s, "^IXIC", window, EVENT_POSITION) for s in STOCKS
        }
        cars = study.stock_cars[study.stock_cars.window_start == window[0]].set_index("symbol")
        for symbol, ref in refs.items():
            assert cars.loc[symbol, "car"] == pytest.approx(ref["car"], rel=1e-9, abs=1e-12)
            assert cars.loc[symbol, "bhar"] == pytest.approx(ref["bhar"], rel=1e-9, abs=1e-12)
            assert cars.loc[symbol, "scar"] == pytest.approx(ref["scar"], rel=1e-9)
        row = study.summary[study.summary.window_start == window[0]].iloc[0]
        ref_cars = np.array([refs[s]["car"] for s in STOCKS])
        ref_scars = np.array([refs[s]["scar"] for s in STOCKS])
        dofs = np.array([refs[s]["dof"] for s in STOCKS])
        assert row["n_stocks"] == 4
        assert row["car"] == pytest.approx(ref_cars.mean(), rel=1e-9)
        assert row["bhar"] == pytest.approx(np.mean([refs[s]["bhar"] for s in STOCKS]), rel=1e-9)
        t_test = stats.ttest_1samp(ref_cars, 0.0)
        assert row["t_cross_sectional"] == pytest.approx(t_test.statistic, rel=1e-8)
        assert row["p_cross_sectional"] == pytest.approx(t_test.pvalue, rel=1e-8)
        patell = ref_scars.sum() / math.sqrt(np.sum(dofs / (dofs - 2)))
        assert row["t_patell"] == pytest.approx(patell, rel=1e-8)
        bmp = stats.ttest_1samp(ref_scars, 0.0)
        assert row["t_bmp"] == pytest.approx(bmp.statistic, rel=1e-8)
        resid = np.column_stack([refs[s]["residuals"] for s in STOCKS])
        corr = np.corrcoef(resid, rowvar=False)
        rbar = corr[np.triu_indices(4, 1)].mean()
        assert row["rbar"] == pytest.approx(rbar, rel=1e-8)
        kp = bmp.statistic * math.sqrt((1 - rbar) / (1 + 3 * rbar))
        assert row["t_kolari_pynnonen"] == pytest.approx(kp, rel=1e-8)
        assert row["p_kolari_pynnonen"] == pytest.approx(2 * stats.t.sf(abs(kp), 3), rel=1e-8)
        # Generalized sign: Cowan's p-hat from each stock's estimation fraction of positive ARs.
        p_hat = np.mean([np.mean(refs[s]["estimation_ar"] > 0) for s in STOCKS])
        w = np.sum(ref_cars > 0)
        z_sign = (w - 4 * p_hat) / math.sqrt(4 * p_hat * (1 - p_hat))
        assert row["z_sign"] == pytest.approx(z_sign, rel=1e-8)
    ar = study.abnormal_returns
    bbb = ar[(ar.symbol == "BBB") & ar.day.between(0, 5)]
    ref = reference_market_model(synthetic, "BBB", "^IXIC", (0, 5), EVENT_POSITION)
    np.testing.assert_allclose(bbb.normal_return, ref["normal"], rtol=1e-9)
    np.testing.assert_allclose(
        bbb.abnormal_return, ref["returns"] - ref["normal"], rtol=1e-9, atol=1e-14
    )


def test_rank_z_matches_corrado_by_hand(synthetic: dict[str, PriceHistory]) -> None:
    basket = EventBasket("four", {s: 0.25 for s in STOCKS})
    study = run_event_study(synthetic, [basket], [(EVENT, "")], windows=[(0, 2)])
    refs = [reference_market_model(synthetic, s, "^IXIC", (0, 2), EVENT_POSITION) for s in STOCKS]
    uniform = []
    for ref in refs:
        combined = np.concatenate([ref["estimation_ar"], ref["window_ar"]])
        uniform.append(stats.rankdata(combined) / (len(combined) + 1))
    ubar = np.mean(uniform, axis=0) - 0.5
    s_u = math.sqrt(np.mean(ubar**2))
    z = math.sqrt(3) * ubar[-3:].mean() / s_u
    assert study.summary.loc[0, "z_rank"] == pytest.approx(z, rel=1e-9)


def test_car_paths_cumulate_the_basket_abnormal_returns(synthetic: dict[str, PriceHistory]) -> None:
    weights = {"AAA": 0.5, "BBB": 0.3, "CCC": 0.2}
    study = run_event_study(
        synthetic, [EventBasket("w", weights)], [(EVENT, "")], windows=[(-2, 4)]
    )
    ar = study.abnormal_returns.pivot(index="day", columns="symbol", values="abnormal_return")
    expected = (ar[list(weights)] * pd.Series(weights)).sum(axis=1).cumsum()
    np.testing.assert_allclose(study.car_paths.car, expected.to_numpy(), rtol=1e-12)
    assert study.car_paths.day.tolist() == list(range(-2, 5))
    assert study.summary.loc[0, "car"] == pytest.approx(expected.iloc[-1], rel=1e-12)


def test_weights_are_renormalised_over_included_stocks(synthetic: dict[str, PriceHistory]) -> None:
    short = synthetic["DDD"].closes().iloc[EVENT_POSITION - 60 :]
    prices = {**synthetic, "DDD": history("DDD", short)}
    weights = {"AAA": 0.5, "BBB": 0.3, "DDD": 0.2}
    baskets = [EventBasket("w", weights)]
    study = run_event_study(prices, baskets, [(EVENT, "")], windows=[(0, 5)])
    cars = study.stock_cars.set_index("symbol")
    assert list(cars.index) == ["AAA", "BBB"]
    expected = (0.5 * cars.loc["AAA", "car"] + 0.3 * cars.loc["BBB", "car"]) / 0.8
    assert study.summary.loc[0, "car"] == pytest.approx(expected, rel=1e-12)
    assert cars.loc["AAA", "weight"] == pytest.approx(0.625)
    equal = run_event_study(prices, baskets, [(EVENT, "")], windows=[(0, 5)], weighting="equal")
    assert equal.summary.loc[0, "car"] == pytest.approx(cars.car.mean(), rel=1e-12)
    reason = study.excluded.set_index("symbol").loc["DDD", "reason"]
    assert "only 30 valid estimation returns" in reason and "min_estimation 100" in reason
    assert study.summary.loc[0, "n_excluded"] == 1


def test_gap_in_estimation_window_drops_the_spanning_return(
    synthetic: dict[str, PriceHistory],
) -> None:
    closes = synthetic["AAA"].closes()
    gap = EVENT_POSITION - 100
    prices = {**synthetic, "AAA": history("AAA", closes.drop(closes.index[gap]))}
    study = run_event_study(
        prices, [EventBasket("a", {"AAA": 1.0})], [(EVENT, "")], windows=[(0, 3)]
    )
    assert study.excluded.empty
    r = closes.pct_change().to_numpy()
    m = synthetic["^IXIC"].closes().pct_change().to_numpy()
    keep = np.zeros(len(r), dtype=bool)
    keep[EVENT_POSITION - 250 : EVENT_POSITION - 29] = True
    keep[[gap, gap + 1]] = False  # the missing day and the return that would span it
    fit = sm.OLS(r[keep], sm.add_constant(m[keep])).fit()
    window = slice(EVENT_POSITION, EVENT_POSITION + 4)
    expected = fit.params[0] + fit.params[1] * m[window]
    np.testing.assert_allclose(study.abnormal_returns.normal_return, expected, rtol=1e-10)
    spanning = keep.copy()
    spanning[gap + 1] = True
    wrong = sm.OLS(r[spanning], sm.add_constant(m[spanning])).fit()
    assert abs(wrong.params[1] - fit.params[1]) > 1e-6  # the test can tell the two apart


def test_gap_inside_a_window_excludes_the_stock_from_that_window_only(
    synthetic: dict[str, PriceHistory],
) -> None:
    closes = synthetic["BBB"].closes()
    missing = closes.index[EVENT_POSITION + 2]
    prices = {**synthetic, "BBB": history("BBB", closes.drop(missing))}
    basket = EventBasket("two", {"AAA": 0.5, "BBB": 0.5})
    study = run_event_study(prices, [basket], [(EVENT, "")], windows=[(0, 1), (0, 5), (3, 4)])
    summary = study.summary.set_index("window_start")
    assert summary.n_stocks.tolist() == [2, 1, 1]
    reasons = study.excluded.reason.tolist()
    assert len(reasons) == 2
    assert f"day +2 ({missing.date()}, XNAS): no BBB price that session" in reasons[0]
    assert "day +3" in reasons[1] and f"missing BBB price of {missing.date()}" in reasons[1]
    assert study.excluded.window.tolist() == [[0, 5], [3, 4]]


def test_gap_in_the_market_index_is_a_gap_for_every_stock(
    synthetic: dict[str, PriceHistory],
) -> None:
    index = synthetic["^IXIC"].closes()
    missing = index.index[EVENT_POSITION + 1]
    prices = {**synthetic, "^IXIC": history("^IXIC", index.drop(missing))}
    basket = EventBasket("two", {"AAA": 0.5, "BBB": 0.5})
    study = run_event_study(prices, [basket], [(EVENT, "")], windows=[(0, 0), (0, 2)])
    assert study.summary.n_stocks.tolist() == [2, 0]
    assert math.isnan(study.summary.loc[1, "car"])
    assert all("no market ^IXIC price for that session" in r for r in study.excluded.reason)


def test_event_on_a_holiday_starts_on_the_next_session(synthetic: dict[str, PriceHistory]) -> None:
    study = run_event_study(
        synthetic,
        [EventBasket("a", {"AAA": 1.0})],
        [(pd.Timestamp("2024-03-16"), "a Saturday")],
        windows=[(0, 1)],
    )
    assert study.day0.to_dict("records") == [
        {
            "event": "2024-03-16",
            "event_name": "a Saturday",
            "calendar": "XNAS",
            "day0": "2024-03-18",
        }
    ]
    assert study.summary.loc[0, "day0"] == {"XNAS": "2024-03-18"}


def test_mean_adjusted_model_and_bhar_benchmark(synthetic: dict[str, PriceHistory]) -> None:
    study = run_event_study(
        synthetic,
        [EventBasket("a", {"CCC": 1.0})],
        [(EVENT, "")],
        windows=[(0, 4)],
        model="mean_adjusted",
    )
    r = synthetic["CCC"].closes().pct_change().to_numpy()
    mean = r[EVENT_POSITION - 250 : EVENT_POSITION - 29].mean()
    window = r[EVENT_POSITION : EVENT_POSITION + 5]
    row = study.stock_cars.iloc[0]
    assert row["car"] == pytest.approx(np.sum(window - mean), rel=1e-10)
    assert row["bhar"] == pytest.approx(np.prod(1 + window) - (1 + mean) ** 5, rel=1e-10)
    sd = r[EVENT_POSITION - 250 : EVENT_POSITION - 29].std(ddof=1)
    assert row["scar"] == pytest.approx(row["car"] / (sd * math.sqrt(5 + 25 / 221)), rel=1e-10)


def test_market_adjusted_bhar_is_stock_minus_index_buy_and_hold(
    synthetic: dict[str, PriceHistory],
) -> None:
    study = run_event_study(
        synthetic,
        [EventBasket("a", {"AAA": 1.0})],
        [(EVENT, "")],
        windows=[(0, 4)],
        model="market_adjusted",
    )
    stock, index = synthetic["AAA"].closes(), synthetic["^IXIC"].closes()
    before, last = EVENT_POSITION - 1, EVENT_POSITION + 4
    expected = stock.iloc[last] / stock.iloc[before] - index.iloc[last] / index.iloc[before]
    assert study.stock_cars.loc[0, "bhar"] == pytest.approx(expected, rel=1e-10)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-0.08, 0.08, allow_nan=False), min_size=60, max_size=60))
def test_market_adjusted_ar_of_the_market_itself_is_zero(returns: list[float]) -> None:
    dates = SESSIONS[:60]
    prices = {"^IXIC": history("^IXIC", from_returns(np.array(returns), dates))}
    study = run_event_study(
        prices,
        [EventBasket("index", {"^IXIC": 1.0})],
        [(dates[45], "")],
        windows=[(0, 3), (-2, 5)],
        estimation=(-40, -5),
        min_estimation=20,
        model="market_adjusted",
    )
    assert np.allclose(study.abnormal_returns.abnormal_return, 0.0, atol=1e-15)
    assert np.allclose(study.summary.car, 0.0, atol=1e-15)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(-3, 2), st.integers(0, 6))
def test_car_is_the_sum_of_abnormal_returns(seed: int, start: int, length: int) -> None:
    rng = np.random.default_rng(seed)
    dates = SESSIONS[:80]
    market = rng.normal(0, 0.01, 80)
    prices = {
        "^IXIC": history("^IXIC", from_returns(market, dates)),
        "AAA": history("AAA", from_returns(1.2 * market + rng.normal(0, 0.02, 80), dates)),
    }
    window = (start, start + length)
    study = run_event_study(
        prices,
        [EventBasket("a", {"AAA": 1.0})],
        [(dates[60], "")],
        windows=[window],
        estimation=(-50, -5),
        min_estimation=20,
    )
    ar = study.abnormal_returns
    inside = ar[ar.day.between(*window)]
    assert study.stock_cars.loc[0, "car"] == pytest.approx(inside.abnormal_return.sum(), abs=1e-14)
    assert len(inside) == length + 1


def test_portfolio_series_car_and_time_series_t(synthetic: dict[str, PriceHistory]) -> None:
    rng = np.random.default_rng(5)
    market = synthetic["^IXIC"].closes().pct_change()
    portfolio = 0.0002 + 0.9 * market + pd.Series(rng.normal(0, 0.01, len(market)), market.index)
    basket = EventBasket("p", {"AAA": 1.0}, portfolio_returns=portfolio, portfolio_market=market)
    saturday = pd.Timestamp("2024-03-16")
    study = run_event_study(synthetic, [basket], [(saturday, "")], windows=[(0, 3)])
    p0 = int(SESSIONS.searchsorted(saturday))
    est = slice(p0 - 250, p0 - 29)
    fit = sm.OLS(portfolio.iloc[est].to_numpy(), sm.add_constant(market.iloc[est].to_numpy())).fit()
    win = slice(p0, p0 + 4)
    ar = portfolio.iloc[win].to_numpy() - fit.predict(sm.add_constant(market.iloc[win].to_numpy()))
    t = ar.sum() / (math.sqrt(fit.scale) * 2)
    row = study.summary.iloc[0]
    assert row["portfolio_day0"] == "2024-03-18"
    assert row["portfolio_car"] == pytest.approx(ar.sum(), rel=1e-9)
    assert row["t_portfolio"] == pytest.approx(t, rel=1e-9)
    assert row["p_portfolio"] == pytest.approx(2 * stats.t.sf(abs(t), fit.df_resid), rel=1e-8)
    paths = study.car_paths
    assert paths.portfolio_car.iloc[-1] == pytest.approx(ar.sum(), rel=1e-9)

    late = EventBasket("p", {"AAA": 1.0}, portfolio.iloc[p0 + 1 :], market.iloc[p0 + 1 :])
    with pytest.raises(DateRangeError, match="portfolio returns of basket 'p' start"):
        run_event_study(synthetic, [late], [(saturday, "")], windows=[(0, 3)])


def test_summary_records_are_json(synthetic: dict[str, PriceHistory]) -> None:
    study = run_event_study(
        synthetic, [EventBasket("one", {"AAA": 1.0})], [(EVENT, "x")], windows=[(0, 2)]
    )
    assert isinstance(study, EventStudy)
    records = study.summary_records()
    text = json.dumps(records, allow_nan=False)
    record = json.loads(text)[0]
    assert record["window"] == [0, 2] and record["n_stocks"] == 1
    assert record["t_cross_sectional"] is None and record["portfolio_car"] is None
    assert isinstance(record["car"], float)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "fama_french"}, "model: 'fama_french' is not one of"),
        ({"weighting": "cap"}, "weighting"),
        ({"currency": "EUR"}, "currency"),
        ({"windows": [(-40, 2)]}, "overlaps the estimation window"),
        ({"windows": [(3, 1)]}, "ends before it starts"),
        ({"windows": []}, "no CAR window"),
        ({"estimation": (-50, -30)}, "fewer than min_estimation 100"),
        ({"markets": {"XHKG": "^HSI"}}, "no market index for exchange XNAS"),
    ],
)
def test_option_errors(synthetic: dict[str, PriceHistory], kwargs: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        run_event_study(synthetic, [EventBasket("a", {"AAA": 1.0})], [(EVENT, "")], **kwargs)


def test_missing_market_in_prices_is_reported(synthetic: dict[str, PriceHistory]) -> None:
    prices = {k: v for k, v in synthetic.items() if k != "^IXIC"}
    with pytest.raises(MissingDataError, match=r"\^IXIC"):
        run_event_study(prices, [EventBasket("a", {"AAA": 1.0})], [(EVENT, "")])


# --- the shared real prices ---------------------------------------------------------------


def shared_prices_folder() -> Path:
    folder = Path(
        os.environ.get("BASKET_SHARED_PRICES")
        or Path(__file__).resolve().parents[2] / "shared" / "data" / "prices"
    )
    if not folder.is_dir():
        pytest.skip(f"shared price data not found at {folder}")
    return folder


SHARED_SYMBOLS = (
    "0981.HK", "688981.SS", "9988.HK", "NVDA", "9660.HK", "000300.SS", "^HSI", "^IXIC",
    "CNY=X", "HKD=X",
)  # fmt: skip


@pytest.fixture(scope="module")
def shared() -> dict[str, PriceHistory]:
    source = CsvFolderSource(shared_prices_folder())
    histories, problems = source.fetch(SHARED_SYMBOLS)
    assert not problems
    return histories


DEEPSEEK = pd.Timestamp("2025-01-27")
FOUR = EventBasket("ai4", {s: 0.25 for s in ("0981.HK", "688981.SS", "9988.HK", "NVDA")})


@pytest.fixture(scope="module")
def deepseek(shared: dict[str, PriceHistory]) -> EventStudy:
    return run_event_study(shared, [FOUR], [(DEEPSEEK, "DeepSeek-R1 selloff")], weighting="equal")


def test_day_counting_per_exchange_around_lunar_new_year(deepseek: EventStudy) -> None:
    ar = deepseek.abnormal_returns
    dates = ar.pivot(index="day", columns="symbol", values="date")
    assert dates.loc[0, "688981.SS"] == "2025-01-27"
    assert dates.loc[1, "688981.SS"] == "2025-02-05"  # Shanghai shut 01-28..02-04
    assert dates.loc[1, "0981.HK"] == "2025-01-28"  # Hong Kong shut 01-29..01-31
    assert dates.loc[2, "0981.HK"] == "2025-02-03"
    assert dates.loc[1, "NVDA"] == "2025-01-28"
    assert dates.loc[-1, "688981.SS"] == "2025-01-24"
    day0 = dict(zip(deepseek.day0.calendar, deepseek.day0.day0, strict=True))
    assert day0 == {"XHKG": "2025-01-27", "XSHG": "2025-01-27", "XNAS": "2025-01-27"}


def test_us_holiday_event_starts_on_next_nasdaq_session(shared: dict[str, PriceHistory]) -> None:
    basket = EventBasket("mixed", {"NVDA": 0.5, "0981.HK": 0.5})
    study = run_event_study(shared, [basket], [(pd.Timestamp("2025-01-20"), "R1 release")])
    assert study.summary.loc[0, "day0"] == {"XNAS": "2025-01-21", "XHKG": "2025-01-20"}


def test_shared_market_model_matches_statsmodels(
    shared: dict[str, PriceHistory], deepseek: EventStudy
) -> None:
    """The data have a bar on every session, so row-based returns are session returns."""
    markets = {"0981.HK": "^HSI", "9988.HK": "^HSI", "688981.SS": "000300.SS", "NVDA": "^IXIC"}
    cars = deepseek.stock_cars[deepseek.stock_cars.window_start == 0]
    cars = cars[cars.window_end == 5].set_index("symbol")
    ref_cars = []
    for symbol, market in markets.items():
        p0 = int(shared[symbol].frame.index.searchsorted(DEEPSEEK))
        ref = reference_market_model(shared, symbol, market, (0, 5), p0)
        assert cars.loc[symbol, "car"] == pytest.approx(ref["car"], rel=1e-9)
        ref_cars.append(ref["car"])
    row = deepseek.summary[deepseek.summary.window_end == 5].iloc[0]
    assert row["car"] == pytest.approx(np.mean(ref_cars), rel=1e-9)
    # Golden numbers of this run (equal-weight, market model, local currency, window [0, 5]).
    assert row["car"] == pytest.approx(0.019262, abs=5e-7)
    assert row["t_kolari_pynnonen"] == pytest.approx(0.4295, abs=5e-5)


def test_nine_six_six_zero_is_excluded_for_short_estimation(
    shared: dict[str, PriceHistory],
) -> None:
    basket = EventBasket("hk", {"0981.HK": 0.5, "9660.HK": 0.5})
    study = run_event_study(shared, [basket], [(pd.Timestamp("2025-01-20"), "")])
    row = study.excluded.set_index("symbol").loc["9660.HK"]
    assert row["window"] is None
    assert "fewer than min_estimation 100" in row["reason"]
    assert "prices start 2024-10-24" in row["reason"]
    assert set(study.summary.n_stocks) == {1}


def test_usd_returns_convert_with_fx(shared: dict[str, PriceHistory]) -> None:
    basket = EventBasket("hk", {"0981.HK": 1.0})
    study = run_event_study(shared, [basket], [(DEEPSEEK, "")], currency="USD", windows=[(0, 1)])
    price, fx = shared["0981.HK"].closes(), shared["HKD=X"].closes()
    usd = price / fx.reindex(price.index, method="ffill")
    expected = usd.loc["2025-01-27"] / usd.loc["2025-01-24"] - 1
    ar = study.abnormal_returns.set_index("day")
    assert ar.loc[0, "return"] == pytest.approx(expected, rel=1e-12)
    local = price.loc["2025-01-27"] / price.loc["2025-01-24"] - 1
    assert ar.loc[0, "return"] != pytest.approx(local, rel=1e-9)


def test_foreign_market_is_sampled_on_the_stocks_sessions(shared: dict[str, PriceHistory]) -> None:
    basket = EventBasket("hk", {"0981.HK": 1.0})
    study = run_event_study(
        shared,
        [basket],
        [(pd.Timestamp("2025-01-17"), "")],
        market_symbol="^IXIC",
        windows=[(0, 3)],
    )
    ar = study.abnormal_returns.set_index("date")
    assert ar.loc["2025-01-20", "market_return"] == 0.0  # NASDAQ closed for MLK day
    ixic = shared["^IXIC"].closes()
    expected = ixic.loc["2025-01-21"] / ixic.loc["2025-01-17"] - 1
    assert ar.loc["2025-01-21", "market_return"] == pytest.approx(expected, rel=1e-12)


def test_event_outside_the_data_raises(shared: dict[str, PriceHistory]) -> None:
    with pytest.raises(
        DateRangeError, match=r"event 2030-01-02 is after the last price of 0981\.HK \(2025-10-30\)"
    ):
        run_event_study(shared, [FOUR], [(pd.Timestamp("2030-01-02"), "")])
    with pytest.raises(DateRangeError, match=r"event 2018-06-01 is before the price data"):
        run_event_study(shared, [FOUR], [(pd.Timestamp("2018-06-01"), "")])


def test_window_longer_than_the_data_raises(shared: dict[str, PriceHistory]) -> None:
    with pytest.raises(DateRangeError) as caught:
        run_event_study(shared, [FOUR], [(pd.Timestamp("2025-08-15"), "late")], windows=[(0, 20)])
    message = str(caught.value)
    assert "event 2025-08-15 (late): the windows [0, 20] run past the price data" in message
    assert "688981.SS (last price 2025-08-22" in message
    assert "\n" not in message
    study = run_event_study(shared, [FOUR], [(pd.Timestamp("2025-08-15"), "")], windows=[(0, 5)])
    assert study.summary.loc[0, "n_stocks"] == 4


def test_default_markets() -> None:
    assert dict(DEFAULT_MARKETS) == {"XSHG": "000300.SS", "XHKG": "^HSI", "XNAS": "^IXIC"}


def test_each_stock_is_computed_once_and_shared_by_every_basket_and_window(
    synthetic: dict[str, PriceHistory], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three overlapping baskets, two events, three windows: each (event, stock) is fitted once
    and each (event, set of included stocks) has its cross-correlation computed once; the
    tables are those of each basket studied alone."""
    from engine.analysis.events import stocks

    fits, rbars = [], []
    fit, rbar = stocks.fit_normal_returns, stocks.sig.average_cross_correlation
    monkeypatch.setattr(stocks, "fit_normal_returns", lambda *a: fits.append(1) or fit(*a))
    monkeypatch.setattr(
        stocks.sig, "average_cross_correlation", lambda m: rbars.append(1) or rbar(m)
    )
    baskets = [
        EventBasket("ab", {"AAA": 0.5, "BBB": 0.5}),
        EventBasket("abc", {"AAA": 0.2, "BBB": 0.3, "CCC": 0.5}),
        EventBasket("ab again", {"AAA": 0.9, "BBB": 0.1}),
    ]
    events = [(EVENT, "one"), (SESSIONS[EVENT_POSITION + 40], "two")]
    windows = [(-1, 1), (0, 5), (0, 10)]
    together = run_event_study(synthetic, baskets, events, windows=windows)
    assert len(fits) == 2 * 3  # events x distinct stocks
    assert len(rbars) == 2 * 2  # events x distinct sets {AAA, BBB}, {AAA, BBB, CCC}
    for basket in baskets:
        alone = run_event_study(synthetic, [basket], events, windows=windows)
        for table in ("summary", "abnormal_returns", "stock_cars", "car_paths"):
            frame = getattr(together, table)
            mine = frame[frame.basket == basket.name].reset_index(drop=True)
            theirs = getattr(alone, table)
            if table == "summary":  # the multiple-test adjustments are about the whole family
                mine, theirs = (t.drop(columns=adjusted_columns()) for t in (mine, theirs))
            pd.testing.assert_frame_equal(mine, theirs, check_exact=True)
