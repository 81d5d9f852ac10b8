"""Prices in for a command: everything a run or an event study needs fetched, checked for
the period and for quality (:func:`gather_prices`, :func:`event_prices`), the notes a terminal
shows of them (:func:`console_notes`), and what ``basket data fetch`` downloads for baskets
under a study (:class:`StudyNeeds`, :func:`study_symbols`, :func:`fetch_needs`).

May use the stages below the pipeline, :mod:`engine.pipeline.study` and
:mod:`engine.pipeline.listings`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from engine.config.baskets import Basket
from engine.config.studies import Study
from engine.data.flags import flag_notes, flag_summary
from engine.data.prices import PriceSet, PriceSource
from engine.data.quality import quality_flags
from engine.errors import MissingDataError
from engine.market.listings import RunListings, fx_symbols_needed, report_currency
from engine.market.panel import LOOKBACK, coverage_problems, study_sessions
from engine.market.sessions import detect_closures
from engine.pipeline.listings import held_symbols, run_listings
from engine.pipeline.study import EventOptions, event_markets, event_options, event_span
from engine.portfolio.weighting import weighting_history
from engine.symbols import Listing


def console_notes(notes: Sequence[str], prices: PriceSet) -> list[str]:
    """``notes`` without the per-symbol data-quality notes, plus one summary line per kind."""
    detailed = set(flag_notes(prices.flags))
    summary = flag_summary(prices.flags)
    if summary:
        summary[-1] += "; details in manifest.json and `basket data status`"
    return [n for n in notes if n not in detailed] + summary


def event_prices(
    source: PriceSource,
    baskets: Sequence[Basket],
    study: Study,
    options: EventOptions,
    listings: RunListings,
    *,
    skip_missing: bool,
    check_period: bool,
    strict: bool = False,
    optional: Sequence[str] = (),
) -> tuple[PriceSet, list[Basket], dict[str, dict[str, str]]]:
    """:func:`gather_prices` for an event study: the market indices its model needs
    (:func:`engine.pipeline.study.event_markets`) and the FX series of the stocks' currencies
    and USD join the run's symbols, fetched over the estimation and event windows
    (:func:`engine.pipeline.study.event_span`) as well as the study's period."""
    held = held_symbols(baskets)
    symbols = [*held, study.benchmark]
    markets = event_markets(options, listings.calendars(held))
    span = event_span(options, listings.calendars(symbols))
    fx = fx_symbols_needed(listings.currencies(symbols) | {"USD"})
    return gather_prices(
        source,
        baskets,
        study,
        listings=listings,
        skip_missing=skip_missing,
        also=[*markets, *fx],
        fetch_span=span,
        check_period=check_period,
        strict=strict,
        optional=optional,
    )


def gather_prices(
    source: PriceSource,
    baskets: Sequence[Basket],
    study: Study,
    *,
    listings: RunListings | None = None,
    skip_missing: bool = False,
    also: Sequence[str] = (),
    fetch_span: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    check_period: bool = True,
    strict: bool = False,
    optional: Sequence[str] = (),
) -> tuple[PriceSet, list[Basket], dict[str, dict[str, str]]]:
    """Fetch every price the run needs and check it covers the period.

    Every problem (no data; with ``check_period``, data starting after the start or ending
    before the end) is listed in one :class:`MissingDataError`.  With ``skip_missing``
    constituents with problems are dropped from their baskets (weights renormalised) and
    reported per basket; the benchmark, FX series and the symbols in ``also`` (market indices)
    are never skipped.  The symbols in ``optional`` (the local benchmarks' indices) are fetched
    when the source has them; without data they are left out, never an error.
    ``fetch_span`` widens the dates asked of the source (the event study's
    estimation and event windows).

    The prices kept then go through the data-quality checks
    (:func:`engine.data.quality.quality_flags`) over the fetched period: one note per symbol and
    kind of flag in :attr:`PriceSet.notes`, after the source's own notes and one note per
    exchange closure the data show (:func:`engine.market.sessions.detect_closures`: no session,
    no missing-bar flag); with ``strict`` a warning or worse raises
    :class:`engine.data.flags.DataQualityError`.  ``listings`` are the run's
    (:func:`run_listings`; resolved here when not given).
    """
    listings = listings or run_listings(baskets, study)
    overrides = listings.explicit
    constituents = held_symbols(baskets)
    run_symbols = [*constituents, *study.benchmarks]
    # "local" is the constituents' one currency; the benchmarks are converted into it.
    currency = report_currency(study.currency, listings.of(constituents))
    fx = fx_symbols_needed(listings.currencies(run_symbols) | {currency})
    start, end = pd.Timestamp(study.start), pd.Timestamp(study.end)  # NaT when not set
    wanted = list(dict.fromkeys([*run_symbols, *fx, *also, *optional]))
    history = max(LOOKBACK, weighting_history(baskets))
    firsts = [d for d in (start - history, fetch_span and fetch_span[0]) if not pd.isna(d)]
    lasts = [d for d in (end, fetch_span and fetch_span[1]) if not pd.isna(d)]
    first = min(firsts) if firsts else None
    last = max(lasts) if lasts else None
    # A downloading source checks Yahoo's metadata against the listings it expects: the
    # baskets' and study's explicit ones join those it was opened with.
    expected = getattr(source, "listings", None)
    if isinstance(expected, dict):
        for symbol, listing in overrides.items():
            expected.setdefault(symbol, listing)
    histories, problems = source.fetch(wanted, first, last)
    closures = detect_closures(histories, listings)
    if check_period:
        union = study_sessions(listings.calendars(run_symbols), start, end, closures)
        in_run = set(run_symbols)
        covered = {s: h for s, h in histories.items() if s in in_run}
        problems.update(coverage_problems(covered, listings, union[0], end, closures))
    required = {*study.benchmarks, *fx, *also}
    extra = set(optional) - required - set(constituents)
    problems = {s: why for s, why in problems.items() if s not in extra}
    fatal = {s: why for s, why in problems.items() if s in required or not skip_missing}
    if fatal:
        hint = None if skip_missing else "add the data, or pass --skip-missing to drop them"
        raise MissingDataError(fatal, source.description, hint)
    skipped: dict[str, dict[str, str]] = {}
    kept = []
    for basket in baskets:
        dropped = {s: problems[s] for s in basket.symbols if s in problems}
        if dropped:
            skipped[basket.name] = dropped
            basket = basket.without(dropped)
        kept.append(basket)
    usable = {s: h for s, h in histories.items() if s not in problems}
    notes = list(getattr(source, "notes", ()))
    notes += closures.notes(first, last)
    flags = quality_flags(usable, first, last, listings, strict=strict, closures=closures)
    notes += flag_notes(flags)
    prices = PriceSet(
        usable, source.description, skipped=problems, notes=notes, flags=flags, closures=closures
    )
    return prices, kept, skipped


