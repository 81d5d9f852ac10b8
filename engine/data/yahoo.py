"""Daily prices from Yahoo Finance (through yfinance), kept in the local cache.

:class:`YahooSource` is a :class:`engine.data.prices.PriceSource`.  For each symbol it asks the
cache first and downloads only what is missing:

* nothing cached (or a corrupted entry): the whole range;
* bars missing at the end (the last bar predates the exchange's last completed session, or the
  requested end): from ``overlap_days`` before the last cached bar to that session;
* an earlier start than ever requested: from that start to ``overlap_days`` after the first bar,
  unless the cache already starts on the symbol's listing (Yahoo's ``firstTradeDate``, kept as
  ``listed``): no bar can precede it, so a start before the listing triggers no download.

The overlap must show the same adjustment factor (``adj_close / close``) as the cache; if Yahoo
revised its adjustments (a new dividend or split), the whole range is downloaded again and
replaces the entry.

Each download is one ``yf.Ticker(symbol).history(start, end, interval="1d",
auto_adjust=False)`` call (never ``yf.download``: it adjusts by default, returns MultiIndex
columns and hides failures).  Bars are keyed by the exchange's *local* date (the index yfinance
returns in the exchange time zone, made naive: never converted to UTC).  ``close`` is Yahoo's
``Close`` (split-adjusted, not dividend-adjusted) and ``adj_close`` its ``Adj Close``.  The
currency and time zone in Yahoo's chart metadata must match the symbol's listing
(:func:`engine.symbols.listing_of`), else the symbol is a problem; so is a download holding a
value no bar may hold (:func:`engine.data.prices.first_bad_value`): nothing of it is cached.

Rate limits (``YFRateLimitError``) and transient network errors are retried ``retries`` times
with exponential back-off (``backoff * 2**attempt`` seconds, through the injectable ``sleep``),
each pause announced on stderr ("waiting for Yahoo (3 s)...").  One download (all its attempts,
yfinance's cookie and crumb requests included) never outlasts ``deadline`` seconds: every HTTP
request's connect/read timeout is cut to the time left and the back-off to what remains, so a
missing network fails in about 10 s (1.5 + 3 + 6 s of back-off) and a black-hole network (every
request hanging) in 30 s.  When Yahoo cannot be reached at all,
:class:`engine.errors.SourceUnavailable` is raised.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.calendars import CALENDAR_TIMEZONES
from engine.calendars import calendar as exchange_calendar
from engine.data.cache import CacheWarning, PriceCache
from engine.data.cache_entry import CacheCorrupted, CachedHistory, date_index
from engine.data.freshness import session_on_or_after, target_session
from engine.data.prices import (
    PRICE_COLUMNS,
    PRICES_ENV,
    Day,
    Fetched,
    PriceHistory,
    first_bad_value,
)
from engine.errors import OptionError, SourceUnavailable, SymbolError
from engine.symbols import Listing, listing_of

#: Start asked of Yahoo when the caller gives none ("from the first bar").
DEFAULT_START = pd.Timestamp("1950-01-01")

#: What ``close`` and ``adj_close`` mean in bars downloaded here (stored in the cache metadata).
ADJUSTMENT = (
    "Yahoo chart API: close = Close (split-adjusted, not dividend-adjusted); "
    "adj_close = Adj Close (split- and dividend-adjusted as of fetched_at)"
)

#: Relative change of ``adj_close / close`` on overlapping bars that counts as revised adjustments.
REVISION_TOLERANCE = 5e-5

UNREACHABLE_HINT = (
    "check the network; `basket data status` shows what the local cache already holds (use it "
    f"with --offline), or point --prices DIR or ${PRICES_ENV} at a folder of SYMBOL.csv files"
)


class _Deadline:
    """The moment one download must end by, read from an injectable monotonic ``clock``."""

    def __init__(self, clock: Callable[[], float], seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.until = clock() + seconds

    def left(self) -> float:
        return self.until - self.clock()


def _bounded_session(
    session: Any, deadline: Callable[[], _Deadline | None], request_timeout: float
) -> Any:
    """Make every request of ``session`` time out after ``request_timeout`` seconds at most, and
    by the current download's deadline.

    yfinance asks its cookie and crumb URLs with a fixed 30 s timeout of its own, so the bound is
    put on the session (its ``request`` method, through which ``get``/``post`` go) rather than on
    the ``history(timeout=...)`` argument alone.
    """
    request = session.request

    def bounded(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        limit = request_timeout
        current = deadline()
        if current is not None:
            left = current.left()
            if left <= 0:
                raise TimeoutError(f"no answer within the overall {current.seconds:g} s")
            limit = min(limit, left)
        asked = kwargs.get("timeout")
        if isinstance(asked, tuple):
            kwargs["timeout"] = tuple(min(float(t), limit) for t in asked)
        elif isinstance(asked, (int, float)):
            kwargs["timeout"] = min(float(asked), limit)
        else:
            kwargs["timeout"] = limit
        return request(method, url, *args, **kwargs)

    session.request = bounded
    return session


def _say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class _Failure(Exception):
    """A download that did not produce bars: ``kind`` is rate_limit, network, no_data, mismatch,
    bad_value (a price no bar may hold) or error."""

    def __init__(self, kind: str, message: str, attempts: int = 1) -> None:
        self.kind = kind
        self.message = message
        self.attempts = attempts
        super().__init__(message)


@dataclass(frozen=True)
class _Download:
    frame: pd.DataFrame
    currency: str | None
    timezone: str | None
    #: Local date of the first traded bar per Yahoo's chart metadata (None if not given).
    listed: pd.Timestamp | None = None


@dataclass(frozen=True)
class _Plan:
    """What to download for one symbol: ``full`` replaces, ``head``/``tail`` extend."""

    full: tuple[pd.Timestamp, pd.Timestamp] | None = None
    head: tuple[pd.Timestamp, pd.Timestamp] | None = None
    tail: tuple[pd.Timestamp, pd.Timestamp] | None = None

    @property
    def empty(self) -> bool:
        return self.full is None and self.head is None and self.tail is None


def classify_error(error: BaseException) -> tuple[str, str]:
    """Sort an exception from yfinance/curl_cffi into (kind, one-line reason).

    ``rate_limit`` and ``network`` are worth retrying; ``no_data`` means Yahoo answered that it
    has nothing for the symbol; ``error`` is anything else.
    """
    from yfinance.exceptions import (
        YFDataException,
        YFRateLimitError,
        YFTickerMissingError,
    )

    if isinstance(error, YFRateLimitError):
        return "rate_limit", "Yahoo rate limit (HTTP 429 Too Many Requests)"
    if isinstance(error, YFTickerMissingError):
        return "no_data", f"Yahoo has no daily bars for it ({error.rationale})"
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status >= 400:
        if status == 404:
            return "no_data", "Yahoo does not know this symbol (HTTP 404)"
        if status == 429:
            return "rate_limit", "Yahoo rate limit (HTTP 429 Too Many Requests)"
        if status >= 500:
            return "network", f"Yahoo answered HTTP {status}"
        return "error", f"Yahoo answered HTTP {status}"
    if isinstance(error, YFDataException):
        return "network", f"Yahoo answered with an error page ({error})"
    if isinstance(error, ValueError) and "JSON" in type(error).__name__ + str(error):
        return "network", "Yahoo answered something that is not JSON"
    transient_names = {"Timeout", "ConnectionError", "ReadTimeout", "ConnectTimeout", "DNSError"}
    if isinstance(error, (OSError, TimeoutError)) or type(error).__name__ in transient_names:
        text = " ".join(str(error).split()).split(" See https://curl.se")[0]
        text = text.removeprefix("Failed to perform, ")
        return "network", f"{type(error).__name__}: {text[:160]}"
    return "error", f"{type(error).__name__}: {' '.join(str(error).split())[:160]}"


@contextlib.contextmanager
def _yfinance_raises() -> Iterator[None]:
    """Make yfinance raise instead of logging and returning an empty frame, for one call, and
    keep its log quiet (failures reach the user as problems or :class:`SourceUnavailable`).

    (``raise_errors=True`` is deprecated in yfinance 1.7 and does not cover the time-zone
    lookup, where a network failure would otherwise look like an unknown symbol.)
    """
    from yfinance.config import YfConfig

    logger = logging.getLogger("yfinance")
    before, level = YfConfig.debug.hide_exceptions, logger.level
    YfConfig.debug.hide_exceptions = False
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        YfConfig.debug.hide_exceptions = before
        logger.setLevel(level)


def _clear_yfinance_response_cache() -> None:
    """yfinance memoises chart answers for past ranges in memory; a retry must ask again."""
    from yfinance.data import YfData

    clear = getattr(getattr(YfData, "cache_get", None), "cache_clear", None)
    if clear is not None:
        clear()


def bars_from_yfinance(raw: pd.DataFrame) -> pd.DataFrame:
    """yfinance ``history(auto_adjust=False)`` output -> the :class:`PriceHistory` layout.

    The index (midnight in the exchange's time zone) becomes the naive local date; it is never
    converted to UTC, which would move Asian bars to the previous day.
    """
    index = pd.DatetimeIndex(raw.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    index = date_index(index.normalize())
    close = raw["Close"].to_numpy(dtype=float)
    adj = raw["Adj Close"].to_numpy(dtype=float) if "Adj Close" in raw else close
    frame = pd.DataFrame(
        {
            "open": raw["Open"].to_numpy(dtype=float),
            "high": raw["High"].to_numpy(dtype=float),
            "low": raw["Low"].to_numpy(dtype=float),
            "close": close,
            "adj_close": adj,
            "volume": raw["Volume"].to_numpy(dtype=float),
        },
        index=index,
    )
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return frame[frame["close"].notna() | frame["adj_close"].notna()]


def adjustments_revised(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """True when the bars both frames hold disagree on the adjustment factor ``adj_close/close``
    (or when they share no bar at all, so nothing can be verified)."""
    common = old.index.intersection(new.index)
    if len(common) == 0:
        return True

    def factor(frame: pd.DataFrame) -> np.ndarray:
        rows = frame.loc[common]
        return (rows["adj_close"].fillna(rows["close"]) / rows["close"]).to_numpy(dtype=float)

    before, after = factor(old), factor(new)
    usable = np.isfinite(before) & np.isfinite(after)
    if not usable.any():
        return True
    return bool(np.any(np.abs(after[usable] / before[usable] - 1.0) > REVISION_TOLERANCE))


class YahooSource:
    """Yahoo Finance through the local :class:`~engine.data.cache.PriceCache`.

    Options: ``cache`` (default: the user cache), ``offline`` (cache only: nothing is
    downloaded, missing symbols are problems), ``session`` (an HTTP session handed to yfinance,
    e.g. a fake one in tests), ``retries`` and ``backoff`` (seconds, doubled per attempt) for rate
    limits and network errors, ``sleep`` (injectable), ``now`` (a callable giving the current
    time, for staleness; default the clock), ``deadline`` (seconds one download may take in all,
    measured on ``clock``, default :func:`time.monotonic`), ``timeout`` (connect/read timeout of
    one HTTP request), ``waiting`` (called with the line announcing each back-off; default: print
    it on stderr), ``progress`` (None: a bar on a terminal only),
    ``overlap_days`` and ``listings`` (expected exchange and currency per symbol, overriding the
    suffix rule, e.g. for a Hong Kong RMB counter).

    After :meth:`fetch`, :attr:`notes` lists what was noteworthy (corrupted cache entries
    replaced, revised adjustments, stale data served offline).
    """

    def __init__(
        self,
        cache: PriceCache | None = None,
        *,
        offline: bool = False,
        session: Any = None,
        retries: int = 3,
        backoff: float = 1.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        deadline: float = 30.0,
        waiting: Callable[[str], None] = _say_on_stderr,
        now: Callable[[], pd.Timestamp] | None = None,
        progress: bool | None = None,
        overlap_days: int = 10,
        listings: Mapping[str, Listing] | None = None,
        timeout: float = 10.0,
    ) -> None:
        if retries < 0:
            raise OptionError("retries", f"must be 0 or more, got {retries}")
        if backoff < 0:
            raise OptionError("backoff", f"must be 0 or more seconds, got {backoff}")
        if deadline <= 0:
            raise OptionError("deadline", f"must be more than 0 seconds, got {deadline}")
        self.cache = cache if cache is not None else PriceCache()
        self.offline = offline
        self._deadline: _Deadline | None = None
        self.timeout = timeout
        self.session = None if offline else self._bounded(session)
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.deadline = deadline
        self.waiting = waiting
        self.now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        self.progress = progress
        self.overlap = pd.Timedelta(days=overlap_days)
        self.listings = dict(listings or {})
        self.notes: list[str] = []
        self._reached = False
        if offline:
            self.description = f"local price cache {self.cache.folder} (offline)"
        else:
            self.description = f"Yahoo Finance (cached in {self.cache.folder})"

    def _bounded(self, session: Any) -> Any:
        if session is None:
            from yfinance._http import new_session

            session = new_session()
        return _bounded_session(session, lambda: self._deadline, self.timeout)

    # -- listing expectations ----------------------------------------------------------------

    def listing(self, symbol: str) -> Listing | None:
        """The expected exchange and currency of a symbol, None when unknown (FX rates)."""
        if symbol in self.listings:
            return self.listings[symbol]
        try:
            return listing_of(symbol)
        except SymbolError:
            return None

    def _calendar(self, symbol: str) -> str | None:
        found = self.listing(symbol)
        return None if found is None else found.calendar

    def mismatch(self, symbol: str, currency: str | None, timezone: str | None) -> str | None:
        """Why Yahoo's currency/time zone contradict the symbol's listing; None if they agree."""
        expected = self.listing(symbol)
        if expected is None:
            return None
        want_tz = CALENDAR_TIMEZONES.get(expected.calendar)
        if want_tz is None:
            want_tz = str(exchange_calendar(expected.calendar).tz)
        wrong = []
        if currency is not None and currency != expected.currency:
            wrong.append(f"currency {currency} (expected {expected.currency})")
        if timezone is not None and timezone != want_tz:
            wrong.append(f"time zone {timezone} (expected {want_tz})")
        if not wrong:
            return None
        return (
            f"Yahoo's metadata says {' and '.join(wrong)} for a {expected.calendar} listing; "
            "check the symbol, or set its exchange and currency in the basket"
        )

    # -- the PriceSource protocol -------------------------------------------------------------

    def fetch(self, symbols: Sequence[str], start: Day = None, end: Day = None) -> Fetched:
        """Histories of the symbols (served from the cache, downloading only what is missing) and
        a reason for each symbol without usable data.  Raises :class:`SourceUnavailable` when
        Yahoo cannot be reached at all (or keeps rate-limiting before answering anything)."""
        now = pd.Timestamp(self.now())
        start = None if start is None else pd.Timestamp(start).normalize()
        end = None if end is None else pd.Timestamp(end).normalize()
        histories: dict[str, PriceHistory] = {}
        problems: dict[str, str] = {}
        pending: list[tuple[str, CachedHistory | None, _Plan]] = []
        self._reached = False
        for symbol in dict.fromkeys(symbols):
            try:
                cached = self.cache.load(symbol)
            except CacheCorrupted as error:
                self._note(error.one_line(), warn=True)
                if self.offline:
                    problems[symbol] = f"{error.message} (offline: cannot refetch)"
                    continue
                self.cache.remove(symbol)
                cached = None
            if self.offline:
                if cached is None:
                    problems[symbol] = "not in cache (offline)"
                else:
                    histories[symbol] = cached.history
                    self._note_offline_gaps(symbol, cached, start, self._target(symbol, end, now))
                continue
            target = self._target(symbol, end, now)
            plan = self._plan(symbol, cached, start, target)
            if plan.empty and cached is not None:
                histories[symbol] = cached.history
            else:
                pending.append((symbol, cached, plan, target))
        with self._progress(len(pending)) as advance:
            for symbol, cached, plan, target in pending:
                advance(symbol)
                try:
                    histories[symbol] = self._update(symbol, cached, plan, start, target)
                except _Failure as failure:
                    if failure.kind in ("network", "rate_limit") and not self._reached:
                        raise SourceUnavailable(
                            f"Yahoo Finance cannot be reached: {failure.message} "
                            f"({failure.attempts} attempts for {symbol})",
                            UNREACHABLE_HINT,
                        ) from None
                    if failure.kind in ("network", "rate_limit"):
                        problems[symbol] = f"{failure.message} after {failure.attempts} attempts"
                    else:
                        problems[symbol] = failure.message
                finally:
                    advance(None)
        return histories, problems

    # -- planning and updating -----------------------------------------------------------------

    def _target(self, symbol: str, end: pd.Timestamp | None, now: pd.Timestamp) -> pd.Timestamp:
        """The last session of ``symbol``'s exchange a fetch up to ``end`` at ``now`` should
        reach (:func:`engine.data.freshness.target_session`)."""
        return target_session(self._calendar(symbol), end, now)

    def _plan(
        self,
        symbol: str,
        cached: CachedHistory | None,
        start: pd.Timestamp | None,
        target: pd.Timestamp,
    ) -> _Plan:
        want_start = start if start is not None else DEFAULT_START
        if cached is None:
            return _Plan(full=(want_start, max(target, want_start)))
        entry = cached.entry
        first, last = pd.Timestamp(entry.first_date), pd.Timestamp(entry.last_date)
        asked_from = pd.Timestamp(entry.requested_start) if entry.requested_start else first
        head = tail = None
        listed = pd.Timestamp(entry.listed) if entry.listed else None
        whole_listing = listed is not None and first <= listed
        if not whole_listing and session_on_or_after(self._calendar(symbol), want_start) < min(
            asked_from, first
        ):
            head = (want_start, first + self.overlap)
        checked = pd.Timestamp(entry.checked_through) if entry.checked_through else None
        if last < target and (checked is None or checked < target):
            tail = (last - self.overlap, target)
        return _Plan(head=head, tail=tail)

    def _update(
        self,
        symbol: str,
        cached: CachedHistory | None,
        plan: _Plan,
        start: pd.Timestamp | None,
        target: pd.Timestamp,
    ) -> PriceHistory:
        if cached is None or plan.full is not None:
            first, last = plan.full or (start or DEFAULT_START, target)
            return self._replace(symbol, first, last, target)
        entry = cached.entry
        frame = cached.history.frame
        asked_from = pd.Timestamp(entry.requested_start or entry.first_date)
        currency, timezone = entry.currency, entry.timezone
        listed = pd.Timestamp(entry.listed) if entry.listed else None
        if plan.tail is not None:
            got = self._download_range(symbol, *plan.tail, allow_empty=True)
            if not got.frame.empty:
                if adjustments_revised(frame, got.frame):
                    return self._revised(
                        symbol, entry.source, min(asked_from, start or asked_from), target
                    )
                frame = pd.concat([frame[frame.index < plan.tail[0]], got.frame])
            currency, timezone = got.currency or currency, got.timezone or timezone
            listed = got.listed or listed
        if plan.head is not None:
            got = self._download_range(symbol, *plan.head, allow_empty=True)
            if not got.frame.empty:
                if adjustments_revised(frame, got.frame):
                    return self._revised(symbol, entry.source, plan.head[0], target)
                frame = pd.concat([got.frame, frame[frame.index > plan.head[1]]])
            currency, timezone = got.currency or currency, got.timezone or timezone
            listed = got.listed or listed
            asked_from = min(asked_from, plan.head[0])
        history = PriceHistory(symbol, frame, "yahoo")
        checked = max(target, pd.Timestamp(entry.checked_through or entry.last_date))
        source = "yahoo" if entry.source.startswith("yahoo") else f"yahoo + {entry.source}"
        return self._store(history, currency, timezone, asked_from, checked, source, listed)

    def _revised(
        self, symbol: str, cached_from: str, first: pd.Timestamp, target: pd.Timestamp
    ) -> PriceHistory:
        if cached_from.startswith("yahoo"):
            why = "Yahoo revised its adjustments (a new dividend or split)"
        else:
            why = f"the cached bars ({cached_from}) are adjusted differently from Yahoo's"
        self._note(f"{symbol}: {why}; downloaded the whole history again", warn=False)
        return self._replace(symbol, first, target, target)

    def _replace(
        self, symbol: str, first: pd.Timestamp, last: pd.Timestamp, target: pd.Timestamp
    ) -> PriceHistory:
        got = self._download_range(symbol, first, last, allow_empty=False)
        history = PriceHistory(symbol, got.frame, "yahoo")
        return self._store(history, got.currency, got.timezone, first, target, listed=got.listed)

    def _store(
        self,
        history: PriceHistory,
        currency: str | None,
        timezone: str | None,
        requested_start: pd.Timestamp,
        checked_through: pd.Timestamp,
        source: str = "yahoo",
        listed: pd.Timestamp | None = None,
    ) -> PriceHistory:
        entry = self.cache.write(
            history,
            {
                "source": source,
                "adjustment": ADJUSTMENT,
                "currency": currency,
                "timezone": timezone,
                "requested_start": requested_start,
                "checked_through": checked_through,
                "listed": listed,
            },
        )
        return PriceHistory(
            history.symbol, history.frame, f"yahoo (cached {self.cache.folder / entry.data_file})"
        )

    # -- downloading ---------------------------------------------------------------------------

    def _download_range(
        self, symbol: str, first: pd.Timestamp, last: pd.Timestamp, *, allow_empty: bool
    ) -> _Download:
        """Bars dated ``first..last`` (inclusive), with retries, within :attr:`deadline`;
        empty only if allowed."""
        self._deadline = _Deadline(self.clock, self.deadline)
        try:
            got = self._attempts(symbol, first, last)
        except _Failure as failure:
            if failure.kind == "no_data" and allow_empty:
                return _Download(_empty_bars(), None, None)
            raise
        finally:
            self._deadline = None
        self._reached = True
        why = self.mismatch(symbol, got.currency, got.timezone)
        if why is not None:
            raise _Failure("mismatch", why)
        frame = got.frame[(got.frame.index >= first) & (got.frame.index <= last)]
        bad = first_bad_value({c: frame[c].to_numpy() for c in PRICE_COLUMNS}, frame.index)
        if bad is not None:
            raise _Failure("bad_value", f"Yahoo sent {bad.reason} (nothing cached)")
        if frame.empty and not allow_empty:
            raise _Failure(
                "no_data", f"Yahoo returned no daily bars between {first.date()} and {last.date()}"
            )
        return _Download(frame, got.currency, got.timezone, got.listed)

    def _attempts(self, symbol: str, first: pd.Timestamp, last: pd.Timestamp) -> _Download:
        """One download tried up to ``retries + 1`` times within the current deadline (raises
        :class:`_Failure` when it produced no answer, ``no_data`` when Yahoo has no bars)."""
        deadline = self._deadline
        assert deadline is not None
        attempt = 0
        while True:
            try:
                return self._download_once(symbol, first, last)
            except _Failure:
                raise
            except Exception as error:  # yfinance/curl_cffi raise many types; classify them
                kind, reason = classify_error(error)
                if kind == "no_data":
                    self._reached = True
                    raise _Failure(kind, reason) from None
                if kind not in ("rate_limit", "network") or attempt == self.retries:
                    raise _Failure(kind, reason, attempt + 1) from None
                pause = self.backoff * 2**attempt
                if pause >= deadline.left():
                    reason += f"; no answer within {deadline.seconds:g} s"
                    raise _Failure(kind, reason, attempt + 1) from None
                self.waiting(
                    f"waiting for Yahoo ({pause:g} s)... {symbol}: {reason} "
                    f"(attempt {attempt + 1} of {self.retries + 1})"
                )
                self.sleep(pause)
                attempt += 1

    def _download_once(self, symbol: str, first: pd.Timestamp, last: pd.Timestamp) -> _Download:
        """One yfinance call for bars dated ``first..last``; raises what yfinance raises."""
        import yfinance as yf

        _clear_yfinance_response_cache()
        with _yfinance_raises(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ticker = yf.Ticker(symbol, session=self.session)
            raw = ticker.history(
                start=first.strftime("%Y-%m-%d"),
                end=(last + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                interval="1d",
                auto_adjust=False,
                actions=False,
                timeout=self.timeout,
            )
            meta = ticker.get_history_metadata()
            currency = meta.get("currency")
            timezone = meta.get("exchangeTimezoneName")
            listed = _listing_date(meta.get("firstTradeDate"), timezone)
        if raw is None:
            raise _Failure("error", "yfinance returned nothing")
        frame = bars_from_yfinance(raw) if len(raw) else _empty_bars()
        return _Download(frame, currency, timezone, listed)

    # -- reporting ------------------------------------------------------------------------------

    def _note(self, text: str, *, warn: bool) -> None:
        self.notes.append(text)
        if warn:
            warnings.warn(text, CacheWarning, stacklevel=3)

    def _note_offline_gaps(
        self, symbol: str, cached: CachedHistory, start: pd.Timestamp | None, target: pd.Timestamp
    ) -> None:
        last = pd.Timestamp(cached.entry.last_date)
        if last < target:
            self.notes.append(
                f"{symbol}: offline, cached bars end {last.date()}, before the session "
                f"{target.date()} asked for"
            )
        if start is not None and start < pd.Timestamp(cached.entry.first_date):
            asked = pd.Timestamp(cached.entry.requested_start or cached.entry.first_date)
            if start < asked:
                self.notes.append(
                    f"{symbol}: offline, cached bars start {cached.entry.first_date}, after the "
                    f"start {start.date()} asked for"
                )

    @contextlib.contextmanager
    def _progress(self, total: int) -> Iterator[Callable[[str | None], None]]:
        """A rich progress bar on stderr while downloading two or more symbols; silent when
        stderr is not a terminal (unless ``progress=True``) or when ``progress=False``.

        Yields ``advance(symbol)``: a symbol names the download starting, None counts one done.
        """
        if total < 2 or self.progress is False:
            yield lambda symbol: None
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        console = Console(stderr=True)
        if not console.is_terminal and not self.progress:
            yield lambda symbol: None
            return
        columns = (
            TextColumn("Yahoo {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("", total=total)

            def advance(symbol: str | None) -> None:
                if symbol is None:
                    bar.update(task, advance=1)
                else:
                    bar.update(task, description=symbol)

            yield advance


def _listing_date(first_trade: object, timezone: str | None) -> pd.Timestamp | None:
    """Yahoo's ``firstTradeDate`` as the exchange's local date: yfinance gives it as a timestamp
    in the exchange zone (raw, UTC epoch seconds); None when absent or before 1900 (outside the
    dates the engine handles)."""
    if isinstance(first_trade, pd.Timestamp):
        stamp = first_trade
    elif isinstance(first_trade, int) and not isinstance(first_trade, bool):
        stamp = pd.Timestamp(first_trade, unit="s", tz="UTC")
        if timezone:
            with contextlib.suppress(KeyError):  # an unknown zone name: keep the UTC date
                stamp = stamp.tz_convert(timezone)
    else:
        return None
    if stamp.year < 1900:
        return None
    return pd.Timestamp(stamp.date())


def _empty_bars() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=float) for c in PRICE_COLUMNS},
        index=date_index([]),
    )
