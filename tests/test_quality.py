"""Data-quality checks: the shared data's known artefacts, and one synthetic frame per flag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import flat_history
from yahoo_fake import SHARED_PRICES, needs_shared_prices

from engine.calendars import calendar as market_calendar
from engine.data.csvfolder import CsvFolderSource
from engine.data.flags import DataQualityError, Flag, at_least, raise_if_strict
from engine.data.limits import price_limit
from engine.data.prices import PriceHistory
from engine.data.quality import (
    bad_closes,
    check_history,
    closed_day_bars,
    limit_breaches,
    missing_sessions,
    placeholder_bars,
    split_like_jumps,
    stale_quotes,
)
from engine.errors import InputError

SHARED = CsvFolderSource(SHARED_PRICES)

pytestmark = needs_shared_prices


def history(
    symbol: str,
    closes: list[float] | np.ndarray,
    start: str = "2024-03-04",
    dates: pd.DatetimeIndex | None = None,
    volume: float = 1000.0,
) -> PriceHistory:
    """Bars on XSHG sessions (or ``dates``) with O=H=L=C and a constant volume."""
    if dates is None:
        sessions = market_calendar("XSHG").sessions
        dates = sessions[sessions >= pd.Timestamp(start)]
    return flat_history(symbol, closes, dates, volume, "synthetic")


def kinds(flags: list[Flag]) -> list[str]:
    return [f.kind for f in flags]


def walk(n: int, seed: int = 1) -> np.ndarray:
    """A price path with small daily moves (below every limit)."""
    rng = np.random.default_rng(seed)
    return 20 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))


# -- the shared data ---------------------------------------------------------------------------


def test_hong_kong_placeholder_half_days_are_flagged() -> None:
    flags = check_history(SHARED.read("9988.HK"))
    placeholders = [f.first for f in flags if f.kind == "placeholder_bar"]
    for day in ("2024-12-24", "2024-12-31", "2025-01-28", "2024-01-15"):
        assert pd.Timestamp(day) in placeholders
    flag = next(f for f in flags if f.first == pd.Timestamp("2024-12-24"))
    assert "volume missing" in flag.message and "no open" in flag.message
    assert flag.severity == "warning"
    # the typhoon / black-rainstorm closures of September 2023 are sessions in the calendar
    missing = {f.first for f in flags if f.kind == "missing_sessions"}
    assert missing == {pd.Timestamp("2023-09-01"), pd.Timestamp("2023-09-08")}
    assert not at_least(flags, "error")


@pytest.mark.parametrize("symbol", sorted(p.stem for p in SHARED_PRICES.glob("*.S[SZ].csv")))
def test_shared_a_shares_stay_within_their_price_limits(symbol: str) -> None:
    # forward-adjusted prices: limit days land a fraction off the exact limit
    assert limit_breaches(SHARED.read(symbol)) == []


def test_shared_spring_festival_is_not_a_gap() -> None:
    flags = check_history(SHARED.read("688981.SS"))
    assert [f for f in flags if f.kind in ("missing_sessions", "closed_day_bar")] == []


def test_fx_rates_skip_the_calendar_checks() -> None:
    flags = check_history(SHARED.read("CNY=X"))
    assert set(kinds(flags)) <= {"stale_quotes"}


# -- one synthetic frame per flag -----------------------------------------------------------------


def test_missing_sessions_are_reported_as_ranges() -> None:
    full = history("600000.SS", walk(30))
    frame = full.frame.drop(full.frame.index[[5, 6, 7, 20]])
    flags = missing_sessions(
        PriceHistory("600000.SS", frame, "t"), market_calendar("XSHG"), "XSHG"
    )
    assert [(f.first, f.last, len(f.dates)) for f in flags] == [
        (full.frame.index[5], full.frame.index[7], 3),
        (full.frame.index[20], full.frame.index[20], 1),
    ]
    assert "3 sessions when XSHG was open" in flags[0].message
    assert flags[0].span() == f"{full.frame.index[5].date()}..{full.frame.index[7].date()}"


def test_holidays_are_not_gaps() -> None:
    # around the 2024 National Day Golden Week (2024-10-01..07)
    h = history("600000.SS", walk(20), start="2024-09-23")
    assert pd.Timestamp("2024-10-08") in h.frame.index
    assert missing_sessions(h, market_calendar("XSHG")) == []


def test_bars_on_closed_days_are_flagged() -> None:
    dates = pd.DatetimeIndex(["2024-09-27", "2024-09-30", "2024-10-01", "2024-10-05", "2024-10-08"])
    h = history("600000.SS", [10, 10.1, 10.2, 10.3, 10.4], dates=dates)
    flags = closed_day_bars(h, market_calendar("XSHG"), "XSHG")
    assert [f.first for f in flags] == [pd.Timestamp("2024-10-01"), pd.Timestamp("2024-10-05")]
    assert "Saturday" in flags[1].message and "XSHG was closed" in flags[1].message


def test_zero_negative_and_missing_closes() -> None:
    h = history("NVDA", [10.0, 0.0, -1.0, np.nan, 11.0])
    frame = h.frame.copy()
    frame.iloc[3, frame.columns.get_loc("adj_close")] = 10.5  # close missing, adjusted present
    flags = bad_closes(PriceHistory("NVDA", frame, "t"))
    by_day = {(f.first, f.severity) for f in flags}
    days = frame.index
    assert (days[1], "error") in by_day and (days[2], "error") in by_day
    assert (days[3], "warning") in by_day
    assert all(f.kind == "bad_close" for f in flags)


def test_stale_quotes_need_five_unchanged_sessions() -> None:
    flagged = stale_quotes(history("NVDA", [10, 11, 11, 11, 11, 11, 11, 12]))
    assert len(flagged) == 1 and len(flagged[0].dates) == 5
    assert "unchanged at 11 for 5 sessions" in flagged[0].message
    assert stale_quotes(history("NVDA", [10, 11, 11, 11, 11, 11, 12])) == []


def test_placeholder_bars() -> None:
    h = history("0700.HK", walk(6))
    frame = h.frame.copy()
    frame.loc[frame.index[2], "volume"] = 0.0
    frame.loc[frame.index[4], ["open", "high", "low", "volume"]] = np.nan
    frame.loc[frame.index[4], ["close", "adj_close"]] = frame["close"].iloc[3]
    flags = placeholder_bars(PriceHistory("0700.HK", frame, "t"))
    assert [f.first for f in flags] == [frame.index[2], frame.index[4]]
    assert "volume 0" in flags[0].message
    assert "repeats the previous close" in flags[1].message


def test_close_only_series_are_not_placeholders() -> None:
    frame = history("BABA", walk(6)).frame.copy()
    frame[["open", "high", "low", "volume"]] = np.nan
    assert placeholder_bars(PriceHistory("BABA", frame, "t")) == []


def test_price_limits_by_board() -> None:
    day = pd.Timestamp("2024-06-03")
    assert price_limit("600000.SS", day) == 0.10
    assert price_limit("688981.SS", day) == 0.20
    assert price_limit("300750.SZ", day) == 0.20
    assert price_limit("300750.SZ", pd.Timestamp("2019-06-03")) == 0.10  # before the reform
    assert price_limit("002594.SZ", day) == 0.10
    assert price_limit("000300.SS", day) is None  # CSI 300 index
    assert price_limit("399006.SZ", day) is None
    assert price_limit("0700.HK", day) is None and price_limit("NVDA", day) is None


@pytest.mark.parametrize(
    ("symbol", "move", "start", "flagged"),
    [
        ("600000.SS", 0.12, "2024-03-04", True),
        ("600000.SS", 0.1008, "2024-03-04", False),  # a limit-up day of a forward-adjusted price
        ("600000.SS", -0.105, "2024-03-04", True),
        ("688981.SS", 0.12, "2024-03-04", False),
        ("688981.SS", 0.25, "2024-03-04", True),
        ("300750.SZ", 0.15, "2019-03-04", True),
        ("300750.SZ", 0.15, "2021-03-01", False),
        ("000300.SS", 0.15, "2024-03-04", False),
    ],
)
def test_limit_breaches(symbol: str, move: float, start: str, flagged: bool) -> None:
    closes = [20.0] * 10 + [20.0 * (1 + move)] + [20.0 * (1 + move)] * 3
    flags = limit_breaches(history(symbol, closes, start=start))
    assert (len(flags) == 1) is flagged
    if flagged:
        assert flags[0].kind == "limit_breach" and flags[0].severity == "error"
        assert "price limit" in flags[0].message


def test_listing_days_are_exempt_from_limits() -> None:
    closes = [10.0, 30.0, 36.0, 30.0, 31.0, 31.5, 40.0]
    flags = limit_breaches(history("688999.SS", closes))
    assert [f.first for f in flags] == [history("688999.SS", closes).frame.index[6]]


def test_split_like_jump_versus_spike() -> None:
    split = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0, 100.0, 50.0, 50.5, 49.8, 50.2]
    flags = split_like_jumps(history("NVDA", split))
    assert kinds(flags) == ["split_like_jump"]
    assert "x0.5" in flags[0].message
    spike = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0, 100.0, 250.0, 101.0, 100.0, 100.5]
    assert kinds(split_like_jumps(history("NVDA", spike))) == ["spike"]  # not its way back
    small = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0, 100.0, 170.0, 171.0, 172.0]
    assert split_like_jumps(history("NVDA", small)) == []


def test_check_history_sorts_and_combines() -> None:
    closes = walk(40)
    closes[30:] *= 1.15 * closes[29] / closes[30]  # +15 % on day 30, the level kept after
    flags = check_history(history("600000.SS", closes), "XSHG")
    assert kinds(flags) == ["limit_breach"]
    assert flags[0].one_line().startswith("600000.SS ")


# -- strict mode ---------------------------------------------------------------------------


def test_raise_if_strict_summarises_in_one_line() -> None:
    flags = check_history(SHARED.read("9988.HK"))
    with pytest.raises(DataQualityError) as caught:
        raise_if_strict(flags)
    error = caught.value
    assert isinstance(error, InputError) and error.exit_code == 2
    text = error.one_line()
    assert "\n" not in text
    assert "9988.HK: 9 placeholder_bar (first 2020-12-24), 2 missing_sessions" in text
    assert "strict data checks" in text
    raise_if_strict(flags, min_severity="error")  # only warnings: nothing raised
    with pytest.raises(ValueError):
        raise_if_strict(flags, min_severity="fatal")
