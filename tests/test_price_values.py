# ruff: noqa: F811  (fixtures are imported from conftest_yahoo and requested by name)
"""One check of the values a bar may hold (:func:`engine.data.prices.first_bad_value`), applied
by every price source: a CSV folder, a universe file (parquet and long CSV), Yahoo through the
fake HTTP layer, and the cache on read.  Each path is proven with the same bad values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import write_table
from conftest_yahoo import fake_yahoo, make_source, price_cache, sleeps  # noqa: F401
from hypothesis import given, settings
from hypothesis import strategies as st
from yahoo_fake import FakeYahoo, needs_shared_prices

from engine.data.cache import CacheCorrupted, CacheWarning, PriceCache
from engine.data.csvfolder import CsvFolderSource
from engine.data.prices import PRICE_COLUMNS, PriceHistory, first_bad_value
from engine.data.universe import UniverseSource
from engine.errors import PriceFileError

DATES = pd.to_datetime(["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07"])

#: (bad close on 2025-01-06, the reason every source gives), written out by hand.
BAD_CLOSES = [
    (-1.0, "close on 2025-01-06 is -1, not > 0"),
    (0.0, "close on 2025-01-06 is 0, not > 0"),
    (np.inf, "close on 2025-01-06 is inf, not a finite number"),
    (-np.inf, "close on 2025-01-06 is -inf, not a finite number"),
    (1e-13, "close on 2025-01-06 is 1e-13, outside the prices basket accepts (1e-08..1e+12)"),
    (1e300, "close on 2025-01-06 is 1e+300, outside the prices basket accepts (1e-08..1e+12)"),
]
IDS = ["negative", "zero", "inf", "minus-inf", "below-range", "above-range"]


def closes_with(bad: float) -> list[float]:
    return [10.0, 10.5, bad, 11.0]


# -- the function ------------------------------------------------------------------------------


def test_values_inside_the_range_and_nan_are_fine():
    columns = {"close": np.array([1e-8, np.nan, 1e12, 5.0]), "volume": np.array([0, np.nan, 1, 2])}
    assert first_bad_value(columns, DATES.to_numpy()) is None


@pytest.mark.parametrize(("bad", "reason"), BAD_CLOSES, ids=IDS)
def test_first_bad_value_names_column_date_and_value(bad, reason):
    found = first_bad_value({"close": np.array(closes_with(bad))}, DATES.to_numpy())
    assert found is not None
    assert (found.position, found.reason) == (2, reason)


def test_the_earliest_bad_row_wins_whatever_its_column():
    columns = {"open": np.array([1, 1, -2, 1.0]), "volume": np.array([5, -3, 5, 5.0])}
    found = first_bad_value(columns, DATES.to_numpy())
    assert found is not None
    assert (found.position, found.reason) == (1, "volume on 2025-01-03 is -3, not >= 0")


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    st.lists(st.floats(1e-8, 1e12) | st.just(float("nan")), min_size=1, max_size=30),
    st.data(),
)
def test_one_value_out_of_range_is_found_at_its_position(prices, data):
    position = data.draw(st.integers(0, len(prices) - 1))
    bad = data.draw(st.sampled_from([0.0, -1.0, np.inf, -np.inf, 5e-9, 2e12]))
    values = np.array(prices)
    dates = pd.date_range("2025-01-01", periods=len(values)).to_numpy()
    assert first_bad_value({"adj_close": values}, dates) is None
    values[position] = bad
    found = first_bad_value({"adj_close": values}, dates)
    assert found is not None and found.position == position


# -- every source --------------------------------------------------------------------------------


@pytest.mark.parametrize(("bad", "reason"), BAD_CLOSES, ids=IDS)
def test_csv_folder_refuses_the_value_naming_file_and_row(tmp_path, bad, reason):
    frame = pd.DataFrame({"date": DATES.strftime("%Y-%m-%d"), "close": closes_with(bad)})
    frame.to_csv(tmp_path / "AAA.csv", index=False)
    with pytest.raises(PriceFileError) as raised:
        CsvFolderSource(tmp_path).read("AAA")
    assert raised.value.message == f"{tmp_path / 'AAA.csv'}: row 4: {reason}"


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize(("bad", "reason"), BAD_CLOSES, ids=IDS)
def test_universe_file_refuses_the_value_naming_file_and_symbol(tmp_path, kind, bad, reason):
    frame = pd.DataFrame({
        "symbol": ["AAA"] * 4 + ["BBB"] * 4,
        "date": list(DATES.date) * 2,
        "close": [1.0, 2.0, 3.0, 4.0, *closes_with(bad)],
    })
    path = write_table(tmp_path / f"u.{kind}", frame)
    source = UniverseSource(path)
    with pytest.raises(PriceFileError) as raised:
        source.fetch(["AAA", "BBB"])
    assert raised.value.message == f"{path}: symbol BBB: {reason}"
    with pytest.raises(PriceFileError):  # the whole-universe reader of random baskets too
        source.matrix(DATES[0], DATES[-1])
    histories, _ = source.fetch(["AAA"])  # the other symbol's rows are fine
    assert histories["AAA"].frame["close"].tolist() == [1.0, 2.0, 3.0, 4.0]


def bars(close: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame({c: np.nan for c in PRICE_COLUMNS}, index=pd.Index(DATES, name="date"))
    frame["close"] = close
    return frame


@pytest.mark.parametrize(("bad", "reason"), BAD_CLOSES, ids=IDS)
def test_cache_on_read_refuses_the_value_as_a_corrupted_entry(tmp_path, bad, reason):
    cache = PriceCache(tmp_path / "cache")
    cache.write(PriceHistory("AAA", bars(closes_with(bad)), "test"), {"source": "test"})
    with pytest.raises(CacheCorrupted) as raised:
        cache.load("AAA")
    assert f"cache entry for AAA is corrupted ({reason})" in raised.value.message


@needs_shared_prices
@pytest.mark.parametrize(("bad", "reason"), BAD_CLOSES, ids=IDS)
def test_yahoo_download_with_the_value_is_a_problem_and_nothing_is_cached(
    make_source, fake_yahoo: FakeYahoo, price_cache: PriceCache, bad, reason
):
    day = pd.Timestamp("2024-03-05")

    def damage(symbol: str, frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[day, ["close", "adj_close"]] = bad
        return frame

    fake_yahoo.transform = damage
    start, end = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-06-28")
    histories, problems = make_source().fetch(["NVDA"], start, end)
    assert histories == {}
    said = reason.replace("2025-01-06", str(day.date()))
    assert problems == {"NVDA": f"Yahoo sent {said} (nothing cached)"}
    assert price_cache.entry("NVDA") is None


@needs_shared_prices
def test_offline_run_from_a_cache_holding_a_bad_value_names_it(
    make_source, price_cache: PriceCache
):
    price_cache.write(PriceHistory("NVDA", bars(closes_with(1e-13)), "test"), {"source": "test"})
    with pytest.warns(CacheWarning, match="1e-13, outside the prices basket accepts"):
        histories, problems = make_source(offline=True).fetch(["NVDA"], DATES[0], DATES[-1])
    assert histories == {}
    assert "close on 2025-01-06 is 1e-13" in problems["NVDA"]
    assert "offline: cannot refetch" in problems["NVDA"]
