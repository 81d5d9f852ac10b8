"""The local price cache: integrity, atomic writes, staleness, import and export."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import flat_history
from yahoo_fake import SHARED_PRICES, needs_shared_prices

from engine.data.cache import CACHE_ENV, PriceCache, default_cache_root
from engine.data.cache_entry import CacheCorrupted, CacheEntry
from engine.data.csvfolder import CsvFolderSource
from engine.data.freshness import last_completed_session, session_on_or_after, target_session
from engine.data.pricefiles import read_price_csv
from engine.data.prices import PriceHistory
from engine.errors import CacheError, PriceFileError
from engine.symbols import symbol_from_stem

SHARED = CsvFolderSource(SHARED_PRICES)
SOME = ["9988.HK", "688981.SS", "NVDA", "QQQ", "^HSI", "CNY=X"]

pytestmark = needs_shared_prices


@pytest.fixture
def cache(tmp_path: Path) -> PriceCache:
    return PriceCache(tmp_path / "cache")


@pytest.fixture
def some_folder(tmp_path: Path) -> Path:
    """A few shared CSV files and the shared SOURCES.md, copied."""
    folder = tmp_path / "prices"
    folder.mkdir()
    for symbol in SOME:
        shutil.copy(SHARED.path_of(symbol), folder)
    shutil.copy(SHARED_PRICES / "SOURCES.md", folder)
    return folder


def bars(symbol: str, closes: list[float], start: str = "2024-12-23") -> PriceHistory:
    return flat_history(symbol, closes, pd.bdate_range(start, periods=len(closes)))


# -- reading and writing ------------------------------------------------------------------------


def test_write_then_read_round_trips_exactly(cache: PriceCache) -> None:
    history = SHARED.read("9988.HK")  # has NaN open/high/low/volume on placeholder bars
    entry = cache.write(history, {"source": "test", "currency": "HKD", "adjustment": "none"})
    back = cache.read("9988.HK")
    assert back is not None
    pd.testing.assert_frame_equal(back.frame, history.frame, check_freq=False)
    assert back.fingerprint() == history.fingerprint()
    assert (entry.first_date, entry.last_date, entry.rows) == ("2019-11-26", "2025-10-30", 1458)
    assert entry.sha256 == hashlib.sha256(cache.data_path("9988.HK").read_bytes()).hexdigest()
    assert pd.Timestamp(entry.fetched_at).tzinfo is not None
    assert json.loads(cache.meta_path("9988.HK").read_text())["currency"] == "HKD"


def test_read_of_an_absent_symbol_is_none(cache: PriceCache) -> None:
    assert cache.read("NVDA") is None
    assert cache.entries() == []
    assert cache.status("NVDA").state == "missing"
    assert not cache.root.exists()  # reading does not create the cache


def test_symbols_with_special_characters_use_file_stems(cache: PriceCache) -> None:
    cache.write(bars("^HSI", [1.0, 2.0]), {"source": "test"})
    cache.write(bars("CNY=X", [7.1, 7.2]), {"source": "test"})
    assert cache.data_path("^HSI").name == "_HSI.parquet"
    assert cache.meta_path("CNY=X").name == "CNY_X.json"
    assert [e.symbol for e in cache.entries()] == ["CNY=X", "^HSI"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "metadata"])
def test_damaged_entries_are_detected(cache: PriceCache, damage: str) -> None:
    cache.write(SHARED.read("NVDA"), {"source": "test"})
    path = cache.data_path("NVDA")
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(data[:-100]))
    elif damage == "flip":
        data[200] ^= 0x01
        path.write_bytes(bytes(data))
    elif damage == "delete":
        path.unlink()
    else:
        cache.meta_path("NVDA").write_text("{not json")
    with pytest.raises(CacheCorrupted, match="cache entry for NVDA is corrupted") as caught:
        cache.read("NVDA")
    assert "\n" not in caught.value.one_line()
    assert cache.status("NVDA").state == "corrupt"
    assert cache.verify("NVDA") is not None


def test_a_data_file_without_metadata_is_an_unfinished_write(cache: PriceCache) -> None:
    cache.write(SHARED.read("NVDA"), {"source": "test"})
    cache.meta_path("NVDA").unlink()
    assert cache.read("NVDA") is None


def test_remove_deletes_the_entry(cache: PriceCache) -> None:
    cache.write(SHARED.read("NVDA"), {"source": "test"})
    cache.remove("NVDA")
    assert cache.read("NVDA") is None and not cache.data_path("NVDA").exists()


def test_writes_leave_no_temporary_files(cache: PriceCache) -> None:
    for _ in range(3):
        cache.write(SHARED.read("NVDA"), {"source": "test"})
    names = sorted(p.name for p in cache.folder.iterdir())
    assert names == [".lock", "NVDA.json", "NVDA.parquet"]


def test_concurrent_writers_and_readers_never_see_a_torn_entry(cache: PriceCache) -> None:
    versions = [SHARED.read("NVDA"), SHARED.read("QQQ")]
    versions = [PriceHistory("NVDA", v.frame, "test") for v in versions]
    fingerprints = {v.fingerprint() for v in versions}
    cache.write(versions[0], {"source": "test"})
    errors: list[BaseException] = []

    def writer(history: PriceHistory) -> None:
        try:
            for _ in range(15):
                cache.write(history, {"source": "test"})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def reader() -> None:
        try:
            for _ in range(30):
                history = cache.read("NVDA")
                assert history is not None and history.fingerprint() in fingerprints
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(v,)) for v in versions]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache.verify("NVDA") is None


def test_an_empty_history_is_refused(cache: PriceCache) -> None:
    empty = bars("NVDA", [1.0]).frame.iloc[:0]
    with pytest.raises(CacheError, match="no bars"):
        cache.write(PriceHistory("NVDA", empty, "test"), {})


def test_location_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    assert PriceCache().root == tmp_path / "elsewhere"
    monkeypatch.delenv(CACHE_ENV)
    assert default_cache_root().name == "basket"


def test_entry_json_round_trips() -> None:
    entry = CacheEntry(
        "NVDA",
        "yahoo",
        "2025-01-01T00:00:00+00:00",
        "2024-01-02",
        "2024-12-31",
        252,
        "ab" * 32,
        "NVDA.parquet",
        currency="USD",
    )
    assert CacheEntry.from_mapping({**json.loads(entry.to_json()), "future_field": 1}) == entry


# -- staleness ---------------------------------------------------------------------------------


def test_last_completed_session_waits_for_the_close() -> None:
    # Hong Kong's 2024-12-31 half-day closes at 12:00 local, 04:00 UTC
    assert last_completed_session("XHKG", "2024-12-31 03:59Z") == pd.Timestamp("2024-12-30")
    assert last_completed_session("XHKG", "2024-12-31 04:00Z") == pd.Timestamp("2024-12-31")
    # Nasdaq closes at 16:00 New York time; 2025-01-01 is a holiday
    assert last_completed_session("XNAS", "2025-01-02 20:59Z") == pd.Timestamp("2024-12-31")
    assert last_completed_session("XNAS", "2025-01-02 21:01Z") == pd.Timestamp("2025-01-02")
    # Shanghai: Spring Festival 2025-01-28..2025-02-04
    assert last_completed_session("XSHG", "2025-02-04 12:00Z") == pd.Timestamp("2025-01-27")
    # no calendar (FX): the last weekday before today's UTC date
    assert last_completed_session(None, "2025-01-06 01:00Z") == pd.Timestamp("2025-01-03")


def test_target_session_is_capped_by_the_end() -> None:
    now = "2025-06-30 12:00Z"
    assert target_session("XHKG", pd.Timestamp("2025-02-01"), now) == pd.Timestamp("2025-01-28")
    assert target_session("XHKG", None, now) == pd.Timestamp("2025-06-30")


def test_session_on_or_after_skips_holidays_and_weekends() -> None:
    assert session_on_or_after("XHKG", pd.Timestamp("2024-01-01")) == pd.Timestamp("2024-01-02")
    assert session_on_or_after("XSHG", pd.Timestamp("2025-01-28")) == pd.Timestamp("2025-02-05")
    assert session_on_or_after(None, pd.Timestamp("2024-01-06")) == pd.Timestamp("2024-01-08")


def test_status_is_stale_when_the_last_bar_predates_the_last_completed_session(
    cache: PriceCache,
) -> None:
    cache.write(bars("0700.HK", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), {"source": "test"})  # ..12-30
    fresh = cache.status("0700.HK", now="2024-12-31 03:00Z")
    assert fresh.state == "fresh" and not fresh.stale
    stale = cache.status("0700.HK", now="2024-12-31 05:00Z")
    assert stale.stale and stale.last_session == pd.Timestamp("2024-12-31")
    assert "2024-12-30 predates the last completed session 2024-12-31" in stale.message
    assert [s.state for s in cache.statuses(now="2024-12-31 05:00Z")] == ["stale"]


# -- import and export ---------------------------------------------------------------------


def test_import_of_the_shared_layout(cache: PriceCache, some_folder: Path) -> None:
    report = cache.import_folder(some_folder)
    assert sorted(report.imported) == sorted(SOME) and report.problems == {}
    for symbol in SOME:
        back = cache.read(symbol)
        assert back is not None
        assert back.fingerprint() == SHARED.read(symbol).fingerprint()
    entry = cache.entry("9988.HK")
    assert entry is not None
    assert entry.currency == "HKD" and entry.timezone == "Asia/Hong_Kong"
    assert entry.adjustment.startswith("yfinance auto_adjust=True")
    assert entry.source == f"import:{some_folder / '9988.HK.csv'}"
    assert cache.entry("CNY=X").currency is None  # type: ignore[union-attr]


def test_import_reports_unusable_files(cache: PriceCache, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "NVDA.csv").write_text("date,close\n2024-01-02,1\n2024-01-02,2\n")
    (folder / "AMD.csv").write_text("date,close\n2024-01-02,1\n")
    (folder / "bad symbol.csv").write_text("date,close\n2024-01-02,1\n")
    report = cache.import_folder(folder)
    assert report.imported == ["AMD"]
    assert "appears more than once" in report.problems["NVDA.csv"]
    assert "bad symbol.csv" in report.problems
    with pytest.raises(PriceFileError):
        cache.import_folder(tmp_path / "missing")


YF_DOWNLOAD = """Price,Adj Close,Close,High,Low,Open,Volume
Ticker,NVDA,NVDA,NVDA,NVDA,NVDA,NVDA
Date,,,,,,
2024-01-02,48.14,48.17,49.29,47.59,49.24,411254000
2024-01-03,47.55,47.57,48.18,47.32,47.49,320896000
"""

YF_DOWNLOAD_TWO = """Price,Close,Close,High,High,Low,Low,Open,Open,Volume,Volume
Ticker,0700.HK,9988.HK,0700.HK,9988.HK,0700.HK,9988.HK,0700.HK,9988.HK,0700.HK,9988.HK
Date,,,,,,,,,,
2024-12-23,412.0,80.8,415.0,81.2,405.0,79.7,410.0,80.5,12000000,57974855
2024-12-24,416.4,83.3,416.4,83.3,416.4,83.3,416.4,83.3,0,0
"""

YF_HISTORY = """Date,Open,High,Low,Close,Adj Close,Volume,Dividends,Stock Splits
2024-01-02 00:00:00+08:00,30.1,30.5,29.9,30.2,30.0,1000,0.0,0.0
2024-01-03 00:00:00+08:00,30.2,30.6,30.0,30.4,30.2,1100,0.0,0.0
"""


def test_read_yfinance_download_csv_with_three_header_rows(tmp_path: Path) -> None:
    path = tmp_path / "anything.csv"
    path.write_text(YF_DOWNLOAD)
    (frame,) = read_price_csv(path).values()
    assert list(read_price_csv(path)) == ["NVDA"]
    assert list(frame.index.date.astype(str)) == ["2024-01-02", "2024-01-03"]
    assert frame.loc["2024-01-02", "close"] == 48.17
    assert frame.loc["2024-01-02", "adj_close"] == 48.14
    assert frame.loc["2024-01-03", "volume"] == 320896000


def test_import_of_yfinance_exports(cache: PriceCache, tmp_path: Path) -> None:
    folder = tmp_path / "yf"
    folder.mkdir()
    (folder / "nvda_download.csv").write_text(YF_DOWNLOAD)
    (folder / "hk_pair.csv").write_text(YF_DOWNLOAD_TWO)
    (folder / "0981.HK.csv").write_text(YF_HISTORY)
    report = cache.import_folder(folder)
    assert sorted(report.imported) == ["0700.HK", "0981.HK", "9988.HK", "NVDA"]
    hk = cache.read("9988.HK")
    assert hk is not None and hk.frame.loc["2024-12-24", "close"] == 83.3
    assert np.isnan(hk.frame.loc["2024-12-24", "adj_close"])  # auto-adjusted export: no Adj Close
    smic = cache.read("0981.HK")
    assert smic is not None  # local dates kept: +08:00 midnight is not moved to the day before
    assert list(smic.frame.index.date.astype(str)) == ["2024-01-02", "2024-01-03"]
    assert smic.frame["adj_close"].tolist() == [30.0, 30.2]


def test_export_round_trips_through_the_csv_folder_source(
    cache: PriceCache, some_folder: Path, tmp_path: Path
) -> None:
    cache.import_folder(some_folder)
    written = cache.export_folder(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(
        f"{s.replace('^', '_').replace('=', '_')}.csv" for s in SOME
    )
    exported = CsvFolderSource(tmp_path / "out")
    for symbol in SOME:
        cached = cache.read(symbol)
        assert cached is not None
        again = exported.read(symbol)
        pd.testing.assert_frame_equal(again.frame, cached.frame, check_freq=False)
    text = (tmp_path / "out" / "9988.HK.csv").read_text().splitlines()
    assert text[0] == "date,open,high,low,close,adj_close,volume"
    assert text[1] == "2019-11-26,185.775338,188.258965,185.775338,186.371414,186.371414,74549578"
    assert any(line.startswith("2024-12-24,,,,") and line.endswith(",") for line in text)
    meta = json.loads((tmp_path / "out" / "SOURCES.json").read_text())
    assert {m["symbol"] for m in meta} == set(SOME)


def test_export_skips_corrupted_entries_with_a_warning(
    cache: PriceCache, some_folder: Path, tmp_path: Path
) -> None:
    cache.import_folder(some_folder)
    cache.data_path("NVDA").write_bytes(b"broken")
    with pytest.warns(UserWarning, match="NVDA is corrupted"):
        written = cache.export_folder(tmp_path / "out")
    assert "NVDA.csv" not in {p.name for p in written}


def test_symbol_from_stem() -> None:
    assert symbol_from_stem("_HSI") == "^HSI"
    assert symbol_from_stem("CNY_X") == "CNY=X"
    assert symbol_from_stem("0700.HK") == "0700.HK"
    assert symbol_from_stem("BRK-B") == "BRK-B"
