"""``basket event`` and the event study inside ``basket run``, on the shared data."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT, only_run

JSON_KEYS = {
    "basket",
    "event",
    "day0",
    "window",
    "n_stocks",
    "car",
    "bhar",
    "t_cross_sectional",
    "p_cross_sectional",
    "t_patell",
    "p_patell",
    "t_bmp",
    "p_bmp",
    "t_kolari_pynnonen",
    "p_kolari_pynnonen",
    "z_rank",
    "p_rank",
    "z_sign",
    "p_sign",
}


@pytest.fixture
def in_project(monkeypatch):
    monkeypatch.chdir(PROJECT)


def us_leaders_on_the_sell_off(cli, shared_prices, out, window, *more):
    """``basket event`` of the US AI leaders around the 2025-01-27 sell-off alone."""
    return cli("event", "baskets/us_ai_leaders.yaml", "--prices", shared_prices, "--out", out,
               "--event", "2025-01-27", "--window", window, *more)


def test_event_json_has_one_object_per_basket_event_and_window(
    cli, shared_prices, in_project, tmp_path
):
    result = cli(
        "event",
        "baskets/report_headliners.yaml",
        "baskets/us_ai_leaders.yaml",
        "--prices",
        shared_prices,
        "--out",
        tmp_path,
        "--format",
        "json",
        "--window",
        "-1:1",
        "--window",
        "0:5",
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 2 * 2 * 2  # baskets x events x windows
    assert all(set(row) >= JSON_KEYS for row in rows)
    first = rows[0]
    assert first["basket"] == "Report headliners" and first["event"] == "2025-01-20"
    assert first["window"] == [-1, 1]
    assert first["day0"] == {"XHKG": "2025-01-20"}
    us = next(r for r in rows if r["basket"] == "US AI leaders" and r["event"] == "2025-01-20")
    assert us["day0"] == {"XNAS": "2025-01-21"}  # MLK day: the next NASDAQ session
    folder = only_run(tmp_path)
    tables = {p.name for p in (folder / "events").iterdir()}
    assert {
        "summary.csv",
        "abnormal_returns.csv",
        "stock_cars.csv",
        "excluded.csv",
        "day0.csv",
        "car_paths.csv",
    } <= tables
    assert json.loads((folder / "manifest.json").read_text())["kind"] == "event"


def test_event_table_names_day_zero_per_exchange_and_exclusions(
    cli, shared_prices, in_project, tmp_path
):
    result = cli(
        "event",
        "baskets/intelligent_driving.yaml",
        "--prices",
        shared_prices,
        "--out",
        tmp_path,
        "--event",
        "2025-01-27",
        "--window",
        "0:5",
    )
    assert result.exit_code == 0, result.output
    assert (
        "Day 0 of 2025-01-27 (US AI sell-off): XSHG 2025-01-27, XHKG 2025-01-27, XNAS "
        "2025-01-27" in result.stdout
    )
    assert "excluded 9660.HK (only" in result.stderr


def test_nvidia_market_model_abnormal_return_on_the_sell_off(
    cli, shared_prices, in_project, tmp_path
):
    """NVDA's abnormal return on 2025-01-27, recomputed with numpy least squares on the raw
    CSVs: estimation days -250..-30 of NASDAQ sessions, market ^IXIC."""
    result = us_leaders_on_the_sell_off(cli, shared_prices, tmp_path, "0:0")
    assert result.exit_code == 0, result.output
    ars = pd.read_csv(only_run(tmp_path) / "events" / "abnormal_returns.csv")
    engine_ar = ars.query("symbol == 'NVDA' and day == 0")["abnormal_return"].item()

    def returns(stem):
        frame = pd.read_csv(shared_prices / f"{stem}.csv", index_col="date")
        return frame["adj_close"].pct_change()

    both = pd.concat([returns("NVDA"), returns("_IXIC")], axis=1, keys=["stock", "market"])
    both = both.loc[:"2025-01-27"].dropna()
    day0 = both.index.get_loc("2025-01-27")
    estimation = both.iloc[day0 - 250 : day0 - 30 + 1]
    design = np.column_stack([np.ones(len(estimation)), estimation["market"]])
    (alpha, beta), *_ = np.linalg.lstsq(design, estimation["stock"], rcond=None)
    expected = both["stock"].iloc[day0] - alpha - beta * both["market"].iloc[day0]
    assert engine_ar == pytest.approx(expected, rel=1e-9)
    assert expected < -0.10  # a large negative abnormal return, beyond the market's -3 %


def test_run_includes_the_event_study(cli, shared_prices, in_project, tmp_path):
    result = cli(
        "run",
        "baskets/domestic_chips.yaml",
        "--prices",
        shared_prices,
        "--out",
        tmp_path,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    folder = only_run(tmp_path)
    summary = pd.read_csv(folder / "events" / "summary.csv")
    assert set(summary["event"]) == {"2025-01-20", "2025-01-27"}
    assert len(summary) == 2 * 4  # two events, four default windows
    # The run's stdout is still exactly the JSON summary.
    assert [r["basket"] for r in json.loads(result.stdout)] == ["Domestic chips", "^IXIC"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--event", "2030-01-02"], "event 2030-01-02 is after the last price"),
        (["--window", "0:400"], "run past the price data"),
        (["--window", "5:1"], "5:1 ends before it starts"),
        (["--window", "abc"], "'abc' is not a window"),
        (["--estimation", "-10:5"], "must end before day 0"),
        (["--event", "2025-13-01"], "not an ISO date"),
    ],
)
def test_event_errors_are_one_line(cli, shared_prices, in_project, tmp_path, args, message):
    result = cli(
        "event",
        "baskets/report_headliners.yaml",
        "--prices",
        shared_prices,
        "--out",
        tmp_path,
        *args,
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_what_basket_event_prints_is_a_python_call(cli, shared_prices, in_project, tmp_path):
    """cli.py only echoes: `basket event` prints engine.event_summary's text and, as notes,
    engine.event_exclusions' lines."""
    import engine

    args = ["baskets/intelligent_driving.yaml", "--event", "2025-01-27", "--window", "0:5"]
    printed = cli("event", *args, "--prices", shared_prices, "--out", tmp_path)
    assert printed.exit_code == 0, printed.output
    study = engine.load_study("baskets/studies/deepseek.yaml")
    options = engine.event_options(
        study, events=[dt.date(2025, 1, 27)], windows=[(0, 5)], currency="local"
    )
    baskets = [engine.load_basket(args[0])]
    run = engine.run_events(baskets, study, engine.open_source(shared_prices), options)
    assert printed.stdout == engine.event_summary(run.events, "table")
    exclusions = engine.event_exclusions(run.events)
    assert exclusions and all(f"note: {line}" in printed.stderr for line in exclusions)


def test_a_pre_event_only_window_is_accepted(cli, shared_prices, in_project, tmp_path):
    """``--window -5:-1`` ends before day 0: a valid window (run-up before an event), never
    refused as an event outside the data."""
    result = us_leaders_on_the_sell_off(cli, shared_prices, tmp_path, "-5:-1", "--format",
                                        "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["window"] == [-5, -1]
    ars = pd.read_csv(only_run(tmp_path) / "events" / "abnormal_returns.csv")
    nvda = ars.query("symbol == 'NVDA' and -5 <= day <= -1")
    assert sorted(nvda["day"]) == [-5, -4, -3, -2, -1]
