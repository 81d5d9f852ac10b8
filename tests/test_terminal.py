"""Every table command read on a real pseudo-terminal 80, 100 and 160 columns wide.

Each command runs as ``python cli.py ...`` with its standard output on a pty whose window size
is set with ``TIOCSWINSZ`` (what ``stty cols`` does; ``COLUMNS`` is unset, so the width comes
from the terminal itself).  The same command's ``--format json`` output gives the values; each
number (as the table formats it), date, window, symbol and id must appear whole, as one token,
on the screen.  Runs on the shared prices; skips when they are absent.
"""

from __future__ import annotations

import fcntl
import functools
import json
import math
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from conftest import read_pty

from engine.analysis.metrics import figure_of, is_versus_key
from engine.results.display import PERCENT_COLUMNS, table_cell
from engine.results.summary_tables import MARKETS, PERFORMANCE, ROBUSTNESS, UNCERTAINTY

PROJECT = Path(__file__).resolve().parents[1]
STUDY = PROJECT / "baskets" / "studies" / "deepseek.yaml"
WIDTHS = (80, 100, 160)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: What separates tokens on screen: spaces and rich's box-drawing characters.
SEPARATORS = re.compile(r"[\s\u2500-\u257f]+")


def on_terminal(args: list[str], columns: int, env: dict[str, str]) -> str:
    """The screen text (escape codes removed) of ``basket ARGS`` with stdout on a pty."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    environment = {k: v for k, v in {**os.environ, **env}.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(
        [sys.executable, "cli.py", *args],
        cwd=PROJECT,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=environment,
    )
    os.close(follower)
    output = read_pty(leader)
    os.close(leader)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert process.wait(timeout=300) == 0, stderr
    screen = ANSI.sub("", output.decode())
    widest = max(len(line) for line in screen.splitlines())
    assert widest <= columns, f"a line of {widest} characters on a {columns}-column terminal"
    return screen


@functools.cache
def _json_text(args: tuple[str, ...], env: tuple[tuple[str, str], ...]) -> str:
    done = subprocess.run(
        [sys.executable, "cli.py", *args, "--format", "json"],
        cwd=PROJECT, env={**os.environ, **dict(env)}, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def json_of(args: list[str], env: dict[str, str]) -> object:
    """The command's ``--format json`` output (each command runs once per module)."""
    return json.loads(_json_text(tuple(args), tuple(sorted(env.items()))))


def assert_whole(screen: str, expected: set[str]) -> None:
    tokens = set(SEPARATORS.split(screen))
    missing = sorted(t for t in expected if t and t not in tokens)
    assert not missing, f"not whole on screen: {missing[:10]}"


def metric_text(key: str, value: object) -> str:
    percent = PERCENT_COLUMNS if figure_of(key) in PERCENT_COLUMNS else ()
    return table_cell(value, figure_of(key), percent)


@pytest.fixture(scope="module")
def project(shared_prices, tmp_path_factory):
    """Two runs of two baskets, an event run, and a cache holding three imported files."""
    root = tmp_path_factory.mktemp("terminal")
    env = {"BASKET_CACHE": str(root / "cache"), "NUMBA_CACHE_DIR": os.environ["NUMBA_CACHE_DIR"]}
    prices = root / "prices"
    prices.mkdir()
    for stem in ("0700.HK", "NVDA", "_IXIC"):
        shutil.copy(shared_prices / f"{stem}.csv", prices / f"{stem}.csv")
    subprocess.run([sys.executable, "cli.py", "data", "import", str(prices)], cwd=PROJECT,
                   env={**os.environ, **env}, check=True, capture_output=True)
    baskets = [str(PROJECT / "baskets" / f) for f in ("large_models_cloud.yaml",
                                                      "us_ai_leaders.yaml")]
    run = ["run", *baskets, "--study", str(STUDY), "--prices", str(shared_prices),
           "--out", str(root / "results"), "--no-events"]
    for fees in ("0", "0.002"):  # two runs to list and compare
        subprocess.run([sys.executable, "cli.py", *run[:-3], "--out", str(root / "compare"),
                        "--no-events", "--fees", fees], cwd=PROJECT, env={**os.environ, **env},
                       check=True, capture_output=True)
    return {"root": root, "env": env, "run": run, "baskets": baskets,
            "prices": str(shared_prices)}


@pytest.mark.parametrize("columns", WIDTHS)
def test_run_table_is_whole(project, columns):
    rows = json_of(project["run"], project["env"])
    screen = on_terminal(project["run"], columns, project["env"])
    tables = {*PERFORMANCE, *MARKETS, *UNCERTAINTY, *ROBUSTNESS}
    shown = (tables - {"selected_after"}) & set(rows[0])
    expected = {metric_text(k, row[k]) for row in rows for k in shown}
    expected |= {word for row in rows for word in row["basket"].split()}
    assert_whole(screen, expected)


