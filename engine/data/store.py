"""The local price store as Python calls: what ``basket data`` does.

* :func:`resolve_symbols` reads what a user typed (``700.HK`` -> ``0700.HK``, noted) and checks
  each symbol has a known exchange (or one given explicitly);
* :func:`fetch` brings symbols into the cache through
  :class:`engine.data.yahoo.YahooSource` and says per symbol what happened (``fetched``,
  ``updated``, ``cached`` or ``failed``);
* :func:`status` reports each cached symbol: range, rows, freshness against its exchange
  calendar, source, and every data-quality flag of :func:`engine.data.quality.check_history`;
  corrupted entries are reported as ``corrupt`` (with an ``error`` flag), never read as data;
* :func:`import_folder` and :func:`export_folder` copy CSV folders (the shared layout, and
  yfinance's multi-header exports on import) into and out of the cache.

Example::

    from engine.data.store import fetch, open_cache, resolve_symbols, status

    cache = open_cache()                    # $BASKET_CACHE, else the user cache folder
    wanted = resolve_symbols(["700.hk", "NVDA"])
    report = fetch(wanted.symbols, cache=cache, listings=wanted.listings)
    report.raise_for_failures()
    [row.to_dict() for row in status(cache).rows]
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from engine.calendars import Closures, closures_from_bars
from engine.data.cache import CacheWarning, ImportReport, PriceCache
from engine.data.cache_entry import CacheCorrupted, CacheEntry
from engine.data.flags import Flag, raise_if_strict
from engine.data.freshness import last_completed_session
from engine.data.quality import check_history
from engine.errors import EngineFailure, OptionError, SymbolError
from engine.symbols import (
    FX_SYMBOLS,
    KNOWN_CALENDARS,
    Listing,
    listing_of,
    normalize_symbol,
    symbol_from_stem,
)

_FX = re.compile(r"^[A-Z]{3}(?:[A-Z]{3})?=X$")
#: Kind of the flag a corrupted cache entry gets in :func:`status`.
CORRUPT_KIND = "corrupt_cache"


def open_cache(root: str | Path | None = None) -> PriceCache:
    """The price cache at ``root``, else ``$BASKET_CACHE``, else the user cache folder."""
    return PriceCache(root)


# ---------------------------------------------------------------------------------------------
# Symbols


@dataclass
class Symbols:
    """Canonical symbols (in the order given, without duplicates), explicit listings for some
    of them, and a note for each symbol that was rewritten."""

    symbols: list[str] = field(default_factory=list)
    listings: dict[str, Listing] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def is_fx(symbol: str) -> bool:
    """Whether ``symbol`` is a Yahoo FX rate (``CNY=X``, ``EURUSD=X``)."""
    return bool(_FX.match(symbol))


def explicit_listing(exchange: str | None, currency: str | None) -> Listing | None:
    """The listing an ``--exchange``/``--currency`` pair names, None when neither is given."""
    if exchange is None and currency is None:
        return None
    if exchange is None:
        raise OptionError(
            "--currency", "needs --exchange too", "e.g. --exchange XHKG --currency CNY"
        )
    calendar = exchange.strip().upper()
    if calendar not in KNOWN_CALENDARS:
        raise OptionError("--exchange", f"'{exchange}' is not one of {', '.join(KNOWN_CALENDARS)}")
    return Listing(calendar, (currency or KNOWN_CALENDARS[calendar]).strip().upper())


def resolve_symbols(
    raw: Iterable[str],
    *,
    exchange: str | None = None,
    currency: str | None = None,
    require_listing: bool = True,
) -> Symbols:
    """Normalise what the user typed (:func:`engine.symbols.normalize_symbol`), noting every
    rewrite, and find each symbol's exchange.

    ``exchange``/``currency`` set the listing of every symbol given.  Otherwise a symbol needs a
    known exchange (suffix ``.SS``/``.SZ``/``.HK``, a US ticker, a known index) or must be an FX
    rate (``CNY=X``); with ``require_listing`` the others are one :class:`SymbolError`.
    """
    explicit = explicit_listing(exchange, currency)
    found = Symbols()
    unknown: list[str] = []
    for text in raw:
        symbol, note = normalize_symbol(text)
        if note:
            found.notes.append(note)
        if symbol in found.symbols:
            continue
        found.symbols.append(symbol)
        if explicit is not None:
            found.listings[symbol] = explicit
            continue
        if is_fx(symbol):
            continue
        try:
            listing_of(symbol)
        except SymbolError:
            unknown.append(symbol)
    if unknown and require_listing:
        also = f" (also {', '.join(unknown[1:])})" if len(unknown) > 1 else ""
        raise SymbolError(
            unknown[0],
            "has no known exchange: suffixes .SS, .SZ, .HK, US tickers, known indices and FX "
            f"rates (=X) are known{also}",
            f"pass --exchange ({', '.join(KNOWN_CALENDARS)}) and, if it differs from the "
            "exchange's usual one, --currency",
        )
    return found


# ---------------------------------------------------------------------------------------------
# Fetching


@dataclass(frozen=True)
class FetchRow:
    """What :func:`fetch` did for one symbol: ``action`` is ``fetched`` (nothing usable was
    cached), ``updated`` (cached bars extended or replaced), ``cached`` (served as cached) or
    ``failed`` (``message`` says why)."""

    symbol: str
    action: str
    rows: int | None = None
    first_date: str | None = None
    last_date: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``basket data fetch --format json``: the fields, in order."""
        return asdict(self)


