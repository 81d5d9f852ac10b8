"""report.html: self-contained, escaped, and drawn by a real (headless) browser."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser import draw_every_chart, open_page
from conftest import PROJECT, invoke, only_run, report_figures, sessions, write_yaml

from engine.results.report import REPORT, write_report
from engine.symbols import file_stem

NAME = "Tom & Jerry <b>AI</b>"  # HTML in a basket name must be shown, never interpreted
EVENT = 'Sell-off & "rebound"'
PLOTLY_BANNER = "* plotly.js (basic - minified) v"  # the bundle's first comment


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A run with two baskets and one event on generated NASDAQ-calendar prices: a market
    index and three stocks with a jump on the event day."""
    root = tmp_path_factory.mktemp("report")
    days = sessions("XNAS", "2024-10-01", "2025-02-28")
    rng = np.random.default_rng(7)
    market = np.diff(np.log(100 * np.cumprod(1 + rng.normal(0.0005, 0.01, len(days)))),
                     prepend=0.0)
    event_day = days.index("2025-01-27")
    (root / "prices").mkdir()
    for symbol, beta, jump in [("AAA", 1.2, 0.08), ("BBB", 0.8, -0.05), ("CCC", 1.0, 0.02),
                               ("^IXIC", 1.0, 0.0)]:
        returns = beta * market + (0 if symbol == "^IXIC" else rng.normal(0, 0.01, len(days)))
        returns[event_day] += jump
        closes = 50 * np.exp(np.cumsum(returns))
        pd.DataFrame({"date": days, "close": closes.round(4)}).to_csv(
            root / "prices" / f"{file_stem(symbol)}.csv", index=False
        )
    first = write_yaml(root / "baskets" / "a.yaml",
                       f'name: "{NAME}"\nrebalance: monthly\nconstituents:\n'
                       '  - symbol: AAA\n    name: "Alpha <i>Inc</i>"\n  - symbol: BBB\n')
    second = write_yaml(root / "baskets" / "b.yaml",
                        "name: Plain\nconstituents:\n  - symbol: BBB\n  - symbol: CCC\n")
    study = write_yaml(root / "study.yaml", f"""name: Small <study>
benchmark: ^IXIC
start: 2025-01-02
end: 2025-02-28
fees: 0.001
events:
  - date: 2025-01-27
    name: '{EVENT}'
event_study:
  model: market
  estimation: [-60, -10]
  windows: [[-2, 2], [0, 5]]
  min_estimation: 30
  markets:
    XNAS: ^IXIC
""")
    result = invoke("run", first, second, "--study", study, "--prices", root / "prices",
                    "--out", root / "results")
    assert result.exit_code == 0, result.output
    folder = Path(result.stderr.split("results: ")[-1].strip())
    assert (folder / "events" / "car_paths.csv").is_file()
    return folder


#: The charts of the small run's report, in order (a short run: no long-run charts).
SMALL_RUN_CHARTS = ["equity", "relative", "drawdown", "car", "stock-cars", "attribution",
                    "without", "attribution", "without", "leave-one-out"]


def loaded_files(page: str) -> list[str]:
    """Every address the page loads (script, link, img, iframe)."""
    return re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=\"([^\"]*)\"", page)


def test_every_run_folder_has_a_light_escaped_report(run_folder):
    from engine.results.assets import PLOTLY_FILE, plotly_code

    page = (run_folder / REPORT).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # plotly.js (the partial bundle) is the results folder's one shared copy, referenced
    # relatively.
    assert loaded_files(page) == [f"../assets/{PLOTLY_FILE}"]
    assert (run_folder.parent / "assets" / PLOTLY_FILE).read_bytes() == plotly_code()
    assert PLOTLY_BANNER not in page and len(page.encode()) < 300_000
    assert 'id="plotly-missing" hidden' in page  # shown by the page when the asset is missing
    for section in ("summary", "equity", "drawdowns", "events", "attribution", "notes",
                    "settings"):
        assert f'<section id="{section}">' in page
    # Escaped in the page; inside the chart JSON every "<" is \u003c.
    assert "Tom &amp; Jerry &lt;b&gt;AI&lt;/b&gt;" in page
    assert "<b>AI</b>" not in page and "<i>Inc</i>" not in page
    assert "Small &lt;study&gt;" in page and "<study>" not in page
    figures = report_figures(page)
    assert [f["id"].split("-", 2)[-1] for f in figures] == SMALL_RUN_CHARTS
    equity = figures[0]
    assert [t["name"] for t in equity["data"]] == [
        "Tom &amp; Jerry &lt;b&gt;AI&lt;/b&gt;", "Plain", "^IXIC"
    ]
    assert equity["data"][2]["y"][0] == 100.0  # the benchmark rebased to 100
    assert equity["data"][0]["y"][0] == pytest.approx(99.9)  # 10 bp paid on the purchase
    assert equity["layout"]["shapes"][0]["x0"] == "2025-01-27"
    assert "Sell-off &amp; \"rebound\" (2025-01-27)" in equity["layout"]["annotations"][0]["text"]
    # Relative performance: each basket's value over the benchmark's, from equity.csv.
    curves = pd.read_csv(run_folder / "equity.csv", index_col=0)
    relative = figures[1]
    assert [t["name"] for t in relative["data"]] == [equity["data"][0]["name"], "Plain"]
    assert relative["data"][1]["y"] == pytest.approx(
        list(curves["Plain"] / curves["^IXIC"] * 100), abs=1e-3)
    # Drawdown periods: the deepest of each curve is its maximum drawdown (peak from the cash).
    table = page.split('<section id="drawdowns">')[1].split("</section>")[0]
    for name in ("Plain", "^IXIC"):
        values = curves[name].to_numpy()
        deepest = (values / np.maximum(np.maximum.accumulate(values), 1.0) - 1).min()
        assert f'<th scope="row">{name}</th>' in table and f"{deepest:.1%}" in table
    assert "deepest drawdown periods" in table


