"""Daily prices per symbol, from a price source, as tidy frames.

A :class:`PriceHistory` is one symbol's daily bars keyed by the exchange's *local* trading date
(never shifted to UTC), with the columns of :data:`PRICE_COLUMNS` as floats (NaN where the source
does not know a value).  Every source (a CSV folder, Yahoo through the local cache) produces the
same thing, so the rest of the engine never knows where prices came from.

Returns are computed from ``adj_close`` where present, else ``close`` (:meth:`PriceHistory.closes`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from engine.calendars import Closures
from engine.errors import PriceFileError

if TYPE_CHECKING:
    pass

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")
REQUIRED_COLUMNS = ("date", "close")
PRICES_ENV = "BASKET_PRICES"


@dataclass(frozen=True)
class PriceHistory:
    """One symbol's daily bars.

    ``frame`` has a tz-naive ``DatetimeIndex`` named ``date`` (the exchange's local date),
    ascending and unique, and float columns ``open, high, low, close, adj_close, volume``.
    ``origin`` says where the bars came from (a file path, ``yahoo`` ...).
    """

    symbol: str
    frame: pd.DataFrame
    origin: str

    def closes(self) -> pd.Series:
        """Closes for returns: ``adj_close`` where known, else ``close``."""
        return self.frame["adj_close"].fillna(self.frame["close"]).rename(self.symbol)

    @property
    def first_date(self) -> pd.Timestamp:
        return self.frame.index[0]

    @property
    def last_date(self) -> pd.Timestamp:
        return self.frame.index[-1]

    def fingerprint(self) -> str:
        """SHA-256 of the dates and values of the bars: equal data give an equal fingerprint
        whatever the source or file formatting."""
        digest = hashlib.sha256(self.frame.index.asi8.tobytes())
        digest.update(
            np.ascontiguousarray(self.frame[list(PRICE_COLUMNS)].to_numpy(float)).tobytes()
        )
        return digest.hexdigest()


#: A date bound of a fetch (None: all the source has).
Day = pd.Timestamp | None
#: What a source's fetch returns: the histories of the symbols that have data, and a reason for
#: each symbol that has none.
Fetched = tuple[dict[str, PriceHistory], dict[str, str]]


class PriceSource(Protocol):
    """Anything that can produce price histories for symbols."""

    #: Human-readable description used in errors and the run manifest.
    description: str

    def fetch(self, symbols: Sequence[str], start: Day, end: Day) -> Fetched:
        """Histories of the symbols that have data, and a reason for each symbol that has none.

        ``start``/``end`` are hints for sources that download; sources may return more.
        """
        ...


@dataclass
class PriceSet:
    """The histories a run uses, plus what was dropped and why, what the source and the
    data-quality checks noted about them (one line each), and the exchange closures the
    histories show (:func:`engine.market.sessions.detect_closures`)."""

    histories: dict[str, PriceHistory]
    source: str
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: :class:`engine.data.quality.Flag` of the data-quality checks (their notes are in ``notes``).
    flags: list = field(default_factory=list)
    closures: Closures = field(default_factory=Closures)

    def __getitem__(self, symbol: str) -> PriceHistory:
        return self.histories[symbol]

    def fingerprints(self) -> dict[str, str]:
        return {symbol: h.fingerprint() for symbol, h in sorted(self.histories.items())}


def tidy_frame(raw: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Check and normalise a bars table with a ``date`` column into the :class:`PriceHistory`
    layout.  Raises :class:`PriceFileError` naming ``origin`` and the bad row or column."""
    # yfinance's CSV exports spell the adjusted close "Adj Close": the same column as adj_close.
    columns = [str(c).strip().lower().replace(" ", "_") for c in raw.columns]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise PriceFileError(origin, f"column {twice[0]} appears more than once in the header")
    raw = raw.set_axis(columns, axis=1)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise PriceFileError(
            origin,
            f"missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}",
            "expected date,open,high,low,close,adj_close,volume",
        )
    dates = pd.to_datetime(raw["date"].astype(str), format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise PriceFileError(
            origin,
            f"row {row + 2}: date {raw['date'].iloc[row]!r} is not an ISO date (YYYY-MM-DD)",
        )
    values = {}
    for column in PRICE_COLUMNS:
        if column not in raw:
            values[column] = np.full(len(raw), np.nan)
            continue
        cells = raw[column]
        if pd.api.types.is_float_dtype(cells) or pd.api.types.is_integer_dtype(cells):
            numbers = cells.astype(float)
        else:
            numbers = pd.to_numeric(cells, errors="coerce")
            bad = numbers.isna() & cells.notna() & (cells.astype(str).str.strip() != "")
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise PriceFileError(
                    origin, f"row {row + 2}: {column} {cells.iloc[row]!r} is not a number"
                )
        infinite = np.isinf(numbers.to_numpy(dtype=float))
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise PriceFileError(
                origin,
                f"row {row + 2}: {column} {str(raw[column].iloc[row])!r} is not a finite number",
            )
        values[column] = numbers.to_numpy(dtype=float)
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))
    for column in ("open", "high", "low", "close", "adj_close"):
        nonpositive = frame[column] <= 0
        if nonpositive.any():
            day = frame.index[nonpositive.to_numpy()][0].date()
            raise PriceFileError(
                origin, f"{column} on {day} is {frame.loc[nonpositive, column].iloc[0]:g}, not > 0"
            )
    if frame.index.has_duplicates:
        day = frame.index[frame.index.duplicated()][0].date()
        raise PriceFileError(origin, f"date {day} appears more than once")
    if not frame.index.is_monotonic_increasing:
        position = int(np.flatnonzero(np.diff(frame.index.asi8) < 0)[0])
        raise PriceFileError(
            origin,
            f"dates are not ascending: {frame.index[position + 1].date()} follows "
            f"{frame.index[position].date()}",
            "sort the file by date",
        )
    frame = frame[frame["close"].notna() | frame["adj_close"].notna()]
    return frame


