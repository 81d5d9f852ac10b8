"""What a command is asked, checked: the study with its command-line overrides
(:func:`resolve_study`), the event study's settings (:class:`EventOptions`,
:func:`event_options`) and the market indices and dates they reach (:func:`event_markets`,
:func:`event_span`), the baskets' names (:func:`check_names`), hindsight in a basket's choice
(:func:`selected_after`) and the quiet stage callback (:func:`silent`).

May use every stage below the pipeline; no other room of the pipeline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from engine.calendars import EARLIEST_HINT, all_sessions, before_calendars
from engine.config.baskets import Basket
from engine.config.studies import EVENT_MODELS, MAX_OFFSET, Event, Study
from engine.errors import ConfigError, OptionError
from engine.symbols import option_symbol

EVENT_CURRENCIES = ("local", "USD")


EVENT_WEIGHTINGS = ("basket", "equal")


@dataclass(frozen=True)
class EventOptions:
    """How to study the events: the study file's ``event_study`` section after command-line
    overrides.  ``model`` is one of :data:`engine.config.studies.EVENT_MODELS`; ``market_symbol``
    replaces the per-exchange ``markets`` for every stock; ``currency`` is ``local`` or
    ``USD`` for the stocks' returns."""

    events: tuple[Event, ...]
    windows: tuple[tuple[int, int], ...]
    estimation: tuple[int, int]
    model: str
    markets: dict[str, str]
    market_symbol: str | None = None
    currency: str = "local"
    weighting: str = "basket"
    min_estimation: int = 100

    def to_dict(self) -> dict[str, object]:
        return {
            "events": [{"date": e.date.isoformat(), "name": e.name} for e in self.events],
            "windows": [list(w) for w in self.windows],
            "estimation": list(self.estimation),
            "model": self.model,
            "markets": dict(self.markets),
            "market_symbol": self.market_symbol,
            "currency": self.currency,
            "weighting": self.weighting,
            "min_estimation": self.min_estimation,
        }


def resolve_study(
    study: Study,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    benchmark: str | None = None,
    currency: str | None = None,
    fees: float | None = None,
) -> Study:
    """The study with command-line overrides applied and checked."""
    changes = {
        key: value
        for key, value in {
            "start": start,
            "end": end,
            "benchmark": option_symbol("--benchmark", benchmark) if benchmark else None,
            "currency": currency.upper() if currency else None,
            "fees": fees,
        }.items()
        if value is not None
    }
    for option, day in (("--start", start), ("--end", end)):
        problem = day and before_calendars(day)
        if problem:
            raise OptionError(option, problem, EARLIEST_HINT)
    resolved = dataclasses.replace(study, **changes)
    if resolved.start is None or resolved.end is None:
        raise OptionError("--start/--end", "the period is not set", "pass both or use a study file")
    if resolved.start > resolved.end:
        raise OptionError("--start", f"{resolved.start} is after the end {resolved.end}")
    if not 0 <= resolved.fees < 0.1:
        raise OptionError("--fees", f"{resolved.fees:g} is not in [0, 0.1)", "0.001 = 10 bp")
    return resolved


