# ruff: noqa: F811  (fixtures are imported from conftest_yahoo and requested by name)
"""The Yahoo source, run through yfinance's real code against the fake HTTP layer of
``yahoo_fake`` (no network), plus one live test that skips when Yahoo cannot be reached."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest_yahoo import NOW, fake_yahoo, make_source, price_cache, sleeps  # noqa: F401
from yahoo_fake import FakeYahoo, isolated_yfinance, needs_shared_prices, read_shared

from engine.data.cache import CacheWarning, PriceCache
from engine.data.prices import PriceSource
from engine.data.yahoo import YahooSource, adjustments_revised, classify_error
from engine.errors import OptionError, SourceUnavailable
from engine.symbols import Listing

START, END = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31")
Build = Callable[..., YahooSource]

pytestmark = needs_shared_prices


def shared_between(symbol: str, start: str, end: str) -> pd.DataFrame:
    frame = read_shared(symbol)
    assert frame is not None
    return frame.loc[start:end]


def assert_matches_shared(frame: pd.DataFrame, symbol: str, start: str, end: str) -> None:
    """Same local dates and prices as the shared CSV (yfinance writes a missing volume as 0)."""
    expected = shared_between(symbol, start, end)
    assert list(frame.index.date) == list(expected.index.date)
    for column in ("open", "high", "low", "close", "adj_close"):
        np.testing.assert_allclose(frame[column], expected[column], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(frame["volume"], expected["volume"].fillna(0), rtol=1e-12)


# -- a normal fetch ---------------------------------------------------------------------------


def test_source_satisfies_the_price_source_protocol(make_source: Build) -> None:
    source: PriceSource = make_source()
    assert "Yahoo Finance" in source.description
    assert "offline" in make_source(offline=True).description


@pytest.mark.parametrize("symbol", ["0700.HK", "688981.SS", "NVDA"])
def test_fetch_keys_bars_by_the_exchange_local_date(
    make_source: Build, fake_yahoo: FakeYahoo, symbol: str
) -> None:
    histories, problems = make_source().fetch([symbol], START, END)
    assert problems == {}
    frame = histories[symbol].frame
    assert frame.index.tz is None and frame.index.name == "date"
    assert_matches_shared(frame, symbol, "2024-01-01", "2024-12-31")
    # Yahoo stamped the bars at the market open in UTC; for Asia that is 01:30 UTC the same day,
    # while yfinance's index is local midnight (16:00 UTC the day before): no UTC shift happened.
    assert frame.index[0] == pd.Timestamp("2024-01-02")
    assert [c.path for c in fake_yahoo.calls if c.chart_symbol] == [
        f"/v8/finance/chart/{symbol}"
    ] * 2  # the time-zone lookup, then the range


def test_fetch_uses_yfinance_cookie_crumb_and_range(
    make_source: Build, fake_yahoo: FakeYahoo
) -> None:
    make_source().fetch(["0700.HK"], START, END)
    hosts = {c.host for c in fake_yahoo.calls}
    assert "fc.yahoo.com" in hosts
    assert any(c.path == "/v1/test/getcrumb" for c in fake_yahoo.calls)
    (call,) = fake_yahoo.history_calls("0700.HK")
    assert call.params["crumb"] == "FakeCrumb.123"
    assert call.params["interval"] == "1d"
    first, stop = fake_yahoo.requested_range(call, "0700.HK")
    assert (first, stop) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2025-01-01"))


def test_raw_and_adjusted_closes_are_both_kept(make_source: Build, price_cache: PriceCache) -> None:
    histories, _ = make_source().fetch(["QQQ"], START, END)
    frame = histories["QQQ"].frame
    expected = shared_between("QQQ", "2024-01-01", "2024-12-31")
    np.testing.assert_allclose(frame["close"], expected["close"])
    np.testing.assert_allclose(frame["adj_close"], expected["adj_close"])
    assert (frame["adj_close"] < frame["close"]).all()  # dividends: adjusted below raw
    entry = price_cache.entry("QQQ")
    assert entry is not None and "Adj Close" in entry.adjustment


def test_cache_metadata_comes_from_yahoo(make_source: Build, price_cache: PriceCache) -> None:
    make_source().fetch(["0700.HK", "688981.SS", "NVDA"], START, END)
    entries = {e.symbol: e for e in price_cache.entries()}
    assert (entries["0700.HK"].currency, entries["0700.HK"].timezone) == ("HKD", "Asia/Hong_Kong")
    assert (entries["688981.SS"].currency, entries["688981.SS"].timezone) == (
        "CNY",
        "Asia/Shanghai",
    )
    assert (entries["NVDA"].currency, entries["NVDA"].timezone) == ("USD", "America/New_York")
    assert entries["NVDA"].source == "yahoo"
    assert entries["NVDA"].requested_start == "2024-01-01"
    assert entries["NVDA"].checked_through == "2024-12-31"


def test_without_start_asks_for_the_whole_history(
    make_source: Build, fake_yahoo: FakeYahoo
) -> None:
    histories, _ = make_source().fetch(["688981.SS"], None, END)
    assert histories["688981.SS"].first_date == pd.Timestamp("2020-07-16")
    (call,) = fake_yahoo.history_calls()
    assert fake_yahoo.requested_range(call, "688981.SS")[0] <= pd.Timestamp("1950-01-01")


# -- failures ---------------------------------------------------------------------------------


def test_rate_limit_is_retried_with_exponential_backoff(
    make_source: Build, fake_yahoo: FakeYahoo, sleeps: list[float]
) -> None:
    # yfinance asks twice per attempt (it retries once with another cookie strategy): two
    # attempts fail, the third succeeds.
    fake_yahoo.rate_limited["NVDA"] = 4
    histories, problems = make_source(backoff=1.5).fetch(["NVDA"], START, END)
    assert problems == {}
    assert_matches_shared(histories["NVDA"].frame, "NVDA", "2024-01-01", "2024-12-31")
    assert sleeps == [1.5, 3.0]


def test_rate_limit_exhausted_before_any_answer_is_source_unavailable(
    make_source: Build, fake_yahoo: FakeYahoo, sleeps: list[float], price_cache: PriceCache
) -> None:
    fake_yahoo.rate_limited["NVDA"] = 1000
    with pytest.raises(SourceUnavailable) as caught:
        make_source(retries=2).fetch(["NVDA", "0700.HK"], START, END)
    text = str(caught.value)
    assert "\n" not in text and "rate limit" in text and "3 attempts for NVDA" in text
    assert "basket data status" in text and "--prices DIR" in text and "$BASKET_PRICES" in text
    assert sleeps == [2.0, 4.0]
    assert price_cache.entries() == []


def test_rate_limit_exhausted_after_other_answers_is_a_problem(
    make_source: Build, fake_yahoo: FakeYahoo
) -> None:
    fake_yahoo.rate_limited["NVDA"] = 1000
    histories, problems = make_source(retries=1).fetch(["0700.HK", "NVDA"], START, END)
    assert list(histories) == ["0700.HK"]
    assert "rate limit" in problems["NVDA"] and "2 attempts" in problems["NVDA"]


def test_transient_network_error_is_retried(
    make_source: Build, fake_yahoo: FakeYahoo, sleeps: list[float]
) -> None:
    fake_yahoo.flaky["0700.HK"] = 1
    histories, problems = make_source().fetch(["0700.HK"], START, END)
    assert problems == {} and "0700.HK" in histories
    assert sleeps == [2.0]


def test_unreachable_yahoo_raises_source_unavailable(
    make_source: Build, fake_yahoo: FakeYahoo, sleeps: list[float]
) -> None:
    fake_yahoo.unreachable = True
    with pytest.raises(SourceUnavailable) as caught:
        make_source(retries=1).fetch(["0700.HK", "NVDA"], START, END)
    error = caught.value
    assert error.exit_code == 1
    assert error.one_line().startswith("Yahoo Finance cannot be reached: DNSError")
    assert "basket data status" in error.one_line() and "$BASKET_PRICES" in error.one_line()
    assert sleeps == [2.0]


def test_unknown_symbols_are_problems_not_empty_columns(
    make_source: Build, price_cache: PriceCache
) -> None:
    # three unknown symbols: yfinance's quoteSummary fallback answers the first two (HTTP 404),
    # its time-zone error the third
    symbols = ["ZZZZ", "0700.HK", "QQQQQ", "YYYY"]
    histories, problems = make_source().fetch(symbols, START, END)
    assert list(histories) == ["0700.HK"]
    assert set(problems) == {"ZZZZ", "QQQQQ", "YYYY"}
    for why in problems.values():
        assert "Yahoo" in why and ("404" in why or "no daily bars" in why)
    assert [e.symbol for e in price_cache.entries()] == ["0700.HK"]


def test_empty_answer_is_a_problem(make_source: Build, fake_yahoo: FakeYahoo) -> None:
    fake_yahoo.empty.add("NVDA")
    histories, problems = make_source().fetch(["NVDA"], START, END)
    assert histories == {}
    assert "no daily bars" in problems["NVDA"]


def test_one_symbol_of_three_failing(make_source: Build, fake_yahoo: FakeYahoo) -> None:
    fake_yahoo.unknown.add("688981.SS")
    histories, problems = make_source().fetch(["0700.HK", "688981.SS", "NVDA"], START, END)
    assert sorted(histories) == ["0700.HK", "NVDA"]
    assert list(problems) == ["688981.SS"]


def test_currency_mismatch_is_a_problem(
    make_source: Build, fake_yahoo: FakeYahoo, price_cache: PriceCache
) -> None:
    fake_yahoo.meta_overrides["0700.HK"] = {"currency": "USD"}
    histories, problems = make_source().fetch(["0700.HK", "NVDA"], START, END)
    assert list(histories) == ["NVDA"]
    assert "currency USD (expected HKD)" in problems["0700.HK"]
    assert "XHKG" in problems["0700.HK"]
    assert price_cache.entry("0700.HK") is None


def test_timezone_mismatch_is_a_problem(make_source: Build, fake_yahoo: FakeYahoo) -> None:
    fake_yahoo.meta_overrides["688981.SS"] = {"exchangeTimezoneName": "America/New_York"}
    _, problems = make_source().fetch(["688981.SS"], START, END)
    assert "time zone America/New_York (expected Asia/Shanghai)" in problems["688981.SS"]


def test_listing_override_accepts_another_currency(
    make_source: Build, fake_yahoo: FakeYahoo
) -> None:
    fake_yahoo.meta_overrides["0700.HK"] = {"currency": "USD"}
    source = make_source(listings={"0700.HK": Listing("XHKG", "USD")})
    histories, problems = source.fetch(["0700.HK"], START, END)
    assert problems == {} and "0700.HK" in histories


def test_fx_symbols_have_no_listing_to_check(make_source: Build) -> None:
    histories, problems = make_source().fetch(["CNY=X"], START, END)
    assert problems == {}
    assert_matches_shared(histories["CNY=X"].frame, "CNY=X", "2024-01-01", "2024-12-31")


# -- the cache ---------------------------------------------------------------------------------


def test_second_fetch_is_served_from_the_cache(make_source: Build, fake_yahoo: FakeYahoo) -> None:
    first, _ = make_source().fetch(["0700.HK", "688981.SS", "NVDA"], START, END)
    calls = len(fake_yahoo.calls)
    fake_yahoo.unreachable = True  # any request would now fail
    again, problems = make_source().fetch(["0700.HK", "688981.SS", "NVDA"], START, END)
    assert problems == {}
    assert len(fake_yahoo.calls) == calls
    for symbol, history in first.items():
        assert again[symbol].fingerprint() == history.fingerprint()
        assert "cached" in again[symbol].origin


def test_a_later_end_fetches_only_the_missing_range(
    make_source: Build, fake_yahoo: FakeYahoo
) -> None:
    make_source().fetch(["0700.HK"], START, pd.Timestamp("2024-06-30"))
    histories, _ = make_source().fetch(["0700.HK"], START, END)
    calls = fake_yahoo.history_calls("0700.HK")
    assert len(calls) == 2
    # the last cached bar is 2024-06-28; ten days of overlap before it, through the new end
    assert fake_yahoo.requested_range(calls[1], "0700.HK") == (
        pd.Timestamp("2024-06-18"),
        pd.Timestamp("2025-01-01"),
    )
    assert_matches_shared(histories["0700.HK"].frame, "0700.HK", "2024-01-01", "2024-12-31")


def test_an_earlier_start_fetches_only_the_head(make_source: Build, fake_yahoo: FakeYahoo) -> None:
    make_source().fetch(["NVDA"], START, END)
    histories, _ = make_source().fetch(["NVDA"], pd.Timestamp("2023-06-01"), END)
    calls = fake_yahoo.history_calls("NVDA")
    assert len(calls) == 2
    assert fake_yahoo.requested_range(calls[1], "NVDA") == (
        pd.Timestamp("2023-06-01"),
        pd.Timestamp("2024-01-13"),
    )
    assert_matches_shared(histories["NVDA"].frame, "NVDA", "2023-06-01", "2024-12-31")
    # asking again for that start needs nothing more
    make_source().fetch(["NVDA"], pd.Timestamp("2023-06-01"), END)
    assert len(fake_yahoo.history_calls("NVDA")) == 2


def test_a_listing_after_the_start_is_not_refetched(
    make_source: Build, fake_yahoo: FakeYahoo
) -> None:
    # 688981.SS listed on 2020-07-16: a 2019 start cannot be satisfied, and is not asked again
    make_source().fetch(["688981.SS"], pd.Timestamp("2019-01-01"), END)
    make_source().fetch(["688981.SS"], pd.Timestamp("2019-06-01"), END)
    assert len(fake_yahoo.history_calls("688981.SS")) == 1


@pytest.mark.parametrize(
    ("symbol", "first_bar"), [("9660.HK", "2024-10-24"), ("2498.HK", "2024-07-08")]
)
def test_a_cache_holding_the_whole_listing_never_fetches_an_earlier_start(
    make_source: Build, fake_yahoo: FakeYahoo, price_cache: PriceCache, symbol: str, first_bar: str
) -> None:
    # first bars as in the shared CSVs; the fake states them as Yahoo's firstTradeDate
    make_source().fetch([symbol], pd.Timestamp("2024-06-03"), END)
    entry = price_cache.load(symbol).entry
    assert (entry.first_date, entry.listed) == (first_bar, first_bar)
    histories, problems = make_source().fetch([symbol], pd.Timestamp("2020-01-02"), END)
    assert problems == {} and str(histories[symbol].frame.index[0].date()) == first_bar
    assert len(fake_yahoo.history_calls(symbol)) == 1


def test_a_cache_starting_after_the_listing_still_fetches_the_head(
    make_source: Build, fake_yahoo: FakeYahoo
) -> None:
    make_source().fetch(["9660.HK"], pd.Timestamp("2024-12-02"), END)
    histories, _ = make_source().fetch(["9660.HK"], pd.Timestamp("2024-01-02"), END)
    assert len(fake_yahoo.history_calls("9660.HK")) == 2
    assert str(histories["9660.HK"].frame.index[0].date()) == "2024-10-24"


def test_revised_adjustments_replace_the_whole_history(
    make_source: Build, fake_yahoo: FakeYahoo
) -> None:
    make_source().fetch(["QQQ"], START, pd.Timestamp("2024-06-30"))

    def new_dividend(symbol: str, frame: pd.DataFrame) -> pd.DataFrame:
        before = frame.index < pd.Timestamp("2024-09-20")
        frame.loc[before, "adj_close"] *= 0.99
        return frame

    fake_yahoo.transform = new_dividend
    source = make_source()
    histories, _ = source.fetch(["QQQ"], START, END)
    calls = fake_yahoo.history_calls("QQQ")
    assert len(calls) == 3  # the first fetch, the tail that showed the revision, the refetch
    assert fake_yahoo.requested_range(calls[2], "QQQ")[0] == START
    expected = shared_between("QQQ", "2024-01-01", "2024-12-31")
    frame = histories["QQQ"].frame
    np.testing.assert_allclose(
        frame.loc[:"2024-03-28", "adj_close"], expected.loc[:"2024-03-28", "adj_close"] * 0.99
    )
    assert any("revised its adjustments" in note for note in source.notes)


def test_imported_prices_are_extended_when_adjusted_alike(
    make_source: Build, fake_yahoo: FakeYahoo, price_cache: PriceCache, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    shared_between("QQQ", "2024-01-01", "2024-06-28").to_csv(folder / "QQQ.csv")
    price_cache.import_folder(folder)
    source = make_source()
    histories, _ = source.fetch(["QQQ"], START, END)
    (call,) = fake_yahoo.history_calls("QQQ")  # only the tail
    assert fake_yahoo.requested_range(call, "QQQ")[0] == pd.Timestamp("2024-06-18")
    assert_matches_shared(histories["QQQ"].frame, "QQQ", "2024-01-01", "2024-12-31")
    assert source.notes == []
    entry = price_cache.entry("QQQ")
    assert entry is not None and entry.source == f"yahoo + import:{folder / 'QQQ.csv'}"


def test_imported_prices_adjusted_differently_are_replaced(
    make_source: Build, fake_yahoo: FakeYahoo, price_cache: PriceCache, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    raw_only = shared_between("QQQ", "2024-01-01", "2024-06-28")
    raw_only.assign(adj_close=raw_only["close"]).to_csv(folder / "QQQ.csv")
    price_cache.import_folder(folder)
    source = make_source()
    histories, _ = source.fetch(["QQQ"], START, END)
    assert len(fake_yahoo.history_calls("QQQ")) == 2  # the tail, then everything
    assert_matches_shared(histories["QQQ"].frame, "QQQ", "2024-01-01", "2024-12-31")
    assert "adjusted differently from Yahoo's" in source.notes[0]
    entry = price_cache.entry("QQQ")
    assert entry is not None and entry.source == "yahoo"


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupted_cache_is_detected_reported_and_refetched(
    make_source: Build, fake_yahoo: FakeYahoo, price_cache: PriceCache, damage: str
) -> None:
    first, _ = make_source().fetch(["0700.HK"], START, END)
    path = price_cache.data_path("0700.HK")
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    source = make_source()
    with pytest.warns(CacheWarning, match="0700.HK is corrupted"):
        histories, problems = source.fetch(["0700.HK"], START, END)
    assert problems == {}
    assert len(fake_yahoo.history_calls("0700.HK")) == 2
    assert histories["0700.HK"].fingerprint() == first["0700.HK"].fingerprint()
    assert price_cache.verify("0700.HK") is None
    assert any("checksum mismatch" in note for note in source.notes)


def test_offline_serves_the_cache_and_reports_missing_symbols(
    make_source: Build, fake_yahoo: FakeYahoo
) -> None:
    make_source().fetch(["0700.HK"], START, END)
    calls = len(fake_yahoo.calls)
    source = make_source(offline=True)
    histories, problems = source.fetch(["0700.HK", "NVDA"], START, pd.Timestamp("2025-03-31"))
    assert list(histories) == ["0700.HK"]
    assert problems == {"NVDA": "not in cache (offline)"}
    assert len(fake_yahoo.calls) == calls
    assert any("offline, cached bars end 2024-12-31" in note for note in source.notes)


def test_offline_reports_a_corrupted_entry(make_source: Build, price_cache: PriceCache) -> None:
    make_source().fetch(["NVDA"], START, END)
    price_cache.data_path("NVDA").write_bytes(b"garbage")
    with pytest.warns(CacheWarning):
        histories, problems = make_source(offline=True).fetch(["NVDA"], START, END)
    assert histories == {}
    assert "corrupted" in problems["NVDA"] and "offline" in problems["NVDA"]


def test_staleness_follows_the_exchange_close(make_source: Build, fake_yahoo: FakeYahoo) -> None:
    # Hong Kong's half-day on 2024-12-31 closes at 12:00 local (04:00 UTC)
    make_source(now="2024-12-31 05:00Z").fetch(["0700.HK"], START, None)
    (call,) = fake_yahoo.history_calls()
    assert fake_yahoo.requested_range(call, "0700.HK")[1] == pd.Timestamp("2025-01-01")
    # 2025-01-02 before the close (16:00 local = 08:00 UTC): nothing new is complete
    make_source(now="2025-01-02 07:00Z").fetch(["0700.HK"], START, None)
    assert len(fake_yahoo.history_calls()) == 1
    # after the close the cache is stale and only the tail is asked for
    histories, _ = make_source(now="2025-01-02 08:30Z").fetch(["0700.HK"], START, None)
    calls = fake_yahoo.history_calls()
    assert len(calls) == 2
    assert fake_yahoo.requested_range(calls[1], "0700.HK") == (
        pd.Timestamp("2024-12-21"),
        pd.Timestamp("2025-01-03"),
    )
    assert histories["0700.HK"].last_date == pd.Timestamp("2025-01-02")


def test_a_symbol_without_new_bars_is_not_asked_again_for_the_same_session(
    make_source: Build, fake_yahoo: FakeYahoo, price_cache: PriceCache
) -> None:
    # the shared 0700.HK file ends on 2025-10-30; the clock says 2025-12-01
    make_source(now="2025-12-01 12:00Z").fetch(["0700.HK"], pd.Timestamp("2025-10-01"), None)
    make_source(now="2025-12-01 13:00Z").fetch(["0700.HK"], pd.Timestamp("2025-10-01"), None)
    assert len(fake_yahoo.history_calls()) == 1
    status = price_cache.status("0700.HK", now="2025-12-01 13:00Z")
    assert status.stale and "2025-10-30" in status.message


def test_progress_is_silent_when_stderr_is_not_a_terminal(
    make_source: Build, capsys: pytest.CaptureFixture[str]
) -> None:
    make_source(progress=None).fetch(["0700.HK", "NVDA", "688981.SS"], START, END)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


# -- helpers ---------------------------------------------------------------------------------


def test_adjustments_revised_compares_the_adjustment_factor() -> None:
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03"], name="date")
    old = pd.DataFrame({"close": [10.0, 11.0], "adj_close": [9.0, 9.9]}, index=index)
    same_factor = pd.DataFrame({"close": [10.5, 11.0], "adj_close": [9.45, 9.9]}, index=index)
    assert not adjustments_revised(old, same_factor)  # a corrected close is not a revision
    assert adjustments_revised(old, old.assign(adj_close=[8.9, 9.8]))
    assert adjustments_revised(old, old.set_axis(index + pd.Timedelta(days=7)))


def test_classify_error() -> None:
    from curl_cffi.requests.exceptions import ConnectionError, HTTPError
    from yfinance.exceptions import YFPricesMissingError, YFRateLimitError

    assert classify_error(YFRateLimitError())[0] == "rate_limit"
    assert classify_error(YFPricesMissingError("X", ""))[0] == "no_data"
    assert classify_error(ConnectionError("reset"))[0] == "network"

    class Answer:
        status_code = 503

    assert classify_error(HTTPError("down", 0, Answer()))[0] == "network"
    assert classify_error(RuntimeError("bug"))[0] == "error"


# -- live --------------------------------------------------------------------------------------


def yahoo_reachable(timeout: float = 1.5) -> bool:
    """Whether a TCP connection to Yahoo opens within ``timeout`` seconds (DNS included: the
    lookup runs in a daemon thread, so a hanging resolver cannot stall the test run)."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(("query2.finance.yahoo.com", 443), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return answer == [True]


