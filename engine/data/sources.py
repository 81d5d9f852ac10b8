"""Opening the price source a command asks for: a CSV folder, else Yahoo through the cache."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.data.csvfolder import CsvFolderSource
from engine.data.prices import PriceSource
from engine.symbols import Listing


def open_source(
    prices: str | Path | None,
    *,
    offline: bool = False,
    listings: Mapping[str, Listing] | None = None,
    cache: str | Path | None = None,
) -> PriceSource:
    """The CSV folder ``prices`` if given, else Yahoo through the local cache (``cache``, else
    ``$BASKET_CACHE``, else the user cache folder).  ``listings`` are explicit exchange/currency
    overrides (from baskets and studies) that Yahoo's metadata is checked against."""
    if prices:
        return CsvFolderSource(prices)
    from engine.data.cache import PriceCache
    from engine.data.yahoo import YahooSource

    return YahooSource(cache=PriceCache(cache), offline=offline, listings=listings)
