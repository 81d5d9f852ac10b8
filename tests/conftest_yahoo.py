"""Fixtures for tests of the Yahoo source and the cache; import them explicitly::

    from conftest_yahoo import fake_yahoo, make_source, price_cache, sleeps  # noqa: F401

``fake_yahoo`` is a :class:`yahoo_fake.FakeYahoo` with yfinance isolated in a temporary folder,
``price_cache`` a :class:`engine.data.cache.PriceCache` in a temporary folder, ``sleeps`` the
list of back-off delays the source asked for (nobody really sleeps) and ``make_source`` builds a
:class:`engine.data.yahoo.YahooSource` wired to all three, with the clock fixed at :data:`NOW`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from yahoo_fake import FakeYahoo, isolated_yfinance

from engine.data.cache import PriceCache
from engine.data.yahoo import YahooSource

#: The fixed "current time" of the tests: after every bar of 2024, before the shared data ends.
NOW = pd.Timestamp("2025-07-01 12:00", tz="UTC")


@pytest.fixture
def fake_yahoo(tmp_path: Path) -> Iterator[FakeYahoo]:
    with isolated_yfinance(tmp_path / "yfinance-cache"):
        yield FakeYahoo()


@pytest.fixture
def price_cache(tmp_path: Path) -> PriceCache:
    return PriceCache(tmp_path / "basket-cache")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_source(
    fake_yahoo: FakeYahoo, price_cache: PriceCache, sleeps: list[float]
) -> Callable[..., YahooSource]:
    def build(**options: Any) -> YahooSource:
        now = options.pop("now", NOW)
        cache = options.pop("cache", price_cache)
        settings: dict[str, Any] = {
            "session": fake_yahoo.session(),
            "sleep": sleeps.append,
            "backoff": 2.0,
            "waiting": lambda line: None,
            "now": (lambda: pd.Timestamp(now)),
            "progress": False,
        }
        settings.update(options)
        return YahooSource(cache, **settings)

    return build