def test_the_baskets_together_tables_print_correlation_csv_and_overlap_csv(run_folder):
    page = (run_folder / REPORT).read_text(encoding="utf-8")
    together = page.split('<section id="together">')[1].split("</section>")[0]
    for name, digits in (("correlation", 2), ("overlap", 0)):
        matrix = pd.read_csv(run_folder / f"{name}.csv", index_col=0)
        table = together.split(f'<table class="heat {name}">')[1].split("</table>")[0]
        columns = re.findall(r'<th scope="col">(.*?)</th>', table)
        assert columns == [html.escape(c) for c in matrix.columns]
        rows = re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', table)
        assert [r[0] for r in rows] == [html.escape(i) for i in matrix.index]
        for (_, body), (_, expected) in zip(rows, matrix.iterrows(), strict=True):
            assert re.findall(r"<td[^>]*>(.*?)</td>", body) == [
                f"{v:.{digits}f}" for v in expected]
    assert "plotly" not in together and 'class="chart"' not in together


def test_data_notes_table_groups_repeats_and_puts_the_purchase_and_event_days_first():
    from engine.results.report import notes_table

    notes = [
        "0700.HK: no bar on 2 (2023-09-01, 2023-09-08) session(s); last close carried",
        "9988.HK: no bar on 2 (2023-09-01, 2023-09-08) session(s); last close carried",
        "1810.HK: placeholder bar on 2024-12-31",
        "0981.HK: placeholder bar on 2025-01-21",
    ]
    page = notes_table(notes, {"2024-12-31": "purchase date",
                               "2025-01-21": "window of the 2025-01-20 event"})
    cells = re.findall(r"<td>(.*?)</td>", page)
    assert cells == [
        "purchase date (2024-12-31)", "1810.HK: placeholder bar on 2024-12-31",
        "window of the 2025-01-20 event (2025-01-21)", "0981.HK: placeholder bar on 2025-01-21",
        "", "0700.HK, 9988.HK (2): no bar on 2 (2023-09-01, 2023-09-08) session(s); last close "
        "carried",
    ]
    assert "4 notes in 3 lines" in page


def test_data_notes_group_flags_by_dates_and_see_every_flagged_date():
    from engine.data.flags import Flag, flag_notes
    from engine.results.report import notes_table

    days = ["2024-01-15", "2024-02-09", "2024-12-24", "2024-12-31", "2025-01-28"]
    flags = [Flag(symbol, "placeholder_bar", (pd.Timestamp(day),),
                  f"placeholder bar (volume missing): close {close} kept")
             for symbol, close in (("0268.HK", 10.78), ("0981.HK", 17.3)) for day in days]
    notes = [*flag_notes(flags), "AI data centres: 1 constituent skipped"]
    page = notes_table(notes, {"2024-12-31": "purchase date",
                               "2025-01-28": "window of the 2025-01-27 event"}, flags)
    cells = re.findall(r"<td>(.*?)</td>", page)
    # the per-symbol notes print the first three dates only ("and 2 more"): the purchase date
    # and the event day are found among all five
    assert "and 2 more" in notes[0]
    assert cells == [
        "purchase date (2024-12-31); window of the 2025-01-27 event (2025-01-28)",
        "0268.HK, 0981.HK (2): data check placeholder_bar (warning), 5 flags each on "
        "2024-01-15, 2024-02-09, 2024-12-24, 2024-12-31, 2025-01-28: placeholder bar (volume "
        "missing)",
        "", "AI data centres: 1 constituent skipped",
    ]
    assert "3 notes in 2 lines" in page