class FetchFailed(EngineFailure):
    """Some symbols could not be fetched: all of them, with the reasons, in one line."""

    def __init__(self, failed: Sequence[FetchRow], source: str) -> None:
        self.failed = list(failed)
        listed = "; ".join(f"{row.symbol} ({row.message})" for row in self.failed)
        count = len(self.failed)
        super().__init__(
            f"could not fetch {count} symbol{'s' if count != 1 else ''} from {source}: {listed}",
            "check the symbols; `basket data status` shows what the cache holds",
        )


@dataclass
class FetchReport:
    """Per-symbol results of :func:`fetch` (in the order asked), and the source's notes."""

    rows: list[FetchRow]
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[FetchRow]:
        return [row for row in self.rows if row.action == "failed"]

    def raise_for_failures(self) -> None:
        """Raise :class:`FetchFailed` naming every symbol that failed, if any did."""
        if self.failed:
            raise FetchFailed(self.failed, self.source)


def _entry_before(cache: PriceCache, symbol: str) -> tuple[CacheEntry | None, str | None]:
    """The cached entry of ``symbol`` as it is now, or why it is unusable."""
    try:
        cached = cache.load(symbol)
    except CacheCorrupted as error:
        return None, error.message
    return (None if cached is None else cached.entry), None


def fetch(
    symbols: Sequence[str],
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    *,
    cache: PriceCache | None = None,
    offline: bool = False,
    listings: Mapping[str, Listing] | None = None,
    source: Any = None,
) -> FetchReport:
    """Bring ``symbols`` (canonical, see :func:`resolve_symbols`) into the cache for
    ``start..end`` (None: from the first bar / through the last completed session).

    ``source`` defaults to a :class:`~engine.data.yahoo.YahooSource` on ``cache`` (``offline``: the
    cache only).  Raises :class:`~engine.errors.SourceUnavailable` when Yahoo cannot be reached
    at all; symbols that fail individually are ``failed`` rows (see
    :meth:`FetchReport.raise_for_failures`).
    """
    if source is None:
        from engine.data.yahoo import YahooSource

        source = YahooSource(cache or open_cache(), offline=offline, listings=listings)
    cache = source.cache
    before = {symbol: _entry_before(cache, symbol) for symbol in symbols}
    start = None if start is None else pd.Timestamp(start)
    end = None if end is None else pd.Timestamp(end)
    if start is not None and end is not None and start > end:
        raise OptionError("--start", f"{start.date()} is after the end {end.date()}")
    histories, problems = source.fetch(list(symbols), start, end)
    rows = []
    for symbol in symbols:
        entry_before, corrupt = before[symbol]
        if symbol not in histories:
            rows.append(FetchRow(symbol, "failed", message=problems.get(symbol, "no data")))
            continue
        frame = histories[symbol].frame
        now = cache.entry(symbol)
        if entry_before is None:
            action = "fetched"
            message = "new in the cache" if corrupt is None else "replaced a corrupted entry"
        elif now == entry_before:
            action, message = "cached", "already cached"
        else:
            action = "updated"
            message = f"was {entry_before.first_date}..{entry_before.last_date}"
        rows.append(
            FetchRow(
                symbol,
                action,
                len(frame),
                str(frame.index[0].date()),
                str(frame.index[-1].date()),
                message,
            )
        )
    return FetchReport(rows, source.description, list(getattr(source, "notes", [])))