@pytest.mark.live
def test_live_fetch_from_yahoo(tmp_path: Path) -> None:
    if not yahoo_reachable():
        pytest.skip("Yahoo Finance is not reachable from here")
    with isolated_yfinance(tmp_path / "yfinance-cache"):  # a fresh YfData with a real session
        source = YahooSource(PriceCache(tmp_path / "cache"), progress=False, retries=2)
        histories, problems = source.fetch(
            ["0700.HK", "NVDA"], pd.Timestamp("2024-12-01"), pd.Timestamp("2024-12-31")
        )
    assert problems == {}
    hk = histories["0700.HK"].frame
    assert pd.Timestamp("2024-12-31") in hk.index and pd.Timestamp("2024-12-25") not in hk.index
    assert (histories["NVDA"].frame["adj_close"] <= histories["NVDA"].frame["close"]).all()


# -- bounded waiting ----------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when the source sleeps or a request hangs."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        assert seconds >= 0
        self.seconds += seconds


def test_missing_network_fails_in_about_ten_seconds_with_waiting_lines(
    fake_yahoo: FakeYahoo, price_cache: PriceCache
) -> None:
    # the defaults (3 retries, back-off 1.5 s doubled): 1.5 + 3 + 6 = 10.5 s of waiting, each
    # pause announced on stderr before it starts
    clock, lines = FakeClock(), []
    fake_yahoo.unreachable = True
    source = YahooSource(
        price_cache,
        session=fake_yahoo.session(),
        sleep=clock.advance,
        clock=clock,
        waiting=lines.append,
        now=lambda: pd.Timestamp(NOW),
        progress=False,
    )
    with pytest.raises(SourceUnavailable, match=r"DNSError.*\(4 attempts for NVDA\)"):
        source.fetch(["NVDA"], START, END)
    assert clock.seconds == 1.5 + 3.0 + 6.0
    assert [line.split(")...")[0] for line in lines] == [
        "waiting for Yahoo (1.5 s",
        "waiting for Yahoo (3 s",
        "waiting for Yahoo (6 s",
    ]
    assert "NVDA: DNSError" in lines[0] and lines[0].endswith("(attempt 1 of 4)")


