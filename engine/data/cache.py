"""The local price cache: one parquet file per symbol plus a metadata JSON that vouches for it.

Layout under the cache root (``$BASKET_CACHE``, else ``platformdirs.user_cache_dir("basket")``)::

    <root>/prices/<stem>.parquet   bars: date, open, high, low, close, adj_close, volume
    <root>/prices/<stem>.json      CacheEntry: source, fetched_at (UTC ISO), first/last date,
                                   requested_start, checked_through, listed, adjustment,
                                   currency, timezone, rows, sha256 of the parquet file,
                                   format version
    <root>/prices/.lock            advisory lock (fcntl) serialising writers against readers

``<stem>`` is :func:`engine.symbols.file_stem` (``^`` and ``=`` written ``_``); the JSON names
the real symbol.

Integrity: the parquet file is written first and the JSON second, each to a temporary file in the
same folder, fsynced and moved into place with :func:`os.replace`, under an exclusive lock (readers
take a shared one).  The JSON carries the SHA-256 of the parquet bytes, so a truncated, flipped or
half-replaced data file is detected on read (:class:`CacheCorrupted`) and never used.  A data file
without its JSON is an unfinished write and counts as absent.

Staleness is measured against the exchange calendar: an entry is stale when its last bar predates
the exchange's last *completed* session (a session is completed once its close time has passed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# The engine's one calendar cache (engine.calendars.calendar, sessions from 2000); the name
from engine.calendars import calendar as exchange_calendar
from engine.data.prices import PRICE_COLUMNS, PriceHistory, first_bad_value, tidy_frame
from engine.errors import CacheError, OptionError, PriceFileError, ResultsError, SymbolError
from engine.files import UnreadableFile, atomic_write, read_bounded, remove_leftovers
from engine.symbols import file_stem, listing_of, normalize_symbol

CACHE_ENV = "BASKET_CACHE"
FORMAT_VERSION = 1

#: Time zone of each calendar the engine knows (what Yahoo's ``exchangeTimezoneName`` must say).
CALENDAR_TIMEZONES = {
    "XSHG": "Asia/Shanghai",
    "XHKG": "Asia/Hong_Kong",
    "XNAS": "America/New_York",
    "XNYS": "America/New_York",
}

class CacheCorrupted(CacheError):
    """A cache entry whose data file does not match its metadata (truncated, altered, missing)."""

    def __init__(self, symbol: str, path: Path, why: str) -> None:
        self.symbol = symbol
        self.path = str(path)
        super().__init__(
            f"cache entry for {symbol} is corrupted ({why}): {path}",
            "it is ignored and refetched; `basket data status` lists the cache",
        )


class CacheWarning(UserWarning):
    """Something in the cache was ignored or replaced (corruption, revised adjustments)."""


def default_cache_root() -> Path:
    """``$BASKET_CACHE`` if set, else the per-user cache folder of ``basket``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("basket"))


# ---------------------------------------------------------------------------------------------
# Calendars and sessions


def calendar_name_of(symbol: str) -> str | None:
    """The calendar a symbol trades on (from its suffix), or None when the suffix does not tell
    (FX rates such as ``CNY=X``, unknown exchanges)."""
    try:
        return listing_of(symbol).calendar
    except SymbolError:
        return None


def _utc(now: pd.Timestamp | str | None) -> pd.Timestamp:
    stamp = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _previous_weekday(day: pd.Timestamp) -> pd.Timestamp:
    while day.day_of_week >= 5:
        day -= pd.Timedelta(days=1)
    return day


def last_completed_session(
    calendar_name: str | None, now: pd.Timestamp | str | None = None
) -> pd.Timestamp:
    """The latest session of ``calendar_name`` whose close is at or before ``now`` (UTC if naive).

    Without a calendar (or beyond its range) the answer is the last weekday before ``now``'s UTC
    date: a plain approximation used for FX rates.
    """
    moment = _utc(now)
    if calendar_name is not None:
        closes = exchange_calendar(calendar_name).closes
        if closes.iloc[0] <= moment <= closes.iloc[-1]:
            position = int(closes.searchsorted(moment, side="right"))
            return pd.Timestamp(closes.index[position - 1])
    today = moment.tz_localize(None).normalize()
    return _previous_weekday(today - pd.Timedelta(days=1))


