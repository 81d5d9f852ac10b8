"""A CSV folder price source: one ``SYMBOL.csv`` per symbol (the layout of shared/data/prices)."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from engine.data.prices import PRICES_ENV, Day, Fetched, PriceHistory, tidy_frame
from engine.errors import OptionError, PriceFileError
from engine.files import UnreadableFile, read_bounded
from engine.symbols import file_stem

#: Environment variable overriding :data:`DEFAULT_MAX_PRICE_FILE_MB`.
MAX_PRICE_FILE_ENV = "BASKET_MAX_PRICE_FILE_MB"
#: The largest price CSV read, in MB: decades of daily bars take well under 10 MB.
DEFAULT_MAX_PRICE_FILE_MB = 200


def max_price_file_bytes() -> int:
    """The size limit of one price CSV: ``$BASKET_MAX_PRICE_FILE_MB`` MB, else 200 MB."""
    configured = os.environ.get(MAX_PRICE_FILE_ENV, "").strip()
    if not configured:
        return DEFAULT_MAX_PRICE_FILE_MB * 1_000_000
    try:
        megabytes = float(configured)
    except ValueError:
        megabytes = float("nan")
    if not megabytes > 0 or megabytes == float("inf"):
        raise OptionError(
            f"${MAX_PRICE_FILE_ENV}",
            f"{configured!r} is not a positive number of MB",
            f"unset it for the default of {DEFAULT_MAX_PRICE_FILE_MB} MB",
        )
    return int(megabytes * 1_000_000)


class CsvFolderSource:
    """A folder with one ``SYMBOL.csv`` per symbol (``^`` and ``=`` written as ``_``), columns
    ``date,open,high,low,close,adj_close,volume``: the layout of ``shared/data/prices``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise OptionError(
                "--prices",
                f"price folder {self.folder} does not exist or is not a folder",
                f"point --prices or ${PRICES_ENV} at a folder of SYMBOL.csv files",
            )
        self.description = f"CSV folder {self.folder}"

    def path_of(self, symbol: str) -> Path:
        return self.folder / f"{file_stem(symbol)}.csv"

    def read(self, symbol: str) -> PriceHistory:
        """Read one symbol's file; raises :class:`PriceFileError` if it is malformed."""
        path = self.path_of(symbol)
        try:
            data = read_bounded(path, max_price_file_bytes())
        except UnreadableFile as error:
            hint = (f"raise ${MAX_PRICE_FILE_ENV} (in MB) if the file is right"
                    if "larger than the limit" in error.reason else None)
            raise PriceFileError(path, error.reason, hint) from None
        try:
            with warnings.catch_warnings():
                # A row longer than the header: pandas would silently drop its extra fields.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                # Numbers are parsed by the C reader; a column with any text in it stays text
                # and tidy_frame names the first bad cell.
                raw = pd.read_csv(
                    io.BytesIO(data), keep_default_na=False, na_values=[""], index_col=False
                )
        except pd.errors.EmptyDataError:
            raise PriceFileError(path, "file is empty") from None
        except pd.errors.ParserWarning:
            raise PriceFileError(
                path,
                "a row has more fields than the header",
                "write one value per header column on every row",
            ) from None
        except UnicodeDecodeError:
            raise PriceFileError(path, "is not UTF-8 text", "save it as a UTF-8 CSV file") from None
        except pd.errors.ParserError as error:
            detail = str(error).removeprefix("Error tokenizing data. C error: ").strip()
            raise PriceFileError(path, f"not a readable CSV file ({detail})") from None
        return PriceHistory(symbol, tidy_frame(raw, str(path), symbol), str(path))

    def fetch(self, symbols: Sequence[str], start: Day = None, end: Day = None) -> Fetched:
        histories: dict[str, PriceHistory] = {}
        problems: dict[str, str] = {}
        for symbol in symbols:
            if not self.path_of(symbol).exists():
                problems[symbol] = f"no file {self.path_of(symbol).name}"
                continue
            history = self.read(symbol)
            if history.frame.empty:
                problems[symbol] = f"{self.path_of(symbol).name} has no closes"
                continue
            histories[symbol] = history
        return histories, problems
