"""The matched random baskets of ``basket run --universe``, kept: ``nulls.parquet`` in the run
folder, read back by :meth:`engine.results.reader.Run.nulls`, drawn in the report as one
histogram per basket."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import (
    HK,
    US,
    invoke,
    make_sine_project,
    make_small_universe,
    only_run,
    report_figures,
    symbols_basket,
)

from engine.results.display import p_text
from engine.results.reader import load_run
from engine.results.report import REPORT, write_report

RANDOM = 60


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_small_universe(tmp_path_factory.mktemp("run_nulls"))


@pytest.fixture(scope="module")
def universe_run(project):
    """``basket run`` of two baskets against 60 matched random baskets each (seed 4)."""
    mixed = symbols_basket(project["root"], "Mixed", [US[0], US[13], HK[2]])
    hong_kong = symbols_basket(project["root"], "Hong Kong <i>3</i>", [HK[0], HK[1], HK[5]])
    out = project["root"] / "results"
    result = invoke("run", mixed, hong_kong, "--study", project["study"], "--prices",
                        project["prices"], "--universe", project["universe"], "--random",
                        str(RANDOM), "--seed", "4", "--no-events", "--out", out)
    assert result.exit_code == 0, result.output
    return only_run(out)


def _summary(folder) -> pd.DataFrame:
    """The run's summary as ``summary.json`` holds it (numbers exact)."""
    records = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return pd.DataFrame(records).set_index("basket")


def _null_charts(folder) -> list[dict]:
    page = (folder / REPORT).read_text(encoding="utf-8")
    return [f for f in report_figures(page) if f["id"].endswith("-null")]


def test_the_run_folder_keeps_the_random_totals_each_basket_is_ranked_among(universe_run):
    nulls = pd.read_parquet(universe_run / "nulls.parquet")
    assert list(nulls.columns) == ["basket", "grid", "statistic", "draw", "value"]
    assert list(dict.fromkeys(nulls["basket"])) == ["Mixed", "Hong Kong <i>3</i>"]
    assert set(nulls["grid"]) == {""} and set(nulls["statistic"]) == {"total_return"}
    summary = _summary(universe_run)
    for basket, rows in nulls.groupby("basket"):
        assert rows["draw"].tolist() == list(range(RANDOM))
        random, total = rows["value"].to_numpy(), summary.at[basket, "total_return"]
        # The summary's rank, by hand from the file: mid-rank percentile, (1 + #>=) / (1 + N).
        below, ties = (random < total).sum(), (random == total).sum()
        assert summary.at[basket, "null_percentile"] == pytest.approx(
            100 * (below + ties / 2) / RANDOM, abs=1e-12)
        assert summary.at[basket, "null_p_value"] == pytest.approx(
            (1 + RANDOM - below) / (1 + RANDOM), abs=1e-12)
    read = load_run(universe_run).nulls()
    assert list(read) == ["Mixed", "Hong Kong <i>3</i>"]
    for basket, values in read.items():
        assert np.array_equal(values, nulls.loc[nulls["basket"] == basket, "value"].to_numpy())


def test_the_report_draws_each_baskets_histogram_with_its_total_marked(universe_run):
    nulls = pd.read_parquet(universe_run / "nulls.parquet")
    summary = _summary(universe_run)
    charts = _null_charts(universe_run)
    assert len(charts) == 2
    for chart, basket in zip(charts, ["Mixed", "Hong Kong <i>3</i>"], strict=True):
        random = nulls.loc[nulls["basket"] == basket, "value"].to_numpy()
        total = summary.at[basket, "total_return"]
        # 40 equal bins from the lowest to the highest of the random totals and the basket's.
        counts, edges = np.histogram(random, bins=40,
                                     range=(min(random.min(), total), max(random.max(), total)))
        (bars,) = chart["data"]
        assert bars["y"] == counts.tolist() and sum(bars["y"]) == RANDOM
        assert bars["x"] == pytest.approx(100 * (edges[:-1] + edges[1:]) / 2, abs=1e-6)
        (line,) = chart["layout"]["shapes"]
        assert line["x0"] == line["x1"] == pytest.approx(100 * total, rel=1e-9)
        title = chart["layout"]["title"]["text"]
        percentile, p = summary.at[basket, "null_percentile"], summary.at[basket, "null_p_value"]
        assert title.startswith(basket.replace("<", "&lt;").replace(">", "&gt;"))
        assert f"percentile {percentile:.1f}, p {p_text(p)} among {RANDOM} random" in title
    page = (universe_run / REPORT).read_text(encoding="utf-8")
    assert '<section id="nulls">' in page and '<a href="#nulls">' in page


def test_the_report_from_memory_equals_the_report_from_the_folder(universe_run, tmp_path):
    copy = shutil.copytree(universe_run, tmp_path / "results" / universe_run.name)
    written = (copy / REPORT).read_bytes()
    write_report(copy)
    assert (copy / REPORT).read_bytes() == written