def session_on_or_before(calendar_name: str | None, day: pd.Timestamp) -> pd.Timestamp:
    """The last session of the calendar on or before ``day`` (a weekday without a calendar)."""
    day = pd.Timestamp(day).normalize()
    if calendar_name is not None:
        sessions = exchange_calendar(calendar_name).sessions
        if sessions[0] <= day <= sessions[-1]:
            return pd.Timestamp(sessions[int(sessions.searchsorted(day, side="right")) - 1])
    return _previous_weekday(day)


def session_on_or_after(calendar_name: str | None, day: pd.Timestamp) -> pd.Timestamp:
    """The first session of the calendar on or after ``day`` (a weekday without a calendar)."""
    day = pd.Timestamp(day).normalize()
    if calendar_name is not None:
        sessions = exchange_calendar(calendar_name).sessions
        if sessions[0] <= day <= sessions[-1]:
            return pd.Timestamp(sessions[int(sessions.searchsorted(day, side="left"))])
    while day.day_of_week >= 5:
        day += pd.Timedelta(days=1)
    return day


def target_session(
    calendar_name: str | None, end: pd.Timestamp | None, now: pd.Timestamp | str | None = None
) -> pd.Timestamp:
    """The last session data can exist for: the last completed session, or the last session on or
    before ``end`` when that is earlier."""
    last = last_completed_session(calendar_name, now)
    if end is None:
        return last
    return min(last, session_on_or_before(calendar_name, pd.Timestamp(end)))


# ---------------------------------------------------------------------------------------------
# Entries


