"""A headless Chromium for tests: open a local HTML file, collect console errors, screenshot.

Uses Playwright for Python driving the system Chromium (Debian packages ``chromium`` and
``chromium-driver``), never a browser downloaded by ``playwright install``.  Tests that need it
are marked ``@pytest.mark.browser`` and call :func:`require_browser`, which skips them with the
reason when Chromium or Playwright is missing.
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
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def require_browser() -> None:
    """Skip the calling test, with the reason, unless Chromium and Playwright are installed."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")


@dataclass
class Page:
    """An open page and what its console said."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        """Save a PNG under ``test-artifacts/`` (kept after the test) and return its path."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@contextmanager
def open_page(path: Path, *, width: int = 1280, height: int = 900) -> Iterator[Page]:
    """Load ``path`` (file://) in headless Chromium; console errors, uncaught exceptions and
    every non-file request are recorded on the returned :class:`Page`."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            opened = Page(page)
            page.on(
                "console",
                lambda m: opened.errors.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: opened.errors.append(f"pageerror: {e}"))
            page.on(
                "request",
                lambda r: None if r.url.startswith(("file:", "data:", "blob:", "about:"))
                else opened.requests.append(r.url),
            )
            page.goto(path.resolve().as_uri(), wait_until="load")
            yield opened
        finally:
            browser.close()
