"""``basket runs`` and ``basket compare`` on real run folders, and interrupted runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import PROJECT, invoke, write_yaml

from engine.results.compare import compare_runs
from engine.results.reader import list_runs, load_run, resolve_run

DAYS = ["2025-01-30", "2025-01-31", "2025-02-03", "2025-02-04"]


def make_project(root: Path) -> dict[str, Path]:
    """Two baskets on four generated days (see tests/test_cli_run.py for the arithmetic)."""
    prices = root / "prices"
    prices.mkdir(parents=True)
    for symbol, closes in {"AAA": [10.0, 11.0, 12.0, 6.0], "BBB": [20.0, 18.0, 19.0, 38.0],
                           "^IXIC": [100.0, 101.0, 99.0, 100.0]}.items():
        rows = "\n".join(f"{d},{c}" for d, c in zip(DAYS, closes, strict=True))
        name = symbol.replace("^", "_")
        (prices / f"{name}.csv").write_text(f"date,close\n{rows}\n", encoding="utf-8")
    pair = write_yaml(root / "baskets" / "pair.yaml",
                      "name: Pair\nrebalance: monthly\nconstituents:\n"
                      "  - symbol: AAA\n  - symbol: BBB\n")
    solo = write_yaml(root / "baskets" / "solo.yaml",
                      "name: Solo\nconstituents:\n  - symbol: AAA\n")
    study = write_yaml(root / "study.yaml",
                       "name: Tiny\nbenchmark: ^IXIC\nstart: 2025-01-30\nend: 2025-02-04\n")
    return {"prices": prices, "pair": pair, "solo": solo, "study": study, "out": root / "results"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs: A fees 10 bp, B no fees (both baskets), C only Solo to 2025-02-03."""
    p = make_project(tmp_path_factory.mktemp("compare"))
    common = ["--study", p["study"], "--prices", p["prices"], "--out", p["out"]]
    specs = {
        "A": [p["pair"], p["solo"], *common, "--fees", "0.001", "--name", "fees"],
        "B": [p["pair"], p["solo"], *common, "--fees", "0", "--name", "nofees"],
        "C": [p["solo"], *common, "--fees", "0", "--end", "2025-02-03", "--name", "solo"],
    }
    folders = {}
    for label, args in specs.items():
        result = invoke("run", *args)
        assert result.exit_code == 0, result.output
        folders[label] = Path(result.stderr.split("results: ")[-1].strip())
    return {**p, "folders": folders}


