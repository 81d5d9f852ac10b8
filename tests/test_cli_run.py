"""``basket run``, ``validate`` and ``list`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PROJECT, run_folders, write_yaml

from engine.analysis.metrics import COLUMNS

DAYS = ["2025-01-30", "2025-01-31", "2025-02-03", "2025-02-04"]


@pytest.fixture
def small_project(tmp_path, price_folder):
    folder, write = price_folder
    write("AAA", DAYS, [10.0, 11.0, 12.0, 6.0])
    write("BBB", DAYS, [20.0, 18.0, 19.0, 38.0])
    write("^IXIC", DAYS, [100.0, 101.0, 99.0, 100.0])
    basket = write_yaml(
        tmp_path / "baskets" / "pair.yaml",
        "name: Pair\nrebalance: monthly\nconstituents:\n  - symbol: AAA\n  - symbol: BBB\n",
    )
    study = write_yaml(
        tmp_path / "study.yaml",
        "name: Tiny\nbenchmark: ^IXIC\nstart: 2025-01-30\nend: 2025-02-04\n",
    )
    return {"prices": folder, "basket": basket, "study": study, "out": tmp_path / "results"}


def run_args(p, *extra):
    return [
        "run",
        p["basket"],
        "--study",
        p["study"],
        "--prices",
        p["prices"],
        "--out",
        p["out"],
        *extra,
    ]


def test_run_prints_json_with_exactly_the_documented_keys(cli, small_project):
    result = cli(*run_args(small_project, "--format", "json"))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["basket"] for r in rows] == ["Pair", "^IXIC"]
    assert all(list(r) == list(COLUMNS) for r in rows)
    assert rows[0]["total_return"] == pytest.approx(0.34375)
    assert rows[0]["benchmark_return"] == pytest.approx(0.0, abs=1e-15)
    assert rows[0]["excess_return"] == pytest.approx(0.34375)


def test_two_runs_write_two_complete_run_folders(cli, small_project):
    first = cli(*run_args(small_project, "--name", "same"))
    second = cli(*run_args(small_project, "--name", "same"))
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    folders = run_folders(small_project["out"])
    assert len(folders) == 2
    assert all("-same" in folder.name for folder in folders)
    for folder in folders:
        names = {p.name for p in folder.iterdir()}
        assert {
            "summary.csv",
            "summary.md",
            "summary.json",
            "equity.csv",
            "attribution.csv",
            "config.yaml",
            "manifest.json",
        } <= names
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["run_id"] == folder.name
        assert set(manifest["fingerprints"]) == {"AAA", "BBB", "^IXIC"}
        assert manifest["versions"]["vectorbt"].startswith("1.2")
        assert manifest["rebalances"] == {"Pair": ["2025-02-03"]}
    assert "results:" in first.stderr


@pytest.mark.parametrize(
    "fmt, marker", [("csv", "basket,total_return"), ("markdown", "| Pair |"), ("table", "Pair")]
)
def test_run_formats(cli, small_project, fmt, marker):
    result = cli(*run_args(small_project, "--format", fmt))
    assert result.exit_code == 0, result.output
    assert marker in result.stdout


def test_command_line_options_override_the_study(cli, small_project):
    result = cli(
        *run_args(
            small_project,
            "--format",
            "json",
            "--end",
            "2025-02-03",
            "--rebalance",
            "none",
            "--fees",
            "0",
        )
    )
    assert result.exit_code == 0, result.output
    # Hold to 02-03: 0.5 * 12/10 + 0.5 * 19/20 = 1.075.
    assert json.loads(result.stdout)[0]["total_return"] == pytest.approx(0.075)


def test_missing_symbols_are_listed_in_one_error_or_skipped(cli, small_project, tmp_path):
    basket = write_yaml(
        tmp_path / "b.yaml",
        "name: Gaps\nconstituents:\n  - symbol: AAA\n  - symbol: ZZZ\n  - symbol: YYY\n",
    )
    args = [
        "run",
        basket,
        "--study",
        small_project["study"],
        "--prices",
        small_project["prices"],
        "--out",
        small_project["out"],
        "--format",
        "json",
    ]
    failed = cli(*args)
    assert failed.exit_code == 2
    assert "YYY (no file YYY.csv); ZZZ (no file ZZZ.csv)" in failed.stderr
    assert "--skip-missing" in failed.stderr
    skipped = cli(*args, "--skip-missing")
    assert skipped.exit_code == 0, skipped.output
    assert json.loads(skipped.stdout)[0]["total_return"] == pytest.approx(-0.4)
    assert "skipped ZZZ" in skipped.stderr


def test_validate_and_list_the_project_baskets(cli, monkeypatch):
    monkeypatch.chdir(PROJECT)
    files = sorted(str(p) for p in Path("baskets").glob("*.yaml"))
    result = cli("validate", *files, "baskets/studies/deepseek.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ok ") == len(files) + 1
    listed = cli("list", "--format", "json")
    assert listed.exit_code == 0
    assert {row["basket"] for row in json.loads(listed.stdout)} >= {
        "Domestic chips",
        "US AI leaders",
    }


def test_run_on_the_shared_data_with_defaults(cli, shared_prices, monkeypatch, tmp_path):
    monkeypatch.chdir(PROJECT)
    result = cli("run", "--prices", shared_prices, "--out", tmp_path, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["basket"]: r for r in json.loads(result.stdout)}
    assert "Domestic chips" in rows and "^IXIC" in rows
    assert rows["^IXIC"]["total_return"] == pytest.approx(-0.0240, abs=1e-4)
    assert len(run_folders(tmp_path)) == 1


def test_help_does_not_import_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys, cli; cli.main(['--help'], standalone_mode=False); "
        "print(sorted(m for m in ('pandas', 'vectorbt', 'yfinance') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("[]")


def test_the_main_job_imports_neither_vectorbt_nor_scipy_stats(shared_prices, tmp_path):
    """vectorbt's compiled engine simulates without the vectorbt package (over a second to
    import) and the event study's tests need scipy.special only."""
    import subprocess
    import sys

    args = ["run", "--prices", str(shared_prices), "--out", str(tmp_path), "--format", "json"]
    code = (
        "import sys, cli\n"
        f"try: cli.main({args!r})\n"
        "except SystemExit as exit: print(exit.code)\n"
        "print(sorted(m for m in ('vectorbt', 'scipy.stats', 'sklearn', 'numba') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split("\n")[-3:] == ["0", "[]", ""], done.stderr


def test_a_run_id_that_exists_gets_a_suffix_and_the_old_folder_is_kept(tmp_path):
    from engine.results.runfolder import write_run_folder

    def fill_with(text):
        return lambda folder: (folder / "marker.txt").write_text(text)

    first = write_run_folder(tmp_path, "20250127-000000-same", fill_with("first"))
    second = write_run_folder(tmp_path, "20250127-000000-same", fill_with("second"))
    assert second.name == "20250127-000000-same-2"
    assert (first / "marker.txt").read_text() == "first"
    assert (second / "marker.txt").read_text() == "second"
    assert [p.name for p in run_folders(tmp_path)] == [first.name, second.name]


def test_local_currency_needs_one_currency(cli, small_project, tmp_path):
    basket = write_yaml(
        tmp_path / "mixed.yaml", "name: Mixed\nconstituents:\n  - symbol: AAA\n  - symbol: 700.HK\n"
    )
    args = ["run", basket, "--study", small_project["study"], "--prices", small_project["prices"],
            "--out", small_project["out"], "--currency", "local"]
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "Error: --currency local: the constituents trade in 2 currencies (HKD: 0700.HK; USD: AAA)"
    )
    assert not small_project["out"].exists()


