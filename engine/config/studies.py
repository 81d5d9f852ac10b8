"""Study files: what a run compares the baskets against, validated into a :class:`Study`.

A **study** file holds what a run compares the baskets against: benchmark, period, events,
report currency, fees, default rebalancing, and event-study settings (see :class:`Study`)::

    name: DeepSeek revaluation
    benchmarks: [^IXIC, ^HSI]   # the primary first (or one 'benchmark:', default ^IXIC)
    start: 2024-10-01
    end: 2025-03-31
    currency: USD
    fees: 0.001                 # proportional, per trade (10 bp)
    rebalance: monthly          # the default of baskets that name none
    events:
      - {date: 2025-01-20, name: DeepSeek-R1 release}
    event_study: {estimation: [-250, -30], windows: [[-1, 1], [0, 5]], model: market}
    listings: {688256.SS: {exchange: XSHG, currency: CNY}}

Every error is a :class:`~engine.errors.ConfigError` naming the file, line and field (the field
reading is :mod:`engine.config.fields`).  May use ``config.fields``, ``config.yamlfile``,
``config.weights`` (the rebalancing schedules) and the ground floor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.calendars import EARLIEST_HINT, before_calendars
from engine.config.fields import (
    LISTING_KEYS,
    Fields,
    kind_of,
    listing_field,
    short_repr,
    symbol_field,
)
from engine.config.weights import REBALANCES
from engine.config.yamlfile import Mapping, load_yaml
from engine.errors import ConfigError, SymbolError
from engine.symbols import KNOWN_CALENDARS, Listing, normalize_symbol

#: Event and estimation windows (and a basket's lookback) reach at most this many sessions from
#: day 0 (about 20 years).
MAX_OFFSET = 5000
#: Proportional costs and fees (a study's fees, a basket's costs and commission rate) are
#: refused from this fraction up (10 %: surely a typo).
MAX_FEE = 0.1

STUDY_KEYS = (
    "name",
    "description",
    "benchmark",
    "benchmarks",
    "start",
    "end",
    "currency",
    "fees",
    "rebalance",
    "events",
    "event_study",
    "listings",
)
EVENT_KEYS = ("date", "name")
EVENT_STUDY_KEYS = ("estimation", "windows", "model", "markets", "min_estimation")
EVENT_MODELS = ("market", "market-adjusted", "mean-adjusted")


@dataclass(frozen=True)
class Event:
    date: dt.date
    name: str = ""


@dataclass(frozen=True)
class EventStudySettings:
    estimation: tuple[int, int] = (-250, -30)
    windows: tuple[tuple[int, int], ...] = ((-1, 1), (0, 5), (-5, 10), (0, 20))
    model: str = "market"
    markets: dict[str, str] = field(
        default_factory=lambda: {"XSHG": "000300.SS", "XHKG": "^HSI", "XNAS": "^IXIC"}
    )
    min_estimation: int = 100


@dataclass(frozen=True)
class Study:
    """The frame of a run: benchmark, period, report currency, costs, events.

    ``benchmark`` is the primary benchmark (every plain figure is against it);
    ``other_benchmarks`` the further ones a study's ``benchmarks:`` list names after it.
    """

    name: str = "ad hoc"
    benchmark: str = "^IXIC"
    other_benchmarks: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    currency: str = "USD"
    fees: float = 0.0
    rebalance: str = "none"
    events: tuple[Event, ...] = ()
    event_study: EventStudySettings = field(default_factory=EventStudySettings)
    listings: dict[str, Listing] = field(default_factory=dict)
    description: str = ""
    path: str | None = None

    @property
    def benchmarks(self) -> tuple[str, ...]:
        """Every benchmark, the primary first, each once (``--benchmark`` may name another)."""
        return tuple(dict.fromkeys([self.benchmark, *self.other_benchmarks]))

    @property
    def further_benchmarks(self) -> tuple[str, ...]:
        """The benchmarks after the primary."""
        return self.benchmarks[1:]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.path,
            "benchmark": self.benchmark,
            "benchmarks": list(self.benchmarks),
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "currency": self.currency,
            "fees": self.fees,
            "rebalance": self.rebalance,
            "events": [{"date": e.date.isoformat(), "name": e.name} for e in self.events],
            "event_study": {
                "estimation": list(self.event_study.estimation),
                "windows": [list(w) for w in self.event_study.windows],
                "model": self.event_study.model,
                "markets": dict(self.event_study.markets),
                "min_estimation": self.event_study.min_estimation,
            },
            "listings": {
                s: {"exchange": v.calendar, "currency": v.currency}
                for s, v in self.listings.items()
            },
        }


def _window(fields: Fields, key: str, value: Any) -> tuple[int, int]:
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )
    if not ok or value[0] > value[1]:
        raise fields.error(
            key, f"{short_repr(value)} is not a window [first, last] of session offsets"
        )
    if max(abs(value[0]), abs(value[1])) > MAX_OFFSET:
        raise fields.error(
            key, f"{value!r} reaches more than {MAX_OFFSET} sessions from the event"
        )
    return (value[0], value[1])


def _event_study(fields: Fields) -> EventStudySettings:
    default = EventStudySettings()
    if not fields.has("event_study"):
        return default
    sub = Fields(
        fields.path,
        fields.mapping["event_study"],
        "event_study",
        EVENT_STUDY_KEYS,
        line=fields.line("event_study"),
    )
    estimation = (
        _window(sub, "estimation", sub.mapping["estimation"]) if sub.has("estimation") else None
    )
    if estimation and estimation[1] >= 0:
        raise sub.error("estimation", "must end before the event (e.g. [-250, -30])")
    windows = tuple(_window(sub, "windows", w) for w in sub.sequence("windows")) or default.windows
    repeated = sorted({w for w in windows if windows.count(w) > 1})
    if repeated:
        raise sub.error(
            "windows", f"window {list(repeated[0])} is given twice", "give each window once"
        )
    markets = default.markets
    if sub.has("markets"):
        raw = Fields(
            fields.path,
            sub.mapping["markets"],
            "event_study.markets",
            tuple(KNOWN_CALENDARS),
            line=sub.line("markets"),
        )
        notes: list[str] = []
        markets = {calendar: symbol_field(raw, calendar, notes) for calendar in raw.mapping}
    minimum = sub.number("min_estimation")
    if minimum is not None and (minimum < 3 or minimum != int(minimum)):
        raise sub.error("min_estimation", f"must be a whole number >= 3, got {minimum:g}")
    return EventStudySettings(
        estimation=estimation or default.estimation,
        windows=windows,
        model=sub.choice("model", EVENT_MODELS, default.model) or default.model,
        markets=markets,
        min_estimation=int(minimum) if minimum is not None else default.min_estimation,
    )


def _benchmarks(top: Fields, notes: list[str]) -> list[str]:
    """The study's benchmarks, the primary first: ``benchmarks: [^IXIC, ^HSI]``, or the one
    ``benchmark:`` (default ``^IXIC``); naming both is an error."""
    if top.has("benchmark") and top.has("benchmarks"):
        raise top.error(
            "benchmarks", "is given together with 'benchmark'",
            "keep one: benchmarks: [PRIMARY, OTHER, ...] lists the primary first",
        )
    if not top.has("benchmarks"):
        return [symbol_field(top, "benchmark", notes) if top.has("benchmark") else Study.benchmark]
    items = top.sequence("benchmarks")
    if not items:
        raise top.error("benchmarks", "is empty", "name at least one symbol, e.g. [^IXIC, ^HSI]")
    symbols: list[str] = []
    for index, item in enumerate(items):
        where = {"field": f"benchmarks[{index}]", "line": top.line("benchmarks")}
        try:
            symbol, note = normalize_symbol(item)
        except SymbolError as error:
            raise ConfigError(top.path, error.message, hint=error.hint, **where) from None
        if symbol in symbols:
            raise ConfigError(
                top.path, f"{symbol} is listed twice", hint="name each benchmark once", **where
            )
        if note:
            notes.append(note)
        symbols.append(symbol)
    return symbols


def study_from_mapping(data: Any, path: str) -> Study:
    """Validate a parsed study file into a :class:`Study`."""
    if data is None:
        raise ConfigError(path, "file is empty")
    if isinstance(data, dict) and "constituents" in data:
        raise ConfigError(
            path,
            "is a basket file, not a study",
            hint="pass baskets as FILES, the study with --study",
        )
    top = Fields(path, data, "", STUDY_KEYS)
    notes: list[str] = []
    benchmark, *others = _benchmarks(top, notes)
    start, end = top.date("start"), top.date("end")
    for key, day in (("start", start), ("end", end)):
        problem = day and before_calendars(day)
        if problem:
            raise top.error(key, problem, EARLIEST_HINT)
    if start and end and start > end:
        raise top.error("end", f"{end} is before start {start}")
    fees = top.number("fees", 0.0)
    if not 0 <= fees < MAX_FEE:
        raise top.error("fees", f"{fees:g} is not a proportional fee in [0, {MAX_FEE:g})",
                        "0.001 = 10 bp")
    events = []
    for index, item in enumerate(top.sequence("events")):
        fields = Fields(path, item, f"events[{index}]", EVENT_KEYS, line=top.line("events"))
        date = fields.date("date")
        if date is None:
            raise fields.error("date", "is required")
        earlier = [i for i, e in enumerate(events) if e.date == date]
        if earlier:
            # The same event twice would repeat every row of the event study silently.
            raise fields.error(
                "date", f"{date} is also events[{earlier[0]}]", "give each event once"
            )
        events.append(Event(date, fields.text("name", "") or ""))
    listings = {}
    if top.has("listings"):
        raw = top.mapping["listings"]
        if not isinstance(raw, dict):
            raise top.error(
                "listings", f"must be a mapping of symbol to exchange, got {kind_of(raw)}"
            )
        for key, value in raw.items():
            line = raw.line_of(key) if isinstance(raw, Mapping) else top.line("listings")
            try:
                symbol, _ = normalize_symbol(key)
            except SymbolError as error:
                raise ConfigError(
                    path, error.message, field=f"listings.{key}", line=line, hint=error.hint
                ) from None
            listing = listing_field(
                Fields(path, value, f"listings.{key}", LISTING_KEYS, line=line)
            )
            if listing is None:
                raise top.error(f"listings.{key}", "needs 'exchange' (and optionally 'currency')")
            listings[symbol] = listing
    return Study(
        name=top.text("name", "study") or "study",
        description=top.text("description", "") or "",
        benchmark=benchmark,
        other_benchmarks=tuple(others),
        start=start,
        end=end,
        currency=(top.text("currency", "USD") or "USD").upper(),
        fees=fees,
        rebalance=top.choice("rebalance", REBALANCES, "none") or "none",
        events=tuple(events),
        event_study=_event_study(top),
        listings=listings,
        path=path,
    )


def load_study(path: str | Path) -> Study:
    """Load and validate one study file."""
    return study_from_mapping(load_yaml(path), str(path))
