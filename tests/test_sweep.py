"""``basket sweep`` on a small generated universe: ranks, draws, CARs, grid, CLI, errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import (
    HK,
    INDUSTRY,
    US,
    make_small_universe,
    run_in_pty,
    small_universe_inputs,
    symbols_basket,
    write_yaml,
)

from engine.analysis.null import RANK_KEYS
from engine.config.baskets import load_basket
from engine.config.studies import load_study
from engine.data.sources import open_source
from engine.data.universe import UniverseSource
from engine.pipeline.draws import SweepOptions
from engine.pipeline.runs import run
from engine.pipeline.study import event_options, resolve_study
from engine.pipeline.sweep import sweep
from engine.results.display import p_text


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_small_universe(tmp_path_factory.mktemp("sweep"))


def _basket(project, name, symbols, extra=""):
    return symbols_basket(project["root"], name, symbols, extra)


def _sweep(project, baskets, *, events=True, fees=None, **options):
    universe, source, study = small_universe_inputs(project, fees)
    chosen = event_options(study) if events else None
    return sweep([load_basket(b) for b in baskets], study, source, universe,
                 SweepOptions(**options), events=chosen)


def _row(result, statistic, basket=None, grid=""):
    return next(r for r in result.rows if r["statistic"] == statistic and r["grid"] == grid
                and (basket is None or r["basket"] == basket))


def test_a_theme_of_the_whole_market_ranks_at_the_median(project):
    """Every random basket of 12 Hong Kong stocks from the 12 there is the theme itself
    (reordered): without fees its returns and CARs equal the theme's."""
    theme = _basket(project, "AllHK", HK)
    result = _sweep(project, [theme], fees=0.0, n_random=50, include_theme=True, verify=2)
    for statistic in ("total_return", "sharpe", "max_drawdown", "car 2025-01-27 [0, 5]"):
        row = _row(result, statistic)
        values = result.nulls[result.rows.index(row)]
        np.testing.assert_allclose(values, row["value"], rtol=1e-9, atol=1e-12)
    assert result.verified <= 1e-9


def test_a_theme_of_the_period_best_performers_ranks_at_the_top(project):
    universe = UniverseSource(project["universe"])
    matrix = universe.matrix(pd.Timestamp("2024-12-31"), pd.Timestamp("2025-02-28"))
    columns = [matrix.symbols.index(s) for s in US]
    closes = matrix.closes[:, columns]
    traded = np.isfinite(closes).all(axis=1) & (matrix.dates >= "2025-01-02")
    growth = closes[traded][-1] / closes[traded][0]  # bought at the first session's close
    best = [US[j] for j in np.argsort(growth)[-3:]]
    theme = _basket(project, "Best", best)
    result = _sweep(project, [theme], events=False, n_random=400)
    row = _row(result, "total_return")
    assert row["p_value"] == pytest.approx(1 / 401)
    assert row["percentile"] == 100.0


def test_same_seed_same_draws_and_results(project):
    theme = _basket(project, "Mixed", [US[0], US[13], HK[2]])
    first = _sweep(project, [theme], events=False, n_random=200, seed=5)
    again = _sweep(project, [theme], events=False, n_random=200, seed=5)
    other = _sweep(project, [theme], events=False, n_random=200, seed=6)
    np.testing.assert_array_equal(first.draws["Mixed"], again.draws["Mixed"])
    assert first.rows == again.rows
    assert (first.draws["Mixed"] != other.draws["Mixed"]).any()


def test_market_mix_and_industry_counts_hold_in_every_draw(project):
    theme = _basket(project, "Mixed", [US[0], US[13], HK[2]])  # tech, banks, property
    result = _sweep(project, [theme], events=False, n_random=300, match=("industry",))
    draws = result.draws["Mixed"]
    for row in draws:
        assert sorted(INDUSTRY[s] for s in row) == ["banks", "property", "tech"]
        assert sum(s.endswith(".HK") for s in row) == 1
        assert not {US[0], US[13], HK[2]} & set(row)  # the theme is excluded
    assert _row(result, "total_return")["matched_on"] == "market,industry"