def test_local_currency_converts_the_benchmark_into_it(cli, small_project, price_folder, tmp_path):
    folder, write = price_folder
    # Hong Kong is closed 2025-01-29..31: the stock is bought on 2025-02-03, the first session
    # of the study on which its exchange trades, at 52 (the basket holds cash until then).
    write("0001.HK", ["2025-01-28", "2025-02-03", "2025-02-04"], [50.0, 52.0, 53.0])
    write("HKD=X", DAYS, [7.80, 7.90, 7.90, 7.70])
    basket = write_yaml(tmp_path / "hk.yaml", "name: HK\nconstituents:\n  - symbol: 1.HK\n")
    result = cli("run", basket, "--study", small_project["study"], "--prices", folder, "--out",
                 small_project["out"], "--currency", "local", "--format", "json", "--fees", "0")
    assert result.exit_code == 0, result.output
    hk, nasdaq = json.loads(result.stdout)
    assert hk["total_return"] == pytest.approx(53 / 52 - 1)
    assert "HK: bought on 2025-02-03, the first session on which all its exchanges trade" in (
        result.stderr
    )
    # ^IXIC in Hong Kong dollars: 100 USD at 7.80 HKD, then 100 USD at 7.70 HKD.
    assert nasdaq["total_return"] == pytest.approx(100 * 7.70 / (100 * 7.80) - 1)


def test_an_unwritable_results_folder_fails_before_any_work(tmp_path):
    import subprocess
    import sys

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code = (
        "import sys, cli\n"
        f"try: cli.main(['run', '--out', {str(blocker / 'sub')!r}])\n"
        "except SystemExit as exit: print(exit.code, 'vectorbt' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["1", "False"]  # no price read, nothing simulated
    assert "a_file/sub cannot be written (Not a directory)" in done.stderr


def test_the_package_offers_the_cli_as_python_calls_and_imports_cheaply(small_project):
    import subprocess
    import sys

    import engine

    code = "import sys, engine; print('pandas' in sys.modules, 'vectorbt' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
    study = engine.resolve_study(engine.load_study(small_project["study"]))
    result = engine.run([engine.load_basket(small_project["basket"])], study,
                        engine.open_source(small_project["prices"]))
    assert result.summary[0].total_return == pytest.approx(0.34375)
    assert set(engine.__all__) >= {"run", "run_events", "write_run", "compare_runs"}


def test_write_run_writes_a_run_and_refuses_what_is_no_run(small_project, tmp_path):
    """engine.write_run is the one writer of a backtest, an event study and a claims check (it
    picks the kind of folder and its report by the run given; `basket event` and `basket
    claims` write theirs through it): anything else is a TypeError naming it, nothing written."""
    import engine

    study = engine.resolve_study(engine.load_study(small_project["study"]))
    result = engine.run([engine.load_basket(small_project["basket"])], study,
                        engine.open_source(small_project["prices"]))
    folder = engine.write_run(result, tmp_path / "results", name="one")
    assert folder.name.endswith("-one") and (folder / "summary.csv").is_file()
    assert (folder / "report.html").is_file()
    with pytest.raises(TypeError, match="a dict is no run to write"):
        engine.write_run({}, tmp_path / "other")
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
def test_what_basket_run_prints_is_a_python_call(cli, small_project, fmt):
    """cli.py only echoes: the summary `basket run` prints is engine.run_summary's text."""
    import engine

    printed = cli(*run_args(small_project, "--format", fmt))
    assert printed.exit_code == 0, printed.output
    study = engine.resolve_study(engine.load_study(small_project["study"]))
    result = engine.run([engine.load_basket(small_project["basket"])], study,
                        engine.open_source(small_project["prices"]))
    assert printed.stdout == engine.run_summary(result, fmt)