# ---------------------------------------------------------------------------------------------
# Status


@dataclass(frozen=True)
class SymbolStatus:
    """One symbol of the cache: ``state`` is ``fresh``, ``stale`` (its last bar predates its
    exchange's last completed session), ``missing`` (asked for, not cached) or ``corrupt``."""

    symbol: str
    state: str
    message: str
    entry: CacheEntry | None = None
    last_session: pd.Timestamp | None = None
    calendar: str | None = None
    flags: tuple[Flag, ...] = ()

    @property
    def stale(self) -> bool:
        return self.state == "stale"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``basket data status --format json``."""
        entry = self.entry
        return {
            "symbol": self.symbol,
            "state": self.state,
            "first_date": entry.first_date if entry else None,
            "last_date": entry.last_date if entry else None,
            "rows": entry.rows if entry else None,
            "stale": self.stale,
            "last_session": None if self.last_session is None else str(self.last_session.date()),
            "calendar": self.calendar,
            "currency": entry.currency if entry else None,
            "source": entry.source if entry else None,
            "fetched_at": entry.fetched_at if entry else None,
            "adjustment": entry.adjustment if entry else None,
            "message": self.message,
            "flags": [flag_dict(f) for f in self.flags],
        }

    def flag_summary(self) -> str:
        """``placeholder_bar x9 (first 2020-12-24), missing_sessions x2 (first 2023-09-01)``."""
        kinds: dict[str, list[Flag]] = {}
        for flag in self.flags:
            kinds.setdefault(flag.kind, []).append(flag)
        return ", ".join(
            f"{kind} x{len(group)}" + (f" (first {group[0].span()})" if group[0].dates else "")
            for kind, group in kinds.items()
        )


def flag_dict(flag: Flag) -> dict[str, Any]:
    """A flag as JSON: kind, severity, first/last date, every date, message."""
    return {
        "kind": flag.kind,
        "severity": flag.severity,
        "first": None if flag.first is None else str(flag.first.date()),
        "last": None if flag.last is None else str(flag.last.date()),
        "dates": [str(d.date()) for d in flag.dates],
        "message": flag.message,
    }


@dataclass
class StatusReport:
    """The rows of :func:`status`, one per symbol."""

    rows: list[SymbolStatus]

    @property
    def flags(self) -> list[Flag]:
        return [flag for row in self.rows for flag in row.flags]

    def raise_if_strict(self, min_severity: str = "warning") -> None:
        """:func:`engine.data.flags.raise_if_strict` over every symbol's flags (a corrupted entry
        is an ``error``)."""
        raise_if_strict(self.flags, min_severity)


def cached_symbols(cache: PriceCache) -> list[str]:
    """Every symbol with a metadata file in the cache, readable or not, sorted."""
    if not cache.folder.is_dir():
        return []
    # The file name says which symbol an entry is for; metadata naming another is corrupt.
    return sorted({symbol_from_stem(path.stem) for path in cache.folder.glob("*.json")})


def _calendar_of(symbol: str, listings: Mapping[str, Listing]) -> str | None:
    if symbol in listings:
        return listings[symbol].calendar
    try:
        return listing_of(symbol).calendar
    except SymbolError:
        return None


def symbol_status(
    cache: PriceCache,
    symbol: str,
    *,
    listing: Listing | None = None,
    now: pd.Timestamp | str | None = None,
    closures: Closures | None = None,
) -> SymbolStatus:
    """Freshness and data-quality flags of one cached symbol (see :class:`SymbolStatus`);
    ``closures`` are no sessions (no missing-bar flag on them)."""
    calendar = _calendar_of(symbol, {symbol: listing} if listing else {})
    try:
        cached = cache.load(symbol)
    except CacheCorrupted as error:
        flag = Flag(symbol, CORRUPT_KIND, (), error.message + " (never used)", "error")
        return SymbolStatus(symbol, "corrupt", error.message, calendar=calendar, flags=(flag,))
    if cached is None:
        return SymbolStatus(symbol, "missing", f"{symbol} is not in the cache", calendar=calendar)
    entry = cached.entry
    last_session = last_completed_session(calendar, now)
    if pd.Timestamp(entry.last_date) < last_session:
        state = "stale"
        message = (
            f"last bar {entry.last_date} predates the last completed session {last_session.date()}"
        )
    else:
        state, message = "fresh", f"up to date through {entry.last_date}"
    flags = tuple(check_history(cached.history, calendar, closures=closures))
    return SymbolStatus(symbol, state, message, entry, last_session, calendar, flags)


def status(
    cache: PriceCache | None = None,
    symbols: Sequence[str] = (),
    *,
    listings: Mapping[str, Listing] | None = None,
    now: pd.Timestamp | str | None = None,
) -> StatusReport:
    """:func:`symbol_status` of ``symbols`` (canonical), or of every cached symbol."""
    cache = cache or open_cache()
    listings = listings or {}
    wanted = list(symbols) or cached_symbols(cache)
    closures = cache_closures(cache, listings)
    rows = [
        symbol_status(cache, s, listing=listings.get(s), now=now, closures=closures)
        for s in wanted
    ]
    return StatusReport(rows)


def cache_closures(cache: PriceCache, listings: Mapping[str, Listing]) -> Closures:
    """The closures every sound cached history shows together (a session of an exchange none
    of its cached symbols traded; see :mod:`engine.market.sessions`)."""
    bars: dict[str, list[pd.DatetimeIndex]] = {}
    for symbol in cached_symbols(cache):
        calendar = _calendar_of(symbol, listings)
        if calendar is None or symbol in FX_SYMBOLS.values():
            continue
        try:
            cached = cache.load(symbol)
        except CacheCorrupted:
            continue
        if cached is not None:
            bars.setdefault(calendar, []).append(cached.history.frame.index)
    return closures_from_bars(bars)


# ---------------------------------------------------------------------------------------------
# CSV folders


def import_folder(folder: str | Path, cache: PriceCache | None = None) -> ImportReport:
    """Every ``*.csv`` of ``folder`` (shared layout or yfinance export) into the cache; see
    :meth:`engine.data.cache.PriceCache.import_folder`.  ``problems`` maps each refused file (or
    symbol) to the reason."""
    return (cache or open_cache()).import_folder(folder)


@dataclass
class ExportReport:
    """Files written by :func:`export_folder`, and cached symbols left out (corrupted)."""

    written: list[Path]
    skipped: dict[str, str] = field(default_factory=dict)


def export_folder(
    folder: str | Path, cache: PriceCache | None = None, *, force: bool = False
) -> ExportReport:
    """Every sound cache entry to ``<folder>/<stem>.csv`` in the shared layout (plus
    ``SOURCES.json`` with the metadata); corrupted entries are left out and reported.  Files
    an earlier export did not write are not overwritten unless ``force``."""
    cache = cache or open_cache()
    skipped = {}
    for symbol in cached_symbols(cache):
        try:
            cache.load(symbol)
        except CacheCorrupted as error:
            skipped[symbol] = error.message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)  # reported in ``skipped``
        written = cache.export_folder(folder, force=force)
    return ExportReport(written, skipped)


__all__ = [
    "CORRUPT_KIND",
    "ExportReport",
    "FetchFailed",
    "FetchReport",
    "FetchRow",
    "StatusReport",
    "SymbolStatus",
    "Symbols",
    "cached_symbols",
    "explicit_listing",
    "export_folder",
    "fetch",
    "flag_dict",
    "import_folder",
    "is_fx",
    "open_cache",
    "resolve_symbols",
    "status",
    "symbol_status",
]
