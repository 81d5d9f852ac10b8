"""``basket run --universe``: the equal-weight pool of each basket's markets, the matched-null
percentile of its total return, and the deflated Sharpe ratio's count of trials."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from conftest import (
    HK,
    US,
    make_sine_project,
    make_small_universe,
    run_in_pty,
    sessions,
    small_universe_inputs,
    symbols_basket,
)
from scipy import stats

from engine.analysis.inference import EULER_GAMMA
from engine.analysis.metrics import PERIODS_PER_YEAR, Summary, with_deflated_sharpe
from engine.config.baskets import load_basket
from engine.config.studies import load_study
from engine.data.sources import open_source
from engine.data.universe import UniverseSource
from engine.pipeline.draws import SweepOptions
from engine.pipeline.runs import run, run_null
from engine.pipeline.study import resolve_study
from engine.pipeline.sweep import sweep
from engine.results.display import p_text

START, END = "2025-01-02", "2025-02-28"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_small_universe(tmp_path_factory.mktemp("run_universe"))


def _basket(project, name, symbols, extra=""):
    return symbols_basket(project["root"], name, symbols, extra)


def _run(project, baskets, *, fees=None, rebalance=None, **null):
    universe, source, study = small_universe_inputs(project, fees)
    return run([load_basket(b) for b in baskets], study, source, rebalance=rebalance,
               universe=universe, null=run_null(**null) if null else None)


def _closes_in_dollars(project) -> pd.DataFrame:
    """Every universe stock's close on the union of the NASDAQ and Hong Kong sessions of the
    period, in dollars (HKD=X is 7.8 throughout), the last close carried where its own market
    is shut; read straight from the parquet file with pandas."""
    rows = pd.read_parquet(project["universe"])
    wide = rows.pivot(index="date", columns="symbol", values="adj_close")
    wide.index = pd.DatetimeIndex(wide.index)
    union = pd.DatetimeIndex(sorted(set(sessions("XNAS", START, END))
                                    | set(sessions("XHKG", START, END))))
    carried = wide.reindex(wide.index.union(union)).ffill().reindex(union)
    carried[HK] = carried[HK] / 7.8
    return carried


def _equal_weight_pool(closes: pd.DataFrame, weights: pd.Series, trades) -> np.ndarray:
    """The pool's value from 1 without fees: on each trade day the value is split by
    ``weights``; in between each holding moves with its own price."""
    values = np.empty(len(closes))
    value, held = 1.0, None
    for t, day in enumerate(closes.index):
        prices = closes.loc[day, weights.index].to_numpy()
        if held is not None:
            value = float(held @ prices)
        if day in trades:
            held = value * weights.to_numpy() / prices
        values[t] = value
    return values


@pytest.mark.parametrize("rebalance", ["none", "monthly"])
def test_pool_is_the_equal_weight_pool_of_the_baskets_markets_by_numpy(project, rebalance):
    """A basket of two US stocks and one Hong Kong stock has the market mix 2/3 US, 1/3 HK:
    its pool holds the 24 US stocks at 2/3 / 24 each and the 12 Hong Kong ones at 1/3 / 12."""
    theme = _basket(project, "Mix", [US[0], US[13], HK[2]])
    result = _run(project, [theme], fees=0.0, rebalance=rebalance, n_random=0)
    row = result.summary[0]
    closes = _closes_in_dollars(project)
    weights = pd.Series({**{s: 2 / 3 / 24 for s in US}, **{s: 1 / 3 / 12 for s in HK}})
    trades = set(result.backtest.targets["Mix"].weights.index)
    assert len(trades) == (1 if rebalance == "none" else 2)
    pool = _equal_weight_pool(closes, weights, trades)
    basket = result.backtest.equity["Mix"].reindex(closes.index).to_numpy()
    r, rp = basket[1:] / basket[:-1] - 1, pool[1:] / pool[:-1] - 1
    slope, intercept = np.polyfit(rp, r, 1)
    assert row.pool_return == pytest.approx(pool[-1] - 1, rel=1e-9)
    assert row.excess_return_pool == pytest.approx(row.total_return - (pool[-1] - 1), rel=1e-9)
    assert row.beta_pool == pytest.approx(slope, rel=1e-9)
    assert row.alpha_pool == pytest.approx(intercept * 252, rel=1e-9)
    assert math.isnan(row.null_percentile) and row.n_random == 0


def test_pool_pays_the_baskets_fees_on_its_trades(project):
    theme = _basket(project, "Mix", [US[0], US[13], HK[2]])
    free = _run(project, [theme], fees=0.0, rebalance="monthly", n_random=0).summary[0]
    paid = _run(project, [theme], fees=0.01, rebalance="monthly", n_random=0).summary[0]
    # Buying at 1 % costs 1 % of the value (fees on top, cut to the cash): about a 1 % lower
    # return, a little more with the rebalance's turnover.
    assert (1 + free.pool_return) / (1 + paid.pool_return) == pytest.approx(1.0101, abs=0.003)


def test_null_percentile_is_the_sweeps_in_a_run_of_several_baskets(project):
    """Each basket of a run is ranked as ``basket sweep`` ranks it alone: the same draws (seed,
    name, period), its own sessions; the percentile and p-value by hand from the null."""
    mixed = _basket(project, "Mixed", [US[0], US[13], HK[2]])
    us_only = _basket(project, "USonly", [US[1], US[2]])
    result = _run(project, [mixed, us_only], n_random=200, seed=5)
    universe, source, study = small_universe_inputs(project)
    for row in result.summary[:2]:
        alone = sweep([load_basket(mixed if row.basket == "Mixed" else us_only)], study, source,
                      universe, SweepOptions(n_random=200, seed=5, verify=0))
        index = next(i for i, r in enumerate(alone.rows) if r["statistic"] == "total_return")
        null = alone.nulls[index]
        below, ties = (null < row.total_return).sum(), (null == row.total_return).sum()
        assert row.n_random == 200
        assert row.null_percentile == pytest.approx(100 * (below + ties / 2) / 200, abs=1e-12)
        assert row.null_p_value == pytest.approx((1 + 200 - below) / 201, abs=1e-12)
        assert row.null_percentile == alone.rows[index]["percentile"]
    assert result.universe == {"file": f"universe file {project['universe']}", "n_random": 200,
                               "seed": 5, "matched_on": ["market"], "verify": 1}


def test_a_basket_the_kernel_cannot_copy_gets_its_pool_and_a_note(project):
    theme = _basket(project, "Market", [HK[0], HK[1], HK[2]], "costs: market\n")
    result = _run(project, [theme], n_random=20)
    row = result.summary[0]
    assert math.isfinite(row.pool_return) and math.isnan(row.null_percentile)
    assert any(n.startswith("Market: no matched random baskets (basket 'Market' is traded like "
                            "the market") for n in result.notes)


def test_a_basket_with_a_rule_is_ranked_against_random_baskets_under_that_rule(project):
    """Inverse-volatility weights, rebalanced monthly: the random baskets are weighted by the
    same rule, as the sweep weighs them."""
    theme = _basket(project, "InvVol", [HK[0], HK[1], HK[2]],
                    "weighting: inverse_vol\nlookback: 20\nrebalance: monthly\n")
    row = _run(project, [theme], n_random=40, seed=2).summary[0]
    universe, source, study = small_universe_inputs(project)
    alone = sweep([load_basket(theme)], study, source, universe,
                  SweepOptions(n_random=40, seed=2, verify=0))
    total = next(r for r in alone.rows if r["statistic"] == "total_return")
    assert row.n_random == 40 and row.null_percentile == total["percentile"]


def test_a_market_without_universe_stocks_gets_no_pool(project, tmp_path):
    """A universe of Hong Kong stocks only: a US basket has no pool, said in a note."""
    rows = pd.read_parquet(project["universe"])
    hk_only = tmp_path / "hk.parquet"
    rows[rows["symbol"].isin(HK)].to_parquet(hk_only, index=False)
    theme = _basket(project, "US2", [US[0], US[1]])
    universe = UniverseSource(hk_only)
    source = open_source(project["prices"], universe=UniverseSource(project["universe"]))
    result = run([load_basket(theme)], resolve_study(load_study(project["study"])), source,
                 universe=universe, null=run_null(0))
    assert math.isnan(result.summary[0].pool_return)
    assert ("US2: no equal-weight pool (the universe has no stock of market US over the period)"
            in result.notes)


# ----------------------------------------------------------------------- deflated Sharpe


def _row(name: str, sharpe: float, skew: float, kurtosis: float, n: int) -> Summary:
    nan = math.nan
    return Summary(name, *[nan] * 3, sharpe, *[nan] * 7, skew=skew, kurtosis=kurtosis,
                   n_returns=n)


def _dsr_by_hand(sr: float, skew: float, kurt: float, n: int, trials: int, variance: float):
    """Bailey & López de Prado (2014) eq. 2-3, written out with scipy's normal."""
    sr0 = math.sqrt(variance) * ((1 - EULER_GAMMA) * stats.norm.ppf(1 - 1 / trials)
                                 + EULER_GAMMA * stats.norm.ppf(1 - 1 / (trials * math.e)))
    z = (sr - sr0) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    return stats.norm.cdf(z)