def test_random_cars_come_from_the_theme_event_study_model(project):
    """A one-stock theme's CAR and the random one-stock baskets that happen to hold it (with
    --include-theme) are the same number: both from the event study's market model."""
    theme = _basket(project, "One", [HK[4]])
    result = _sweep(project, [theme], n_random=200, include_theme=True)
    row = _row(result, "car 2025-01-27 [-1, 1]")
    values = result.nulls[result.rows.index(row)]
    drawn = result.draws["One"][:, 0]
    np.testing.assert_allclose(values[drawn == HK[4]], row["value"], rtol=1e-12)
    # And each other stock's CAR is that stock's own event-study CAR.
    other = drawn[drawn != HK[4]][0]
    single = run([load_basket(_basket(project, "Other", [other]))],
                 resolve_study(load_study(project["study"])),
                 open_source(project["prices"], universe=project["universe"]),
                 events=event_options(resolve_study(load_study(project["study"]))))
    summary = single.events.summary
    expected = summary[summary["window"].map(tuple) == (-1, 1)]["car"].iloc[0]
    np.testing.assert_allclose(values[drawn == other], expected, rtol=1e-12)


def test_grid_runs_every_combination(project):
    from engine.config.grid import parse_grid

    theme = _basket(project, "Mixed", [US[0], US[13], HK[2]])
    grid = tuple(parse_grid(["rebalance=none,monthly", "fees=0,0.003"]))
    result = _sweep(project, [theme], events=False, n_random=50, grid=grid)
    labels = sorted({r["grid"] for r in result.rows})
    assert labels == ["rebalance=monthly fees=0", "rebalance=monthly fees=0.003",
                      "rebalance=none fees=0", "rebalance=none fees=0.003"]
    free = _row(result, "total_return", grid="rebalance=none fees=0")
    costly = _row(result, "total_return", grid="rebalance=none fees=0.003")
    assert costly["value"] < free["value"]
    assert costly["random_mean"] < free["random_mean"]  # the same draws, with fees


def test_cars_are_ranked_at_every_grid_point(project):
    """Every grid point ranks the CARs; a key that abnormal returns do not see (fees: the
    market model works on prices) leaves the theme's CAR and its random CARs as they are."""
    from engine.config.grid import parse_grid

    theme = _basket(project, "Mixed", [US[0], US[13], HK[2]])
    grid = tuple(parse_grid(["fees=0,0.003"]))
    result = _sweep(project, [theme], n_random=40, grid=grid)
    statistic = "car 2025-01-27 [-1, 1]"
    free, costly = (_row(result, statistic, grid=f"fees={f}") for f in ("0", "0.003"))
    assert np.isfinite(free["value"]) and free["n_random"] > 0
    assert {k: costly[k] for k in RANK_KEYS} == {k: free[k] for k in RANK_KEYS}


def test_cli_sweep_prints_json_and_writes_the_run_folder(project, cli, monkeypatch):
    monkeypatch.chdir(project["root"])
    theme = _basket(project, "Mixed", [US[0], US[13], HK[2]])
    result = cli("sweep", theme, "--study", project["study"], "--prices", project["prices"],
                 "--universe", project["universe"], "--random", "100", "--format", "json",
                 "--out", project["root"] / "results")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert {r["statistic"] for r in records} >= {"total_return", "excess_return", "sharpe",
                                                 "max_drawdown", "car 2025-01-27 [0, 5]"}
    assert set(records[0]) == {"basket", "grid", "statistic", "value", "random_mean",
                               "random_p05", "random_p50", "random_p95", "percentile",
                               "p_value", "n_random", "matched_on", "seed"}
    assert "survivorship" in result.stderr
    folder = next((project["root"] / "results").glob("*-sweep"))
    names = {p.name for p in folder.iterdir()}
    assert names == {"summary.csv", "summary.md", "summary.json", "nulls.parquet",
                     "draws.parquet", "config.yaml", "manifest.json", "report.html"}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["verified_max_difference"] <= 1e-9
    assert "survivorship" in manifest["survivorship"]
    nulls = pd.read_parquet(folder / "nulls.parquet")
    assert len(nulls) == 100 * len(records)