def compare_json(*args):
    result = invoke("compare", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_compare_two_runs_with_different_fees(runs):
    a, b = runs["folders"]["A"], runs["folders"]["B"]
    data = compare_json(a.name, b.name, "--out", runs["out"])
    assert set(data) == {"runs", "rows", "changes"}
    assert [r["label"] for r in data["runs"]] == ["A", "B"]
    assert [r["id"] for r in data["runs"]] == [a.name, b.name]
    rows = {r["basket"]: r for r in data["rows"]}
    assert list(rows) == ["Pair", "Solo", "^IXIC"]
    assert rows["^IXIC"]["benchmark"] is True
    # Without fees: 0.5 * 12/10 + 0.5 * 19/20 = 1.075 at the rebalance, then 1.075 * 1.25.
    assert rows["Pair"]["runs"]["B"]["total_return"] == pytest.approx(0.34375)
    assert rows["Solo"]["runs"]["B"]["total_return"] == pytest.approx(-0.4)
    for name in ("Pair", "Solo"):
        diff = rows[name]["differences"]["B-A"]["total_return"]
        assert diff == pytest.approx(
            rows[name]["runs"]["B"]["total_return"] - rows[name]["runs"]["A"]["total_return"]
        )
        assert diff > 0  # fees only cost
    assert rows["^IXIC"]["differences"]["B-A"]["total_return"] == pytest.approx(0.0)
    changes = data["changes"]
    assert changes["settings"] == [{"key": "fees", "values": {"A": 0.001, "B": 0.0}}]
    assert changes["baskets"] == [] and changes["data"] == [] and changes["versions"] == []
    assert changes["sort"] is None


def test_compare_runs_with_different_baskets_and_periods(runs):
    b, c = runs["folders"]["B"], runs["folders"]["C"]
    data = compare_json(b, c)  # paths to the run folders work too
    rows = {r["basket"]: r for r in data["rows"]}
    assert rows["Pair"]["runs"]["B"] is None and rows["Pair"]["differences"]["B-A"] is None
    assert rows["Solo"]["runs"]["B"]["total_return"] == pytest.approx(0.2)  # 12 / 10 - 1
    assert rows["Solo"]["differences"]["B-A"]["total_return"] == pytest.approx(0.6)
    changes = {c["key"]: c["values"] for c in data["changes"]["settings"]}
    assert changes["end"] == {"A": "2025-02-04", "B": "2025-02-03"}
    assert changes["sessions"] == {"A": 4, "B": 3}
    baskets = {c["key"]: c["values"] for c in data["changes"]["baskets"]}
    assert baskets["Pair: basket"] == {"A": "yes", "B": None}
    data_changes = {c["key"]: c["values"] for c in data["changes"]["data"]}
    assert data_changes["price series not in this run"] == {"A": "-", "B": "BBB"}

    table = invoke("compare", b, c, "--metric", "total_return")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    pair = next(line for line in lines if line.startswith("Pair"))
    assert pair.split() == ["Pair", "total_return", "34.38%", "missing", "missing"]
    assert any(line.startswith("  baskets: Pair: basket") and "B missing" in line
               for line in lines)
    csv = invoke("compare", b, c, "--format", "csv")
    header, *body = csv.stdout.splitlines()
    assert header.startswith("basket,runs,total_return[A],total_return[B],total_return[B-A]")
    assert next(r for r in body if r.startswith("Pair,")).startswith("Pair,A,0.34375,,,")


def test_compare_markdown_and_terminal_table_fit_100_columns(runs):
    folders = runs["folders"]
    for fmt in ("table", "markdown"):
        result = invoke("compare", folders["A"], folders["B"], folders["C"], "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "C-A" in result.stdout and "missing" in result.stdout
    table = invoke("compare", folders["A"], folders["B"], folders["C"])
    assert max(len(line) for line in table.stdout.splitlines()) <= 100
    assert "Metrics that differ" in table.stdout and "-40.06%" in table.stdout


def test_compare_prints_one_table_of_what_differs_in_percentage_points(runs):
    a, b = runs["folders"]["A"], runs["folders"]["B"]
    result = invoke("compare", "latest~2", "latest~1", "--out", runs["out"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["A", a.name] and lines[1].split()[:2] == ["B", b.name]
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in lines
            if line.startswith(("Pair ", "Solo ", "^IXIC "))}
    # Pair: 34.375% without fees (test_compare_two_runs_with_different_fees); the difference
    # is the 10 bp fee's effect in percentage points, a difference of two percentages.
    data = compare_json(a, b)
    pair = {r["basket"]: r for r in data["rows"]}["Pair"]
    diff_pp = 100 * (pair["runs"]["B"]["total_return"] - pair["runs"]["A"]["total_return"])
    assert rows[("Pair", "total_return")] == [
        f"{pair['runs']['A']['total_return']:.2%}", "34.38%", f"{diff_pp:+.2f}", "pp"
    ]
    # The benchmark is the same in both runs: none of its rows is shown.
    assert not [key for key in rows if key[0] == "^IXIC"]
    assert len(lines) < 20 and sum("What changed" in line for line in lines) == 1
    same = invoke("compare", b, b)
    assert same.exit_code == 0, same.output
    assert "No metric differs: total_return, excess_return, sharpe" in same.stdout
    assert "No differences in settings" in same.stdout


def test_compare_sorts_by_the_last_run_or_the_difference(runs):
    a, b = runs["folders"]["A"], runs["folders"]["B"]
    by_value = compare_json(a, b, "--sort", "volatility")
    order = [r["basket"] for r in by_value["rows"]]
    assert order[-1] == "^IXIC"  # benchmarks stay last
    vols = [r["runs"]["B"]["volatility"] for r in by_value["rows"][:-1]]
    assert vols == sorted(vols, reverse=True)
    assert by_value["changes"]["sort"] == "volatility"
    by_diff = compare_json(a, b, "--sort", "diff:total_return")
    diffs = [r["differences"]["B-A"]["total_return"] for r in by_diff["rows"][:-1]]
    assert diffs == sorted(diffs, reverse=True)
    bad = invoke("compare", a, b, "--sort", "sortino")
    assert bad.exit_code == 2
    assert "--sort: 'sortino' is not a metric" in bad.stderr


def test_unknown_run_id_is_one_line_naming_it_and_where_it_looked(runs):
    result = invoke("compare", "20990101-nope", runs["folders"]["A"].name, "--out", runs["out"])
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in result.output
    assert message.startswith("Error: run '20990101-nope' not found: looked for ")
    assert str(runs["out"] / "20990101-nope") in message
    assert "basket runs" in message
    assert invoke("compare", runs["folders"]["A"], "--out", runs["out"]).exit_code == 2


def test_run_ids_resolve_by_unique_prefix(runs):
    a = runs["folders"]["A"]
    assert resolve_run(a.name[:-2], runs["out"]) == a
    with pytest.raises(Exception, match="matches 3 runs"):
        resolve_run(a.name[:4], runs["out"])


def test_runs_lists_newest_first_and_flags_broken_folders(runs, tmp_path):
    out = tmp_path / "listing"
    out.mkdir()
    times = {"A": "2025-03-01T10:00:02+00:00", "B": "2025-03-01T10:00:03+00:00",
             "C": "2025-03-01T10:00:01+00:00"}
    for label, folder in runs["folders"].items():
        # Names sort the opposite way of the times: the order must come from the manifest.
        copy = shutil.copytree(folder, out / f"{'zyx'['ABC'.index(label)]}-{folder.name}")
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["created_at"] = times[label]
        (copy / "manifest.json").write_text(json.dumps(manifest))
    (out / "broken").mkdir()
    (out / ".20250301-100000-x.abc.partial").mkdir()  # a run being written: not listed
    (out / "README.md").write_text("not a run")

    listed = invoke("runs", "--out", out, "--format", "json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["id"][0] for r in rows if r["status"] == "ok"] == ["y", "z", "x"]  # B, A, C
    broken = next(r for r in rows if r["id"] == "broken")
    assert broken["status"] == "broken" and "has no manifest.json" in broken["note"]
    assert "note: broken:" in listed.stderr
    first = next(r for r in rows if r["status"] == "ok")
    assert first["baskets"] == 2 and first["period"] == "2025-01-30..2025-02-04"
    assert first["fees"] == 0 and first["rebalancing"] == "1 monthly, 1 none"

    table = invoke("runs", "--out", out)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "n", "period", "bench", "cur", "fees", "rebalance"]
    assert any(line.startswith("broken") and "(broken)" in line for line in lines)
    assert all(runs["folders"][k].name in table.stdout for k in "ABC")  # ids never cut
    for fmt in ("csv", "markdown"):
        assert invoke("runs", "--out", out, "--format", fmt).exit_code == 0
    assert list_runs(tmp_path / "nothing-here") == []
    empty = invoke("runs", "--out", tmp_path / "nothing-here")
    assert empty.exit_code == 0 and "no runs in" in empty.stderr


@pytest.mark.parametrize("target, error", [
    # Ctrl-C before the rename
    ("engine.results.runfolder._rename_without_replacing", KeyboardInterrupt),
    ("engine.results.report.write_report", RuntimeError),  # the last step of filling the folder
])
def test_an_interrupted_run_leaves_neither_run_folder_nor_temp_folder(
    runs, tmp_path, monkeypatch, target, error
):
    def fail(*args, **kwargs):
        raise error("interrupted between writing and renaming")

    monkeypatch.setattr(target, fail)
    out = tmp_path / "out"
    result = invoke("run", runs["pair"], "--study", runs["study"], "--prices", runs["prices"],
                    "--out", out)
    assert result.exit_code == 1
    # No run folder, no .*.partial; the reports' shared plotly.js may be there (complete).
    assert out.is_dir() and {p.name for p in out.iterdir()} <= {"assets"}


def test_python_api_compare_matches_the_cli(runs):
    a, b = (load_run(runs["folders"][k]) for k in "AB")
    comparison = compare_runs([a, b], sort="total_return")
    assert comparison.labels == ["A", "B"]
    assert comparison.baskets == ["Pair", "Solo", "^IXIC"]
    frame = comparison.metric_frame("total_return")
    assert list(frame.columns) == ["A", "B", "B-A"]
    assert frame.at["Pair", "B-A"] == pytest.approx(frame.at["Pair", "B"] - frame.at["Pair", "A"])


def test_compare_two_runs_on_the_shared_data(shared_prices, tmp_path, monkeypatch):
    monkeypatch.chdir(PROJECT)
    files = ["baskets/domestic_chips.yaml", "baskets/us_ai_leaders.yaml"]
    for fees in ("0.001", "0"):
        result = invoke("run", *files, "--prices", shared_prices, "--out", tmp_path,
                        "--no-events", "--fees", fees, "--name", f"fees-{fees}")
        assert result.exit_code == 0, result.output
    listed = json.loads(invoke("runs", "--out", tmp_path, "--format", "json").stdout)
    assert [r["id"].split("-", 2)[-1] for r in listed] == ["fees-0", "fees-0-001"]
    first, second = (r["id"] for r in reversed(listed))
    data = compare_json(first, second, "--out", tmp_path, "--sort", "diff:total_return")
    rows = {r["basket"]: r for r in data["rows"]}
    assert list(rows)[-1] == "^IXIC"
    for name in ("Domestic chips", "US AI leaders"):
        # 10 bp on the purchase (and on the monthly rebalances of Domestic chips).
        assert 0.0009 < rows[name]["differences"]["B-A"]["total_return"] < 0.005
    assert data["changes"]["settings"] == [{"key": "fees", "values": {"A": 0.001, "B": 0.0}}]
    assert data["changes"]["data"] == []


def test_compare_two_event_runs_compares_their_event_tables(tmp_path):
    """Two ``basket event`` runs have no backtest summary: compare shows their event tables
    side by side, CAR and the robust tests with B-A (issue 9), instead of empty tables."""
    import numpy as np
    import pandas as pd
    from conftest import run_folders, sessions

    days = sessions("XNAS", "2024-06-03", "2025-02-28")
    rng = np.random.default_rng(3)
    market = rng.normal(0.0005, 0.01, len(days))
    (tmp_path / "prices").mkdir()
    for symbol, beta in [("AAA", 1.2), ("BBB", 0.8), ("^IXIC", 1.0)]:
        noise = 0 if symbol == "^IXIC" else rng.normal(0, 0.01, len(days))
        closes = 50 * np.exp(np.cumsum(beta * market + noise))
        pd.DataFrame({"date": days, "close": closes.round(4)}).to_csv(
            tmp_path / "prices" / f"{symbol.replace('^', '_')}.csv", index=False)
    basket = write_yaml(tmp_path / "b.yaml",
                        "name: Pair\nconstituents:\n  - symbol: AAA\n  - symbol: BBB\n")
    study = write_yaml(tmp_path / "study.yaml", """name: Events
benchmark: ^IXIC
events: [{date: 2025-01-27, name: sell-off}]
event_study: {estimation: [-120, -10], min_estimation: 60, markets: {XNAS: ^IXIC}}
""")
    out = tmp_path / "results"
    for windows in (["0:5"], ["0:5", "-1:1"]):
        args = [a for w in windows for a in ("--window", w)]
        result = invoke("event", basket, "--study", study, "--prices", tmp_path / "prices",
                        "--out", out, *args)
        assert result.exit_code == 0, result.output
    a, b = run_folders(out)
    summaries = [pd.read_csv(f / "events" / "summary.csv") for f in (a, b)]
    data = compare_json(a, b)
    rows = {(r["event"], r["window"]): r for r in data["events"]}
    assert set(rows) == {("2025-01-27", "[0, 5]"), ("2025-01-27", "[-1, 1]")}
    same = rows[("2025-01-27", "[0, 5]")]
    assert same["car[A]"] == pytest.approx(summaries[0]["car"].iloc[0], abs=1e-12)
    assert same["car[B-A]"] == pytest.approx(0.0, abs=1e-12)
    assert same["t_kolari_pynnonen[B-A]"] == pytest.approx(0.0, abs=1e-12)
    only_b = rows[("2025-01-27", "[-1, 1]")]
    assert only_b["car[A]"] is None and only_b["car[B-A]"] is None
    assert only_b["car[B]"] == pytest.approx(
        summaries[1].set_index("window").loc["[-1, 1]", "car"], abs=1e-12)
    table = invoke("compare", a, b)
    assert table.exit_code == 0, table.output
    assert "Event studies that differ: CAR and the robust tests" in table.stdout
    assert "None" not in table.stdout and "No metric differs" not in table.stdout
    # the window only B holds is shown; [0, 5], the same in both runs, is not
    shown = table.stdout.split("What changed")[0]
    assert "[-1, 1]" in shown and "[0, 5]" not in shown
    again = invoke("compare", b, b)
    assert again.exit_code == 0, again.output
    assert "No event statistic differs" in again.stdout and "[0, 5]" not in again.stdout


def test_an_event_row_differs_beyond_the_tolerance_or_where_a_run_lacks_it():
    import numpy as np
    import pandas as pd

    from engine.results.compare import EVENT_STATISTICS
    from engine.results.runs_display import differing_events

    index = pd.MultiIndex.from_tuples(
        [("P", "2025-01-27", w) for w in ("same", "tiny", "moved", "only B", "neither")],
        names=["basket", "event", "window"])
    events = pd.DataFrame({f"{s}[{label}]": 0.5 for s in EVENT_STATISTICS for label in "AB"},
                          index=index)
    events.loc[index[1], "car[B]"] = 0.5 + 1e-13  # within SAME (1e-12)
    events.loc[index[2], "z_rank[B]"] = 0.5 + 1e-9
    events.loc[index[3], [f"{s}[A]" for s in EVENT_STATISTICS]] = np.nan
    events.loc[index[4], list(events.columns)] = np.nan
    changed = differing_events(events, ["A", "B"])
    assert list(changed.index.get_level_values("window")) == ["moved", "only B"]