def test_a_run_without_a_universe_has_no_nulls_and_no_histogram_section(cli, tmp_path):
    sine = make_sine_project(tmp_path)
    result = cli("run", sine["basket"], "--study", sine["study"], "--prices",
                        sine["prices"], "--out", tmp_path / "results")
    assert result.exit_code == 0, result.output
    folder = only_run(tmp_path / "results")
    assert not (folder / "nulls.parquet").exists()
    assert load_run(folder).nulls() == {}
    page = (folder / REPORT).read_text(encoding="utf-8")
    assert 'id="nulls"' not in page and _null_charts(folder) == []


def test_random_zero_writes_no_nulls(cli, project, tmp_path):
    theme = symbols_basket(project["root"], "USonly", [US[1], US[2]])
    result = cli("run", theme, "--study", project["study"], "--prices", project["prices"],
                        "--universe", project["universe"], "--random", "0", "--no-events",
                        "--out", tmp_path / "results")
    assert result.exit_code == 0, result.output
    folder = only_run(tmp_path / "results")
    assert not (folder / "nulls.parquet").exists() and _null_charts(folder) == []


MALFORMED = {
    "not-parquet": (b"PAR1", "nulls.parquet cannot be read (not a parquet table (Parquet file "
                             "size is 4 bytes, smaller than the minimum file footer (8 bytes)))"),
    "no-value": (pd.DataFrame({"basket": ["Mixed"], "grid": [""], "statistic": ["total_return"],
                               "draw": [0]}),
                 "nulls.parquet cannot be read (no column value (it holds basket, grid, "
                 "statistic, draw))"),
    "text-values": (pd.DataFrame({"basket": ["Mixed"], "grid": [""],
                                  "statistic": ["total_return"], "draw": [0], "value": ["x"]}),
                    "nulls.parquet cannot be read (column 'value' holds"),
    "basket-missing": (pd.DataFrame({"basket": pd.array(["Mixed", None], dtype="str"),
                                     "grid": [""] * 2, "statistic": ["total_return"] * 2,
                                     "draw": [0, 1], "value": [0.1, 0.2]}),
                       "nulls.parquet cannot be read (column 'basket' holds something other "
                       "than text)"),
    "grid-numbers": (pd.DataFrame({"basket": ["Mixed"], "grid": [1.5],
                                   "statistic": ["total_return"], "draw": [0], "value": [0.1]}),
                     "nulls.parquet cannot be read (column 'grid' holds something other than "
                     "text)"),
    "draw-twice": (pd.DataFrame({"basket": ["Mixed"] * 2, "grid": [""] * 2,
                                 "statistic": ["total_return"] * 2, "draw": [0, 0],
                                 "value": [0.1, 0.2]}),
                   "nulls.parquet cannot be read (the draws of Mixed are not 0..1 once each)"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_nulls_file_is_a_data_note_and_no_histogram(universe_run, tmp_path,
                                                                 cli, case):
    """``basket report`` still writes the page; the run folder's problem is listed under its
    data notes, as for any table it cannot read."""
    folder = shutil.copytree(universe_run, tmp_path / "results" / universe_run.name)
    planted, problem = MALFORMED[case]
    if isinstance(planted, bytes):
        (folder / "nulls.parquet").write_bytes(planted)
    else:
        planted.to_parquet(folder / "nulls.parquet", index=False)
    result = cli("report", folder)
    assert result.exit_code == 0, result.output
    page = (folder / REPORT).read_text(encoding="utf-8")
    assert problem.replace("'", "&#x27;") in page
    assert 'id="nulls"' not in page and _null_charts(folder) == []


def test_compare_ignores_the_nulls_file(universe_run, tmp_path, cli):
    without = shutil.copytree(universe_run, tmp_path / "without" / universe_run.name)
    (without / "nulls.parquet").unlink()
    both = [cli("compare", universe_run, other, "--format", "json")
            for other in (universe_run, without)]
    assert all(r.exit_code == 0 for r in both), [r.output for r in both]
    with_file, without_file = (json.loads(r.stdout) for r in both)
    for data in (with_file, without_file):
        data.pop("runs")  # their paths differ
    assert with_file == without_file


def test_a_nulls_file_linked_from_outside_is_never_read(universe_run, tmp_path):
    folder = shutil.copytree(universe_run, tmp_path / "results" / universe_run.name)
    outside = tmp_path / "elsewhere.parquet"
    (folder / "nulls.parquet").rename(outside)
    (folder / "nulls.parquet").symlink_to(outside)
    run = load_run(folder)
    assert run.nulls() == {}
    assert run.problems == ["nulls.parquet is a link out of the run folder (not read)"]
