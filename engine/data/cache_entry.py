"""One entry of the price cache: its metadata JSON (schema and validation) and its bars file
(parquet bytes vouched for by a SHA-256 checksum).

The metadata (:class:`CacheEntry`) names the real symbol, the source, when it was fetched, the
first and last date, what was asked of the source (``requested_start``, ``checked_through``),
the listing date, the adjustment, currency and time zone, the row count, the SHA-256 of the data
file and the format version.  :meth:`CacheEntry.from_mapping` checks a JSON object against that
schema, so a hand-edited or damaged file is reported, never used.  :func:`verified_frame` turns
the bytes of a data file back into bars only when they match their metadata; otherwise it raises
:class:`CacheCorrupted`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.data.prices import PRICE_COLUMNS, PriceHistory, first_bad_value
from engine.errors import CacheError
from engine.files import UnreadableFile, read_bounded

FORMAT_VERSION = 1
#: Largest metadata file read (they hold a few hundred bytes).
MAX_METADATA_BYTES = 100_000


class CacheCorrupted(CacheError):
    """A cache entry whose data file does not match its metadata (truncated, altered, missing)."""

    def __init__(self, symbol: str, path: Path, why: str) -> None:
        self.symbol = symbol
        self.path = str(path)
        super().__init__(
            f"cache entry for {symbol} is corrupted ({why}): {path}",
            "it is ignored and refetched; `basket data status` lists the cache",
        )


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
    def describing(
        cls, history: PriceHistory, data: bytes, data_file: str, meta: dict[str, Any]
    ) -> CacheEntry:
        """The entry vouching for ``data`` (the parquet bytes of ``history``): dates, row count
        and checksum computed here, the descriptive fields taken from ``meta`` (``source``,
        ``adjustment``, ``currency``, ``timezone``, ``requested_start``, ``checked_through``,
        optionally ``listed`` and ``fetched_at``)."""
        frame = history.frame
        fetched_at = meta.get("fetched_at") or pd.Timestamp.now(tz="UTC").isoformat(
            timespec="seconds"
        )
        return cls(
            symbol=history.symbol,
            source=str(meta.get("source", history.origin)),
            fetched_at=str(fetched_at),
            first_date=str(frame.index[0].date()),
            last_date=str(frame.index[-1].date()),
            rows=len(frame),
            sha256=hashlib.sha256(data).hexdigest(),
            data_file=data_file,
            adjustment=str(meta.get("adjustment", "")),
            currency=meta.get("currency"),
            timezone=meta.get("timezone"),
            requested_start=_date_text(meta.get("requested_start")),
            checked_through=_date_text(meta.get("checked_through")),
            listed=_date_text(meta.get("listed")),
        )

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
                    raise ValueError(f"'{name}' is {shown(value)}, not a count")
            elif not (isinstance(value, str) or (value is None and spec.default is None)):
                raise ValueError(f"'{name}' is {shown(value)}, not text")
            elif name in _DATE_FIELDS and value is not None and not _is_iso_date(value):
                raise ValueError(f"'{name}' is {shown(value)}, not a date YYYY-MM-DD")
        data_file = values["data_file"]
        if Path(data_file).name != data_file or data_file.startswith("."):
            raise ValueError(f"'data_file' {shown(data_file)} is not a file of the cache folder")
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


def shown(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _date_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(pd.Timestamp(value).date())


def read_entry(path: Path) -> CacheEntry:
    """The checked entry of one metadata file; FileNotFoundError when it is absent."""
    if not path.exists() and not path.is_symlink():
        raise FileNotFoundError(path)
    try:
        data = read_bounded(path, MAX_METADATA_BYTES)
    except UnreadableFile as error:
        raise ValueError(error.reason) from None
    return CacheEntry.from_mapping(json.loads(data.decode("utf-8")))


@dataclass(frozen=True)
class CachedHistory:
    """A verified cache entry: the bars and the metadata that vouches for them."""

    history: PriceHistory
    entry: CacheEntry


# ---------------------------------------------------------------------------------------------
# The bars file


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


def verified_frame(entry: CacheEntry, path: Path, data: bytes) -> pd.DataFrame:
    """The bars in ``data`` (the bytes of the data file at ``path``) when they are what ``entry``
    vouches for: the same SHA-256, readable parquet, the same row count, and only values a bar
    may hold (:func:`engine.data.prices.first_bad_value`; an older basket may have written
    others); else :class:`CacheCorrupted` says which of these failed."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise CacheCorrupted(
            entry.symbol, path, f"checksum mismatch, {len(data)} bytes, sha256 {digest[:12]}…"
        )
    try:
        frame = frame_from_parquet(data)
    except Exception as error:  # checksum matched but the file is not usable parquet
        raise CacheCorrupted(entry.symbol, path, f"unreadable parquet: {error}") from None
    if len(frame) != entry.rows:
        raise CacheCorrupted(entry.symbol, path, f"{len(frame)} rows, metadata says {entry.rows}")
    bad = first_bad_value({c: frame[c].to_numpy() for c in PRICE_COLUMNS}, frame.index)
    if bad is not None:
        raise CacheCorrupted(entry.symbol, path, bad.reason)
    return frame