def test_report_renders_a_sweep_folder_again_with_the_bytes_the_sweep_wrote(project, cli,
                                                                           monkeypatch):
    """``basket report`` reads the sweep folder back (ranks, random values, notes, settings)
    and writes the page ``basket sweep`` wrote from memory, byte for byte; on a grid too (an
    empty grid cell and grid labels in the rows), and as the latest run."""
    monkeypatch.chdir(project["root"])
    out = project["root"] / "results-report"
    theme = _basket(project, "Mixed", [US[0], US[13], HK[2]])
    for grid in ((), ("--grid", "rebalance=none,monthly")):
        made = cli("sweep", theme, "--study", project["study"], "--prices", project["prices"],
                   "--universe", project["universe"], "--random", "20", "--out", out, *grid)
        assert made.exit_code == 0, made.output
    folders = sorted(out.glob("*-sweep*"))
    assert len(folders) == 2
    for folder in folders:
        page = (folder / "report.html").read_bytes()
        (folder / "report.html").unlink()
        result = cli("report", folder)
        assert result.exit_code == 0, result.output
        assert (folder / "report.html").read_bytes() == page
    assert "rebalance=monthly" in (folders[1] / "report.html").read_text(encoding="utf-8")
    latest = cli("report", "latest", "--out", out, "--self-contained")
    assert latest.exit_code == 0, latest.output
    from engine.results.assets import plotly_code

    assert plotly_code().decode() in (folders[1] / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "--universe: a sweep draws its random baskets from a universe file"),
        (("--match", "colour"), "--match: 'colour' is not one of industry, liquidity, listed"),
        (("--match", "liquidity"), "--match liquidity: the universe has no volume for market US"),
        (("--grid", "speed=1,2"), "--grid: 'speed=1,2' is not KEY=V1,V2"),
        (("--grid", "fees=0,x"), "--grid: fees 'x' is not a number"),
        (("--random", "0"), "Invalid value for '--random'"),
    ],
    ids=["no-universe", "unknown-match", "no-volume", "grid-key", "grid-value", "zero"],
)
def test_cli_sweep_errors_are_one_line(project, cli, monkeypatch, args, message):
    monkeypatch.chdir(project["root"])
    theme = _basket(project, "US2", [US[0], US[1]])
    universe = () if args == () else ("--universe", project["universe"])
    result = cli("sweep", theme, "--study", project["study"], "--prices", project["prices"],
                 *universe, "--random", "20", *args, "--out", project["root"] / "err")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (project["root"] / "err").exists() or not any((project["root"] / "err").iterdir())


@pytest.mark.parametrize("columns", [80, 100, 160])
def test_terminal_table_never_cuts_a_number(project, columns):
    from conftest import PROJECT

    theme = _basket(project, "A theme with a rather long name [/red]", [US[0], US[13], HK[2]])
    common = [str(PROJECT / "cli.py"), "sweep", str(theme), "--study", str(project["study"]),
              "--prices", str(project["prices"]), "--universe", str(project["universe"]),
              "--random", "100", "--no-events", "--verify", "0",
              "--out", str(project["root"] / "pty")]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", run_in_pty(common, columns, project["root"]))
    records = json.loads(run_in_pty([*common, "--format", "json"], columns, project["root"]))
    lines = shown.splitlines()
    assert all(len(line.rstrip()) <= columns for line in lines)
    assert "…" not in shown
    for record in records:
        assert p_text(record["p_value"]) in shown
        assert f"{record['percentile']:.1f}" in shown
    assert "[/red]" in shown  # the name is printed as text, not read as markup


def test_board_matches_within_the_market_where_the_table_has_no_board(project):
    theme = _basket(project, "Mixed", [US[0], US[13], HK[2]])
    result = _sweep(project, [theme], events=False, n_random=100, match=("board",))
    assert all(sum(s.endswith(".HK") for s in row) == 1 for row in result.draws["Mixed"])
    assert _row(result, "total_return")["matched_on"] == "market,board"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("costs: market\n", "basket 'Rules' is traded like the market"),
        ("capital: 100000\n", "basket 'Rules' is traded like the market"),
        ("weighting: inverse_vol\nlookback: 20\nrebalance: monthly\ncaps: {single: 0.4}\n",
         "caps its inverse_vol weights"),
    ],
    ids=["market-costs", "capital", "capped-inverse-vol"],
)
def test_a_theme_with_rules_the_kernel_lacks_is_refused(project, extra, message):
    from engine.errors import OptionError

    theme = _basket(project, "Rules", [HK[0], HK[1], HK[2]], extra)
    with pytest.raises(OptionError, match=message):
        _sweep(project, [theme], events=False, n_random=20)


