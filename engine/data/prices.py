"""Daily prices per symbol, from a price source, as tidy frames.

A :class:`PriceHistory` is one symbol's daily bars keyed by the exchange's *local* trading date
(never shifted to UTC), with the columns of :data:`PRICE_COLUMNS` as floats (NaN where the source
does not know a value).  Every source (a CSV folder, Yahoo through the local cache) produces the
same thing, so the rest of the engine never knows where prices came from.

Returns are computed from ``adj_close`` where present, else ``close`` (:meth:`PriceHistory.closes`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from engine.calendars import CALENDAR_TIMEZONES, Closures
from engine.errors import PriceFileError, SymbolError
from engine.symbols import listing_of, normalize_symbol

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")
REQUIRED_COLUMNS = ("date", "close")
PRICES_ENV = "BASKET_PRICES"
#: The prices a bar may hold.  Real quotes lie far inside (a sub-penny stock, Berkshire's A
#: shares); a value outside is a unit slip or a corrupted cell, and its returns (up to 1e20
#: between the bounds, so still finite when squared or raised to the fourth power in the
#: statistics) would otherwise overflow into infinite volatilities.
PRICE_RANGE = (1e-8, 1e12)


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
    #: :class:`engine.data.flags.Flag` of the data-quality checks (their notes are in ``notes``).
    flags: list = field(default_factory=list)
    closures: Closures = field(default_factory=Closures)

    def __getitem__(self, symbol: str) -> PriceHistory:
        return self.histories[symbol]

    def fingerprints(self) -> dict[str, str]:
        return {symbol: h.fingerprint() for symbol, h in sorted(self.histories.items())}


@dataclass(frozen=True)
class BadValue:
    """The first value no bar may hold: its row position among the rows checked, why (naming
    the column, date and value) and a hint."""

    position: int
    reason: str
    hint: str | None = None


#: Columns that hold prices (``volume`` is a count of shares).
PRICE_VALUE_COLUMNS = ("open", "high", "low", "close", "adj_close")


def first_bad_value(columns: Mapping[str, np.ndarray], dates: np.ndarray) -> BadValue | None:
    """The earliest bar holding a value no source may deliver, None when every value is fine.

    The one check of values that every price source applies (CSV folders, universe files,
    Yahoo downloads, the cache on read).  A price (``open .. adj_close``) is NaN (unknown) or a
    finite number inside :data:`PRICE_RANGE`: zero, negative, infinite, sub-1e-8 and
    above-1e12 values are refused.  ``volume`` is NaN or a finite number >= 0.  ``columns`` maps
    column names to float arrays of one length (missing columns are skipped); ``dates`` are the
    bars' dates, in the same order, for the message.
    """
    low, high = PRICE_RANGE
    first: tuple[int, str] | None = None
    for column in (*PRICE_VALUE_COLUMNS, "volume"):
        if column not in columns:
            continue
        values = np.asarray(columns[column], dtype=float)
        if column == "volume":
            fine = np.isnan(values) | (np.isfinite(values) & (values >= 0))
        else:
            fine = np.isnan(values) | ((values >= low) & (values <= high))
        wrong = np.flatnonzero(~fine)
        if len(wrong) and (first is None or wrong[0] < first[0]):
            first = (int(wrong[0]), column)
    if first is None:
        return None
    position, column = first
    value = float(np.asarray(columns[column], dtype=float)[position])
    said = f"{column} on {pd.Timestamp(dates[position]).date()} is {value:g}"
    if not np.isfinite(value):
        return BadValue(position, f"{said}, not a finite number")
    if column == "volume":
        return BadValue(position, f"{said}, not >= 0")
    if value <= 0:
        return BadValue(position, f"{said}, not > 0")
    return BadValue(
        position,
        f"{said}, outside the prices basket accepts ({low:g}..{high:g})",
        "check the value: a unit slip or a corrupted cell?",
    )


def as_numbers(cells: pd.Series) -> tuple[np.ndarray, int | None]:
    """A column of numbers or text as floats (empty cells NaN), and the position of the first
    cell that holds text which is not a number (None when there is none): such a cell is an
    error to name, never a silently missing price."""
    if pd.api.types.is_float_dtype(cells) or pd.api.types.is_integer_dtype(cells):
        return cells.to_numpy(dtype=float), None
    numbers = pd.to_numeric(cells, errors="coerce")
    bad = numbers.isna() & cells.notna() & (cells.astype(str).str.strip() != "")
    first = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else None
    return numbers.to_numpy(dtype=float), first


#: A date with an optional time of day and UTC offset: ``2024-01-02``, ``2024-01-02 00:00:00``,
#: ``2024-01-02T09:30:00+08:00``, ``2024-01-01 16:00:00Z``.
_STAMP = re.compile(
    r"(?P<day>\d{4}-\d{2}-\d{2})"
    r"(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
#: Yahoo quotes currencies (``CNY=X``) in London time.
FX_TIMEZONE = "Europe/London"
OFFSET_HINT = "write the exchange's local dates as YYYY-MM-DD"


def timezone_of(symbol: str) -> str | None:
    """The time zone of a symbol's exchange (:data:`engine.calendars.CALENDAR_TIMEZONES`),
    Yahoo's London time for currencies (``CNY=X``), None when the exchange is unknown."""
    if symbol.upper().endswith("=X"):
        return FX_TIMEZONE
    try:
        return CALENDAR_TIMEZONES.get(listing_of(normalize_symbol(symbol)[0]).calendar)
    except SymbolError:
        return None


