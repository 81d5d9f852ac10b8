"""Opening the price source a command asks for: a CSV folder or a universe file, else Yahoo
through the cache; with ``universe`` also the universe, looked up after the first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from engine.data.csvfolder import CsvFolderSource
from engine.data.prices import Day, Fetched, PriceHistory, PriceSource
from engine.data.universe import UniverseSource, is_universe_file
from engine.symbols import Listing


class FirstOfSources:
    """Several price sources, each symbol taken from the first that has it."""

    def __init__(self, sources: Sequence[PriceSource]) -> None:
        self.sources = list(sources)
        self.description = " then ".join(s.description for s in self.sources)
        self.notes = [n for s in self.sources for n in getattr(s, "notes", ())]
        listings = [getattr(s, "listings", None) for s in self.sources]
        self.listings = next((x for x in listings if isinstance(x, dict)), None)

    def fetch(self, symbols: Sequence[str], start: Day = None, end: Day = None) -> Fetched:
        histories: dict[str, PriceHistory] = {}
        problems: dict[str, str] = {}
        wanted = list(symbols)
        for source in self.sources:
            if not wanted:
                break
            found, missing = source.fetch(wanted, start, end)
            histories.update(found)
            for symbol, why in missing.items():
                problems[symbol] = f"{problems[symbol]}; {why}" if symbol in problems else why
            wanted = [s for s in wanted if s not in histories]
        return histories, {s: why for s, why in problems.items() if s not in histories}


def open_source(
    prices: str | Path | None,
    *,
    offline: bool = False,
    listings: Mapping[str, Listing] | None = None,
    cache: str | Path | None = None,
    universe: str | Path | UniverseSource | None = None,
    symbols_file: str | Path | None = None,
) -> PriceSource:
    """The price source of ``prices``: a CSV folder, or a long-format universe file (parquet
    or CSV with a ``symbol`` column); without it Yahoo through the local cache (``cache``, else
    ``$BASKET_CACHE``, else the user cache folder).  ``listings`` are explicit exchange/currency
    overrides (from baskets and studies) that Yahoo's metadata is checked against.

    With ``universe`` (a universe file, its symbols table ``symbols_file`` or the one beside
    it) symbols missing from ``prices`` are looked up there."""
    if prices and is_universe_file(prices):
        primary: PriceSource = UniverseSource(prices, symbols_file if not universe else None)
    elif prices:
        primary = CsvFolderSource(prices)
    else:
        from engine.data.cache import PriceCache
        from engine.data.yahoo import YahooSource

        primary = YahooSource(cache=PriceCache(cache), offline=offline, listings=listings)
    if universe is None:
        return primary
    if not isinstance(universe, UniverseSource):
        universe = UniverseSource(universe, symbols_file)
    return FirstOfSources([primary, universe])


def open_sweep_sources(
    prices: str | Path | None,
    *,
    offline: bool = False,
    universe: str | Path | None = None,
    symbols_file: str | Path | None = None,
) -> tuple[PriceSource, UniverseSource | None]:
    """The price source and the universe of ``basket sweep``.

    The universe is the file ``universe``, else ``prices`` when it names a universe file (None
    without either; ``symbols_file`` its symbols table).  The source is ``prices`` with the
    universe looked up after it (:func:`open_source`), else the universe alone, else Yahoo
    through the cache."""
    universe_file = universe or (prices if prices and is_universe_file(prices) else None)
    found = UniverseSource(universe_file, symbols_file) if universe_file else None
    if prices:
        return open_source(prices, offline=offline, universe=found), found
    return (found if found is not None else open_source(None, offline=offline)), found