@pytest.mark.parametrize("columns", WIDTHS)
def test_run_tables_against_several_benchmarks_are_whole(project, columns):
    study = project["root"] / "several.yaml"
    study.write_text(
        STUDY.read_text().replace("benchmark: ^IXIC", "benchmarks: [^IXIC, ^HSI, 000300.SS]")
    )
    args = [*project["run"][:3], "--study", str(study), *project["run"][5:]]
    rows = json_of(args, project["env"])
    screen = on_terminal(args, columns, project["env"])
    versus = [k for k in rows[0] if is_versus_key(k)]
    assert len(versus) == 8
    expected = {metric_text(k, row[k]) for row in rows for k in versus if row[k] is not None}
    assert_whole(screen, expected)
    assert "against the markets: ^HSI" in screen and "against the markets: 000300.SS" in screen


@pytest.mark.parametrize("columns", WIDTHS)
def test_event_table_is_whole(project, columns):
    args = ["event", project["baskets"][0], "--study", str(STUDY), "--prices", project["prices"],
            "--out", str(project["root"] / "events")]
    rows = json_of(args, project["env"])
    screen = on_terminal(args, columns, project["env"])
    percent = ("car", "portfolio_car")
    from engine.results.console import EVENT_COLUMNS as shown
    expected = {table_cell(row[k], k, percent) for row in rows for k in shown}
    expected |= {row["event"] for row in rows}
    expected |= {d for row in rows for d in row["day0"].values()}
    expected |= {f"[{row['window'][0]}," for row in rows} | {f"{row['window'][1]}]" for row in rows}
    assert_whole(screen, expected)
    # A window is never split over two lines.
    for row in rows:
        assert f"[{row['window'][0]}, {row['window'][1]}]" in screen


@pytest.mark.parametrize("columns", WIDTHS)
def test_compare_and_runs_tables_are_whole(project, columns):
    out = str(project["root"] / "compare")
    runs = json_of(["runs", "--out", out], project["env"])
    screen = on_terminal(["runs", "--out", out], columns, project["env"])
    assert_whole(screen, {r["id"] for r in runs} | {r["benchmark"] for r in runs})
    assert_whole(screen, {r["period"] for r in runs})

    ids = [runs[0]["id"], runs[1]["id"]]
    comparison = json_of(["compare", *ids, "--out", out], project["env"])
    screen = on_terminal(["compare", *ids, "--out", out], columns, project["env"])
    # One table of what differs: percentages with two decimals, their differences in
    # percentage points ("+0.21 pp"), other metrics with three decimals.
    expected = set()
    for row in comparison["rows"]:
        a, b = row["runs"]["A"], row["runs"]["B"]
        for key in ("total_return", "excess_return", "sharpe", "max_drawdown", "volatility"):
            if a[key] == b[key]:
                continue
            percent = key in PERCENT_COLUMNS
            expected |= {*row["basket"].split(), key}
            if percent:
                expected |= {f"{a[key]:.2%}", f"{b[key]:.2%}", f"{100 * (b[key] - a[key]):+.2f}"}
            else:
                expected |= {f"{a[key]:.3f}", f"{b[key]:.3f}", f"{b[key] - a[key]:+.3f}"}
    assert expected and "pp" in screen.split()
    assert_whole(screen, expected)


@pytest.mark.parametrize("columns", WIDTHS)
def test_list_table_is_whole(project, columns):
    rows = json_of(["list"], project["env"])
    screen = on_terminal(["list"], columns, project["env"])
    expected = {s for row in rows for s in row["symbols"].split()}
    expected |= {row["file"] for row in rows} | {str(row["n"]) for row in rows}
    expected |= {word for row in rows for word in row["basket"].split()}
    assert_whole(screen, expected)


@pytest.mark.parametrize("columns", WIDTHS)
def test_data_status_table_is_whole(project, columns):
    rows = json_of(["data", "status"], project["env"])
    screen = on_terminal(["data", "status"], columns, project["env"])
    expected = {r["symbol"] for r in rows} | {r["first_date"] for r in rows}
    expected |= {r["last_date"] for r in rows} | {str(r["rows"]) for r in rows}
    assert_whole(screen, expected)


# -- cells and Markdown (no terminal needed) ---------------------------------------------------


def test_p_values_below_a_thousandth_and_markdown_alignment():
    import pandas as pd

    from engine.results.display import markdown_table

    frame = pd.DataFrame(
        {"car": [0.0123, -0.5], "p_bmp": [0.0004, 0.25], "p KP": [0.0009999, 0.001],
         "window": ["[-1, 1]", "[0, 5]"]},
        index=pd.Index(["A", "B"], name="basket"),
    )
    text = markdown_table(frame, percent=["car"])
    assert text.splitlines()[1] == "|---|---:|---:|---:|---|"
    assert "| A | 1.2% | <0.001 | <0.001 | [-1, 1] |" in text
    assert "| B | -50.0% | 0.250 | 0.001 | [0, 5] |" in text  # 0.001 itself is not below