@dataclass(frozen=True)
class CacheEntry:
    """The metadata JSON of one cached symbol."""

    symbol: str
    source: str
    fetched_at: str
    first_date: str
    last_date: str
    rows: int
    sha256: str
    data_file: str
    adjustment: str = ""
    currency: str | None = None
    timezone: str | None = None
    #: Earliest start ever asked of the source (bars before the listing cannot exist).
    requested_start: str | None = None
    #: Last session the source was asked up to (it may have had no bar then, e.g. a suspension).
    checked_through: str | None = None
    #: The local date of the symbol's first traded bar as the source states it (Yahoo's
    #: ``firstTradeDate``): when the first cached bar is on or before it, no earlier bar exists.
    listed: str | None = None
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_mapping(cls, raw: Any) -> CacheEntry:
        """The entry a metadata JSON holds, checked against the schema (the fields above, their
        types, ISO dates, a data file inside the cache folder); :class:`ValueError` names the
        first field that is wrong, so one hand-edited or damaged file is reported, not used."""
        if not isinstance(raw, dict):
            raise ValueError(f"metadata is {type(raw).__name__}, not a JSON object")
        known = {f.name: f for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        for name, spec in known.items():
            if name not in values:
                if spec.default is MISSING:
                    raise ValueError(f"metadata has no '{name}'")
                continue
            value = values[name]
            if name in ("rows", "version"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"'{name}' is {_shown(value)}, not a count")
            elif not (isinstance(value, str) or (value is None and spec.default is None)):
                raise ValueError(f"'{name}' is {_shown(value)}, not text")
            elif name in _DATE_FIELDS and value is not None and not _is_iso_date(value):
                raise ValueError(f"'{name}' is {_shown(value)}, not a date YYYY-MM-DD")
        data_file = values["data_file"]
        if Path(data_file).name != data_file or data_file.startswith("."):
            raise ValueError(f"'data_file' {_shown(data_file)} is not a file of the cache folder")
        return cls(**values)


_DATE_FIELDS = ("first_date", "last_date", "requested_start", "checked_through", "listed")


def _is_iso_date(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class CachedHistory:
    """A verified cache entry: the bars and the metadata that vouches for them."""

    history: PriceHistory
    entry: CacheEntry


@dataclass(frozen=True)
class CacheStatus:
    """Freshness of one symbol: ``state`` is fresh, stale, missing or corrupt."""

    symbol: str
    state: str
    message: str
    entry: CacheEntry | None = None
    last_session: pd.Timestamp | None = None

    @property
    def stale(self) -> bool:
        return self.state == "stale"


@dataclass
class ImportReport:
    """What :meth:`PriceCache.import_folder` did: symbols imported and files it could not use."""

    imported: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Files


#: The datetime unit of the date index :func:`engine.data.prices.tidy_frame` produces
#: (``us`` on pandas 3, ``ns`` before), so cached, downloaded and CSV histories have identical
#: indexes.
DATE_DTYPE = pd.to_datetime(pd.Series(["2024-01-02"]), format="%Y-%m-%d").dtype


def date_index(values: object) -> pd.DatetimeIndex:
    """A naive ``DatetimeIndex`` named ``date`` in :data:`DATE_DTYPE`."""
    return pd.DatetimeIndex(values, name="date").astype(DATE_DTYPE)


def frame_to_parquet(frame: pd.DataFrame) -> bytes:
    """The bars as parquet bytes: a ``date`` column then the price columns as float64."""
    table = frame.loc[:, list(PRICE_COLUMNS)].astype("float64")
    table.index = date_index(table.index)
    buffer = io.BytesIO()
    table.reset_index().to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def frame_from_parquet(data: bytes) -> pd.DataFrame:
    table = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    frame = table.set_index(date_index(table.pop("date")))
    return frame.loc[:, list(PRICE_COLUMNS)].astype("float64")


def symbol_from_stem(stem: str) -> str:
    """Invert :func:`~engine.symbols.file_stem` for the usual cases: a leading ``_`` is ``^``
    (``_HSI`` -> ``^HSI``) and a trailing ``_X`` is ``=X`` (``CNY_X`` -> ``CNY=X``)."""
    symbol = stem
    if symbol.startswith("_"):
        symbol = "^" + symbol[1:]
    if re.fullmatch(r"[A-Za-z]{3,6}_X", symbol):
        symbol = symbol[:-2] + "=X"
    return symbol


# ---------------------------------------------------------------------------------------------
# Reading CSV exports (shared layout and yfinance)


_COLUMN_ALIASES = {
    "datetime": "date",
    "adj close": "adj_close",
    "adjclose": "adj_close",
    "adj_close": "adj_close",
}


def _normalise_column(name: object) -> str:
    text = str(name).strip().lower()
    return _COLUMN_ALIASES.get(text, text.replace(" ", "_"))


def _local_dates(values: pd.Series) -> pd.Series:
    """``2024-01-02``, ``2024-01-02 00:00:00+08:00`` -> ``2024-01-02``: the date as written (the
    exchange's local date), never converted to UTC."""
    text = values.astype("string").str.strip()
    date_part = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[ T].*)?$", expand=False)
    return date_part.fillna(text).astype(object)


def read_price_csv(path: Path) -> dict[str, pd.DataFrame]:
    """Read a price CSV into tidy bars, keyed by symbol.

    Two layouts are accepted: the shared layout (``date,open,high,low,close,adj_close,volume``;
    the symbol comes from the file name) and yfinance's ``download().to_csv()`` export with its
    three header rows (``Price,Adj Close,Close,...`` / ``Ticker,NVDA,...`` / ``Date,,,...``), which
    may hold several tickers.  Column names are matched case-insensitively (``Adj Close`` is
    ``adj_close``) and ``Dividends``/``Stock Splits``/``Capital Gains`` columns are ignored.
    """
    try:
        head = pd.read_csv(path, header=None, nrows=3, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise PriceFileError(path, "file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise PriceFileError(path, f"not a readable CSV file ({error})") from None
    first = [str(v).strip().lower() for v in head.iloc[:, 0]]
    if len(first) >= 2 and first[0] == "price" and first[1] == "ticker":
        return _read_yfinance_multiheader(path, head)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    raw.columns = [_normalise_column(c) for c in raw.columns]
    if "date" in raw:
        raw["date"] = _local_dates(raw["date"])
    symbol = symbol_from_stem(path.stem)
    return {symbol: tidy_frame(raw, str(path))}


def _read_yfinance_multiheader(path: Path, head: pd.DataFrame) -> dict[str, pd.DataFrame]:
    skip = (
        3 if len(head) >= 3 and str(head.iloc[2, 0]).strip().lower() in ("date", "datetime") else 2
    )
    prices = [_normalise_column(v) for v in head.iloc[0, 1:]]
    tickers = [str(v).strip() for v in head.iloc[1, 1:]]
    body = pd.read_csv(
        path, header=None, skiprows=skip, dtype=str, keep_default_na=False, na_values=[""]
    )
    if body.shape[1] != len(prices) + 1:
        raise PriceFileError(
            path, f"{body.shape[1]} columns in the data rows but {len(prices) + 1} in the header"
        )
    out: dict[str, pd.DataFrame] = {}
    for ticker in dict.fromkeys(tickers):
        columns = {"date": _local_dates(body.iloc[:, 0])}
        for position, (price, owner) in enumerate(zip(prices, tickers, strict=True), start=1):
            if owner == ticker and price in PRICE_COLUMNS:
                columns[price] = body.iloc[:, position]
        out[ticker] = tidy_frame(pd.DataFrame(columns), f"{path} (ticker {ticker})")
    return out


def _sources_table(folder: Path) -> dict[str, dict[str, str]]:
    """Per-file ``adjustment``/``currency``/``source`` from a ``SOURCES.md`` summary table (the
    shared data's convention), keyed by file name; empty when there is none."""
    path = folder / "SOURCES.md"
    if not path.is_file():
        return {}
    header: list[str] | None = None
    rows: dict[str, dict[str, str]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        row = dict(zip(header, cells, strict=False))
        name = row.get("file", "")
        if name.endswith(".csv"):
            rows.setdefault(name, row)
    return rows


# ---------------------------------------------------------------------------------------------
# The cache


#: Largest metadata file read (they hold a few hundred bytes).
MAX_METADATA_BYTES = 100_000


def _read_entry(path: Path) -> CacheEntry:
    """The checked entry of one metadata file; FileNotFoundError when it is absent."""
    if not path.exists() and not path.is_symlink():
        raise FileNotFoundError(path)
    try:
        data = read_bounded(path, MAX_METADATA_BYTES)
    except UnreadableFile as error:
        raise ValueError(error.reason) from None
    return CacheEntry.from_mapping(json.loads(data.decode("utf-8")))


class PriceCache:
    """Per-symbol parquet + metadata store; see the module docstring for layout and guarantees."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_root()
        self.folder = self.root / "prices"
        for path in (self.root, self.folder):
            # checked once here: otherwise every entry would read as absent or corrupted
            if path.exists() and not path.is_dir():
                named = f"${CACHE_ENV}" if root is None else "--cache"
                raise OptionError(
                    named,
                    f"the price cache {path} is a file, not a folder",
                    f"point --cache or ${CACHE_ENV} at a folder; it is created if missing",
                )

    def __repr__(self) -> str:
        return f"PriceCache({str(self.root)!r})"

    # -- paths and locking ----------------------------------------------------------------

    def data_path(self, symbol: str) -> Path:
        return self.folder / f"{file_stem(symbol)}.parquet"

    def meta_path(self, symbol: str) -> Path:
        return self.folder / f"{file_stem(symbol)}.json"

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """An advisory lock on ``.lock``: exclusive for writers, shared for readers.  Where
        ``fcntl`` does not exist (Windows) atomic replacement alone protects the files."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        if not exclusive and not self.folder.is_dir():
            yield  # nothing cached yet: a read must not create the cache folder
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / ".lock", "a+b")  # noqa: SIM115 - held across the yield
        except OSError as error:
            if exclusive:
                raise CacheError(
                    f"cannot write the price cache {self.folder}: {error.strerror or error}",
                    f"set ${CACHE_ENV} to a writable folder",
                ) from None
            yield  # read-only cache folder: reading without a lock is still safe
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- reading ----------------------------------------------------------------------------

    def entry(self, symbol: str) -> CacheEntry | None:
        """The metadata of ``symbol`` without checking its data file; None if absent.  Raises
        :class:`CacheCorrupted` when the JSON cannot be read."""
        path = self.meta_path(symbol)
        try:
            entry = _read_entry(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as error:
            raise CacheCorrupted(symbol, path, f"unreadable metadata: {error}") from None
        if entry.symbol != symbol:
            raise CacheCorrupted(symbol, path, f"its metadata names {_shown(entry.symbol)}")
        return entry

    def load(self, symbol: str) -> CachedHistory | None:
        """The verified bars and metadata of ``symbol``; None if it is not cached.

        Raises :class:`CacheCorrupted` when the data file is missing, truncated or altered
        (its SHA-256 differs from the metadata), cannot be parsed, or holds a value no bar may
        hold (:func:`engine.data.prices.first_bad_value`; written by an older basket, say).
        """
        with self._locked(exclusive=False):
            entry = self.entry(symbol)
            if entry is None:
                return None
            path = self.folder / entry.data_file
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise CacheCorrupted(symbol, path, "data file missing") from None
            except OSError as error:
                raise CacheCorrupted(symbol, path, f"unreadable: {error.strerror}") from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            raise CacheCorrupted(
                symbol, path, f"checksum mismatch, {len(data)} bytes, sha256 {digest[:12]}…"
            )
        try:
            frame = frame_from_parquet(data)
        except Exception as error:  # checksum matched but the file is not usable parquet
            raise CacheCorrupted(symbol, path, f"unreadable parquet: {error}") from None
        if len(frame) != entry.rows:
            raise CacheCorrupted(symbol, path, f"{len(frame)} rows, metadata says {entry.rows}")
        bad = first_bad_value({c: frame[c].to_numpy() for c in PRICE_COLUMNS}, frame.index)
        if bad is not None:
            raise CacheCorrupted(symbol, path, bad.reason)
        origin = f"{entry.source} (cached {path})"
        return CachedHistory(PriceHistory(entry.symbol, frame, origin), entry)

    def read(self, symbol: str) -> PriceHistory | None:
        """The cached bars of ``symbol``, None if absent; raises :class:`CacheCorrupted`."""
        cached = self.load(symbol)
        return None if cached is None else cached.history

    def remove_leftovers(self) -> list[str]:
        """Remove the temporary files (``.<file>.pid<pid>.*.tmp``) that imports or fetches
        killed mid-write left in the cache; returns their names."""
        if not self.folder.is_dir():
            return []
        return remove_leftovers(self.folder, ".tmp")

    def entries(self) -> list[CacheEntry]:
        """Metadata of every cached symbol, sorted by symbol (unreadable JSON files are skipped
        with a :class:`CacheWarning`)."""
        if not self.folder.is_dir():
            return []
        found: list[CacheEntry] = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                entry = _read_entry(path)
                if file_stem(entry.symbol) != path.stem:
                    raise ValueError(f"it names another symbol, {_shown(entry.symbol)}")
                found.append(entry)
            except (OSError, ValueError, RecursionError) as error:
                warnings.warn(f"unreadable cache metadata {path}: {error}", CacheWarning, 2)
        return sorted(found, key=lambda e: e.symbol)

    def verify(self, symbol: str) -> str | None:
        """None when the entry is absent or sound, else why it is corrupted."""
        try:
            self.load(symbol)
        except CacheCorrupted as error:
            return error.message
        return None

    def status(self, symbol: str, now: pd.Timestamp | str | None = None) -> CacheStatus:
        """Fresh, stale, missing or corrupt, against the symbol's exchange calendar at ``now``."""
        try:
            cached = self.load(symbol)
        except CacheCorrupted as error:
            return CacheStatus(symbol, "corrupt", error.message)
        if cached is None:
            return CacheStatus(symbol, "missing", f"{symbol} is not in the cache")
        entry = cached.entry
        last_session = last_completed_session(calendar_name_of(symbol), now)
        last_bar = pd.Timestamp(entry.last_date)
        if last_bar < last_session:
            return CacheStatus(
                symbol,
                "stale",
                f"last bar {entry.last_date} predates the last completed session "
                f"{last_session.date()}",
                entry,
                last_session,
            )
        return CacheStatus(
            symbol, "fresh", f"up to date through {entry.last_date}", entry, last_session
        )

    def statuses(self, now: pd.Timestamp | str | None = None) -> list[CacheStatus]:
        """:meth:`status` of every cached symbol."""
        return [self.status(e.symbol, now) for e in self.entries()]

    # -- writing ----------------------------------------------------------------------------

    def write(self, history: PriceHistory, meta: Mapping[str, Any] | None = None) -> CacheEntry:
        """Store ``history`` atomically and return its metadata.

        ``meta`` gives the descriptive fields (``source``, ``adjustment``, ``currency``,
        ``timezone``, ``requested_start``, ``checked_through``, optionally ``listed`` and
        ``fetched_at``);
        dates, row count and checksum are computed here.
        """
        meta = dict(meta or {})
        frame = history.frame
        if frame.empty:
            raise CacheError(f"refusing to cache {history.symbol}: no bars")
        data = frame_to_parquet(frame)
        fetched_at = meta.pop("fetched_at", None) or pd.Timestamp.now(tz="UTC").isoformat(
            timespec="seconds"
        )
        entry = CacheEntry(
            symbol=history.symbol,
            source=str(meta.pop("source", history.origin)),
            fetched_at=str(fetched_at),
            first_date=str(frame.index[0].date()),
            last_date=str(frame.index[-1].date()),
            rows=len(frame),
            sha256=hashlib.sha256(data).hexdigest(),
            data_file=self.data_path(history.symbol).name,
            adjustment=str(meta.pop("adjustment", "")),
            currency=meta.pop("currency", None),
            timezone=meta.pop("timezone", None),
            requested_start=_date_text(meta.pop("requested_start", None)),
            checked_through=_date_text(meta.pop("checked_through", None)),
            listed=_date_text(meta.pop("listed", None)),
        )
        try:
            with self._locked(exclusive=True):
                self.remove_leftovers()
                atomic_write(self.data_path(history.symbol), data)
                atomic_write(self.meta_path(history.symbol), entry.to_json().encode())
        except OSError as error:
            raise CacheError(
                f"cannot write {history.symbol} to the price cache {self.folder}: "
                f"{error.strerror or error}",
                f"set ${CACHE_ENV} to a writable folder",
            ) from None
        return entry

    def remove(self, symbol: str) -> None:
        """Delete a symbol's entry (metadata first, so a half-removed entry reads as absent)."""
        with self._locked(exclusive=True):
            for path in (self.meta_path(symbol), self.data_path(symbol)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    # -- folders ----------------------------------------------------------------------------

    def import_folder(self, folder: str | Path) -> ImportReport:
        """Copy every ``*.csv`` of a price folder into the cache, replacing cached entries.

        Accepts the shared layout (:class:`engine.data.csvfolder.CsvFolderSource`) and yfinance's
        multi-header export.  A ``SOURCES.md`` summary table next to the files, if present, gives
        each file's adjustment note; the currency and time zone follow from the symbol's suffix.
        """
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise PriceFileError(folder, "is not a folder of price CSV files")
        notes = _sources_table(folder)
        report = ImportReport()
        found: dict[str, tuple[Path, pd.DataFrame]] = {}
        for path in sorted(folder.glob("*.csv")):
            try:
                frames = read_price_csv(path)
            except PriceFileError as error:
                report.problems[path.name] = error.message
                continue
            for raw_symbol, frame in frames.items():
                try:
                    symbol, _ = normalize_symbol(raw_symbol)
                except SymbolError as error:
                    report.problems[path.name] = error.message
                    continue
                if symbol in found:
                    # NVDA.csv and nvda.csv, 700.HK.csv and 0700.HK.csv, _IXIC.csv and
                    # ^IXIC.csv: importing both would silently keep whichever sorts last
                    raise PriceFileError(
                        folder,
                        f"{found[symbol][0].name} and {path.name} both hold {symbol}",
                        "keep one of the files",
                    )
                found[symbol] = (path, frame)
        for symbol, (path, frame) in found.items():
            if frame.empty:
                report.problems[symbol] = f"{path.name} has no closes"
                continue
            note = notes.get(path.name, {})
            calendar = calendar_name_of(symbol)
            try:
                currency: str | None = listing_of(symbol).currency
            except SymbolError:
                currency = None
            first = str(frame.index[0].date())
            self.write(
                PriceHistory(symbol, frame, str(path)),
                {
                    "source": f"import:{path}",
                    "adjustment": note.get("adjustment") or "as in the imported file",
                    "currency": currency,
                    "timezone": CALENDAR_TIMEZONES.get(calendar or ""),
                    "requested_start": first,
                },
            )
            report.imported.append(symbol)
        return report

    def export_folder(self, folder: str | Path, *, force: bool = False) -> list[Path]:
        """Write every cached symbol as ``<stem>.csv`` in the shared layout (readable by
        :class:`engine.data.csvfolder.CsvFolderSource`), plus ``SOURCES.json`` with the cache
        metadata.  Corrupted entries are skipped with a :class:`CacheWarning`.  Files an earlier
        export did not write (not listed in the folder's ``SOURCES.json``) are not overwritten
        unless ``force``."""
        folder = Path(folder).expanduser()
        if not force:
            ours = _exported_files(folder)
            theirs = [
                path.name
                for path in [folder / "SOURCES.json"]
                + [folder / f"{file_stem(e.symbol)}.csv" for e in self.entries()]
                if path.exists() and path.name not in ours
            ]
            if theirs:
                more = len(theirs) - 5
                shown = ", ".join(theirs[:5]) + (f" and {more} more" if more > 0 else "")
                raise OptionError(
                    "export",
                    f"{folder} holds {shown}, not written by an export",
                    "pass --force to overwrite them, or export into another folder",
                )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ResultsError(
                f"export folder {folder} cannot be written ({error.strerror or error})",
                "pass a writable folder",
            ) from None
        written: list[Path] = []
        exported: list[dict[str, Any]] = []
        for entry in self.entries():
            try:
                cached = self.load(entry.symbol)
            except CacheCorrupted as error:
                warnings.warn(error.one_line(), CacheWarning, 2)
                continue
            if cached is None:
                continue
            path = folder / f"{file_stem(entry.symbol)}.csv"
            atomic_write(path, frame_to_csv(cached.history.frame).encode())
            written.append(path)
            exported.append(asdict(cached.entry))
        atomic_write(folder / "SOURCES.json", (json.dumps(exported, indent=2) + "\n").encode())
        return written


def _exported_files(folder: Path) -> set[str]:
    """Names of the files an earlier export wrote into ``folder`` (per its ``SOURCES.json``);
    empty when there is none or it is not an export's."""
    try:
        listed = json.loads((folder / "SOURCES.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(listed, list):
        return set()
    names = {
        f"{file_stem(item['symbol'])}.csv"
        for item in listed
        if isinstance(item, dict) and isinstance(item.get("symbol"), str)
    }
    return names | {"SOURCES.json"} if names or listed == [] else set()


def frame_to_csv(frame: pd.DataFrame) -> str:
    """Bars in the shared CSV layout: ISO dates, empty cells for unknown values, floats written
    so they read back identically, volume as an integer where it is one."""
    table = frame.loc[:, list(PRICE_COLUMNS)].copy()
    volume = table["volume"]
    finite = volume.dropna()
    if (np.mod(finite, 1) == 0).all():
        table["volume"] = volume.astype("Int64")
    return table.to_csv(index_label="date", date_format="%Y-%m-%d", na_rep="", lineterminator="\n")


def _date_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(pd.Timestamp(value).date())
