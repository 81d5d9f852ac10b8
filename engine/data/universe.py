"""A universe price source: one long-format file of many symbols, plus a symbols table.

The file is parquet or CSV in long format, one row per (symbol, date), sorted by symbol then
date, unique: columns ``symbol, date`` and ``close`` and/or ``adj_close`` (``volume`` and the
other price columns of :data:`engine.data.prices.PRICE_COLUMNS` are optional).  The layout of
``shared/data/universe/prices.parquet``.

The **symbols table** (``symbols.csv`` beside the file, or given explicitly) describes each
symbol: ``symbol`` and, where known, ``exchange, currency, market`` (A / HK / US), ``board``,
``name``, ``industry``.  Without one, the market follows from the symbol's suffix.

As a :class:`engine.data.prices.PriceSource` it reads only the symbols asked for (pyarrow
filters skip the row groups that cannot hold them); :meth:`UniverseSource.matrix` reads every
symbol of a date range at once as one dates x symbols array, for random baskets.

A universe is the set of stocks alive at a snapshot: results built on it carry
:data:`SURVIVORSHIP_NOTE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.prices import (
    PRICE_COLUMNS,
    Day,
    Fetched,
    PriceHistory,
    as_numbers,
    first_bad_value,
    local_dates,
)
from engine.errors import OptionError, PriceFileError
from engine.symbols import listing_of

SYMBOLS_FILE = "symbols.csv"
SYMBOL_COLUMNS = ("exchange", "currency", "market", "board", "name", "industry")
SURVIVORSHIP_NOTE = (
    "survivorship: the universe holds the stocks alive when it was built (no delisted names), "
    "so random baskets drawn from it are biased towards survivors"
)
#: Market of a symbol from its suffix, where the symbols table does not say.
MARKET_OF_CURRENCY = {"CNY": "A", "HKD": "HK", "USD": "US"}


def market_of(symbol: str) -> str:
    """``A`` (Shanghai/Shenzhen), ``HK`` or ``US`` from the symbol's listing currency."""
    return MARKET_OF_CURRENCY.get(listing_of(symbol).currency, listing_of(symbol).currency)


@dataclass(frozen=True)
class UniverseMatrix:
    """Every symbol of a universe over a date range, as arrays.

    ``closes`` and ``volume`` have shape ``(n_dates, n_symbols)``: closes for returns
    (``adj_close`` where known, else ``close``), NaN where a symbol has no bar; ``volume`` in
    shares, NaN where unknown.
    """

    dates: pd.DatetimeIndex
    symbols: list[str]
    closes: np.ndarray
    volume: np.ndarray