@pytest.mark.parametrize(("p", "text"), [
    (0.015, "0.015"), (0.0149, "0.015"), (0.2, "0.200"), (1.0, "1.000"), (0.001, "0.001"),
    (0.000999, "<0.001"), (0.0, "<0.001"), (math.nan, ""),
])
def test_p_values_print_with_three_decimals_and_below_a_thousandth_as_such(p, text):
    """0.015 printed with two decimals read 0.01 (or 0.02): every table for people gives three,
    whatever the digits of the other columns."""
    from engine.results.display import p_text, table_cell

    assert p_text(p) == text
    assert table_cell(p, "p null", []) == text
    assert table_cell(p, "p KP", [], digits=4) == text


def test_event_markdown_and_json_carry_day0_as_text_and_every_summary_column(shared_prices,
                                                                            tmp_path, cli):
    basket = PROJECT / "baskets" / "large_models_cloud.yaml"
    args = ["event", basket, "--study", STUDY, "--prices", shared_prices, "--out", tmp_path]
    markdown = cli(*args, "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    assert "| XHKG 2025-01-20 |" in markdown.stdout and "{'XHKG'" not in markdown.stdout
    rows = json.loads(cli(*args, "--format", "json").stdout)
    assert {"n_excluded", "mean_car", "rbar", "portfolio_day0"} <= set(rows[0])
    csv_text = cli(*args, "--format", "csv").stdout
    assert "XHKG 2025-01-20" in csv_text and "{'XHKG'" not in csv_text


def test_repeated_notes_are_grouped_into_one_line_with_a_count():
    from engine.results.console import note_lines
    from engine.results.notes import group_notes

    carried = "no bar on 2 (2023-09-01, 2023-09-08) session(s) of its exchange; last close carried"
    symbols = ["0700.HK", "9988.HK", "1810.HK", "9888.HK", "1024.HK"]
    notes = [f"{s}: {carried}" for s in symbols] + [
        "HS TECH rules: cash drag 0.5%",
        "calendar XHKG closed 2023-09-01",
        "calendar XHKG closed 2023-09-01",
        "0700.HK: placeholder bar on 2024-12-31",
        "0700.HK: placeholder bar on 2024-12-31",
    ]
    assert group_notes(notes) == [
        f"0700.HK, 9988.HK, 1810.HK and 2 more (5): {carried}",
        "HS TECH rules: cash drag 0.5%",  # a subject with a space is not a symbol: kept
        "calendar XHKG closed 2023-09-01 (x2)",
        "0700.HK: placeholder bar on 2024-12-31 (x2)",
    ]
    assert group_notes(["A.HK: x", "B.HK: x"]) == ["A.HK, B.HK (2): x"]
    assert group_notes([]) == [] and note_lines([]) == ""
    assert note_lines(["a\x1b[31m", "a\x1b[31m"]).count("\n") == 1


def stderr_on_terminal(args: list[str], env: dict[str, str]) -> tuple[str, str]:
    """(standard output, what standard error drew) of ``basket ARGS`` with stderr on a pty
    100 columns wide and stdout piped."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    environment = {k: v for k, v in {**os.environ, **env}.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([sys.executable, "cli.py", *args], cwd=PROJECT,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower,
                               env=environment)
    os.close(follower)
    output = read_pty(leader)
    os.close(leader)
    stdout = process.stdout.read().decode() if process.stdout else ""
    assert process.wait(timeout=300) == 0, output.decode()
    return stdout, ANSI.sub("", output.decode())


#: The stages `basket run` names on a terminal's standard error.
RUN_STAGES = ("resolving listings", "reading and checking prices", "backtesting 2 basket(s)",
              "leave-one-out", "writing the run folder")


def test_a_run_shows_its_stages_on_a_terminal_and_nothing_when_piped_or_quiet(project,
                                                                             tmp_path):
    args = [*project["run"][:-3], "--out", str(tmp_path / "shown"), "--no-events"]
    stdout, drawn = stderr_on_terminal(args, project["env"])
    # rich redraws the status line about 12 times a second: a stage shorter than that may be
    # skipped, the slow ones (prices, backtest, leave-one-out, writing) are drawn.
    assert sum(stage in drawn for stage in RUN_STAGES) >= 2, drawn
    assert "results: " in drawn and "Large models" in stdout
    assert not any(stage in stdout for stage in RUN_STAGES)
    _, quiet = stderr_on_terminal([*args, "--quiet"], project["env"])
    assert not any(stage in quiet for stage in RUN_STAGES) and "results: " in quiet
    piped = subprocess.run([sys.executable, "cli.py", *args], cwd=PROJECT, text=True,
                           env={**os.environ, **project["env"]}, capture_output=True)
    assert piped.returncode == 0, piped.stderr
    assert not any(stage in piped.stderr for stage in RUN_STAGES) and "\x1b" not in piped.stderr