@pytest.mark.parametrize(
    ("extra", "constituents", "varies"),
    [
        ("weighting: inverse_vol\nlookback: 20\nrebalance: monthly\n", {}, "per basket"),
        ("weighting: liquidity\nlookback: 20\nrebalance: monthly\n", {}, "per basket"),
        ("rebalance: monthly\n", {HK[1]: "until: 2025-02-01"}, "shared"),
    ],
    ids=["inverse-vol", "liquidity", "membership"],
)
def test_themes_with_targets_that_change_sweep_equal_to_vectorbt(project, extra, constituents,
                                                                varies):
    """Random baskets take the theme's targets per trading session: a member leaves in the
    random baskets when the theme's constituent does; a rule defined for any stock weighs the
    random stocks; the kernel agrees with vectorbt on the verified baskets."""
    symbols = [HK[0], HK[1], HK[2]]
    lines = "".join(f"  - {{symbol: '{s}'{', ' + constituents[s] if s in constituents else ''}}}\n"
                    for s in symbols)
    theme = write_yaml(project["root"] / "Changing.yaml",
                       f"name: Changing\n{extra}constituents:\n{lines}")
    result = _sweep(project, [theme], events=False, n_random=60, verify=4)
    assert result.verified <= 1e-9
    totals = result.nulls[0]
    assert np.isfinite(totals).all() and np.std(totals) > 0
    if varies == "shared":
        # The slot of the leaving member is sold in every random basket: weights 1/2, 1/2.
        targets = result.runs[0].backtest.targets["Changing"].weights
        assert (targets.iloc[-1] == [0.5, 0.0, 0.5]).all()


def test_random_baskets_with_their_own_targets_are_weighed_in_blocks(project, monkeypatch):
    """Baskets weighted by a rule each have targets per session: they are weighed a block at
    a time (memory), with the same numbers as at once."""
    import engine.pipeline.draws as draws

    theme = _basket(project, "Vol", [HK[0], HK[1], HK[2]],
                    "weighting: inverse_vol\nlookback: 20\nrebalance: monthly\n")
    whole = _sweep(project, [theme], n_random=50, verify=1)
    monkeypatch.setattr(draws, "WEIGHED_AT_ONCE", 7)
    blocks = _sweep(project, [theme], n_random=50, verify=1)
    assert [r["statistic"] for r in blocks.rows] == [r["statistic"] for r in whole.rows]
    for mine, reference in zip(blocks.nulls, whole.nulls, strict=True):
        np.testing.assert_array_equal(mine, reference)


def test_weights_from_a_table_become_equal_weights_with_a_note(project):
    table = project["root"] / "weights.csv"
    rows = "".join(f"2024-12-01,{s},{w}\n" for s, w in zip(HK[:3], (0.6, 0.3, 0.1), strict=True))
    table.write_text("date,symbol,weight\n" + rows)
    theme = _basket(project, "Table", [HK[0], HK[1], HK[2]],
                    f"weighting: file\ntable: {table}\n")
    result = _sweep(project, [theme], events=False, n_random=30, verify=2)
    assert any("random baskets of Table: equal weights over the members" in n
               for n in result.notes)
    assert result.verified <= 1e-9


def test_a_sweep_folder_with_random_values_out_of_shape_is_refused(project, cli, monkeypatch,
                                                                 tmp_path):
    """``nulls.parquet`` without its ``value`` column, with one row's values in two places,
    or with a key that is not text: ``basket report`` names the file in one line (exit 1)
    and leaves report.html as it was."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.chdir(project["root"])
    out = tmp_path / "results"
    theme = _basket(project, "Shapes", [US[0], US[13], HK[2]])
    made = cli("sweep", theme, "--study", project["study"], "--prices", project["prices"],
               "--universe", project["universe"], "--random", "5", "--no-events", "--out", out)
    assert made.exit_code == 0, made.output
    folder = next(out.glob("*-sweep"))
    nulls = folder / "nulls.parquet"
    page = (folder / "report.html").read_bytes()
    table = pq.read_table(nulls)
    first_row = table.slice(0, 2)
    shapes = {
        "without value": (table.drop_columns(["value"]), "cannot be read (no column value"),
        "a row in two places": (pa.concat_tables([first_row, table, first_row]),
                                "cannot be read (the draws of Shapes are not 0..8 once each)"),
        "keys not text": (table.replace_schema_metadata(None).set_column(
            0, "basket", pa.array(range(len(table)))),
                          "cannot be read (column 'basket' holds something other than text)"),
    }
    for shape, (altered, message) in shapes.items():
        pq.write_table(altered, nulls)
        result = cli("report", folder)
        assert result.exit_code == 1, shape
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"Error: {nulls}") and message in line, (shape, line)
        assert (folder / "report.html").read_bytes() == page
