"""A study naming several benchmarks (``benchmarks: [^IXIC, ^HSI, 000300.SS]``): the file's
validation, the figures against each further benchmark (checked against an independent OLS on
the real CSVs, and against a run with that benchmark as the primary), and the outputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import statsmodels.api as sm
from conftest import PROJECT, raw_closes, run_folders, sessions, write_yaml

from engine.analysis.metrics import NUMERIC_COLUMNS
from engine.config.baskets import load_basket
from engine.config.studies import load_study, study_from_mapping
from engine.data.csvfolder import CsvFolderSource
from engine.errors import ConfigError
from engine.pipeline.runs import run
from engine.pipeline.study import resolve_study

# --------------------------------------------------------------------------- the study file


def test_benchmarks_list_names_the_primary_first(tmp_path):
    path = write_yaml(tmp_path / "s.yaml", "benchmarks: [^IXIC, ^hsi, 300.SS]\n")
    study = load_study(path)
    assert study.benchmark == "^IXIC"
    assert study.benchmarks == ("^IXIC", "^HSI", "300.SS")
    assert study.further_benchmarks == ("^HSI", "300.SS")
    assert study.to_dict()["benchmarks"] == ["^IXIC", "^HSI", "300.SS"]


def test_one_benchmark_is_a_one_element_list(tmp_path):
    assert load_study(write_yaml(tmp_path / "s.yaml", "benchmark: ^HSI\n")).benchmarks == (
        "^HSI",
    )
    assert study_from_mapping({}, "s.yaml").benchmarks == ("^IXIC",)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("name: s\nbenchmark: ^IXIC\nbenchmarks: [^HSI]\n", "s.yaml:3, field 'benchmarks'",
         "is given together with 'benchmark'"),
        ("name: s\nbenchmarks: []\n", "s.yaml:2, field 'benchmarks'", "is empty"),
        ("name: s\nbenchmarks: ^HSI\n", "s.yaml:2, field 'benchmarks'", "must be a list, got text"),
        ("name: s\nbenchmarks: [^IXIC, 700]\n", "s.yaml:2, field 'benchmarks[1]'",
         "must be text, got the int 700"),
        ("name: s\nbenchmarks: [^HSI, ^hsi]\n", "s.yaml:2, field 'benchmarks[1]'",
         "^HSI is listed twice"),
    ],
)
def test_bad_benchmarks_name_the_file_line_and_field(tmp_path, text, where, message):
    path = write_yaml(tmp_path / "s.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_study(path)
    line = caught.value.one_line()
    assert line.startswith(str(tmp_path / where)), line
    assert message in line


# --------------------------------------------------------------------------- real data


def _deepseek(benchmarks: str):
    study = load_study(PROJECT / "baskets" / "studies" / "deepseek.yaml")
    return resolve_study(study_from_mapping(
        {**{k: v for k, v in study.to_dict().items() if k in ("start", "end", "fees")},
         "benchmarks": benchmarks.split()}, "multi.yaml",
    ))


@pytest.fixture(scope="module")
def several(shared_prices):
    baskets = [load_basket(PROJECT / "baskets" / f)
               for f in ("large_models_cloud.yaml", "domestic_chips.yaml")]
    source = CsvFolderSource(shared_prices)
    return baskets, run(baskets, _deepseek("^IXIC ^HSI 000300.SS"), source), source


def test_against_the_hang_seng_is_the_ols_on_its_own_sessions_in_dollars(several, shared_prices):
    """Large models & clouds holds only Hong Kong stocks: against ^HSI its sessions are the
    days the Hang Seng's file has in the period; the index in dollars through HKD=X."""
    _, result, _ = several
    equity = result.equity_frame()["Large models & clouds"]
    hsi = raw_closes(shared_prices, "_HSI")
    days = hsi.index[(hsi.index >= equity.index[0]) & (hsi.index <= equity.index[-1])]
    hkd = raw_closes(shared_prices, "HKD_X")
    dollars = hsi.loc[days].to_numpy() / hkd.reindex(hkd.index.union(days)).ffill()[days]
    basket = equity.reindex(days).to_numpy()
    r = basket[1:] / basket[:-1] - 1
    rb = dollars.to_numpy()[1:] / dollars.to_numpy()[:-1] - 1
    fit = sm.OLS(r, sm.add_constant(rb)).fit()
    row = result.summary_frame().loc["Large models & clouds"]
    hsi_total = dollars.iloc[-1] / dollars.iloc[0] - 1
    assert row["beta_vs_^HSI"] == pytest.approx(fit.params[1], rel=1e-9)
    assert row["alpha_vs_^HSI"] == pytest.approx(fit.params[0] * 252, rel=1e-9)
    assert row["benchmark_return_vs_^HSI"] == pytest.approx(hsi_total, rel=1e-9)
    assert row["excess_return_vs_^HSI"] == pytest.approx(basket[-1] - 1 - hsi_total, rel=1e-9)
    # The figure: against the Hang Seng the excess falls by 16.6 points.
    assert row["excess_return"] - row["excess_return_vs_^HSI"] == pytest.approx(0.166, abs=5e-4)


