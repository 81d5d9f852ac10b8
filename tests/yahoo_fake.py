"""A fake Yahoo Finance for tests: yfinance's real code runs, only the HTTP layer is replaced.

:class:`FakeYahoo` holds the server's state (bars per symbol, failures to inject) and records every
request.  :meth:`FakeYahoo.session` returns a :class:`FakeSession`, a subclass of
``curl_cffi.requests.Session`` (so yfinance accepts it) whose ``request`` answers from that state
instead of opening a connection.  Everything above it is yfinance's own code: ``YfData`` with its
cookie and crumb dance (``fc.yahoo.com``, ``/v1/test/getcrumb``, the ``guce.yahoo.com`` consent
fallback after an HTTP error), the time-zone lookup (a ``range=1d`` chart request, then
``quoteSummary``/``v7/finance/quote`` for unknown symbols), the ``/v8/finance/chart/{symbol}``
request, its JSON parsing and its conversion of timestamps to the exchange's time zone.

Bars come from the shared CSV folder (``../shared/data/prices``) or from frames the test sets in
:attr:`FakeYahoo.frames`.  Each bar's timestamp is the exchange's market open of that local date
in UTC seconds, as Yahoo sends it, so that a wrong UTC conversion would move Asian bars to the
previous day.

:func:`isolated_yfinance` points yfinance's persistent caches (time zones, cookies) at a temporary
folder and resets its process-wide singletons, so tests neither read nor pollute the machine's
caches and do not depend on each other.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd
import pytest
from curl_cffi.requests import Session
from curl_cffi.requests.exceptions import DNSError, Timeout
from curl_cffi.requests.headers import Headers
from curl_cffi.requests.models import Response

#: The shared real prices (``$BASKET_SHARED_PRICES`` overrides, as in ``conftest.py``).
SHARED_PRICES = Path(
    os.environ.get(
        "BASKET_SHARED_PRICES", Path(__file__).resolve().parents[2] / "shared" / "data" / "prices"
    )
)

#: Mark for tests that read the shared prices: they skip when the folder is absent.
needs_shared_prices = pytest.mark.skipif(
    not (SHARED_PRICES / "NVDA.csv").is_file(), reason=f"shared prices not found at {SHARED_PRICES}"
)

_REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}

#: Per exchange: Yahoo's metadata and the local market open used for daily timestamps.
_EXCHANGES: dict[str, dict[str, Any]] = {
    "HK": {
        "currency": "HKD",
        "exchangeName": "HKG",
        "fullExchangeName": "HKSE",
        "timezone": "HKT",
        "exchangeTimezoneName": "Asia/Hong_Kong",
        "open": "09:30",
        "close": "16:00",
    },
    "SS": {
        "currency": "CNY",
        "exchangeName": "SHH",
        "fullExchangeName": "Shanghai",
        "timezone": "CST",
        "exchangeTimezoneName": "Asia/Shanghai",
        "open": "09:30",
        "close": "15:00",
    },
    "SZ": {
        "currency": "CNY",
        "exchangeName": "SHZ",
        "fullExchangeName": "Shenzhen",
        "timezone": "CST",
        "exchangeTimezoneName": "Asia/Shanghai",
        "open": "09:30",
        "close": "15:00",
    },
    "US": {
        "currency": "USD",
        "exchangeName": "NMS",
        "fullExchangeName": "NasdaqGS",
        "timezone": "EST",
        "exchangeTimezoneName": "America/New_York",
        "open": "09:30",
        "close": "16:00",
    },
    "FX": {
        "currency": None,
        "exchangeName": "CCY",
        "fullExchangeName": "CCY",
        "timezone": "GMT",
        "exchangeTimezoneName": "Europe/London",
        "open": "00:00",
        "close": "23:59",
    },
}
_HK_INDICES = {"^HSI", "^HSCE", "^HSTECH"}
_ETFS = {"QQQ", "KWEB", "CQQQ", "FXI"}


@dataclass
class Call:
    """One request the fake received."""

    method: str
    url: str
    params: dict[str, str]

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def chart_symbol(self) -> str | None:
        prefix = "/v8/finance/chart/"
        return self.path[len(prefix) :] if self.path.startswith(prefix) else None

    @property
    def is_history(self) -> bool:
        """A chart request for a date range (not yfinance's ``range=1d`` time-zone lookup)."""
        return self.chart_symbol is not None and "period1" in self.params


def exchange_of(symbol: str) -> str:
    """The key of :data:`_EXCHANGES` for a symbol."""
    if symbol.endswith("=X"):
        return "FX"
    if symbol in _HK_INDICES:
        return "HK"
    for suffix in ("HK", "SS", "SZ"):
        if symbol.endswith("." + suffix):
            return suffix
    return "US"


def read_shared(symbol: str, folder: Path = SHARED_PRICES) -> pd.DataFrame | None:
    """The shared CSV of a symbol as a frame indexed by date, None if there is none."""
    path = folder / f"{symbol.replace('^', '_').replace('=', '_')}.csv"
    if not path.is_file():
        return None
    return pd.read_csv(path, index_col="date", parse_dates=["date"])


def daily_timestamps(dates: pd.DatetimeIndex, tz: str, at: str) -> np.ndarray:
    """UTC epoch seconds of ``at`` (local time) on each local date, as Yahoo stamps daily bars."""
    hours, minutes = (int(x) for x in at.split(":"))
    local = (pd.DatetimeIndex(dates) + pd.Timedelta(hours=hours, minutes=minutes)).tz_localize(tz)
    return local.tz_convert("UTC").as_unit("s").asi8


def _nulls(values: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in values]


@dataclass
class FakeYahoo:
    """State of the fake server; see the module docstring."""

    prices_dir: Path = SHARED_PRICES
    #: Bars per symbol overriding the shared CSVs (columns as in the shared layout).
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Extra/changed chart ``meta`` fields per symbol (e.g. a wrong currency).
    meta_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Symbol -> number of further chart requests answered with HTTP 429.
    rate_limited: dict[str, int] = field(default_factory=dict)
    #: Symbol -> number of further chart requests failing with a network timeout.
    flaky: dict[str, int] = field(default_factory=dict)
    #: Known symbols whose answers carry no bars (a valid result without timestamps).
    empty: set[str] = field(default_factory=set)
    #: Symbols Yahoo does not know at all (HTTP 404), besides those without a CSV.
    unknown: set[str] = field(default_factory=set)
    #: Every request fails with a DNS error (no network).
    unreachable: bool = False
    #: A black-hole network: every request hangs for its whole timeout (this is called with
    #: it, e.g. to advance a fake clock), then fails with a timeout.
    black_hole: Callable[[float], None] | None = None
    #: Hook to change the bars of a symbol at answer time: ``f(symbol, frame) -> frame``.
    transform: Callable[[str, pd.DataFrame], pd.DataFrame] | None = None
    calls: list[Call] = field(default_factory=list)

    def session(self) -> FakeSession:
        return FakeSession(self)

    # -- inspection --------------------------------------------------------------------------

    def history_calls(self, symbol: str | None = None) -> list[Call]:
        """Chart requests for a date range, optionally for one symbol."""
        return [
            c for c in self.calls if c.is_history and (symbol is None or c.chart_symbol == symbol)
        ]

    def chart_calls(self, symbol: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.chart_symbol is not None and (symbol is None or c.chart_symbol == symbol)
        ]

    def requested_range(self, call: Call, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The local dates ``[period1, period2)`` of a history call, in the symbol's zone."""
        tz = _EXCHANGES[exchange_of(symbol)]["exchangeTimezoneName"]
        first = pd.Timestamp(int(call.params["period1"]), unit="s", tz="UTC").tz_convert(tz)
        last = pd.Timestamp(int(call.params["period2"]), unit="s", tz="UTC").tz_convert(tz)
        return first.tz_localize(None), last.tz_localize(None)

    # -- answering ---------------------------------------------------------------------------

    def bars(self, symbol: str) -> pd.DataFrame | None:
        if symbol in self.unknown:
            return None
        frame = self.frames.get(symbol)
        if frame is None:
            frame = read_shared(symbol, self.prices_dir)
        if frame is not None and self.transform is not None:
            frame = self.transform(symbol, frame.copy())
        return frame

    def handle(
        self, method: str, url: str, params: dict[str, str], timeout: float | None = None
    ) -> Response:
        call = Call(method.upper(), url, dict(params))
        self.calls.append(call)
        if self.unreachable:
            raise DNSError(f"Could not resolve host: {call.host}")
        if self.black_hole is not None:
            assert timeout is not None, "a request without a timeout would hang for ever"
            self.black_hole(timeout)
            raise Timeout(f"Operation timed out after {timeout * 1000:.0f} milliseconds")
        host, path = call.host, call.path
        if host == "fc.yahoo.com":
            return _response(url, 404, "<html>Not Found</html>", "text/html")
        if path.endswith("/v1/test/getcrumb"):
            return _response(url, 200, "FakeCrumb.123", "text/plain")
        if host.endswith("consent.yahoo.com") or host == "guce.yahoo.com":
            return _response(url, 200, "<html><body>consent</body></html>", "text/html")
        if call.chart_symbol is not None:
            return self._chart(call)
        if "/v10/finance/quoteSummary/" in path:
            symbol = path.rsplit("/", 1)[-1]
            body = {
                "quoteSummary": {
                    "result": None,
                    "error": {
                        "code": "Not Found",
                        "description": f"Quote not found for symbol: {symbol}",
                    },
                }
            }
            return _response(url, 404, json.dumps(body), "application/json")
        if path.startswith("/v7/finance/quote"):
            body = {"quoteResponse": {"result": [], "error": None}}
            return _response(url, 200, json.dumps(body), "application/json")
        return _response(url, 404, "<html>Not Found</html>", "text/html")

    def _chart(self, call: Call) -> Response:
        symbol = call.chart_symbol or ""
        if self.flaky.get(symbol, 0) > 0:
            self.flaky[symbol] -= 1
            raise Timeout("Operation timed out after 10000 milliseconds")
        if self.rate_limited.get(symbol, 0) > 0:
            self.rate_limited[symbol] -= 1
            return _response(call.url, 429, "Too Many Requests\r\n", "text/plain")
        frame = self.bars(symbol)
        if frame is None:
            body = {
                "chart": {
                    "result": None,
                    "error": {
                        "code": "Not Found",
                        "description": "No data found, symbol may be delisted",
                    },
                }
            }
            return _response(call.url, 404, json.dumps(body), "application/json")
        return _response(
            call.url,
            200,
            json.dumps(self.chart_body(symbol, frame, call.params)),
            "application/json",
        )

    def chart_body(
        self, symbol: str, frame: pd.DataFrame, params: dict[str, str]
    ) -> dict[str, Any]:
        """Yahoo's ``/v8/finance/chart`` answer for the bars of ``frame`` the params select."""
        exchange = _EXCHANGES[exchange_of(symbol)]
        tz = exchange["exchangeTimezoneName"]
        stamps = daily_timestamps(frame.index, tz, exchange["open"])
        if symbol in self.empty:
            selected = np.zeros(len(frame), dtype=bool)
        elif "period1" in params:
            selected = (stamps >= int(params["period1"])) & (stamps < int(params["period2"]))
        else:
            count = {"1d": 1, "5d": 5}.get(params.get("range", "1d"), len(frame))
            selected = np.zeros(len(frame), dtype=bool)
            selected[-count:] = True
        rows, stamps = frame[selected], stamps[selected]
        currency = exchange["currency"] or (symbol[:3] if symbol.endswith("=X") else "USD")
        instrument = (
            "CURRENCY"
            if symbol.endswith("=X")
            else "INDEX"
            if symbol.startswith("^") or symbol.startswith("000300")
            else "ETF"
            if symbol in _ETFS
            else "EQUITY"
        )
        last_day = frame.index[-1]
        offset = int(pd.Timestamp(last_day).tz_localize(tz).utcoffset().total_seconds())
        close_stamp = int(daily_timestamps(frame.index[-1:], tz, exchange["close"])[0])
        open_stamp = int(daily_timestamps(frame.index[-1:], tz, exchange["open"])[0])
        period = {"timezone": exchange["timezone"], "gmtoffset": offset}
        last_close = float(frame["close"].iloc[-1])
        meta: dict[str, Any] = {
            "currency": currency,
            "symbol": symbol,
            "exchangeName": exchange["exchangeName"],
            "fullExchangeName": exchange["fullExchangeName"],
            "instrumentType": instrument,
            "firstTradeDate": int(daily_timestamps(frame.index[:1], tz, exchange["open"])[0]),
            "regularMarketTime": close_stamp,
            "hasPrePostMarketData": False,
            "gmtoffset": offset,
            "timezone": exchange["timezone"],
            "exchangeTimezoneName": tz,
            "regularMarketPrice": last_close,
            "chartPreviousClose": float(frame["close"].iloc[0]),
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": {**period, "start": open_stamp - 3600, "end": open_stamp},
                "regular": {**period, "start": open_stamp, "end": close_stamp},
                "post": {**period, "start": close_stamp, "end": close_stamp + 3600},
            },
            "dataGranularity": "1d",
            "range": params.get("range", ""),
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
        }
        meta.update(self.meta_overrides.get(symbol, {}))
        result: dict[str, Any] = {"meta": meta}
        if len(rows):
            adj = rows["adj_close"].fillna(rows["close"]) if "adj_close" in rows else rows["close"]
            result["timestamp"] = [int(s) for s in stamps]
            result["indicators"] = {
                "quote": [
                    {
                        "open": _nulls(rows["open"]),
                        "high": _nulls(rows["high"]),
                        "low": _nulls(rows["low"]),
                        "close": _nulls(rows["close"]),
                        "volume": [None if pd.isna(v) else int(v) for v in rows["volume"]],
                    }
                ],
                "adjclose": [{"adjclose": _nulls(adj)}],
            }
        else:
            result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return {"chart": {"result": [result], "error": None}}


def _response(url: str, status: int, body: str, content_type: str) -> Response:
    response = Response()
    response.url = url
    response.status_code = status
    response.reason = _REASONS.get(status, "")
    response.ok = 200 <= status < 400
    response.content = body.encode()
    response.headers = Headers({"Content-Type": f"{content_type}; charset=utf-8"})
    return response


class FakeSession(Session):
    """A real ``curl_cffi`` session (yfinance checks the type) that never touches the network."""

    def __init__(self, server: FakeYahoo) -> None:
        super().__init__()
        self.server = server

    def request(self, method: str, url: str, params: Any = None, **kwargs: Any) -> Response:
        merged = dict(parse_qsl(urlsplit(url).query))
        merged.update({str(k): str(v) for k, v in dict(params or {}).items()})
        return self.server.handle(method, url, merged, kwargs.get("timeout"))


@contextlib.contextmanager
def isolated_yfinance(folder: Path) -> Iterator[None]:
    """Run yfinance with its caches in ``folder`` and fresh process-wide state, then restore.

    Resets (test-only, private yfinance attributes): the ``YfData`` singleton (cookie, crumb and
    session), the time-zone/cookie/ISIN cache handles, the in-memory chart response cache and the
    counter that limits ``quoteSummary`` time-zone fallbacks.
    """
    import yfinance as yf
    import yfinance.base as yf_base
    from yfinance import cache as yf_cache
    from yfinance.data import YfData

    before = yf_cache._TzDBManager.get_location()

    def reset(location: str) -> None:
        for manager in (yf_cache._TzDBManager, yf_cache._CookieDBManager, yf_cache._ISINDBManager):
            manager.close_db()
            manager._db = None
        yf.set_tz_cache_location(location)
        yf_cache._TzCacheManager._tz_cache = None
        yf_cache._CookieCacheManager._Cookie_cache = None
        yf_cache._ISINCacheManager._isin_cache = None
        YfData._instances.pop(YfData, None)
        YfData.cache_get.cache_clear()
        yf_base._tz_info_fetch_ctr = 0

    folder.mkdir(parents=True, exist_ok=True)
    reset(str(folder))
    try:
        yield
    finally:
        reset(before)