def event_options(
    study: Study,
    *,
    events: Sequence[dt.date] = (),
    windows: Sequence[tuple[int, int]] = (),
    estimation: tuple[int, int] | None = None,
    model: str | None = None,
    market_symbol: str | None = None,
    currency: str = "local",
    weighting: str = "basket",
) -> EventOptions:
    """The study's event settings with command-line overrides (empty/None keep the study's)."""
    settings = study.event_study
    names = {e.date: e.name for e in study.events}
    chosen = tuple(Event(d, names.get(d, "")) for d in events) or study.events
    if not chosen:
        raise OptionError("--event", "no event date given and the study has none")
    for option, values in (("--event", list(events)), ("--window", list(windows))):
        twice = [v for i, v in enumerate(values) if v in values[:i]]
        if twice:
            shown = f"{twice[0][0]}:{twice[0][1]}" if option == "--window" else twice[0]
            raise OptionError(option, f"{shown} is given twice", "give each once")
    given = [("--window", w) for w in windows] + [("--estimation", estimation)] * bool(estimation)
    for option, (a, b) in given:
        if a > b:
            raise OptionError(option, f"{a}:{b} ends before it starts")
        if max(abs(a), abs(b)) > MAX_OFFSET:
            raise OptionError(option, f"{a}:{b} reaches more than {MAX_OFFSET} sessions from day 0")
    estimation = estimation or settings.estimation
    if estimation[0] >= estimation[1] or estimation[1] >= 0:
        raise OptionError(
            "--estimation", f"{estimation[0]}:{estimation[1]} must end before day 0, e.g. -250:-30"
        )
    model = (model or settings.model).lower()
    if model not in EVENT_MODELS:
        raise OptionError("--model", f"'{model}' is not one of {', '.join(EVENT_MODELS)}")
    if currency not in EVENT_CURRENCIES:
        raise OptionError("--currency", f"'{currency}' is not one of local, USD for event studies")
    if weighting not in EVENT_WEIGHTINGS:
        raise OptionError("--weighting", f"'{weighting}' is not one of basket, equal")
    return EventOptions(
        events=chosen,
        windows=tuple(windows) or settings.windows,
        estimation=estimation,
        model=model,
        markets=dict(settings.markets),
        market_symbol=market_symbol,
        currency=currency,
        weighting=weighting,
        min_estimation=settings.min_estimation,
    )


def selected_after(basket: Basket, first_day: dt.date | None) -> str | None:
    """The basket's ``defined`` date (ISO) when ``first_day`` (a period's start, an event)
    comes before it: its constituents were chosen after the fact.  None otherwise."""
    if basket.defined is None or first_day is None or first_day >= basket.defined:
        return None
    return basket.defined.isoformat()


def event_markets(options: EventOptions, calendars: set[str]) -> list[str]:
    """The market indices the event study needs for stocks on ``calendars``."""
    if options.market_symbol or options.model == "mean-adjusted":
        return [options.market_symbol] if options.market_symbol else []
    missing = sorted(c for c in calendars if c not in options.markets)
    if missing:
        raise OptionError(
            "event_study.markets",
            f"no market index for {', '.join(missing)}",
            "name one per exchange in the study file, or pass --market SYMBOL",
        )
    return sorted({options.markets[c] for c in calendars})


def event_span(options: EventOptions, calendars: set[str]) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last date any stock's estimation window or event window can reach."""
    first_day = min(a for a, _ in options.windows)
    reach_back = min(options.estimation[0], first_day)
    # Day 0 itself is always reached: a pre-event-only window (-5:-1) still has an event day.
    reach_ahead = max(0, *(b for _, b in options.windows))
    firsts, lasts = [], []
    for name in calendars:
        days = all_sessions(name)
        for event in options.events:
            day0 = int(days.searchsorted(pd.Timestamp(event.date)))
            firsts.append(days[max(day0 + reach_back, 0)])
            lasts.append(days[min(day0 + reach_ahead, len(days) - 1)])
    return min(firsts), max(lasts)


def silent(text: str) -> None:
    """A stage callback that shows nothing (no progress display)."""


def check_names(baskets: Sequence[Basket], *benchmarks: str) -> None:
    """A :class:`ConfigError` naming the basket file when two baskets share a name or a basket
    is named like one of the ``benchmarks`` (their rows and columns are keyed by name)."""
    seen: dict[str, str | None] = {}
    for basket in baskets:
        if basket.name in seen:
            raise ConfigError(
                basket.path,
                f"basket name '{basket.name}' is also used by {seen[basket.name]}",
                field="name",
                hint="give every basket a distinct name",
            )
        if basket.name in benchmarks:
            raise ConfigError(basket.path, f"basket name '{basket.name}' is the benchmark's symbol")
        seen[basket.name] = basket.path