def test_importing_the_report_module_does_not_import_vectorbt():
    code = ("import sys, engine.results.report; "
            "print('vectorbt' in sys.modules, 'plotly' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_report_self_contained_embeds_plotly_and_latest_names_the_run(run_folder, tmp_path):
    copy = shutil.copytree(run_folder, tmp_path / "results" / run_folder.name)
    result = invoke("report", "latest", "--out", copy.parent, "--self-contained")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(copy / REPORT)
    page = (copy / REPORT).read_text(encoding="utf-8")
    assert loaded_files(page) == [] and PLOTLY_BANNER in page and "plotly-missing" not in page
    assert not (copy.parent / "assets").exists()
    too_far = invoke("report", "latest~1", "--out", copy.parent)
    assert too_far.exit_code == 2
    assert f"'latest~1': {copy.parent} holds 1 run(s)" in too_far.stderr


def test_report_command_rewrites_and_opens_the_report(run_folder, monkeypatch):
    report = run_folder / REPORT
    report.unlink()
    result = invoke("report", run_folder.name, "--out", run_folder.parent)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(run_folder / REPORT)
    assert report.is_file()
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    assert invoke("report", run_folder, "--open").exit_code == 0
    assert opened == [report.resolve().as_uri()]
    missing = invoke("report", "nope", "--out", run_folder.parent)
    assert missing.exit_code == 2 and "run 'nope' not found" in missing.stderr
    assert not list(run_folder.glob(".*.tmp"))


def test_report_of_an_older_or_partial_run_folder(run_folder, tmp_path):
    old = shutil.copytree(run_folder, tmp_path / "old")
    shutil.rmtree(old / "events")
    (old / "attribution.csv").unlink()
    page = write_report(old).read_text(encoding="utf-8")
    assert "This run has no event study" in page and "2025-01-27 Sell-off" in page
    assert "attribution.csv is not in this run folder." in page
    assert '"attribution"' not in page.split('id="basket-figures"')[1]

    event_only = shutil.copytree(run_folder, tmp_path / "event-only")
    for name in ("summary.csv", "equity.csv", "attribution.csv"):
        (event_only / name).unlink()
    manifest = json.loads((event_only / "manifest.json").read_text())
    (event_only / "manifest.json").write_text(json.dumps({**manifest, "kind": "event"}))
    page = write_report(event_only).read_text(encoding="utf-8")
    assert '<section id="summary">' not in page and '<section id="events">' in page

    (event_only / "manifest.json").unlink()
    with pytest.raises(Exception, match="has no manifest.json"):
        write_report(event_only)


CHART_FACTS = """() => Array.from(document.querySelectorAll("div.chart")).map(el => {
  const box = el.getBoundingClientRect();
  const lines = Array.from(el.querySelectorAll(".scatterlayer .trace path.js-line"));
  return {
    kind: el.dataset.chart,
    rendered: el.dataset.rendered === "1" && el.classList.contains("js-plotly-plot"),
    svgs: el.querySelectorAll(".main-svg").length,
    traces: el.querySelectorAll(".cartesianlayer .trace").length,
    lines: lines.filter(p => (p.getAttribute("d") || "").length > 20).length,
    bars: el.querySelectorAll(".barlayer .point").length,
    width: box.width, height: box.height,
    legend: Array.from(el.querySelectorAll(".legendtext")).map(t => t.textContent),
    notes: Array.from(el.querySelectorAll(".annotation-text")).map(t => t.textContent),
  };
})"""


def check_page_in_browser(report: Path, screenshot: str, interact=None, width: int = 1280):
    """Open ``report`` headless ``width`` pixels wide and check that every chart is drawn with
    its traces, that nothing is wider than the window, with no console error and no network
    request; returns the charts' facts (see CHART_FACTS) and a dict of further facts
    (``interact(page)``'s among them)."""
    with open_page(report, width=width) as opened:
        page = opened.page
        draw_every_chart(page)
        facts = page.evaluate(CHART_FACTS)
        assert len(facts) == int(page.evaluate("document.body.dataset.charts")) > 0
        assert page.locator(".js-plotly-plot").count() == len(facts)
        for chart in facts:
            kind = chart["kind"]
            assert chart["rendered"] and chart["svgs"] >= 1 and chart["traces"] >= 1, chart
            assert chart["width"] > 300 and chart["height"] > 100, chart
            if kind in ("equity", "drawdown", "car"):
                assert chart["lines"] >= 2, chart  # every basket (and benchmark) drawn
            if kind == "attribution":
                assert chart["bars"] >= 1, chart
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{overflow} px wider than the {width}-px window"
        extra = {
            "summary": page.locator("section#summary tbody th").all_text_contents(),
            "markup": page.locator("section b, section i").count(),
        }
        opened.screenshot(screenshot)
        if interact is not None:
            extra.update(interact(page))
        assert opened.errors == []
        assert opened.requests == []
    return facts, extra


def kinds_of(facts) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for chart in facts:
        kinds[chart["kind"]] = kinds.get(chart["kind"], 0) + 1
    return kinds


def show_portfolios(page) -> dict[str, int]:
    """Click the CAR chart's "basket portfolios" legend entry: one click shows them all."""
    lines = ("Array.from(document.querySelectorAll('[data-chart=car] .scatterlayer path.js-line'))"
             ".filter(p => (p.getAttribute('d') || '').length > 20).length")
    before = page.evaluate(lines)
    entry = page.locator("[data-chart=car] .legend .traces",
                         has=page.locator(".legendtext", has_text="basket portfolios"))
    entry.evaluate("e => e.scrollIntoView({block: 'center'})")  # clear of the sticky nav
    entry.locator(".legendtoggle").click()
    page.wait_for_function(f"{lines} != {before}", timeout=5_000)
    return {"car_lines_before": before, "car_lines_after": page.evaluate(lines)}


@pytest.mark.browser
@pytest.mark.parametrize("width", [900, 1400])
def test_report_renders_in_a_real_browser(run_folder, width):
    facts, extra = check_page_in_browser(run_folder / REPORT, f"report-small-{width}.png",
                                         show_portfolios, width=width)
    # The bands are drawn as lines too (two per basket, without width); clicking "basket
    # portfolios" adds the two portfolios.
    assert extra["car_lines_before"] == 2 * 3 and extra["car_lines_after"] == 2 * 3 + 2
    assert kinds_of(facts) == {kind: SMALL_RUN_CHARTS.count(kind) for kind in SMALL_RUN_CHARTS}
    equity = facts[0]
    assert equity["lines"] == 3
    assert equity["legend"] == [NAME, "Plain", "^IXIC"]  # shown literally, not as markup
    assert equity["notes"] == [f"{EVENT} (2025-01-27)"]
    assert extra["summary"][0] == NAME and extra["markup"] == 0


@pytest.mark.browser
def test_report_of_a_real_run_renders_in_a_real_browser(cli, shared_prices, tmp_path,
                                                         monkeypatch):
    monkeypatch.chdir(PROJECT)
    result = cli("run", "--prices", shared_prices, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    folder = only_run(tmp_path)
    baskets = json.loads((folder / "manifest.json").read_text())["baskets"]
    events = pd.read_csv(folder / "events" / "car_paths.csv")["event"].nunique()
    facts, _ = check_page_in_browser(folder / REPORT, "report-deepseek-900.png", width=900)
    assert kinds_of(facts) == {
        "equity": 1, "relative": 1, "drawdown": 1, "car": events, "stock-cars": events,
        "attribution": len(baskets), "without": len(baskets), "leave-one-out": 1,
    }
    assert facts[0]["lines"] == len(baskets) + 1


def test_event_tables_lead_with_the_robust_tests_and_print_small_p_values_as_below_a_thousandth(
    run_folder,
):
    from engine.results.report import html_table, p_text

    assert [p_text(p) for p in (0.0004, 0.001, 0.01234)] == ["<0.001", "0.001", "0.012"]
    table = html_table(pd.DataFrame({"p_patell": [0.00002, 0.5], "car": [0.00002, 0.5]}),
                       digits={"p_patell": 3}, index=False)
    assert re.findall(r"<td[^>]*>(.*?)</td>", table) == ["&lt;0.001", "0.00", "0.500", "0.50"]
    page = (run_folder / REPORT).read_text(encoding="utf-8")
    pivot = page.split('<table class="car">')[1].split("</table>")[0]
    summary = pd.read_csv(run_folder / "events" / "summary.csv")
    first = summary.iloc[0]
    # Under each CAR: Kolari-Pynnönen, its BH adjustment and the rank test, not the
    # cross-sectional t test.
    assert (f"KP {p_text(first['p_kolari_pynnonen'])} · BH "
            f"{p_text(first['p_kolari_pynnonen_bh'])} · rank {p_text(first['p_rank'])}") in pivot
    assert "p (cs)" not in pivot


def test_an_event_only_report_shows_no_missing_field(run_folder, tmp_path):
    """``basket event`` has no backtest period, currency or fees: its report leaves those out
    rather than printing None, nan or "missing" (issue 9)."""
    import re

    root = run_folder.parents[1]
    baskets = sorted((root / "baskets").glob("*.yaml"))
    result = invoke("event", *baskets, "--study", root / "study.yaml", "--prices",
                    root / "prices", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    page = only_run(tmp_path / "out") / REPORT
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", page.read_text(),
                                             flags=re.S))
    assert "Manifest" in visible
    for word in ("None", "nan", "missing", "undefined"):
        assert not re.search(rf"\b{word}\b", visible), word


@pytest.mark.browser
def test_a_report_away_from_its_assets_says_so_and_a_self_contained_one_draws(run_folder,
                                                                             tmp_path):
    alone = tmp_path / "moved" / "run"
    alone.mkdir(parents=True)
    shutil.copy(run_folder / REPORT, alone / REPORT)
    with open_page(alone / REPORT, width=900) as opened:
        banner = opened.page.locator("#plotly-missing")
        assert banner.is_visible()
        assert "The charts cannot be drawn" in banner.inner_text()
        assert "--self-contained" in banner.inner_text()
        assert opened.page.locator("[data-rendered]").count() == 0
        opened.screenshot("report-asset-missing.png")
        assert opened.requests == []
        assert [e for e in opened.errors if "ERR_FILE_NOT_FOUND" not in e] == []
    copy = shutil.copytree(run_folder, tmp_path / "results" / run_folder.name)
    assert invoke("report", copy, "--self-contained").exit_code == 0
    shutil.move(copy / REPORT, alone / REPORT)
    facts, _ = check_page_in_browser(alone / REPORT, "report-self-contained.png", width=900)
    assert len(facts) == len(SMALL_RUN_CHARTS)


def test_the_report_written_with_the_run_equals_the_report_rendered_from_its_folder(run_folder,
                                                                                    tmp_path):
    """The run writes its report from the tables it holds in memory; ``basket report`` renders
    the same page from the files: one renderer, two sources, the same bytes."""
    copy = shutil.copytree(run_folder, tmp_path / "results" / run_folder.name)
    written = (copy / REPORT).read_bytes()
    write_report(copy)
    assert (copy / REPORT).read_bytes() == written
    root = run_folder.parents[1]
    baskets = sorted((root / "baskets").glob("*.yaml"))
    result = invoke("event", *baskets, "--study", root / "study.yaml", "--prices",
                    root / "prices", "--out", tmp_path / "events")
    assert result.exit_code == 0, result.output
    folder = only_run(tmp_path / "events")
    written = (folder / REPORT).read_bytes()
    write_report(folder)
    assert (folder / REPORT).read_bytes() == written


def test_a_report_from_memory_equals_the_report_from_the_folder_on_the_shared_data(
    cli, shared_prices, tmp_path, monkeypatch
):
    monkeypatch.chdir(PROJECT)
    for command in (["run"], ["event"]):
        out = tmp_path / command[0]
        result = cli(*command, "--prices", shared_prices, "--out", out)
        assert result.exit_code == 0, result.output
        folder = only_run(out)
        written = (folder / REPORT).read_bytes()
        write_report(folder)
        assert (folder / REPORT).read_bytes() == written, command


def test_a_report_from_memory_equals_the_report_from_the_folder_on_awkward_values(
    run_folder, tmp_path, monkeypatch
):
    """Baskets and constituents named like numbers ("007", "NA", "1e5", "NaN") and summary
    figures the CSV round trip could bend (NaN, inf, -inf, 1e-300, seventeen digits): the page
    the run writes from the text it holds equals the page ``basket report`` renders from the
    files, and every table reads the same both ways."""
    from engine.pipeline.runs import RunResult
    from engine.results.reader import load_run, memory_run
    from engine.results.runfolder import RunContents

    root = run_folder.parents[1]
    first = write_yaml(tmp_path / "007.yaml", 'name: "007"\nconstituents:\n'
                       '  - {symbol: AAA, name: "0.50"}\n  - {symbol: BBB, name: "1e5"}\n')
    second = write_yaml(tmp_path / "na.yaml", 'name: "NA"\nconstituents:\n'
                        '  - {symbol: BBB, name: "NaN"}\n  - {symbol: CCC, name: "007"}\n')
    plain = RunResult.summary_frame

    def awkward(self):
        frame = plain(self)
        baskets = [b for b in frame.index if b != "^IXIC"]
        frame.loc[baskets[0], ["sharpe", "sortino", "volatility"]] = [np.inf, -np.inf, np.nan]
        frame.loc[baskets[1], ["sharpe", "total_return"]] = [1e-300, 0.12345678901234567]
        return frame

    monkeypatch.setattr(RunResult, "summary_frame", awkward)
    out = tmp_path / "results"
    result = invoke("run", first, second, "--study", root / "study.yaml", "--prices",
                    root / "prices", "--out", out)
    assert result.exit_code == 0, result.output
    folder = only_run(out)
    written = (folder / REPORT).read_bytes()
    write_report(folder)
    assert (folder / REPORT).read_bytes() == written
    from_folder = load_run(folder)
    assert from_folder.summary.loc["007", "sharpe"] == np.inf
    assert from_folder.summary.loc["NA", "sharpe"] == 1e-300
    assert np.isnan(from_folder.summary.loc["007", "volatility"])
    # Names that look like numbers or a missing value stay the text they were.
    attribution = from_folder.table("attribution.csv")
    assert list(attribution["basket"]) == ["007", "007", "NA", "NA"]
    assert list(attribution["name"]) == ["0.50", "1e5", "NaN", "007"]
    assert list(from_folder.table("correlation.csv", index_col=0).index) == ["007", "NA", "^IXIC"]
    assert list(from_folder.table("overlap.csv", index_col=0).index) == ["007", "NA"]
    assert set(from_folder.table("events/car_paths.csv")["basket"]) == {"007", "NA"}
    names = [p.relative_to(folder).as_posix() for p in folder.rglob("*.csv")]
    texts = {name: (folder / name).read_text(encoding="utf-8") for name in names}
    from_memory = memory_run(folder, RunContents(from_folder.manifest, from_folder.config, texts))
    pd.testing.assert_frame_equal(from_memory.summary, from_folder.summary)
    for name in names:
        for options in ({}, {"index_col": 0}):
            pd.testing.assert_frame_equal(from_memory.table(name, **options),
                                          from_folder.table(name, **options))


# ------------------------------------------------------------------ the charts' numbers


def test_the_kolari_pynnonen_band_is_the_adjusted_cross_sectional_standard_error():
    from engine.analysis.significance import kolari_pynnonen_car_band

    cars = np.array([0.05, -0.02, 0.10, 0.03, 0.00, 0.07, -0.04, 0.02, 0.06, 0.01, 0.04])
    n, rbar = len(cars), 0.2
    # Equal weights: s / sqrt(n) * sqrt((1 + (n - 1) rbar) / (1 - rbar)), Kolari & Pynnönen's
    # adjustment of the cross-sectional variance; t(0.975, 10) = 2.228 from a t table.
    s = np.sqrt(((cars - cars.mean()) ** 2).sum() / (n - 1))
    se = s / np.sqrt(n) * np.sqrt((1 + (n - 1) * rbar) / (1 - rbar))
    half, got_se = kolari_pynnonen_car_band(cars, np.full(n, 1 / n), rbar)
    assert got_se == pytest.approx(se, rel=1e-12)
    assert half == pytest.approx(2.228139 * se, rel=1e-6)
    # Without correlation and with equal weights: the plain standard error of the mean.
    assert kolari_pynnonen_car_band(cars, np.ones(n), 0.0)[1] == pytest.approx(s / np.sqrt(n))
    # A missing CAR is dropped and the weights renormalised over the rest.
    with_gap = kolari_pynnonen_car_band(np.append(cars, np.nan), np.ones(n + 1), rbar)
    assert with_gap == pytest.approx((half, se))
    assert np.isnan(kolari_pynnonen_car_band(cars[:1], np.ones(1), rbar)[0])
    assert np.isnan(kolari_pynnonen_car_band(cars, np.ones(n), np.nan)[0])


def test_the_band_covers_the_true_car_95_times_in_100_under_correlated_returns():
    """Monte Carlo: equicorrelated stock CARs (correlation 0.3) around a true CAR of zero,
    unequal weights; the 95 % band covers zero about 95 % of the time, the unadjusted
    cross-sectional one (no adjustment) far less often."""
    from engine.analysis.significance import kolari_pynnonen_car_band

    rng = np.random.default_rng(20250120)
    n, rho, trials = 12, 0.3, 4000
    weights = np.linspace(1, 3, n) / np.linspace(1, 3, n).sum()
    common = rng.normal(size=(trials, 1))
    cars = np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.normal(size=(trials, n))
    covered = plain = 0
    for row in cars:
        half, _ = kolari_pynnonen_car_band(row, weights, rho)
        covered += abs(weights @ row) <= half
        naive, _ = kolari_pynnonen_car_band(row, weights, 0.0)
        plain += abs(weights @ row) <= naive
    assert 0.93 <= covered / trials <= 0.97
    assert plain / trials < 0.75


def test_car_bands_follow_the_stocks_cumulative_cars_day_by_day():
    from engine.analysis.significance import kolari_pynnonen_car_band
    from engine.results.report.events import car_bands

    ars = pd.DataFrame({
        "symbol": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
        "day": [-1, 0, 1] * 3,
        "abnormal_return": [0.01, 0.02, -0.01, -0.02, 0.03, np.nan, 0.00, 0.01, 0.04],
    })
    half, se = car_bands(ars, {"A": 0.5, "B": 0.25, "C": 0.25}, 0.1, np.array([-1, 0, 1]))
    # Day 0: cumulative CARs A 0.03, B 0.01, C 0.01; day 1: B's missing AR counts as zero.
    for day, cars in ((0, [0.03, 0.01, 0.01]), (1, [0.02, 0.01, 0.05])):
        expected = kolari_pynnonen_car_band(np.array(cars), np.array([0.5, 0.25, 0.25]), 0.1)
        assert (half[day + 1], se[day + 1]) == pytest.approx(expected)
    w = np.array([0.5, 0.25, 0.25])
    by_hand = np.sqrt(np.var([0.02, 0.01, 0.05], ddof=1) * ((w**2).sum() + 0.1 / 0.9))
    assert se[2] == pytest.approx(by_hand)


def test_other_events_and_closures_are_marked_in_event_time():
    """2025-01-27 is day +5 of the 2025-01-20 event in Shanghai, which is closed 01-28..02-04
    (Spring Festival); on the NASDAQ (closed 01-20) the event is day +4."""
    from engine.results.report.events import window_marks

    rows = []
    for calendar, day0 in (("XSHG", "2025-01-20"), ("XNAS", "2025-01-21")):
        dates = sessions(calendar, "2025-01-10", "2025-02-12")
        zero = dates.index(day0)
        rows += [{"calendar": calendar, "day": k - zero, "date": d} for k, d in enumerate(dates)
                 if -3 <= k - zero <= 8]
    marks = window_marks(pd.DataFrame(rows), "2025-01-20",
                         {"2025-01-20": "DeepSeek-R1", "2025-01-27": "US AI sell-off"})
    assert sorted(marks.events) == [(4, "2025-01-27 US AI sell-off: day +4 (XNAS)"),
                                    (5, "2025-01-27 US AI sell-off: day +5 (XSHG)")]
    assert (5.5, "XSHG closed 01-28..02-04") in marks.closures
    assert (-0.5, "XNAS closed 01-20") in marks.closures
    assert all("XSHG" in text for _, text in marks.closures if "01-28" in text)


def test_rolling_beta_and_monthly_returns_against_numpy():
    from engine.analysis.rolling import monthly_returns, rolling_beta

    days = pd.DatetimeIndex(sessions("XNAS", "2024-01-31", "2024-08-30"))
    rng = np.random.default_rng(3)
    market = rng.normal(0.0005, 0.01, len(days))
    basket = 1.5 * market + rng.normal(0, 0.005, len(days))
    values = pd.DataFrame({"B": 100 * np.cumprod(1 + basket), "M": 50 * np.cumprod(1 + market)},
                          index=days)
    betas = rolling_beta(values, "M", 63)
    r = values.to_numpy()[1:] / values.to_numpy()[:-1] - 1
    for end in (63, 100, len(r)):  # the OLS slope over returns end-63 .. end-1
        slope = np.polyfit(r[end - 63:end, 1], r[end - 63:end, 0], 1)[0]
        assert betas["B"].iloc[end] == pytest.approx(slope, rel=1e-9)
    assert betas["B"].iloc[:63].isna().all()
    monthly = monthly_returns(values)
    # The curve starts on 2024-01-31, the last session of January: February is the first.
    assert monthly.index[0] == "2024-02" and monthly.index[-1] == "2024-08"
    feb_end, jan_end = values.loc["2024-02-29", "B"], values.loc["2024-01-31", "B"]
    assert monthly.at["2024-02", "B"] == pytest.approx(feb_end / jan_end - 1)
    assert monthly.at["2024-08", "M"] == pytest.approx(
        values.loc["2024-08-30", "M"] / values.loc["2024-07-31", "M"] - 1)


def test_settings_read_as_a_table_and_drawdowns_and_betas_are_not_red(run_folder):
    page = (run_folder / REPORT).read_text(encoding="utf-8")
    events = page.split('<section id="events">')[1].split("</section>")[0]
    settings = events.split("Settings of the event study")[1].split("</details>")[0]
    rows = dict(re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', settings))
    assert rows["estimation"] == "[-60, -10]" and rows["windows"] == "[-2, 2], [0, 5]"
    assert rows["markets.XNAS"] == "^IXIC"
    assert "{" not in settings  # no JSON
    summary = page.split('<section id="summary">')[1].split("</section>")[0]
    header = re.findall(r"<th>(.*?)</th>", summary.split("</thead>")[0])
    first_row = re.findall(r"<td[^>]*>.*?</td>", summary.split("<tbody>")[1].split("</tr>")[0])
    cells = dict(zip(header[1:], first_row, strict=True))
    assert cells["MaxDD"].startswith('<td class="num">') and "-" in cells["MaxDD"]
    drawdowns = page.split('<section id="drawdowns">')[1].split("</section>")[0]
    assert "num neg" not in drawdowns


@pytest.fixture(scope="module")
def long_run(tmp_path_factory) -> Path:
    """A run over fourteen months on generated NASDAQ prices: three stocks, a market index,
    two baskets, no events."""
    root = tmp_path_factory.mktemp("long")
    days = sessions("XNAS", "2023-12-01", "2025-02-28")
    rng = np.random.default_rng(11)
    market = rng.normal(0.0004, 0.01, len(days))
    (root / "prices").mkdir()
    for symbol, beta in [("AAA", 1.4), ("BBB", 0.6), ("CCC", 1.0), ("^IXIC", 1.0)]:
        noise = 0 if symbol == "^IXIC" else rng.normal(0, 0.01, len(days))
        closes = 40 * np.cumprod(1 + beta * market + noise)
        pd.DataFrame({"date": days, "close": closes.round(4)}).to_csv(
            root / "prices" / f"{file_stem(symbol)}.csv", index=False)
    first = write_yaml(root / "a.yaml", "name: High beta\nconstituents:\n  - symbol: AAA\n"
                                        "  - symbol: CCC\n")
    second = write_yaml(root / "b.yaml", "name: Low beta\nconstituents:\n  - symbol: BBB\n"
                                         "  - symbol: CCC\n")
    study = write_yaml(root / "study.yaml", "name: Long\nbenchmark: ^IXIC\nstart: 2024-01-02\n"
                                            "end: 2025-02-28\n")
    result = invoke("run", first, second, "--study", study, "--prices", root / "prices",
                    "--out", root / "results")
    assert result.exit_code == 0, result.output
    return only_run(root / "results")


def figures_of(folder: Path) -> list[dict]:
    """The figures of the report in the run ``folder``."""
    return report_figures((folder / REPORT).read_text(encoding="utf-8"))


def test_a_long_run_has_rolling_beta_monthly_returns_and_a_log_scale(long_run):
    figures = {f["id"].split("-", 2)[-1]: f for f in figures_of(long_run)}
    assert "rolling-beta" in figures
    buttons = figures["equity"]["layout"]["updatemenus"][0]["buttons"]
    assert [b["args"][0]["yaxis.type"] for b in buttons] == ["linear", "log"]
    # The rolling beta drawn is the OLS slope of the basket's daily returns on the
    # benchmark's over the last 63 sessions, from equity.csv.
    curves = pd.read_csv(long_run / "equity.csv", index_col=0)
    r = curves.to_numpy()[1:] / curves.to_numpy()[:-1] - 1
    high = list(curves.columns).index("High beta")
    slope = np.polyfit(r[-63:, -1], r[-63:, high], 1)[0]
    beta = figures["rolling-beta"]["data"][0]
    assert beta["name"] == "High beta" and beta["y"][-1] == pytest.approx(slope, abs=1e-3)
    # The monthly returns table: one row per month, one column per curve, in percent.
    page = (long_run / REPORT).read_text(encoding="utf-8")
    monthly = page.split('<table class="heat monthly">')[1].split("</table>")[0]
    header = re.findall(r'<th scope="col">(.*?)</th>', monthly)
    assert header == list(curves.columns)
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', monthly)
    assert rows[0][0] == "2024-01" and rows[-1][0] == "2025-02" and len(rows) == 14
    january = re.findall(r"<td[^>]*>(.*?)</td>", rows[0][1])
    jan = curves.loc["2024-01-31", "Low beta"] / curves.iloc[0]["Low beta"] - 1
    assert january[header.index("Low beta")] == f"{100 * jan:+.1f}"


def test_a_short_run_has_no_long_run_charts(run_folder):
    kinds = [f["id"].split("-", 2)[-1] for f in figures_of(run_folder)]
    assert "rolling-beta" not in kinds
    assert "Monthly returns" not in (run_folder / REPORT).read_text(encoding="utf-8")
    assert "updatemenus" not in figures_of(run_folder)[0]["layout"]


@pytest.mark.browser
def test_a_long_run_report_renders_in_a_real_browser(long_run):
    facts, _ = check_page_in_browser(long_run / REPORT, "report-long-900.png", width=900)
    kinds = kinds_of(facts)
    assert kinds["rolling-beta"] == 1 and kinds["equity"] == 1


def test_the_small_run_shows_bands_marks_and_per_stock_cars(run_folder):
    figures = {f["id"].split("-", 2)[-1]: f for f in figures_of(run_folder)}
    car = figures["car"]
    fills = [t for t in car["data"] if t.get("fill") == "tonexty"]
    assert len(fills) == 2  # one band per basket
    stock = figures["stock-cars"]
    cars = pd.read_csv(run_folder / "events" / "stock_cars.csv")
    widest = cars[(cars["window_start"] == 0) & (cars["window_end"] == 5)]
    shown = {y: x for trace in stock["data"] for y, x in zip(trace["y"], trace["x"],
                                                              strict=True)}
    assert len(shown) == len(widest)
    for row in widest[widest["basket"] == "Plain"].itertuples():
        assert shown[f"{row.symbol} · Plain"] == pytest.approx(100 * row.car, abs=1e-3)
    # Sorted by CAR; names escaped for plotly.
    ordered = widest.sort_values("car", kind="stable")
    assert stock["layout"]["yaxis"]["categoryarray"] == [
        f"{s} · {html.escape(b, quote=False)}"
        for s, b in zip(ordered["symbol"], ordered["basket"], strict=True)]


def test_charts_of_several_lines_highlight_the_line_under_the_pointer(run_folder):
    """Two lines in the legend or more: the page's loader highlights on hover; bars, and a
    chart of one line, do not."""
    from engine.results.report.page import highlights

    flagged = {f["id"].split("-", 2)[-1]: f.get("highlight", False)
               for f in figures_of(run_folder)}
    assert flagged == {"equity": True, "relative": True, "drawdown": True, "car": True,
                       "stock-cars": False, "attribution": False, "without": False,
                       "leave-one-out": False}
    line = {"type": "scatter", "mode": "lines"}
    assert highlights([line, {**line, "mode": "lines+markers"}])
    assert not highlights([line, {**line, "showlegend": False}])  # a band has no entry
    assert not highlights([line, {"type": "bar"}, {**line, "mode": "markers"}])


def test_the_return_without_each_stock_is_the_other_stock_bought_alone(run_folder):
    """Plain holds BBB and CCC, never rebalanced, 10 bp fees on the purchase: without CCC it
    is BBB bought with the cash less the fee, ``(1 + r_BBB) / (1 + 0.001) - 1``."""
    attribution = pd.read_csv(run_folder / "attribution.csv").set_index(["basket", "symbol"])
    r_bbb = attribution.at[("Plain", "BBB"), "return"]
    r_ccc = attribution.at[("Plain", "CCC"), "return"]
    assert attribution.at[("Plain", "CCC"), "return_without"] == pytest.approx(
        (1 + r_bbb) / 1.001 - 1, rel=1e-6)
    assert attribution.at[("Plain", "BBB"), "return_without"] == pytest.approx(
        (1 + r_ccc) / 1.001 - 1, rel=1e-6)
    figures = {f["id"].split("-", 2)[-1]: f for f in figures_of(run_folder)}
    assert "return without each stock" in figures["without"]["layout"]["title"]["text"]


@pytest.mark.parametrize("flags", [
    [{"symbol": "AAA"}],
    [{"symbol": "AAA", "kind": "stale_quotes", "severity": "warning", "message": "x",
      "dates": ["24-03-06"]}],
    ["AAA stale"],
])
def test_a_malformed_data_flag_in_the_manifest_is_one_line_naming_the_field(run_folder,
                                                                            tmp_path, flags):
    copy = shutil.copytree(run_folder, tmp_path / "results" / run_folder.name)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["data_flags"] = flags
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = invoke("report", copy)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {copy / 'manifest.json'}: field 'data_flags' ")
    assert len(result.output.strip().splitlines()) == 1


def test_a_report_reads_the_summary_file_once_for_numbers_and_once_for_names(run_folder,
                                                                             monkeypatch):
    """The summary's text columns (top contributor, worst leave-one-out, chosen) are parsed
    once per run, however many sections use them (they were parsed again by each)."""
    import engine.results.reader as reader

    reads = []
    original = reader.read_table

    def counting(source, **options):
        reads.append(source)
        return original(source, **options)

    monkeypatch.setattr(reader, "read_table", counting)
    write_report(run_folder)
    assert reads.count(run_folder / "summary.csv") == 2  # events/summary.csv is another table
