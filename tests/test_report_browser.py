"""Every kind of report, from the real shared data, drawn in headless Chromium at 900 and 1400 px.

The kinds: the main job (``basket run``, study deepseek), the same against matched random
baskets of the universe (its histograms), an event study alone (``basket event``), a long run
(study since_2023), a sweep against matched random baskets, a claims check and a run of ten
baskets.  Each page must draw every chart (a ``.plot-container`` with its svg in every
figure's div, once scrolled to: a page draws a chart as it comes near the window), log no
error, be no wider than the window (tables scroll inside their own wrapper) and make no
network request; a screenshot of each is written for a person to look at
(``$BASKET_SCREENSHOTS``, else the test's tmp_path).  One Chromium serves the whole module.
On the ten-basket run, hovering a line or its legend entry highlights it.

Also: the plotly.js bundle shipped in ``engine/results/static`` is the one its SOURCES note
names (sha256), is package data, registers exactly the trace types the reports may use, and
every report uses only those.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from browser import draw_every_chart, launch, screenshot_folder
from click.testing import CliRunner
from conftest import PROJECT, SHARED_PRICES, only_run, report_figures

from engine.results.assets import PLOTLY_FILE, PLOTLY_PATH, TRACE_TYPES
from engine.results.report import REPORT
from engine.results.report.page import DIMMED

UNIVERSE = PROJECT.parent / "shared" / "data" / "universe" / "prices.parquet"
STUDIES = PROJECT / "baskets" / "studies"
THEMES = sorted(str(p) for p in (PROJECT / "baskets").glob("*.yaml"))
EXAMPLES = sorted(str(p) for p in (PROJECT / "baskets" / "examples").glob("*.yaml"))
CLAIMS = PROJECT / "baskets" / "claims" / "citic-2025-02.yaml"
#: The command line of each kind of report (after ``basket``; ``--out`` is added).
COMMANDS = {
    "run": ["run", *THEMES, "--study", STUDIES / "deepseek.yaml"],
    "universe-run": ["run", *THEMES, "--study", STUDIES / "deepseek.yaml", "--universe",
                     UNIVERSE, "--random", "100"],
    "event": ["event", *THEMES, "--study", STUDIES / "deepseek.yaml"],
    "long-run": ["run", *THEMES, "--study", STUDIES / "since_2023.yaml", "--skip-missing"],
    "sweep": ["sweep", *THEMES, "--study", STUDIES / "deepseek.yaml", "--universe", UNIVERSE,
              "--random", "100"],
    "claims": ["claims", CLAIMS, "--infer-asof"],
    # Ten baskets (the eight themes and the two Hang Seng Tech examples) and the benchmark:
    # eleven lines on a chart.
    "ten-baskets": ["run", *THEMES, *EXAMPLES, "--study", STUDIES / "deepseek.yaml"],
}
WIDTHS = (900, 1400)

#: Per figure div: drawn by plotly (its svg inside a .plot-container), and its traces' types.
CHART_STATE = """() => Array.from(document.querySelectorAll("div.chart")).map(el => ({
  id: el.id,
  drawn: el.dataset.rendered === "1" && el.querySelector(".plot-container svg.main-svg") !== null,
  traces: (el._fullData || []).length,
}))"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def chromium():
    with launch() as browser:
        yield browser


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """``report.html`` of each kind, each written by the CLI into a results folder of its
    own (on first use)."""
    if not (SHARED_PRICES / "NVDA.csv").is_file():
        pytest.skip(f"shared price data not found at {SHARED_PRICES}")
    from cli import main

    class Reports(dict):
        def __missing__(self, kind: str) -> Path:
            if UNIVERSE in COMMANDS[kind] and not UNIVERSE.is_file():
                pytest.skip(f"shared universe not found at {UNIVERSE}")
            out = tmp_path_factory.mktemp(kind)
            args = [*COMMANDS[kind], "--prices", SHARED_PRICES, "--out", out]
            result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
            assert result.exit_code == 0, (kind, result.output)
            self[kind] = only_run(out) / REPORT
            return self[kind]

    return Reports()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", list(COMMANDS))
