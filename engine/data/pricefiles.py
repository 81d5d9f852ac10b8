"""Price CSV files in and out of the cache: the shared layout (``date,open,high,low,close,
adj_close,volume``, the symbol in the file name) and yfinance's multi-header export on the way in,
the shared layout on the way out.

:func:`read_price_csv` reads one file, :func:`read_price_folder` a whole folder (with the
adjustment notes of its ``SOURCES.md`` table, and the cache metadata each file will be stored
with), :func:`frame_to_csv` writes bars back, and :func:`refuse_foreign_files` keeps an export
from overwriting files an earlier export did not write.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.calendars import CALENDAR_TIMEZONES
from engine.data.freshness import calendar_name_of
from engine.data.prices import PRICE_COLUMNS, tidy_frame
from engine.errors import OptionError, PriceFileError, SymbolError
from engine.symbols import file_stem, listing_of, normalize_symbol, symbol_from_stem

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


def read_price_csv(path: Path) -> dict[str, pd.DataFrame]:
    """Read a price CSV into tidy bars, keyed by symbol.

    Two layouts are accepted: the shared layout (``date,open,high,low,close,adj_close,volume``;
    the symbol comes from the file name) and yfinance's ``download().to_csv()`` export with its
    three header rows (``Price,Adj Close,Close,...`` / ``Ticker,NVDA,...`` / ``Date,,,...``), which
    may hold several tickers.  Column names are matched case-insensitively (``Adj Close`` is
    ``adj_close``) and ``Dividends``/``Stock Splits``/``Capital Gains`` columns are ignored.
    Dates are read as ``--prices`` folders read them (:func:`engine.data.prices.local_dates`).
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
    symbol = symbol_from_stem(path.stem)
    return {symbol: tidy_frame(raw, str(path), symbol)}


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
        columns = {"date": body.iloc[:, 0]}
        for position, (price, owner) in enumerate(zip(prices, tickers, strict=True), start=1):
            if owner == ticker and price in PRICE_COLUMNS:
                columns[price] = body.iloc[:, position]
        out[ticker] = tidy_frame(pd.DataFrame(columns), f"{path} (ticker {ticker})", ticker,
                                 first_row=skip + 1)
    return out


def sources_table(folder: Path) -> dict[str, dict[str, str]]:
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


@dataclass(frozen=True)
class ImportedFile:
    """The bars of one symbol read from a price folder, and the cache metadata they are stored
    with (source, adjustment note, currency and time zone of the symbol's listing)."""

    symbol: str
    path: Path
    frame: pd.DataFrame
    meta: dict[str, Any]


def read_price_folder(folder: Path) -> tuple[list[ImportedFile], dict[str, str]]:
    """Every ``*.csv`` of ``folder`` as :class:`ImportedFile` s, and the files (or symbols) that
    cannot be used with the reason.  Two files holding the same symbol (``NVDA.csv`` and
    ``nvda.csv``) are a :class:`PriceFileError`: importing both would keep whichever sorts last."""
    if not folder.is_dir():
        raise PriceFileError(folder, "is not a folder of price CSV files")
    notes = sources_table(folder)
    problems: dict[str, str] = {}
    found: dict[str, tuple[Path, pd.DataFrame]] = {}
    for path in sorted(folder.glob("*.csv")):
        try:
            frames = read_price_csv(path)
        except PriceFileError as error:
            problems[path.name] = error.message
            continue
        for raw_symbol, frame in frames.items():
            try:
                symbol, _ = normalize_symbol(raw_symbol)
            except SymbolError as error:
                problems[path.name] = error.message
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
    files: list[ImportedFile] = []
    for symbol, (path, frame) in found.items():
        if frame.empty:
            problems[symbol] = f"{path.name} has no closes"
            continue
        note = notes.get(path.name, {})
        try:
            currency: str | None = listing_of(symbol).currency
        except SymbolError:
            currency = None
        meta = {
            "source": f"import:{path}",
            "adjustment": note.get("adjustment") or "as in the imported file",
            "currency": currency,
            "timezone": CALENDAR_TIMEZONES.get(calendar_name_of(symbol) or ""),
            "requested_start": str(frame.index[0].date()),
        }
        files.append(ImportedFile(symbol, path, frame, meta))
    return files, problems


# ---------------------------------------------------------------------------------------------
# Writing the shared layout


def frame_to_csv(frame: pd.DataFrame) -> str:
    """Bars in the shared CSV layout: ISO dates, empty cells for unknown values, floats written
    so they read back identically, volume as an integer where it is one."""
    table = frame.loc[:, list(PRICE_COLUMNS)].copy()
    volume = table["volume"]
    finite = volume.dropna()
    if (np.mod(finite, 1) == 0).all():
        table["volume"] = volume.astype("Int64")
    return table.to_csv(index_label="date", date_format="%Y-%m-%d", na_rep="", lineterminator="\n")


def exported_files(folder: Path) -> set[str]:
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


def refuse_foreign_files(folder: Path, symbols: Iterable[str]) -> None:
    """:class:`OptionError` when ``folder`` holds a ``SOURCES.json`` or a ``<stem>.csv`` of one of
    ``symbols`` that an earlier export did not write (its ``SOURCES.json`` does not list it)."""
    ours = exported_files(folder)
    theirs = [
        path.name
        for path in [folder / "SOURCES.json"] + [folder / f"{file_stem(s)}.csv" for s in symbols]
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
