"""The local price cache: one parquet file per symbol plus a metadata JSON that vouches for it.

Layout under the cache root (``$BASKET_CACHE``, else ``platformdirs.user_cache_dir("basket")``)::

    <root>/prices/<stem>.parquet   bars: date, open, high, low, close, adj_close, volume
    <root>/prices/<stem>.json      its metadata (:class:`engine.data.cache_entry.CacheEntry`)
    <root>/prices/.lock            advisory lock (fcntl) serialising writers against readers

``<stem>`` is :func:`engine.symbols.file_stem` (``^`` and ``=`` written ``_``); the JSON names
the real symbol.

Integrity: the parquet file is written first and the JSON second, each to a temporary file in the
same folder, fsynced and moved into place with :func:`os.replace`, under an exclusive lock (readers
take a shared one).  The JSON carries the SHA-256 of the parquet bytes, so a truncated, flipped or
half-replaced data file is detected on read (:class:`~engine.data.cache_entry.CacheCorrupted`) and
never used.  A data file without its JSON is an unfinished write and counts as absent.

:class:`PriceCache` reads, writes and removes entries, reports their freshness
(:mod:`engine.data.freshness`), clears the temporary files a killed write left, and copies price
CSV folders in and out (:mod:`engine.data.pricefiles`).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from engine.data.cache_entry import (
    CacheCorrupted,
    CachedHistory,
    CacheEntry,
    frame_to_parquet,
    read_entry,
    shown,
    verified_frame,
)
from engine.data.freshness import CacheStatus, freshness
from engine.data.pricefiles import frame_to_csv, read_price_folder, refuse_foreign_files
from engine.data.prices import PriceHistory
from engine.errors import CacheError, OptionError, ResultsError
from engine.files import atomic_write, remove_leftovers
from engine.symbols import file_stem

CACHE_ENV = "BASKET_CACHE"


class CacheWarning(UserWarning):
    """Something in the cache was ignored or replaced (corruption, revised adjustments)."""


def default_cache_root() -> Path:
    """``$BASKET_CACHE`` if set, else the per-user cache folder of ``basket``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("basket"))


@dataclass
class ImportReport:
    """What :meth:`PriceCache.import_folder` did: symbols imported and files it could not use."""

    imported: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)


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
            entry = read_entry(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as error:
            raise CacheCorrupted(symbol, path, f"unreadable metadata: {error}") from None
        if entry.symbol != symbol:
            raise CacheCorrupted(symbol, path, f"its metadata names {shown(entry.symbol)}")
        return entry

    def load(self, symbol: str) -> CachedHistory | None:
        """The verified bars and metadata of ``symbol``; None if it is not cached.

        Raises :class:`CacheCorrupted` when the data file is missing, truncated or altered
        (its SHA-256 differs from the metadata), cannot be parsed, or holds a value no bar may
        hold (:func:`engine.data.cache_entry.verified_frame`).
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
        frame = verified_frame(entry, path, data)
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
                entry = read_entry(path)
                if file_stem(entry.symbol) != path.stem:
                    raise ValueError(f"it names another symbol, {shown(entry.symbol)}")
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
        return freshness(cached.entry, now)

    def statuses(self, now: pd.Timestamp | str | None = None) -> list[CacheStatus]:
        """:meth:`status` of every cached symbol."""
        return [self.status(e.symbol, now) for e in self.entries()]

    # -- writing ----------------------------------------------------------------------------

    def write(self, history: PriceHistory, meta: Mapping[str, Any] | None = None) -> CacheEntry:
        """Store ``history`` atomically and return its metadata.

        ``meta`` gives the descriptive fields (``source``, ``adjustment``, ``currency``,
        ``timezone``, ``requested_start``, ``checked_through``, optionally ``listed`` and
        ``fetched_at``); :meth:`CacheEntry.describing` computes dates, row count and checksum.
        """
        frame = history.frame
        if frame.empty:
            raise CacheError(f"refusing to cache {history.symbol}: no bars")
        data = frame_to_parquet(frame)
        entry = CacheEntry.describing(
            history, data, self.data_path(history.symbol).name, dict(meta or {})
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
        files, problems = read_price_folder(Path(folder).expanduser())
        report = ImportReport(problems=problems)
        for file in files:
            self.write(PriceHistory(file.symbol, file.frame, str(file.path)), file.meta)
            report.imported.append(file.symbol)
        return report

    def export_folder(self, folder: str | Path, *, force: bool = False) -> list[Path]:
        """Write every cached symbol as ``<stem>.csv`` in the shared layout (readable by
        :class:`engine.data.csvfolder.CsvFolderSource`), plus ``SOURCES.json`` with the cache
        metadata.  Corrupted entries are skipped with a :class:`CacheWarning`.  Files an earlier
        export did not write (not listed in the folder's ``SOURCES.json``) are not overwritten
        unless ``force``."""
        folder = Path(folder).expanduser()
        if not force:
            refuse_foreign_files(folder, (e.symbol for e in self.entries()))
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