def test_every_report_draws_every_chart_fits_the_window_and_stays_offline(
    chromium, reports, kind, width, tmp_path
):
    report = reports[kind]
    with chromium.open(report, width=width, screenshots=tmp_path) as opened:
        page = opened.page
        draw_every_chart(page)
        charts = page.evaluate(CHART_STATE)
        figures = report_figures(report.read_text(encoding="utf-8"))
        assert [c["id"] for c in charts] == [f["id"] for f in figures]
        assert len(charts) > 0
        for chart, figure in zip(charts, figures, strict=True):
            assert chart["drawn"], chart
            assert chart["traces"] == len(figure["data"]), chart
        wider = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wider <= 0, f"{kind}: {wider} px wider than the {width}-px window"
        opened.screenshot(f"report-{kind}-{width}.png")
        assert opened.errors == []
        assert opened.requests == []


@pytest.mark.parametrize("kind", list(COMMANDS))
def test_every_report_uses_only_trace_types_of_the_plotly_bundle(reports, kind):
    """plotly.js leaves a trace of a type its bundle lacks undrawn, without an error: a report
    may use only the basic bundle's types (scatter, bar, pie)."""
    figures = report_figures(reports[kind].read_text(encoding="utf-8"))
    used = {trace.get("type", "scatter") for figure in figures for trace in figure["data"]}
    assert used and used <= TRACE_TYPES, used - TRACE_TYPES


@pytest.mark.browser
def test_a_basket_file_at_a_long_path_does_not_widen_the_page(chromium, tmp_path):
    """The settings table names each basket's file: a CI checkout under a long temporary path
    made the page 44 px wider than a 900-px window until long text cells could break."""
    if not (SHARED_PRICES / "NVDA.csv").is_file():
        pytest.skip(f"shared price data not found at {SHARED_PRICES}")
    from cli import main

    folder = tmp_path / ("checkout_of_a_ci_job_" * 6) / "baskets"  # no hyphen to break at
    folder.mkdir(parents=True)
    theme = folder / "chips.yaml"
    theme.write_text((PROJECT / "baskets" / "domestic_chips.yaml").read_text(encoding="utf-8"),
                     encoding="utf-8")
    out = tmp_path / "out"
    args = ["run", theme, "--study", STUDIES / "deepseek.yaml", "--prices", SHARED_PRICES,
            "--out", out]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    assert result.exit_code == 0, result.output
    with chromium.open(only_run(out) / REPORT, width=900, screenshots=tmp_path) as opened:
        draw_every_chart(opened.page)
        wider = opened.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wider <= 0, f"{wider} px wider than the 900-px window"


@pytest.mark.browser
def test_the_bundle_registers_exactly_the_trace_types_the_reports_may_use(chromium, tmp_path):
    page = tmp_path / "bundle.html"
    page.write_text(f'<!DOCTYPE html><script src="{PLOTLY_PATH.as_uri()}"></script>',
                    encoding="utf-8")
    with chromium.open(page) as opened:
        registered = opened.page.evaluate("Object.keys(Plotly.PlotSchema.get().traces)")
        version = opened.page.evaluate("Plotly.version")
        assert opened.errors == [] and opened.requests == []
    assert set(registered) == TRACE_TYPES
    assert f"plotly-basic-{version}.min.js" == PLOTLY_FILE


@pytest.mark.browser
def test_the_harness_refuses_and_records_every_network_request(chromium, tmp_path):
    page = tmp_path / "online.html"
    page.write_text('<!DOCTYPE html><img src="https://example.com/pixel.png">'
                    '<script src="http://127.0.0.1:9/x.js"></script><p>offline</p>',
                    encoding="utf-8")
    with chromium.open(page) as opened:
        assert opened.page.locator("p").inner_text() == "offline"
        assert sorted(opened.requests) == ["http://127.0.0.1:9/x.js",
                                           "https://example.com/pixel.png"]