def test_deflated_sharpe_counts_the_trials_tried_elsewhere():
    rows = with_deflated_sharpe([_row("A", 3.0, -0.2, 4.0, 41), _row("B", 1.0, 0.3, 3.5, 41)],
                                extra_trials=8)
    daily = np.array([3.0, 1.0]) / math.sqrt(PERIODS_PER_YEAR)
    variance = np.var(daily, ddof=1)
    for row, sr, skew, kurt in zip(rows, daily, (-0.2, 0.3), (4.0, 3.5), strict=True):
        assert row.n_trials == 10
        assert row.dsr == pytest.approx(_dsr_by_hand(sr, skew, kurt, 41, 10, variance),
                                        rel=1e-10)
    assert rows[0].dsr < with_deflated_sharpe(rows)[0].dsr  # more trials, more deflation


def test_one_basket_and_trials_elsewhere_use_its_sampling_variance():
    """One Sharpe ratio has no spread across trials: the spread worthless trials would show is
    its own squared Mertens standard error, (1 + SR^2/2 - skew SR + (kurt-3)/4 SR^2) / T."""
    row = with_deflated_sharpe([_row("A", 2.0, -0.5, 5.0, 60)], extra_trials=19)[0]
    sr = 2.0 / math.sqrt(PERIODS_PER_YEAR)
    variance = (1 + sr**2 / 2 + 0.5 * sr + (5.0 - 3) / 4 * sr**2) / 60
    assert row.n_trials == 20
    assert row.dsr == pytest.approx(_dsr_by_hand(sr, -0.5, 5.0, 60, 20, variance), rel=1e-10)


