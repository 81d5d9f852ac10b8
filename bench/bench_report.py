"""How fast the main job's report opens and draws, full plotly.js against the partial bundle.

    python bench/bench_report.py [--prices DIR] [--repeat N] [--width PX]

Runs the main job (``basket run`` of ``baskets/``, with the study's event study) into a
temporary results folder, then writes its report four ways, differing only in the plotly.js
they load: the full bundle plotly.py ships (``plotly.offline.get_plotlyjs``) or the partial
basic bundle the reports use (:mod:`engine.results.assets`), each either as the results
folder's shared asset or embedded (``--self-contained``).  The four pages are opened in one
headless Chromium (Playwright, as ``tests/browser.py`` does), interleaved, ``--repeat``
rounds, each load in a fresh browser context (no cache shared between loads).  A report
draws a chart when it comes near the window: once the charts near the window at load are
drawn, the bench scrolls to each chart in turn, as soon as the one before is drawn
(``tests/browser.py``'s ``draw_every_chart``).  Printed per page: its size (and the
asset's), and the median, lowest and highest times, from navigation start, to the first
chart drawn, to the charts near the window at load drawn (the page at rest), to every chart
drawn (scrolled through), and to the load event; ``uptime`` before and after tells how busy
the machine was.

A measurement, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "tests"))

from browser import draw_every_chart, launch  # noqa: E402

from engine.results.assets import ASSETS, PLOTLY_FILE, plotly_code  # noqa: E402
from engine.results.reader import load_run  # noqa: E402
from engine.results.report import build_report  # noqa: E402

#: Recorded in the page from navigation start (ms): the first chart drawn, the page at rest
#: (every chart near the window drawn: data-idle), every chart drawn.
TIMING = """
window.__drawn = {};
new MutationObserver(function () {
  var done = document.querySelectorAll("[data-rendered]").length;
  var all = Number(document.body && document.body.dataset.charts);
  if (done && window.__drawn.first === undefined) window.__drawn.first = performance.now();
  if (document.body && document.body.dataset.idle && window.__drawn.near === undefined) {
    window.__drawn.near = performance.now();
  }
  if (all && done === all && window.__drawn.all === undefined) {
    window.__drawn.all = performance.now();
  }
}).observe(document, {subtree: true, attributes: true,
                      attributeFilter: ["data-rendered", "data-idle"]});
"""
RESULT = ("({first: window.__drawn.first, near: window.__drawn.near, all: window.__drawn.all, "
          "load: performance.getEntriesByType('navigation')[0].loadEventEnd})")
COLUMNS = {"first": "first chart", "near": "at rest", "all": "all charts", "load": "load event"}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main_job(prices: str, out: Path) -> Path:
    """Run the main job into ``out``; returns its run folder."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "cli.py", "run", "--prices", prices, "--out", str(out),
                    "--quiet"], cwd=PROJECT, env=env, check=True, stdout=subprocess.DEVNULL)
    (folder,) = [p for p in out.iterdir() if p.is_dir() and p.name != ASSETS]
    return folder


def pages(folder: Path) -> dict[str, tuple[Path, int]]:
    """The four variants of the run's report: name -> (page, bytes loaded with it)."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    run = load_run(folder)
    bundles = {
        f"full plotly.js {get_plotlyjs_version()}": (f"plotly-{get_plotlyjs_version()}.min.js",
                                                     get_plotlyjs().encode("utf-8")),
        "partial (basic)": (PLOTLY_FILE, plotly_code()),
    }
    made = {}
    for name, (file, code) in bundles.items():
        asset = folder.parent / ASSETS / file
        asset.parent.mkdir(exist_ok=True)
        asset.write_bytes(code)
        variants = {
            "shared asset": f'<script src="../{ASSETS}/{file}"></script>\n',
            "self-contained": f"<script>{code.decode('utf-8')}</script>\n",
        }
        for how, script in variants.items():
            page = folder / f"report-{len(made)}.html"
            page.write_text(build_report(run, script), encoding="utf-8")
            extra = len(code) if how == "shared asset" else 0
            made[f"{name}, {how}"] = (page, page.stat().st_size + extra)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", default=str(PROJECT.parent / "shared" / "data" / "prices"))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--width", type=int, default=1400)
    options = parser.parse_args()
    print(f"before: {uptime()}")
    with tempfile.TemporaryDirectory() as tmp:
        variants = pages(main_job(options.prices, Path(tmp)))
        times: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        with launch() as browser:
            for _ in range(options.repeat):
                for name, (page, _size) in variants.items():
                    context = browser.browser.new_context(
                        viewport={"width": options.width, "height": 900})
                    try:
                        tab = context.new_page()
                        tab.add_init_script(TIMING)
                        tab.goto(page.as_uri(), wait_until="load")
                        tab.wait_for_function("window.__drawn.near !== undefined",
                                              timeout=60_000)
                        draw_every_chart(tab)
                        times[name].append(tab.evaluate(RESULT))
                    finally:
                        context.close()
    print(f"after:  {uptime()}")
    print(f"\nmain job's report, {options.repeat} loads each, interleaved, "
          f"{options.width} px; ms from navigation start: median (lowest-highest)")
    print(f"{'page':38} {'MB':>5} " + " ".join(f"{c:>17}" for c in COLUMNS.values()))
    for name, (_page, size) in variants.items():
        cells = []
        for key in COLUMNS:
            values = [t[key] for t in times[name]]
            cells.append(f"{statistics.median(values):5.0f} ({min(values):4.0f}-"
                         f"{max(values):4.0f})")
        print(f"{name:38} {size / 1e6:5.2f} " + " ".join(f"{c:>17}" for c in cells))
    print("\nMB: the page and the plotly.js it loads (the shared asset counted once per page)")


if __name__ == "__main__":
    main()