class UniverseSource:
    """A long-format price file (parquet, or CSV with a ``symbol`` column) as a price source.

    ``symbols_file`` is the symbols table; by default ``symbols.csv`` beside the file, if any.
    """

    def __init__(self, path: str | Path, symbols_file: str | Path | None = None) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise OptionError(
                "--universe",
                f"universe file {self.path} does not exist or is not a file",
                "give a long-format parquet or CSV file with symbol,date,close columns",
            )
        self.is_parquet = self.path.suffix.lower() in (".parquet", ".pq")
        self._dates_are_instants = False
        beside = self.path.parent / SYMBOLS_FILE
        if symbols_file is not None:
            self.symbols_file: Path | None = Path(symbols_file).expanduser()
            if not self.symbols_file.is_file():
                raise OptionError("--symbols", f"symbols table {self.symbols_file} does not exist")
        else:
            self.symbols_file = beside if beside.is_file() else None
        self.description = f"universe file {self.path}"
        self.notes = [SURVIVORSHIP_NOTE]
        self._check_columns()

    # -- reading ---------------------------------------------------------------------------

    def _columns(self) -> list[str]:
        if self.is_parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                schema = pq.read_schema(self.path)
            except Exception as error:  # pyarrow raises several kinds for a bad file
                raise PriceFileError(self.path, f"not a readable parquet file ({error})") from None
            if "date" in schema.names:
                kind = schema.field("date").type
                # instants (timestamps with a zone) become local dates only after reading, so
                # the date range cannot be pushed down to pyarrow
                self._dates_are_instants = pa.types.is_timestamp(kind) and kind.tz is not None
            return list(schema.names)
        try:
            return [str(c).strip().lower() for c in pd.read_csv(self.path, nrows=0).columns]
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
            raise PriceFileError(self.path, f"not a readable CSV file ({error})") from None

    def _check_columns(self) -> None:
        columns = self._columns()
        missing = [c for c in ("symbol", "date") if c not in columns]
        if not {"close", "adj_close"} & set(columns):
            missing.append("close")
        if missing:
            raise PriceFileError(
                self.path,
                f"missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}",
                "a universe file has one row per symbol and date: symbol,date,close[,adj_close,"
                "volume]",
            )
        self._present = [c for c in PRICE_COLUMNS if c in columns]

    def read_rows(
        self,
        symbols: Sequence[str] | None = None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """The checked rows of ``symbols`` (all when None) from ``start`` to ``end``: columns
        ``symbol`` (str), ``date`` (datetime64), and the price columns present, as floats.

        Raises :class:`PriceFileError` naming the symbol and date of a duplicate row, a row
        out of order, a bad date or a value no bar may hold."""
        wanted = ["symbol", "date", *self._present]
        if self.is_parquet:
            import pyarrow.parquet as pq

            if symbols is None:
                table = self._read_dates(wanted, start, end)
            else:
                filters = [("symbol", "in", list(symbols))]
                if start is not None and not self._dates_are_instants:
                    filters.append(("date", ">=", start.date()))
                if end is not None and not self._dates_are_instants:
                    filters.append(("date", "<=", end.date()))
                table = pq.read_table(self.path, columns=wanted, filters=filters)
            frame = _arrow_frame(table)
            del table
            _release_arrow_memory()
        else:
            frame = pd.read_csv(self.path, dtype={"symbol": str}, keep_default_na=False,
                                na_values=[""])
            frame.columns = [str(c).strip().lower() for c in frame.columns]
            frame = frame[wanted]
        if frame["symbol"].dtype != "category":
            frame["symbol"] = frame["symbol"].astype(str)
        dates = parsed_by_arrow = frame["date"]
        if self._dates_are_instants or not pd.api.types.is_datetime64_any_dtype(dates):
            # text or instants: read as every price file's dates are (local_dates)
            local, bad = local_dates(dates, frame["symbol"])
            if bad is not None:
                raise PriceFileError(
                    self.path, f"symbol {frame['symbol'].iloc[bad.position]}: {bad.reason}",
                    bad.hint,
                )
            dates = pd.Series(np.asarray(local, dtype="datetime64[ns]"), index=frame.index)
        elif dates.isna().any():  # dates arrow read: already local dates, kept without a copy
            row = int(np.flatnonzero(dates.isna().to_numpy())[0])
            raise PriceFileError(self.path, f"symbol {frame['symbol'].iloc[row]}: date is missing")
        if dates.dtype != "datetime64[ns]" or dates is not parsed_by_arrow:
            frame["date"] = dates.astype("datetime64[ns]")
        if not self.is_parquet or dates is not parsed_by_arrow:
            frame = self._select(frame, symbols, start, end)
        for column in self._present:
            if frame[column].dtype != np.float64:  # a float column is kept, not copied
                numbers, row = as_numbers(frame[column])
                if row is not None:
                    raise PriceFileError(
                        self.path,
                        f"symbol {frame['symbol'].iloc[row]}: {column} "
                        f"{frame[column].iloc[row]!r} on "
                        f"{pd.Timestamp(frame['date'].iloc[row]).date()} is not a number",
                    )
                frame[column] = numbers
        self._check_rows(frame)
        frame.index = pd.RangeIndex(len(frame))
        return frame

    def _read_dates(self, wanted: list[str], start, end):
        """Every symbol's rows from ``start`` to ``end`` as a pyarrow table, one row group at a
        time (each filtered before the next is read) with the symbols dictionary-encoded: the
        whole universe never sits in memory decompressed, nor its symbols as strings."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        file = pq.ParquetFile(self.path, read_dictionary=["symbol"])
        date_type = file.schema_arrow.field("date").type
        # Text dates and instants are parsed (and checked) after the read, then selected there.
        by_date = not self._dates_are_instants and (
            pa.types.is_date(date_type) or pa.types.is_timestamp(date_type)
        )
        parts = []
        for group in range(file.num_row_groups):
            part = file.read_row_group(group, columns=wanted)
            if by_date:
                dates = part.column("date")
                if start is not None:
                    part = part.filter(pc.greater_equal(dates, _arrow_day(start, date_type)))
                    dates = part.column("date")
                if end is not None:
                    part = part.filter(pc.less_equal(dates, _arrow_day(end, date_type)))
            parts.append(part)
        return pa.concat_tables(parts).unify_dictionaries()

    @staticmethod
    def _select(frame, symbols, start, end) -> pd.DataFrame:
        keep = np.ones(len(frame), bool)
        if symbols is not None:
            keep &= frame["symbol"].isin(list(symbols)).to_numpy()
        if start is not None:
            keep &= (frame["date"] >= start).to_numpy()
        if end is not None:
            keep &= (frame["date"] <= end).to_numpy()
        return frame[keep]

    def _check_rows(self, frame: pd.DataFrame) -> None:
        """Sorted by symbol then date, one row per (symbol, date), values that a bar may hold
        (:func:`engine.data.prices.first_bad_value`)."""
        column = frame["symbol"]
        symbol = column.cat.codes.to_numpy() if column.dtype == "category" else column.to_numpy()
        names = column.cat.categories if column.dtype == "category" else None

        def name(row: int) -> str:
            return str(names[symbol[row]]) if names is not None else str(symbol[row])

        date = frame["date"].to_numpy()
        same = symbol[1:] == symbol[:-1]
        step = date[1:] - date[:-1]
        twice = np.flatnonzero(same & (step == np.timedelta64(0)))
        if len(twice):
            row = twice[0] + 1
            raise PriceFileError(
                self.path,
                f"symbol {name(row)}: date {pd.Timestamp(date[row]).date()} appears more than "
                "once",
                "keep one row per symbol and date",
            )
        backwards = np.flatnonzero(same & (step < np.timedelta64(0)))
        if len(backwards):
            row = backwards[0] + 1
            raise PriceFileError(
                self.path,
                f"symbol {name(row)}: dates are not ascending "
                f"({pd.Timestamp(date[row]).date()} follows {pd.Timestamp(date[row - 1]).date()})",
                "sort the file by symbol, then date",
            )
        starts = np.concatenate([[0], np.flatnonzero(~same) + 1]) if len(symbol) else []
        seen = pd.Index(symbol[starts])
        if seen.has_duplicates:
            again = name(starts[np.flatnonzero(seen.duplicated())[0]])
            raise PriceFileError(
                self.path,
                f"the rows of symbol {again} are not together",
                "sort the file by symbol, then date",
            )
        bad = first_bad_value({c: frame[c].to_numpy() for c in self._present}, date)
        if bad is not None:
            raise PriceFileError(self.path, f"symbol {name(bad.position)}: {bad.reason}", bad.hint)

    # -- the price source ------------------------------------------------------------------

    @cached_property
    def available(self) -> set[str]:
        """Every symbol of the file (from the symbols table when there is one: cheaper)."""
        if self.symbols_file is not None:
            return set(self.symbols_table().index)
        if self.is_parquet:
            import pyarrow.parquet as pq

            column = pq.read_table(self.path, columns=["symbol"]).column("symbol")
            return set(column.unique().to_pylist())
        return set(pd.read_csv(self.path, usecols=["symbol"], dtype=str)["symbol"])

    def fetch(self, symbols: Sequence[str], start: Day = None, end: Day = None) -> Fetched:
        """Histories of ``symbols`` (every date the file has: quality checks look at all)."""
        rows = self.read_rows(list(dict.fromkeys(symbols)))
        histories: dict[str, PriceHistory] = {}
        for symbol, group in rows.groupby("symbol", sort=False, observed=True):
            frame = pd.DataFrame(
                {c: group[c].to_numpy(float) if c in group else np.nan for c in PRICE_COLUMNS},
                index=pd.DatetimeIndex(group["date"].to_numpy(), name="date"),
            )
            frame = frame[frame["close"].notna() | frame["adj_close"].notna()]
            if not frame.empty:
                histories[str(symbol)] = PriceHistory(str(symbol), frame, str(self.path))
        problems = {s: f"not in {self.path.name}" for s in symbols if s not in histories}
        return histories, problems

    # -- the universe as a whole -----------------------------------------------------------

    def symbols_table(self) -> pd.DataFrame:
        """One row per symbol of the symbols table (index ``symbol``) with the columns of
        :data:`SYMBOL_COLUMNS` (empty strings where unknown); raises :class:`PriceFileError`
        for a table without a ``symbol`` column or with a symbol twice."""
        if self.symbols_file is None:
            return pd.DataFrame(columns=list(SYMBOL_COLUMNS), index=pd.Index([], name="symbol"))
        return _read_symbols_table(self.symbols_file)

    def matrix(self, start: pd.Timestamp, end: pd.Timestamp) -> UniverseMatrix:
        """Every symbol's closes and volume from ``start`` to ``end`` as dates x symbols."""
        rows = self.read_rows(None, start, end)
        codes, symbols = pd.factorize(rows["symbol"], sort=True)
        day_codes, dates = pd.factorize(rows["date"], sort=True)
        shape = (len(dates), len(symbols))
        closes = np.full(shape, np.nan)
        volume = np.full(shape, np.nan)
        prices = rows["adj_close"] if "adj_close" in rows else rows["close"]
        if "close" in rows and "adj_close" in rows:
            prices = prices.fillna(rows["close"])
        closes[day_codes, codes] = prices.to_numpy(float)
        if "volume" in rows:
            volume[day_codes, codes] = rows["volume"].to_numpy(float)
        return UniverseMatrix(
            pd.DatetimeIndex(dates, name="date"), [str(s) for s in symbols], closes, volume
        )


def _arrow_day(day: pd.Timestamp, date_type):
    """``day`` as a pyarrow scalar comparable with a date or timestamp column."""
    import pyarrow as pa

    return pa.scalar(day.date() if pa.types.is_date(date_type) else day.to_pydatetime(),
                     date_type)


def _release_arrow_memory() -> None:
    """Hand the memory pyarrow's pool keeps after a large read back to the system."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _arrow_frame(table) -> pd.DataFrame:
    """A pyarrow table as pandas: ``symbol`` categorical (the file is sorted by it), dates
    converted by arrow (timestamps with a zone kept as instants, a text date column left to
    :meth:`UniverseSource.read_rows`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name == "symbol":
            if not pa.types.is_dictionary(column.type):
                column = pc.cast(column, pa.string()).dictionary_encode()
            encoded = column.combine_chunks()
            columns[name] = pd.Categorical.from_codes(
                encoded.indices.to_numpy(zero_copy_only=False),
                encoded.dictionary.to_pylist(),
            )
        elif name == "date" and pa.types.is_timestamp(column.type) and column.type.tz:
            columns[name] = column.to_pandas()  # instants: local_dates converts them
        elif name == "date" and (
            pa.types.is_date(column.type) or pa.types.is_timestamp(column.type)
        ):
            columns[name] = pc.cast(column, pa.timestamp("ns")).to_numpy()
        else:
            columns[name] = column.to_numpy()
    return pd.DataFrame(columns)


def _read_symbols_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise PriceFileError(path, f"not a readable CSV file ({error})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "symbol" not in table:
        raise PriceFileError(
            path,
            f"missing column symbol; found {', '.join(table.columns) or 'none'}",
            f"a symbols table has symbol and some of {', '.join(SYMBOL_COLUMNS)}",
        )
    twice = table["symbol"][table["symbol"].duplicated()]
    if len(twice):
        raise PriceFileError(path, f"symbol {twice.iloc[0]} appears more than once")
    for column in SYMBOL_COLUMNS:
        if column not in table:
            table[column] = ""
    return table.set_index("symbol")[list(SYMBOL_COLUMNS)]


def is_universe_file(path: str | Path) -> bool:
    """Whether ``--prices`` names a long-format file rather than a CSV folder."""
    return Path(path).expanduser().is_file()