@dataclass
class StudyNeeds:
    """What a run of baskets under a study fetches: symbols, explicit listings, the period
    (None where the study does not say) and notes (symbols rewritten in the files)."""

    symbols: list[str]
    listings: dict[str, Listing]
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    notes: list[str] = field(default_factory=list)


def study_symbols(baskets: Sequence[Basket], study: Study, *, events: bool = True) -> StudyNeeds:
    """Every symbol ``basket run`` needs for ``baskets`` under ``study``: constituents, the
    benchmark, the FX series of their currencies (and the report currency's), and, with
    ``events`` and a study that has events, the event study's market indices; from the earliest
    date the run fetches (the event study's estimation window, else a month before the start)
    to the study's end."""
    listings = run_listings(baskets, study)
    constituents = held_symbols(baskets)
    run_symbols = [*constituents, study.benchmark]
    currencies = listings.currencies(run_symbols) | {"USD"}
    if study.currency.upper() != "LOCAL":
        currencies.add(study.currency.upper())
    fx = fx_symbols_needed(currencies)
    start = None if study.start is None else pd.Timestamp(study.start) - LOOKBACK
    markets: list[str] = []
    if events and study.events:
        options = event_options(study)
        markets = event_markets(options, listings.calendars(constituents))
        first, _ = event_span(options, listings.calendars(run_symbols))
        start = first if start is None else min(start, first)
    notes = [f"{b.name}: {note}" for b in baskets for note in b.notes]
    return StudyNeeds(
        symbols=list(dict.fromkeys([*constituents, study.benchmark, *fx, *markets])),
        listings=dict(listings.explicit),
        start=start,
        end=None if study.end is None else pd.Timestamp(study.end),
        notes=notes,
    )


def fetch_needs(
    symbols: Sequence[str] = (),
    *,
    exchange: str | None = None,
    currency: str | None = None,
    baskets: Sequence[Basket] | None = None,
    study: Study | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> StudyNeeds:
    """What ``basket data fetch`` downloads: ``symbols`` (normalised; ``exchange`` and
    ``currency`` their explicit listing) and, with ``baskets``, everything their run under
    ``study`` needs (:func:`study_symbols`); over ``start..end`` where given, else the period
    the baskets' run fetches, else the study's period (None: all the source has)."""
    from engine.data.store import resolve_symbols

    wanted = resolve_symbols(symbols, exchange=exchange, currency=currency)
    names, listings, notes = list(wanted.symbols), dict(wanted.listings), list(wanted.notes)
    first = last = None
    if baskets is not None:
        needs = study_symbols(baskets, study or Study())
        names = list(dict.fromkeys([*names, *needs.symbols]))
        listings = {**needs.listings, **listings}
        first, last = needs.start, needs.end
        notes += needs.notes
    elif study is not None:
        first = pd.Timestamp(study.start) if study.start else None
        last = pd.Timestamp(study.end) if study.end else None
    return StudyNeeds(
        symbols=names,
        listings=listings,
        start=pd.Timestamp(start) if start else first,
        end=pd.Timestamp(end) if end else last,
        notes=notes,
    )