def local_dates(
    values: pd.Series, symbols: str | pd.Series
) -> tuple[pd.DatetimeIndex, BadValue | None]:
    """The exchange's local trading date of every bar, and the first date that cannot be read.

    The one reading of bar dates that every price file goes through (a ``--prices`` CSV
    folder, ``data import``, a universe file), so that they all agree:

    * ``2024-01-02``, or a time of day without an offset (``2024-01-02 16:00:00``): the date as
      written, taken to be the exchange's local date;
    * a time with a UTC offset (``2024-01-02 00:00:00+08:00``, ``2024-01-01T16:00:00Z``): an
      instant, converted to the time zone of the symbol's exchange (:func:`timezone_of`) and its
      date kept, so a Hong Kong bar that a tool wrote in UTC (16:00 the day before) lands on
      its trading day, and a yfinance export in the exchange's zone keeps its dates; a symbol
      whose exchange is unknown cannot be converted, and its first such date is refused;
    * a datetime column (parquet): naive values as dates; tz-aware ones converted as above.

    ``symbols`` is the symbol of every row (one text for a file of one symbol).  Unreadable
    rows are NaT in the result and the earliest is returned as a :class:`BadValue`.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        shown = pd.Series(values.astype(str).to_numpy())
        local, problem = _converted(pd.DatetimeIndex(values), _row_symbols(symbols), shown)
        return local, problem or _missing(local)
    if pd.api.types.is_datetime64_any_dtype(values):
        local = pd.DatetimeIndex(values).normalize()
        return local, _missing(local)
    text = pd.Series(np.asarray(values.astype(str), dtype=object)).str.strip()
    days = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    if not days.isna().any():  # the usual file: plain ISO dates, read at C speed
        return pd.DatetimeIndex(days), None
    found = text.str.extract(f"^{_STAMP.pattern}$")
    days = pd.to_datetime(found["day"], format="%Y-%m-%d", errors="coerce")
    result = pd.Series(pd.DatetimeIndex(days))
    problems: list[BadValue] = []
    unreadable = np.flatnonzero(days.isna().to_numpy())
    if len(unreadable):
        row = int(unreadable[0])
        problems.append(BadValue(row, f"date {text[row]!r} is not an ISO date (YYYY-MM-DD)"))
    at = np.flatnonzero((days.notna() & found["offset"].notna()).to_numpy())
    if len(at):
        instants = pd.to_datetime(text[at], utc=True, format="ISO8601", errors="coerce")
        of_rows = _row_symbols(symbols if isinstance(symbols, str) else symbols.iloc[at])
        local, problem = _converted(
            pd.DatetimeIndex(instants), of_rows, text[at].reset_index(drop=True)
        )
        result[at] = np.asarray(local, dtype=result.dtype)
        if problem is not None:
            problems.append(BadValue(int(at[problem.position]), problem.reason, problem.hint))
    first = min(problems, key=lambda p: p.position) if problems else None
    return pd.DatetimeIndex(result.to_numpy()), first


def _row_symbols(symbols: str | pd.Series) -> str | pd.Series:
    return symbols if isinstance(symbols, str) else pd.Series(np.asarray(symbols, dtype=object))


def _missing(dates: pd.DatetimeIndex) -> BadValue | None:
    """The first row without a date (a null in a datetime column)."""
    empty = np.flatnonzero(dates.isna())
    return BadValue(int(empty[0]), "date is missing") if len(empty) else None


def _converted(
    instants: pd.DatetimeIndex, symbols: str | pd.Series, shown: pd.Series
) -> tuple[pd.DatetimeIndex, BadValue | None]:
    """Instants (tz-aware) as the local dates of each row's exchange (see :func:`local_dates`);
    ``symbols`` is one symbol or one per row, ``shown`` the values as written."""
    result = np.full(len(instants), np.datetime64("NaT"), dtype="datetime64[ns]")
    utc = instants.tz_convert("UTC")
    problems = []
    if utc.isna().any():
        row = int(np.flatnonzero(utc.isna())[0])
        problems.append(BadValue(row, f"date {shown[row]!r} is not an ISO date (YYYY-MM-DD)"))
    if isinstance(symbols, str):
        groups = {symbols: np.arange(len(instants))}
    else:
        groups = symbols.groupby(symbols, sort=False).indices
    for symbol, rows in groups.items():
        zone = timezone_of(str(symbol))
        if zone is None:
            problems.append(BadValue(
                int(rows[0]),
                f"date {shown[rows[0]]!r} has a UTC offset, but the time zone of {symbol}'s "
                "exchange is unknown, so its local date is not known",
                OFFSET_HINT,
            ))
            continue
        local = utc[rows].tz_convert(zone).tz_localize(None).normalize()
        result[rows] = np.asarray(local, dtype="datetime64[ns]")
    first = min(problems, key=lambda p: p.position) if problems else None
    return pd.DatetimeIndex(result), first


def tidy_frame(raw: pd.DataFrame, origin: str, symbol: str, first_row: int = 2) -> pd.DataFrame:
    """Check and normalise a bars table of ``symbol`` with a ``date`` column into the
    :class:`PriceHistory` layout (dates read by :func:`local_dates`).  Raises
    :class:`PriceFileError` naming ``origin`` and the bad row (``first_row`` is the line number
    of the table's first row in the file) or column."""
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
    dates, bad = local_dates(raw["date"], symbol)
    if bad is not None:
        raise PriceFileError(origin, f"row {bad.position + first_row}: {bad.reason}", bad.hint)
    values = {}
    for column in PRICE_COLUMNS:
        if column not in raw:
            values[column] = np.full(len(raw), np.nan)
            continue
        numbers, row = as_numbers(raw[column])
        if row is not None:
            raise PriceFileError(
                origin, f"row {row + first_row}: {column} {raw[column].iloc[row]!r} is not a number"
            )
        values[column] = numbers
    bad = first_bad_value(values, dates.to_numpy())
    if bad is not None:
        raise PriceFileError(origin, f"row {bad.position + first_row}: {bad.reason}", bad.hint)
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))
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


