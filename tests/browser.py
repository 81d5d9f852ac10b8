"""A headless Chromium for tests: open a local HTML file, collect console errors, screenshot.

Uses Playwright for Python driving the system Chromium (Debian packages ``chromium`` and
``chromium-driver``), never a browser downloaded by ``playwright install``.  Tests that need it
are marked ``@pytest.mark.browser`` and call :func:`require_browser` (directly or through
:func:`launch` / :func:`open_page`), which skips them with the reason when Chromium or
Playwright is missing.

A test module opens its pages on one browser (:func:`launch`, in a module fixture) instead of
starting Chromium for each page.  Every request a page makes is routed: file, data and blob
addresses load, any other is refused and recorded on :attr:`Page.requests`, so a test fails
on a network request instead of waiting for it.  Screenshots go to the folder named by the
environment variable ``BASKET_SCREENSHOTS`` when it is set, else to the folder the test
gives (its ``tmp_path``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("BASKET_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where screenshots go when the caller names no folder and BASKET_SCREENSHOTS is unset.
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: Addresses a report may load: its own file and what the page builds in memory.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def require_browser() -> None:
    """Skip the calling test, with the reason, unless Chromium and Playwright are installed."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")


def screenshot_folder(default: Path | None = None) -> Path:
    """``$BASKET_SCREENSHOTS`` when set, else ``default`` (a test's tmp_path), else
    ``test-artifacts/``; created if needed."""
    chosen = os.environ.get("BASKET_SCREENSHOTS")
    folder = Path(chosen) if chosen else (default or ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Page:
    """An open page, what its console said and the requests it was refused."""

    page: Any
    screenshots: Path | None = None
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        """Save a PNG named ``name`` in :func:`screenshot_folder` and return its path."""
        path = screenshot_folder(self.screenshots) / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


class Browser:
    """One running headless Chromium on which pages are opened one after another."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser

    @contextmanager
    def open(self, path: Path, *, width: int = 1280, height: int = 900,
             screenshots: Path | None = None, init_script: str | None = None) -> Iterator[Page]:
        """Load ``path`` (file://) in a fresh context ``width`` x ``height`` pixels, after
        ``init_script`` (run before the page's own scripts) if given; console errors, uncaught
        exceptions and every refused (non-local) request are recorded on the returned
        :class:`Page`."""
        context = self.browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            opened = Page(page, screenshots)

            def route(request_route) -> None:
                url = request_route.request.url
                if url.startswith(LOCAL_SCHEMES):
                    request_route.continue_()
                else:
                    opened.requests.append(url)
                    request_route.abort()

            context.route("**/*", route)
            page.on(
                "console",
                lambda m: opened.errors.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: opened.errors.append(f"pageerror: {e}"))
            if init_script:
                page.add_init_script(init_script)
            page.goto(path.resolve().as_uri(), wait_until="load")
            yield opened
        finally:
            context.close()


#: Whether a report's loader has drawn every chart the page describes.
EVERY_CHART_DRAWN = ("document.body.dataset.charts !== undefined && "
                     "document.querySelectorAll('[data-rendered]').length == "
                     "Number(document.body.dataset.charts)")


def draw_every_chart(page: Any, timeout: float = 60_000) -> None:
    """Scroll to each chart of a report in page order, waiting until it is drawn (a report
    draws a chart only when it comes near the window), then back to the top."""
    page.wait_for_function("document.body.dataset.charts !== undefined", timeout=timeout)
    chart = "document.querySelectorAll('div.chart')[{}]"
    for k in range(page.evaluate("document.querySelectorAll('div.chart').length")):
        page.evaluate(chart.format(k) + ".scrollIntoView({block: 'center'})")
        page.wait_for_function(chart.format(k) + ".dataset.rendered === '1'", timeout=timeout)
    page.wait_for_function(EVERY_CHART_DRAWN, timeout=timeout)
    page.evaluate("window.scrollTo(0, 0)")


@contextmanager
def launch() -> Iterator[Browser]:
    """Start headless Chromium (skipping the test when it is missing) and close it after."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield Browser(browser)
        finally:
            browser.close()


@contextmanager
def open_page(path: Path, *, width: int = 1280, height: int = 900,
              screenshots: Path | None = None) -> Iterator[Page]:
    """Load ``path`` in a browser of its own (:func:`launch`, then :meth:`Browser.open`)."""
    with launch() as browser, browser.open(path, width=width, height=height,
                                           screenshots=screenshots) as opened:
        yield opened