def test_a_further_benchmark_gives_what_it_gives_as_the_primary(several):
    baskets, result, source = several
    for other in ("^HSI", "000300.SS"):
        alone = run(baskets, _deepseek(other), source).summary_frame()
        for basket in ("Large models & clouds", "Domestic chips"):
            row = result.summary_frame().loc[basket]
            for figure in ("benchmark_return", "excess_return", "beta", "alpha"):
                assert row[f"{figure}_vs_{other}"] == pytest.approx(
                    alone.at[basket, figure], rel=1e-12
                ), (other, basket, figure)
    # The primary's figures are those of a run with it alone.
    primary = run(baskets, _deepseek("^IXIC"), source).summary_frame()
    frame = result.summary_frame()
    columns = list(NUMERIC_COLUMNS)
    assert np.allclose(frame.loc[primary.index, columns].astype(float),
                       primary[columns].astype(float), equal_nan=True, rtol=1e-12)


# --------------------------------------------------------------------------- the command


@pytest.fixture
def nasdaq_project(tmp_path, price_folder):
    """Two NASDAQ stocks, ^IXIC and QQQ over a quarter of real sessions, random walks."""
    folder, write = price_folder
    days = sessions("XNAS", "2024-12-02", "2025-03-31")
    rng = np.random.default_rng(7)
    for symbol, drift in (("AAA", 0.002), ("BBB", -0.001), ("^IXIC", 0.0005), ("QQQ", 0.001)):
        write(symbol, days, 100 * np.cumprod(1 + rng.normal(drift, 0.01, len(days))))
    basket = write_yaml(tmp_path / "b.yaml",
                        "name: Pair\nconstituents:\n  - symbol: AAA\n  - symbol: BBB\n")
    study = write_yaml(tmp_path / "study.yaml",
                       "name: Q\nbenchmarks: [^IXIC, QQQ]\nstart: 2025-01-02\nend: 2025-03-31\n")
    return folder, basket, study, tmp_path


def test_json_csv_and_markdown_carry_the_figures_against_each_benchmark(cli, nasdaq_project):
    folder, basket, study, tmp = nasdaq_project
    args = ["run", basket, "--study", study, "--prices", folder, "--out", tmp / "out",
            "--no-events"]
    rows = json.loads(cli(*args, "--format", "json").stdout)
    keys = ["benchmark_return_vs_QQQ", "excess_return_vs_QQQ", "beta_vs_QQQ", "alpha_vs_QQQ"]
    assert list(rows[0])[-4:] == keys
    pair, benchmark = rows
    assert all(isinstance(pair[k], float) for k in keys)
    assert all(benchmark[k] is None for k in keys)  # the primary's own row has none
    csv_rows = list(csv.DictReader(cli(*args, "--format", "csv").stdout.splitlines()))
    assert float(csv_rows[0]["beta_vs_QQQ"]) == pytest.approx(pair["beta_vs_QQQ"], rel=1e-9)
    assert csv_rows[1]["beta_vs_QQQ"] == ""
    markdown = cli(*args, "--format", "markdown").stdout
    assert "**against the markets: QQQ**" in markdown
    assert "| Bench | Excess | Beta | Alpha* |" in markdown
    # Saved, read back: the report shows the table too.
    saved = cli(*args)
    assert saved.exit_code == 0, saved.output
    folder_out = run_folders(tmp / "out")[-1]
    report = cli("report", folder_out)
    assert report.exit_code == 0, report.output
    assert "Against the markets: QQQ" in (folder_out / "report.html").read_text()


def test_a_basket_named_as_a_further_benchmark_is_refused(cli, nasdaq_project, tmp_path):
    folder, _, study, tmp = nasdaq_project
    basket = write_yaml(tmp_path / "q.yaml", "name: QQQ\nconstituents:\n  - symbol: AAA\n")
    result = cli("run", basket, "--study", study, "--prices", folder, "--no-events")
    assert result.exit_code == 2
    assert "basket name 'QQQ' is the benchmark's symbol" in result.output
    assert "Traceback" not in result.output


def test_both_benchmark_keys_exit_2_naming_the_line(cli, nasdaq_project, tmp_path):
    folder, basket, _, _ = nasdaq_project
    study = write_yaml(tmp_path / "both.yaml",
                       "name: Q\nbenchmark: ^IXIC\nbenchmarks: [QQQ]\n"
                       "start: 2025-01-02\nend: 2025-03-31\n")
    result = cli("run", basket, "--study", study, "--prices", folder, "--no-events")
    assert result.exit_code == 2
    assert f"{study}:3, field 'benchmarks': is given together with 'benchmark'" in result.output
