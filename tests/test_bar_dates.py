"""Bar dates with a time and a UTC offset: every price reader (``--prices FOLDER``, ``data
import``, a universe file) goes through :func:`engine.data.prices.local_dates` and takes the same
decision: the instant is converted to the exchange's time zone and its date kept; a symbol
whose exchange is unknown is refused with the same one-line error on every path."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import write_table

from engine.data.cache import PriceCache
from engine.data.csvfolder import CsvFolderSource
from engine.data.prices import local_dates
from engine.data.universe import UniverseSource
from engine.errors import PriceFileError

# (written, symbol, local date): worked out by hand from the exchanges' UTC offsets
# (Hong Kong +8 all year, New York -5 in January and -4 in July, London +1 in July).
CASES = [
    ("2024-01-02", "0700.HK", "2024-01-02"),
    ("2024-01-02 16:00:00", "0700.HK", "2024-01-02"),  # no offset: the date as written
    ("2024-01-02 00:00:00+08:00", "0700.HK", "2024-01-02"),  # yfinance history() export
    ("2024-01-01 16:00:00+00:00", "0700.HK", "2024-01-02"),  # the same instant written in UTC
    ("2024-01-01T15:59:59Z", "0700.HK", "2024-01-01"),  # 23:59:59 in Hong Kong
    ("2024-01-02 05:00:00+00:00", "NVDA", "2024-01-02"),  # midnight in New York (EST)
    ("2024-01-02 04:00:00+00:00", "NVDA", "2024-01-01"),  # 23:00 the day before in New York
    ("2024-07-01T04:00:00Z", "NVDA", "2024-07-01"),  # midnight in New York (EDT)
    ("2024-01-02 21:00:00+00:00", "NVDA", "2024-01-02"),  # the close, 16:00 EST
    ("2024-06-30 23:00:00+00:00", "CNY=X", "2024-07-01"),  # Yahoo's London midnight (BST)
    ("2024-01-02 00:00:00+0800", "688981.SS", "2024-01-02"),
]


@pytest.mark.parametrize(("written", "symbol", "local"), CASES)
def test_local_dates_follow_the_exchange_time_zone(written, symbol, local):
    dates, bad = local_dates(pd.Series([written]), symbol)
    assert bad is None
    assert str(dates[0].date()) == local


def test_an_offset_on_a_symbol_without_known_exchange_is_refused():
    dates, bad = local_dates(pd.Series(["2024-01-02", "2024-01-03T00:00:00+08:00"]), "1234.XX")
    assert bad is not None and bad.position == 1
    assert bad.reason == (
        "date '2024-01-03T00:00:00+08:00' has a UTC offset, but the time zone of 1234.XX's "
        "exchange is unknown, so its local date is not known"
    )


@pytest.mark.parametrize("written", ["2024-13-01", "2024-01-02 25:00:00+08:00", "yesterday"])
def test_an_unreadable_date_is_named(written):
    _, bad = local_dates(pd.Series(["2024-01-02", written]), "NVDA")
    assert bad is not None and (bad.position, bad.reason) == (
        1, f"date {written!r} is not an ISO date (YYYY-MM-DD)"
    )


# -- the same file through both readers -----------------------------------------------------------

#: Tencent's first three sessions of 2024 as a tool that converts to UTC writes them
#: (vectorbt's YFData does): midnight in Hong Kong is 16:00 UTC the day before.
UTC_STAMPED = (
    "Date,Close,Adj Close\n"
    "2024-01-01 16:00:00+00:00,288.0,280.1\n"
    "2024-01-02 16:00:00+00:00,289.4,281.5\n"
    "2024-01-03 16:00:00+00:00,283.6,275.8\n"
)
HK_DAYS = ["2024-01-02", "2024-01-03", "2024-01-04"]


def test_prices_folder_and_data_import_read_the_same_file_to_the_same_bars(tmp_path):
    folder = tmp_path / "prices"
    folder.mkdir()
    (folder / "0700.HK.csv").write_text(UTC_STAMPED)
    direct = CsvFolderSource(folder).read("0700.HK").frame
    cache = PriceCache(tmp_path / "cache")
    assert cache.import_folder(folder).problems == {}
    imported = cache.read("0700.HK")
    assert imported is not None
    assert list(direct.index.strftime("%Y-%m-%d")) == HK_DAYS
    pd.testing.assert_frame_equal(direct, imported.frame, check_freq=False)
    assert direct["adj_close"].tolist() == [280.1, 281.5, 275.8]


def test_prices_folder_and_data_import_refuse_an_unknown_zone_alike(tmp_path, cli):
    folder = tmp_path / "prices"
    folder.mkdir()
    (folder / "1234.XX.csv").write_text("date,close\n2024-01-02T00:00:00+09:00,10\n")
    expected = (
        f"{folder / '1234.XX.csv'}: row 2: date '2024-01-02T00:00:00+09:00' has a UTC offset, "
        "but the time zone of 1234.XX's exchange is unknown, so its local date is not known"
    )
    with pytest.raises(PriceFileError) as direct:
        CsvFolderSource(folder).read("1234.XX")
    assert direct.value.message == expected
    result = cli("data", "--cache", tmp_path / "cache", "import", folder)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"refused 1234.XX.csv: {expected}\n")


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_universe_file_converts_instants_per_symbol(tmp_path, kind):
    frame = pd.DataFrame({
        "symbol": ["0700.HK"] * 2 + ["NVDA"] * 2,
        "date": pd.to_datetime(["2024-01-01 16:00Z", "2024-01-02 16:00Z",
                                "2024-01-02 05:00Z", "2024-01-03 05:00Z"]),
        "close": [288.0, 289.4, 48.2, 47.6],
    })
    path = write_table(tmp_path / f"u.{kind}", frame)
    source = UniverseSource(path)
    histories, _ = source.fetch(["0700.HK", "NVDA"])
    assert list(histories["0700.HK"].frame.index.strftime("%Y-%m-%d")) == HK_DAYS[:2]
    assert list(histories["NVDA"].frame.index.strftime("%Y-%m-%d")) == HK_DAYS[:2]
    matrix = source.matrix(pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-03"))
    assert matrix.closes.tolist() == [[289.4, 47.6]]