def test_the_shipped_bundle_is_the_one_its_sources_note_names():
    note = (PLOTLY_PATH.parent / "SOURCES.md").read_text(encoding="utf-8")
    row = next(line for line in note.splitlines() if line.startswith(f"| `{PLOTLY_FILE}`"))
    assert re.search(r"`([0-9a-f]{64})`", row).group(1) == sha256(PLOTLY_PATH)
    version = re.search(r"plotly-basic-(.+)\.min\.js", PLOTLY_FILE).group(1)
    assert f"plotly.js-basic-dist-min/-/plotly.js-basic-dist-min-{version}.tgz" in note
    assert PLOTLY_PATH.read_text(encoding="utf-8").startswith(
        f"/**\n* plotly.js (basic - minified) v{version}\n")
    assert (PLOTLY_PATH.parent / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_the_bundle_its_licence_and_note_are_package_data():
    """A built wheel holds what ``pyproject.toml`` declares as package data: every file of
    ``engine/results/static`` must match one of its patterns."""
    declared = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["package-data"]["engine.results"]
    static = PLOTLY_PATH.parent
    files = sorted(p.relative_to(static.parent).as_posix() for p in static.iterdir())
    assert files == ["static/LICENSE", "static/SOURCES.md", f"static/{PLOTLY_FILE}"]
    for name in files:
        assert any(fnmatch(name, pattern) for pattern in declared), name


#: Each time a chart is marked drawn: its id and how many charts plotly has begun by then.
DRAW_ORDER = """
window.__marks = [];
new MutationObserver(function (records) {
  records.forEach(function (r) {
    window.__marks.push([r.target.id, document.querySelectorAll(".plot-container").length]);
  });
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-rendered"]});
"""


#: Per chart: drawn or not, and where its box is (px from the top of the window).
PLACES = """Array.from(document.querySelectorAll("div.chart")).map(el => ({
  drawn: el.dataset.rendered === "1", top: el.getBoundingClientRect().top,
  bottom: el.getBoundingClientRect().bottom}))"""


@pytest.mark.browser
def test_only_the_charts_near_the_window_are_drawn_until_the_reader_scrolls(chromium, reports):
    """At load the main job's page draws the charts within a screen of the window (the window
    and one screen below it: its first chart, the equity) and then rests; the last chart is
    drawn when scrolled to, while the charts far from both places stay undrawn."""
    height = 900
    with chromium.open(reports["run"], width=1400, height=height) as opened:
        page = opened.page
        page.wait_for_function("document.body.dataset.idle === '1'", timeout=60_000)
        places = page.evaluate(PLACES)
        assert [p["drawn"] for p in places] == [p["top"] < 2 * height for p in places]
        assert places[0]["drawn"] and not places[-1]["drawn"]
        page.evaluate("Array.from(document.querySelectorAll('div.chart')).pop()"
                      ".scrollIntoView({block: 'end'})")
        page.wait_for_function("Array.from(document.querySelectorAll('div.chart')).pop()"
                               ".dataset.rendered === '1'", timeout=60_000)
        page.wait_for_function("document.body.dataset.idle === '1'", timeout=60_000)
        after = page.evaluate(PLACES)
        assert [p["drawn"] for p in after] == [
            before["drawn"] or (now["bottom"] > -height and now["top"] < 2 * height)
            for before, now in zip(places, after, strict=True)]
        assert not all(p["drawn"] for p in after)
        assert opened.errors == [] and opened.requests == []


SVG_DRAWN = """() => Array.from(document.querySelectorAll("div.chart")).map(
  el => el.querySelector(".plot-container svg.main-svg") !== null)"""


@pytest.mark.browser
def test_printing_draws_every_chart_not_drawn_yet_at_once(chromium, reports):
    """The charts far below are drawn only when scrolled to; printing lays the page out at
    once, so ``beforeprint`` draws all of them before the print layout (synchronously: in the
    same task as the event)."""
    with chromium.open(reports["run"], width=1400, height=900) as opened:
        page = opened.page
        page.wait_for_function("document.body.dataset.idle === '1'", timeout=60_000)
        assert not all(page.evaluate(SVG_DRAWN))
        drawn = page.evaluate("() => { window.dispatchEvent(new Event('beforeprint'));"
                              f" return ({SVG_DRAWN})(); }}")
        assert drawn and all(drawn)
        page.wait_for_function("Array.from(document.querySelectorAll('div.chart'))"
                               ".every(el => el.dataset.rendered === '1')", timeout=60_000)
        assert opened.errors == [] and opened.requests == []


@pytest.mark.browser
def test_charts_are_drawn_one_after_another_in_page_order(chromium, reports):
    """The loader starts a chart only once the one before it is drawn: scrolled through from
    the top, the main job's charts are drawn one at a time, in page order."""
    report = reports["run"]
    with chromium.open(report, init_script=DRAW_ORDER) as opened:
        draw_every_chart(opened.page)
        marks = opened.page.evaluate("window.__marks")
    ids = [f["id"] for f in report_figures(report.read_text(encoding="utf-8"))]
    assert len(ids) > 1
    assert marks == [[chart_id, begun] for begun, chart_id in enumerate(ids, start=1)]


#: The client coordinates of point ``k`` of trace ``i`` of the chart ``id``, after scrolling
#: the chart to the middle of the window (clear of the sticky navigation).
POINT = """([id, i, k]) => {
  const el = document.getElementById(id);
  el.scrollIntoView({block: "center"});
  const xaxis = el._fullLayout.xaxis, yaxis = el._fullLayout.yaxis;
  const box = el.getBoundingClientRect(), trace = el.data[i];
  return [box.left + xaxis._offset + xaxis.d2p(trace.x[k]),
          box.top + yaxis._offset + yaxis.c2p(trace.y[k])];
}"""
#: The opacity of every trace drawn (index -> opacity of its node), and the opacity plotly
#: holds for each trace (restyled; none for a band, which has no legend entry).
OPACITIES = """id => Object.fromEntries(Array.from(document.getElementById(id).querySelectorAll(
  ".scatterlayer .trace")).map(n => [n.__data__[0].trace.index,
                                     Number(getComputedStyle(n).opacity)]))"""
RESTYLED = "id => document.getElementById(id)._fullData.map(t => t.opacity)"
#: The trace drawn last (on top) in the chart's scatter layer.
ON_TOP = """id => { const nodes = document.getElementById(id).querySelectorAll(
  ".scatterlayer .trace"); return nodes[nodes.length - 1].__data__[0].trace.index; }"""


def legend_lines(figure: dict) -> list[int]:
    """The traces of ``figure`` drawn as lines with a legend entry of their own."""
    return [i for i, t in enumerate(figure["data"])
            if "lines" in t.get("mode", "lines") and t.get("showlegend", True)
            and t.get("visible", True) is True]


def most_apart(figure: dict) -> tuple[int, int]:
    """(trace, point) of the line point farthest from every other line at the same point: the
    pointer placed there hovers that line and no other."""
    lines = legend_lines(figure)
    best, gap = (lines[0], 1), -1.0
    for k in range(1, len(figure["data"][lines[0]]["y"]) - 1):
        values = {i: figure["data"][i]["y"][k] for i in lines}
        for i, value in values.items():
            others = [abs(value - v) for j, v in values.items() if j != i and v is not None]
            if value is not None and others and min(others) > gap:
                best, gap = (i, k), min(others)
    return best


def group_of(figure: dict, index: int) -> set[int]:
    """The traces that go with trace ``index``: itself and those of its legend group."""
    key = figure["data"][index].get("legendgroup")
    return {i for i, t in enumerate(figure["data"]) if i == index or (key and
                                                                      t.get("legendgroup") == key)}


@pytest.mark.browser
@pytest.mark.parametrize(("kind", "chart"), [
    ("ten-baskets", "equity"), ("ten-baskets", "relative"), ("ten-baskets", "drawdown"),
    ("ten-baskets", "car"), ("long-run", "rolling-beta"),
])
def test_hovering_a_line_or_its_legend_entry_brings_it_forward_and_dims_the_others(
    chromium, reports, kind, chart, tmp_path
):
    """With ten baskets on a chart (eight on the long run's rolling beta): the pointer on a
    line (or on its legend entry) draws that line (and its band) at full opacity on top of the
    others, dimmed to DIMMED; leaving it restores them all.  A screenshot of the highlighted
    chart is written beside the page's."""
    report = reports[kind]
    figure = next(f for f in report_figures(report.read_text(encoding="utf-8"))
                  if f["id"].split("-", 2)[-1] == chart)
    assert figure["highlight"] and len(legend_lines(figure)) >= (10 if kind == "ten-baskets"
                                                                 else 8)
    index, point = most_apart(figure)
    drawn = [i for i, t in enumerate(figure["data"]) if t.get("visible", True) is True]
    everyone = {str(i): 1 for i in drawn}

    def highlighted(chosen: int) -> dict[str, float]:
        together = group_of(figure, chosen)
        return {str(i): 1 if i in together else DIMMED for i in drawn}

    def restyled(chosen: int) -> list[float]:
        """What plotly holds after the restyle: each line with a legend entry dimmed or not."""
        return [1 if i in group_of(figure, chosen) else DIMMED for i in legend_lines(figure)]

    with chromium.open(report, width=1400, screenshots=tmp_path) as opened:
        page, chart_id = opened.page, figure["id"]
        draw_every_chart(page)
        assert page.evaluate(OPACITIES, chart_id) == everyone
        x, y = page.evaluate(POINT, [chart_id, index, point])
        page.mouse.move(x, y)
        dimmed = f"Object.values(({OPACITIES})('{chart_id}')).includes({DIMMED})"
        page.wait_for_function(dimmed, timeout=5_000)
        assert page.evaluate(OPACITIES, chart_id) == highlighted(index)
        assert [page.evaluate(RESTYLED, chart_id)[i] for i in legend_lines(figure)] == \
            restyled(index)
        assert page.evaluate(ON_TOP, chart_id) in group_of(figure, index)
        page.locator(f"#{chart_id}").screenshot(
            path=str(screenshot_folder(tmp_path) / f"hover-{chart}-{kind}.png"))
        page.mouse.move(x, 3)  # onto the sticky navigation, off the chart
        page.wait_for_function(f"!{dimmed}", timeout=5_000)
        # The legend entry of another line.
        other = next(i for i in legend_lines(figure) if i != index)
        entries = page.locator(f"#{chart_id} .legend .traces")
        position = legend_lines(figure).index(other)
        entries.nth(position).hover()
        page.wait_for_function(dimmed, timeout=5_000)
        assert page.evaluate(OPACITIES, chart_id) == highlighted(other)
        page.mouse.move(x, 3)
        page.wait_for_function(f"!{dimmed}", timeout=5_000)
        assert page.evaluate(OPACITIES, chart_id) == everyone
        assert opened.errors == [] and opened.requests == []


def test_main_job_data_notes_mark_every_hong_kong_placeholder_on_the_purchase_date(reports):
    """Every Hong Kong constituent of the main job has a placeholder bar on the purchase date
    (2024-12-31, a half-day session) and on 2025-01-28 (day +1 of the sell-off): the data notes
    say so in a few grouped lines, first, instead of twenty near-identical ones."""
    report = reports["run"]
    manifest = json.loads((report.parent / "manifest.json").read_text(encoding="utf-8"))
    placeholders = {f["symbol"] for f in manifest["data_flags"]
                    if f["kind"] == "placeholder_bar" and "2024-12-31" in f["dates"]}
    assert {"0700.HK", "9988.HK", "0981.HK"} <= placeholders  # the report's named stocks
    page = report.read_text(encoding="utf-8")
    notes = page.split("<h3>Notes</h3>")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", notes)
    assert 0 < len(rows) <= 6 < len(manifest["notes"])
    marked = [note for where, note in rows if where.startswith("purchase date (2024-12-31)")]
    assert rows[0][1] in marked
    # each symbol's placeholders are in one line, "A, B and 12 more (14): ..." or "A: ..."
    counted = [re.match(r"[^:]*?(?:\((\d+)\))?: data check placeholder_bar", note)
               for note in marked]
    assert sum(int(m.group(1) or 1) for m in counted if m) == len(placeholders)