def test_black_hole_network_gives_up_at_the_overall_deadline(
    fake_yahoo: FakeYahoo, price_cache: PriceCache
) -> None:
    # every request (yfinance's cookie and crumb requests with their own 30 s timeouts
    # included) hangs for its whole timeout: each is cut to the time left of the 30 s, and the
    # back-off that would outlast the deadline is not taken
    clock, requested = FakeClock(), []

    def hang(timeout: float) -> None:
        requested.append(timeout)
        clock.advance(timeout)

    fake_yahoo.black_hole = hang
    source = YahooSource(
        price_cache,
        session=fake_yahoo.session(),
        sleep=clock.advance,
        clock=clock,
        waiting=lambda line: None,
        now=lambda: pd.Timestamp(NOW),
        progress=False,
        retries=10,
    )
    with pytest.raises(SourceUnavailable) as caught:
        source.fetch(["NVDA", "0700.HK"], START, END)
    assert clock.seconds <= 30.0
    assert max(requested) <= 10.0  # the per-request connect/read timeout
    assert "no answer within 30 s" in caught.value.one_line()
    assert "\n" not in caught.value.one_line()
    assert price_cache.entries() == []


def test_deadline_must_be_positive(price_cache: PriceCache) -> None:
    with pytest.raises(OptionError, match="deadline"):
        YahooSource(price_cache, deadline=0)
