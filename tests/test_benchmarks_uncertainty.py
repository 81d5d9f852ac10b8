"""Benchmarks that fit the markets and the uncertainty on a run's figures, through the pipeline:
the local blend, the Dimson beta, the HAC t, the Sharpe standard error, the DSR over the run's
baskets and the hindsight mark, each checked against an independent computation."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import PROJECT, raw_closes, sessions, write_yaml
from scipy import stats

from engine.analysis.metrics import PERIODS_PER_YEAR, Summary, with_deflated_sharpe
from engine.config.baskets import Basket, Constituent, load_basket
from engine.config.studies import load_study
from engine.data.csvfolder import CsvFolderSource
from engine.market.benchmarks import blend_values, market_mix
from engine.pipeline.runs import run
from engine.pipeline.study import resolve_study, selected_after
from engine.symbols import listing_of

EULER_GAMMA = 0.5772156649015329


def test_blend_is_the_weighted_sum_of_daily_index_returns_compounded():
    values = pd.DataFrame(
        {"^HSI": [100.0, 110.0, 110.0, 99.0], "000300.SS": [50.0, 50.0, 55.0, 55.0]},
        index=pd.date_range("2025-01-02", periods=4),
    )
    blend = blend_values(values, {"^HSI": 0.25, "000300.SS": 0.75})
    # Day returns: 0.25 * 0.10 = 0.025; 0.75 * 0.10 = 0.075; 0.25 * -0.10 = -0.025.
    expected = [1.0, 1.025, 1.025 * 1.075, 1.025 * 1.075 * 0.975]
    np.testing.assert_allclose(blend.to_numpy(), expected)


def test_market_mix_sums_weights_per_exchange_index():
    basket = Basket(
        "Mixed",
        (
            Constituent("0700.HK", 0.5),
            Constituent("002594.SZ", 0.2),
            Constituent("688981.SS", 0.2),
            Constituent("NVDA", 0.1),
        ),
    )
    listings = {c.symbol: listing_of(c.symbol) for c in basket.constituents}
    markets = {"XSHG": "000300.SS", "XHKG": "^HSI", "XNAS": "^IXIC"}
    mix, unknown = market_mix(basket, listings, markets)
    assert mix == pytest.approx({"^HSI": 0.5, "000300.SS": 0.4, "^IXIC": 0.1})
    assert unknown == []
    assert market_mix(basket, listings, {"XHKG": "^HSI"}) == ({}, ["XNAS", "XSHG"])


def test_selected_after_marks_periods_starting_before_the_definition():
    basket = Basket("B", (Constituent("AAA", 1.0),), defined=dt.date(2025, 2, 18))
    assert selected_after(basket, dt.date(2024, 12, 31)) == "2025-02-18"
    assert selected_after(basket, dt.date(2025, 2, 18)) is None
    assert selected_after(Basket("C", (Constituent("AAA", 1.0),)), dt.date(2024, 1, 1)) is None


def _row(name: str, sharpe: float, skew: float, kurtosis: float, n: int) -> Summary:
    nan = math.nan
    return Summary(name, *[nan] * 3, sharpe, *[nan] * 7, skew=skew, kurtosis=kurtosis,
                   n_returns=n)


def test_deflated_sharpe_over_the_run_by_hand():
    rows = with_deflated_sharpe([_row("A", 3.0, -0.2, 4.0, 41), _row("B", 1.0, 0.3, 3.5, 41)])
    daily = np.array([3.0, 1.0]) / math.sqrt(252)
    variance = (daily[0] - daily[1]) ** 2 / 2  # sample variance of two values
    # Two trials: Phi^-1(1 - 1/2) = 0, so SR_0 = sqrt(V) * gamma * Phi^-1(1 - 1/(2e)).
    sr0 = math.sqrt(variance) * EULER_GAMMA * stats.norm.ppf(1 - 1 / (2 * math.e))
    for row, sr, skew, kurt in zip(rows, daily, (-0.2, 0.3), (4.0, 3.5), strict=True):
        z = (sr - sr0) * math.sqrt(40) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
        assert row.dsr == pytest.approx(stats.norm.cdf(z), rel=1e-10)
    # A run of one basket deflates nothing: the DSR is its PSR.
    alone = with_deflated_sharpe([_row("A", 3.0, -0.2, 4.0, 41)])[0]
    sr = daily[0]
    z = sr * math.sqrt(40) / math.sqrt(1 + 0.2 * sr + 0.75 * sr**2)
    assert alone.dsr == pytest.approx(stats.norm.cdf(z), rel=1e-10)


# --------------------------------------------------------------------------- real data


def _as_of(series: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
    return series.reindex(series.index.union(dates)).ffill().reindex(dates).to_numpy()


@pytest.fixture(scope="module")
def deepseek_run(shared_prices):
    study = resolve_study(load_study(PROJECT / "baskets" / "studies" / "deepseek.yaml"))
    baskets = [
        load_basket(PROJECT / "baskets" / name)
        for name in ("large_models_cloud.yaml", "aidc.yaml", "report_headliners.yaml")
    ]
    return run(baskets, study, CsvFolderSource(shared_prices))


def test_local_beta_and_alpha_of_a_hong_kong_basket_are_the_ols_on_the_hang_seng_in_dollars(
    deepseek_run, shared_prices
):
    equity = deepseek_run.equity_frame()
    dates = equity.index
    hsi_usd = _as_of(raw_closes(shared_prices, "_HSI"), dates) / _as_of(
        raw_closes(shared_prices, "HKD_X"), dates
    )
    basket = equity["Large models & clouds"].to_numpy()
    r, rl = basket[1:] / basket[:-1] - 1, hsi_usd[1:] / hsi_usd[:-1] - 1
    fit = sm.OLS(r, sm.add_constant(rl)).fit()
    row = deepseek_run.summary_frame().loc["Large models & clouds"]
    assert row["beta_local"] == pytest.approx(fit.params[1], rel=1e-9)
    assert row["alpha_local"] == pytest.approx(fit.params[0] * 252, rel=1e-9)
    assert row["local_return"] == pytest.approx(hsi_usd[-1] / hsi_usd[0] - 1, rel=1e-9)
    # The figures: against the Hang Seng a beta of 1.79 and an alpha of -8.4 %.
    assert row["beta_local"] == pytest.approx(1.79, abs=0.005)
    assert row["alpha_local"] == pytest.approx(-0.084, abs=0.0005)


def test_hac_t_dimson_beta_and_sharpe_se_against_statsmodels_and_scipy(deepseek_run):
    equity = deepseek_run.equity_frame()
    values, bench = equity["AI data centres"].to_numpy(), equity["^IXIC"].to_numpy()
    r, rb = values[1:] / values[:-1] - 1, bench[1:] / bench[:-1] - 1
    row = deepseek_run.summary_frame().loc["AI data centres"]
    lags = math.floor(4 * (len(r) / 100) ** (2 / 9))
    hac = sm.OLS(r - rb, np.ones(len(r))).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True
    )
    assert row["t_excess_hac"] == pytest.approx(hac.tvalues[0], rel=1e-9)
    assert row["p_excess_hac"] == pytest.approx(hac.pvalues[0], rel=1e-9)
    frame = pd.DataFrame({"r": r, "b": rb})
    frame["lag"], frame["lead"] = frame["b"].shift(1), frame["b"].shift(-1)
    frame = frame.dropna()
    dimson = sm.OLS(frame["r"], sm.add_constant(frame[["lag", "b", "lead"]])).fit()
    assert row["beta_dimson"] == pytest.approx(dimson.params[["lag", "b", "lead"]].sum())
    # Asynchronous closes: the same-day beta hides most of the co-movement.
    assert row["beta"] < 0.1 < 0.7 < row["beta_dimson"]
    sr = r.mean() / r.std(ddof=1)
    skew, kurt = stats.skew(r), stats.kurtosis(r, fisher=False)
    mertens = math.sqrt((1 + sr**2 / 2 - skew * sr + (kurt - 3) / 4 * sr**2) / len(r))
    assert row["sharpe_se"] == pytest.approx(mertens * math.sqrt(PERIODS_PER_YEAR), rel=1e-9)
    assert row["excess_ci_low"] < row["excess_return"] < row["excess_ci_high"]


def test_the_report_headliners_are_marked_as_chosen_after_the_fact(deepseek_run):
    frame = deepseek_run.summary_frame()
    assert frame.at["Report headliners", "selected_after"] == "2025-02-18"
    assert pd.isna(frame.at["^IXIC", "selected_after"])


# --------------------------------------------------------------------------- the command


@pytest.fixture
def year_project(tmp_path, price_folder):
    """Two NASDAQ stocks and ^IXIC over a quarter of real sessions, random-walk prices."""
    folder, write = price_folder
    days = sessions("XNAS", "2024-10-01", "2025-03-31")
    rng = np.random.default_rng(13)
    for symbol, drift in (("AAA", 0.002), ("BBB", -0.001), ("^IXIC", 0.0005)):
        write(symbol, days, 100 * np.cumprod(1 + rng.normal(drift, 0.01, len(days))))
    study = write_yaml(
        tmp_path / "study.yaml",
        "name: Q\nbenchmark: ^IXIC\nstart: 2025-01-02\nend: 2025-03-31\n",
    )
    return folder, study, tmp_path


def _basket(tmp_path, defined: str) -> str:
    return str(write_yaml(
        tmp_path / "b.yaml",
        f"name: Pair\ndefined: {defined}\nsource: a test\n"
        "constituents:\n  - symbol: AAA\n  - symbol: BBB\n",
    ))


def test_run_json_has_the_uncertainty_and_the_hindsight_date(cli, year_project):
    folder, study, tmp = year_project
    args = ["run", _basket(tmp, "2025-02-01"), "--study", study, "--prices", folder,
            "--out", tmp / "out", "--no-events", "--format", "json"]
    rows = json.loads(cli(*args).stdout)
    pair = rows[0]
    assert pair["selected_after"] == "2025-02-01"
    assert rows[1]["selected_after"] is None
    # Both stocks are on the NASDAQ: the local blend is the NASDAQ itself.
    assert pair["excess_return_local"] == pytest.approx(pair["excess_return"], rel=1e-12)
    assert pair["beta_local"] == pytest.approx(pair["beta"], rel=1e-12)
    for key in ("t_excess_hac", "p_excess_hac", "excess_ci_low", "excess_ci_high",
                "sharpe_se", "psr", "dsr", "beta_dimson"):
        assert isinstance(pair[key], float), key
    assert pair["excess_ci_low"] < pair["excess_ci_high"]


def test_run_table_marks_short_annualised_figures_and_hindsight(cli, year_project):
    folder, study, tmp = year_project
    args = ["run", _basket(tmp, "2025-02-01"), "--study", study, "--prices", folder,
            "--out", tmp / "out", "--no-events"]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # footnotes are wrapped to 80 columns
    assert "Ann.*" in out and "SR se*" in out
    assert "Marked *: annualised from 88 calendar days (less than a year)" in out
    assert "is it real?" in out and "t HAC" in out and " after" in out
    assert "picked after the period began, on: 2025-02-01 Pair" in out
    # Defined before the period: no mark.
    args[1] = _basket(tmp, "2024-12-01")
    again = cli(*args).stdout
    assert " after" not in again.split("is it real?")[1].split("\n\n")[0]
    assert "picked after the period began" not in " ".join(again.split())