# ---------------------------------------------------------------------------------- CLI


def _cli_run(cli, project, *args):
    theme = _basket(project, "Mixed", [US[0], US[13], HK[2]])
    return cli("run", theme, "--study", project["study"], "--prices", project["prices"],
               "--no-events", "--out", project["root"] / "results", *args)


def test_cli_run_with_a_universe_prints_the_pool_and_the_null(cli, project):
    result = _cli_run(cli, project, "--universe", project["universe"], "--random", "50",
                      "--seed", "3", "--trials", "4", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    mixed = rows[0]
    for key in ("pool_return", "excess_return_pool", "beta_pool", "alpha_pool",
                "null_percentile", "null_p_value"):
        assert isinstance(mixed[key], float), key
    assert mixed["n_random"] == 50 and mixed["n_trials"] == 5
    assert rows[-1]["pool_return"] is None and rows[-1]["n_random"] == 0  # the benchmark
    table = _cli_run(cli, project, "--universe", project["universe"], "--random", "50",
                     "--format", "markdown")
    assert "against the matched pool of the universe" in table.stdout
    assert "| Pctile | p null |" in table.stdout
    assert "among 50 random baskets" in table.stdout
    csv = _cli_run(cli, project, "--universe", project["universe"], "--random", "50",
                   "--format", "csv")
    header = csv.stdout.splitlines()[0].split(",")
    assert {"excess_return_pool", "beta_pool", "alpha_pool", "null_percentile", "null_p_value",
            "n_random", "n_trials"} <= set(header)


def test_cli_run_without_a_universe_shows_no_pool_columns(cli, tmp_path):
    sine = make_sine_project(tmp_path)
    result = cli("run", sine["basket"], "--study", sine["study"], "--prices", sine["prices"],
                 "--out", tmp_path / "results", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "matched pool" not in result.stdout and "Pctile" not in result.stdout
    assert "DSR: the same deflated for 1 trial (the basket of the run)" in result.stdout


def test_cli_random_zero_keeps_the_pool_and_drops_the_null(cli, project):
    result = _cli_run(cli, project, "--universe", project["universe"], "--random", "0",
                      "--format", "json")
    assert result.exit_code == 0, result.output
    mixed = json.loads(result.stdout)[0]
    assert isinstance(mixed["pool_return"], float)
    assert mixed["null_percentile"] is None and mixed["n_random"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (("--random", "10"), "--random/--seed: random baskets are drawn from a universe"),
    (("--seed", "1"), "--random/--seed: random baskets are drawn from a universe"),
    (("--trials", "-1"), "-1 is not in the range x>=0"),
    (("--random", "-5", "--universe", "U"), "-5 is not in the range 0<=x<=1000000"),
])
def test_cli_run_universe_options_errors_are_one_line(cli, project, args, message):
    result = _cli_run(cli, project, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("columns", [80, 100, 160])
def test_universe_tables_never_cut_a_number(project, columns):
    from conftest import PROJECT

    theme = _basket(project, "A theme with a rather long name [/red]", [US[0], US[13], HK[2]])
    common = [str(PROJECT / "cli.py"), "run", str(theme), "--study", str(project["study"]),
              "--prices", str(project["prices"]), "--universe", str(project["universe"]),
              "--random", "100", "--no-events", "--out", str(project["root"] / "pty")]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", run_in_pty(common, columns, project["root"]))
    records = json.loads(run_in_pty([*common, "--format", "json"], columns, project["root"]))
    assert all(len(line.rstrip()) <= columns for line in shown.splitlines())
    assert "…" not in shown
    row = records[0]
    for key, text in (("excess_return_pool", f"{row['excess_return_pool']:.1%}"),
                      ("beta_pool", f"{row['beta_pool']:.2f}"),
                      ("null_percentile", f"{row['null_percentile']:.2f}"),
                      ("null_p_value", p_text(row["null_p_value"]))):
        assert text in shown, key
    assert "[/red]" in shown
