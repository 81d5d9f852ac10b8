"""The orchestration: the only module that knows every stage.

Baskets and a study in; prices gathered (``data``), aligned (``market``), simulated
(``portfolio``), measured (``analysis``) and written (``results``).  This is what ``basket run``
and ``basket event`` do, as Python calls::

    from engine.config.baskets import load_basket, load_study
    from engine.data.csvfolder import CsvFolderSource
    from engine.pipeline import resolve_study, run, write_run

    study = resolve_study(load_study("baskets/studies/deepseek.yaml"), fees=0.0)
    baskets = [load_basket("baskets/domestic_chips.yaml")]
    result = run(baskets, study, CsvFolderSource("../shared/data/prices"))
    result.summary_frame()
    write_run(result, "results")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.analysis.metrics import (
    Summary,
    summarize,
    versus_figures,
    with_deflated_sharpe,
)
from engine.analysis.null import Ranking
from engine.analysis.robustness import (
    LeaveOneOut,
    backtest_with_leave_one_out,
    constituent_overlap,
    effective_themes,
    return_correlation,
)
from engine.calendars import EARLIEST_HINT, all_sessions, before_calendars
from engine.config.baskets import EVENT_MODELS, MAX_OFFSET, REBALANCES, Basket, Event, Study
from engine.data.flags import flag_notes, flag_summary
from engine.data.prices import PriceSet, PriceSource
from engine.data.quality import quality_flags
from engine.errors import ConfigError, DateRangeError, MissingDataError, OptionError, ResultsError
from engine.market.benchmarks import local_benchmarks
from engine.market.listings import RunListings, fx_symbols_needed, report_currency
from engine.market.panel import LOOKBACK, Panel, align, coverage_problems, study_sessions
from engine.market.sessions import detect_closures
from engine.portfolio.simulation import INITIAL_CASH, BacktestResult, run_backtest
from engine.portfolio.targets import purchase_weights
from engine.portfolio.weighting import weighting_history
from engine.symbols import Listing, option_symbol

MIN_SESSIONS = 3
EVENT_CURRENCIES = ("local", "USD")
EVENT_WEIGHTINGS = ("basket", "equal")


@dataclass(frozen=True)
class EventOptions:
    """How to study the events: the study file's ``event_study`` section after command-line
    overrides.  ``model`` is one of :data:`engine.config.baskets.EVENT_MODELS`; ``market_symbol``
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


@dataclass
class RunResult:
    """Everything a run produced; :mod:`engine.results` writes it to a run folder."""

    study: Study
    baskets: list[Basket]
    panel: Panel
    backtest: BacktestResult
    summary: list[Summary]
    prices: PriceSet
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    events: object | None = None
    event_options: EventOptions | None = None
    universe: dict[str, object] | None = None
    #: Each basket's returns without each of its constituents (baskets of two or more).
    leave_one_out: dict[str, LeaveOneOut] = field(default_factory=dict)
    #: The total returns of the matched random baskets each basket is ranked against (with a
    #: universe and random baskets; its ``null_percentile`` is its rank among them).
    nulls: dict[str, np.ndarray] = field(default_factory=dict)

    def correlation_frame(self) -> pd.DataFrame:
        """Correlation of the baskets' daily returns (the benchmark's last) on the run's
        sessions (:func:`engine.analysis.robustness.return_correlation`)."""
        return return_correlation(self.equity_frame())

    def overlap_frame(self) -> pd.DataFrame:
        """Symbols each pair of baskets holds in common."""
        return constituent_overlap(self.baskets)

    def effective_themes(self) -> float:
        """Effective number of independent themes among the baskets (the benchmark left out)."""
        names = [b.name for b in self.baskets]
        return effective_themes(self.correlation_frame().loc[names, names])

    def console_notes(self) -> list[str]:
        """The notes for a terminal: data-quality flags summarised per kind (the per-symbol
        notes stay in :attr:`notes` and the run's manifest)."""
        return console_notes(self.notes, self.prices)

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame([s.to_dict() for s in self.summary]).set_index("basket")

    def equity_frame(self) -> pd.DataFrame:
        """Daily values of every basket and the benchmark, rebased to 1 at the starting cash."""
        bench = self.panel.prices[self.study.benchmark]
        frame = self.backtest.equity / INITIAL_CASH
        frame[self.study.benchmark] = bench / bench.iloc[0]
        return frame

    def weights_frame(self) -> pd.DataFrame:
        """Each basket's target weights on each session it trades (purchase, rebalances,
        reviews): after the scheme, the caps and the membership of that session.  One row per
        basket, session and constituent, sessions in order, constituents in the basket's."""
        baskets, dates, symbols, weights = [], [], [], []
        for name, targets in self.backtest.targets.items():
            sessions, held = targets.weights.shape
            baskets += [name] * (sessions * held)
            dates.append(np.repeat(targets.weights.index.to_numpy(), held))
            symbols += list(targets.weights.columns) * sessions
            weights.append(targets.weights.to_numpy().ravel())
        return pd.DataFrame({
            "basket": pd.Series(baskets, dtype=str),
            "date": np.concatenate([np.array([], "datetime64[ns]"), *dates]),
            "symbol": pd.Series(symbols, dtype=str),
            "weight": np.concatenate([[], *weights]),
        })

    def costs_frame(self) -> pd.DataFrame:
        """Per basket traded like the market: its starting capital, the costs paid by kind
        (report currency), and its cash as a share of its value, on average and at the end."""
        rows = []
        for name, execution in self.backtest.executions.items():
            share = execution.cash / (self.backtest.equity[name].to_numpy() * execution.capital)
            rows.append(
                {
                    "basket": name,
                    "capital": execution.capital,
                    **execution.costs,
                    "total": sum(execution.costs.values()),
                    "cash_mean": share.mean(),
                    "cash_end": share[-1],
                }
            )
        return pd.DataFrame(rows)

    def attribution_frame(self) -> pd.DataFrame:
        """Per constituent: target weight, local and report-currency returns from the basket's
        purchase to the end, contribution to the basket's total return, and the basket's
        return without it (:attr:`leave_one_out`; NaN for a one-stock basket)."""
        rows = []
        for basket in self.baskets:
            bought = self.backtest.bought[basket.name]
            prices, local = self.panel.prices.loc[bought:], self.panel.local.loc[bought:]
            for c in basket.constituents:
                rows.append(
                    {
                        "basket": basket.name,
                        "symbol": c.symbol,
                        "name": c.name,
                        "weight": c.weight,
                        "currency": self.panel.listings[c.symbol].currency,
                        "local_return": local[c.symbol].iloc[-1] / local[c.symbol].iloc[0] - 1,
                        "return": prices[c.symbol].iloc[-1] / prices[c.symbol].iloc[0] - 1,
                        "contribution": self.backtest.contributions[(basket.name, c.symbol)],
                        "return_without": self.leave_one_out[basket.name].returns.get(
                            c.symbol, math.nan) if basket.name in self.leave_one_out
                        else math.nan,
                    }
                )
        return pd.DataFrame(rows)


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


def local_indices(baskets: Sequence[Basket], study: Study, listings: RunListings) -> list[str]:
    """The market indices of the baskets' exchanges (the study's ``event_study.markets``),
    which their local benchmarks blend."""
    markets = study.event_study.markets
    calendars = listings.calendars(held_symbols(baskets))
    return sorted({markets[c] for c in calendars if c in markets})


def selected_after(basket: Basket, first_day: dt.date | None) -> str | None:
    """The basket's ``defined`` date (ISO) when ``first_day`` (a period's start, an event)
    comes before it: its constituents were chosen after the fact.  None otherwise."""
    if basket.defined is None or first_day is None or first_day >= basket.defined:
        return None
    return basket.defined.isoformat()


def listing_overrides(baskets: Sequence[Basket], study: Study) -> dict[str, Listing]:
    """Explicit exchange/currency of symbols: the study's, then each basket's."""
    overrides = {**study.listings}
    for basket in baskets:
        overrides.update(basket.listings())
    return overrides


def held_symbols(baskets: Sequence[Basket]) -> list[str]:
    """Every constituent of ``baskets``, once, in their order."""
    return list(dict.fromkeys(s for b in baskets for s in b.symbols))


def run_listings(
    baskets: Sequence[Basket], study: Study, options: EventOptions | None = None
) -> RunListings:
    """The run's listings, resolved once and passed to every stage: each constituent's and the
    benchmark's (the study's and the baskets' explicit listings, else from the suffix) and,
    with ``options``, the event study's market indices for the constituents' exchanges."""
    held = held_symbols(baskets)
    listings = RunListings.resolve([*held, *study.benchmarks], listing_overrides(baskets, study))
    if options is None:
        return listings
    return listings.including(event_markets(options, listings.calendars(held)))


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


def portfolio_returns(
    prices: PriceSet,
    baskets: Sequence[Basket],
    benchmark: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    currencies: Sequence[str],
    listings: dict[str, Listing],
) -> list[tuple[pd.Series, pd.Series]]:
    """Each basket's daily return as a constant-weight portfolio, and the benchmark's, on the
    sessions where at least one of the basket's exchanges trades; basket ``k`` in
    ``currencies[k]``.

    ``r_p,t = sum_i w_i r_i,t / sum_i w_i`` over the constituents with a return that day
    (calendar-time portfolio: a stock joins when its data start), ``r_t = P_t / P_{t-1} - 1``
    between consecutive sessions kept.  The baskets of one currency share one alignment: a
    session of another basket's exchange only is dropped again, and the price on a session
    kept is the same last close whichever exchanges the panel also holds.
    """
    series: dict[int, tuple[pd.Series, pd.Series]] = {}
    for currency in dict.fromkeys(currencies):
        group = [k for k, c in enumerate(currencies) if c == currency]
        symbols = [*dict.fromkeys(s for k in group for s in baskets[k].symbols), benchmark]
        panel = align(
            prices,
            symbols,
            start,
            end,
            currency=currency,
            listings=listings,
            partial=True,
            closures=prices.closures,
        )
        columns = {symbol: k for k, symbol in enumerate(panel.prices.columns)}
        closes, is_open = panel.prices.to_numpy(dtype=float), panel.open.to_numpy(dtype=bool)
        for k in group:
            basket = baskets[k]
            held = [columns[s] for s in basket.symbols]
            trading = is_open[:, held].any(axis=1)
            on_days = closes[trading]
            with np.errstate(invalid="ignore", divide="ignore"):
                returns = on_days[1:] / on_days[:-1] - 1
            stock_returns = returns[:, held]
            weights = np.array([basket.weights[s] for s in basket.symbols], dtype=float)
            available = ~np.isnan(stock_returns)
            # Sums over the stocks of each day, one stock after the other (as pandas adds).
            weight_sum = (available * weights).T.sum(axis=0)
            weighted = np.where(available, stock_returns * weights, 0.0).T.sum(axis=0)
            dates = panel.sessions[trading][1:]
            portfolio = weighted / np.where(weight_sum > 0, weight_sum, np.nan)
            series[k] = (
                pd.Series(portfolio, index=dates, name=basket.name),
                pd.Series(returns[:, columns[benchmark]], index=dates, name=benchmark),
            )
    return [series[k] for k in range(len(baskets))]


def study_events(
    prices: PriceSet,
    baskets: Sequence[Basket],
    study: Study,
    options: EventOptions,
    listings: RunListings | None = None,
):
    """Run :func:`engine.analysis.events.run_event_study` for ``baskets`` with their portfolio
    series (constant weights, in the report currency, against the study's benchmark); the
    summary gets each row's ``selected_after`` (:func:`with_hindsight`).

    ``listings`` are the run's (:func:`run_listings`; resolved here when not given)."""
    from engine.analysis.events import EventBasket, run_event_study

    listings = listings or run_listings(baskets, study, options)
    symbols = [*held_symbols(baskets), study.benchmark]
    start, end = event_span(options, listings.calendars(symbols))
    # The portfolio series stops where the benchmark or FX data stop; whether that is too
    # early for an event is for the event study itself to say, with its own message.
    series = [study.benchmark, *fx_symbols_needed(listings.currencies(symbols))]
    start = max(start, *(prices[s].first_date for s in series))
    end = min(end, *(prices[s].last_date for s in series))
    for event in options.events:
        if not start < pd.Timestamp(event.date) <= end:
            ranges = "; ".join(
                f"{s} ({prices[s].first_date.date()}..{prices[s].last_date.date()})" for s in series
            )
            raise DateRangeError(
                f"event {event.date} is after the last price or before the first of {ranges}",
                "use an event inside the price data",
            )
    currencies = [
        report_currency(study.currency, listings.of(basket.symbols)) for basket in baskets
    ]
    series = portfolio_returns(prices, baskets, study.benchmark, start, end, currencies, listings)
    event_baskets = [
        EventBasket(basket.name, basket.weights, portfolio, market)
        for basket, (portfolio, market) in zip(baskets, series, strict=True)
    ]
    events = run_event_study(
        prices.histories,
        event_baskets,
        [(pd.Timestamp(e.date), e.name) for e in options.events],
        windows=options.windows,
        estimation=options.estimation,
        model=options.model.replace("-", "_"),
        markets=options.markets,
        market_symbol=options.market_symbol,
        currency=options.currency,
        weighting=options.weighting,
        min_estimation=options.min_estimation,
        listings=listings,
        closures=prices.closures,
    )
    return dataclasses.replace(events, summary=with_hindsight(events.summary, baskets))


def with_hindsight(summary: pd.DataFrame, baskets: Sequence[Basket]) -> pd.DataFrame:
    """The event summary with ``selected_after``: the basket's ``defined`` date on the rows of
    events before it (constituents chosen after the fact), else None."""
    by_name = {b.name: b for b in baskets}
    chosen = [
        selected_after(by_name[name], dt.date.fromisoformat(event))
        for name, event in zip(summary["basket"], summary["event"], strict=True)
    ]
    return summary.assign(selected_after=pd.Series(chosen, index=summary.index, dtype=object))


def console_notes(notes: Sequence[str], prices: PriceSet) -> list[str]:
    """``notes`` without the per-symbol data-quality notes, plus one summary line per kind."""
    detailed = set(flag_notes(prices.flags))
    summary = flag_summary(prices.flags)
    if summary:
        summary[-1] += "; details in manifest.json and `basket data status`"
    return [n for n in notes if n not in detailed] + summary


@dataclass
class EventRun:
    """An event study on its own (``basket event``)."""

    study: Study
    options: EventOptions
    baskets: list[Basket]
    prices: PriceSet
    events: object
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def console_notes(self) -> list[str]:
        return console_notes(self.notes, self.prices)


def _event_prices(
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


def _silent(text: str) -> None:
    """A stage callback that shows nothing (no progress display)."""


def run_events(
    baskets: Sequence[Basket],
    study: Study,
    source: PriceSource,
    options: EventOptions,
    *,
    skip_missing: bool = False,
    strict: bool = False,
    stage: Callable[[str], None] | None = None,
) -> EventRun:
    """The event study of ``baskets`` around ``options.events``, without a backtest.

    ``strict`` makes data-quality warnings an error (see :func:`gather_prices`);
    ``stage(text)``, if given, is told each stage as it starts.
    """
    stage = stage or _silent
    if not baskets:
        raise OptionError("BASKET_FILES", "no basket to study")
    _check_names(baskets, study.benchmark)
    listings = run_listings(baskets, study, options)
    stage("reading and checking prices")
    prices, baskets, skipped = _event_prices(
        source,
        baskets,
        study,
        options,
        listings,
        skip_missing=skip_missing,
        check_period=False,
        strict=strict,
    )
    stage(f"event study of {len(options.events)} event(s)")
    events = study_events(prices, baskets, study, options, listings)
    notes = [
        f"{name}: skipped {symbol} ({why})"
        for name, d in skipped.items()
        for symbol, why in d.items()
    ]
    notes += prices.notes
    return EventRun(study, options, list(baskets), prices, events, skipped, notes)


def _check_names(baskets: Sequence[Basket], *benchmarks: str) -> None:
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


def run(
    baskets: Sequence[Basket],
    study: Study,
    source: PriceSource,
    *,
    skip_missing: bool = False,
    rebalance: str | None = None,
    events: EventOptions | None = None,
    strict: bool = False,
    capital: float | None = None,
    stage: Callable[[str], None] | None = None,
    listings: RunListings | None = None,
    universe=None,
    null: SweepOptions | None = None,
    trials: int = 0,
) -> RunResult:
    """Backtest ``baskets`` over the ``study`` (already resolved with :func:`resolve_study`),
    and study ``events`` if given.

    ``rebalance`` overrides every basket's own schedule (the command line's ``--rebalance``).
    ``strict`` makes data-quality warnings an error (see :func:`gather_prices`).  ``capital``
    (report currency; the command line's ``--capital``) trades every basket in whole board lots
    of that starting capital (see :mod:`engine.portfolio.execution`).  ``stage(text)``, if
    given, is told each stage as it starts (a progress display).  ``listings`` are the run's
    (:func:`run_listings`, or a caller's that hold them, e.g. :func:`claims_listings`; resolved
    here when not given).

    With a ``universe`` (a :class:`engine.data.universe.UniverseSource`) every basket is also
    measured against the equal-weight pool of its markets' universe stocks and ranked against
    ``null.n_random`` matched random baskets (default :data:`RUN_NULL`; 0: none), see
    :func:`universe_figures`.  ``trials``: strategies tried besides these baskets (grid points,
    trials run elsewhere), counted by the deflated Sharpe ratio
    (:func:`engine.analysis.metrics.with_deflated_sharpe`).
    """
    stage = stage or _silent
    if rebalance is not None and rebalance not in REBALANCES:
        raise OptionError("--rebalance", f"'{rebalance}' is not one of {', '.join(REBALANCES)}")
    if trials < 0:
        raise OptionError("--trials", f"{trials} is not a number of trials (0 or more)")
    if null is not None and universe is None:
        raise OptionError("--random/--seed", "random baskets are drawn from a universe",
                          "pass --universe FILE (e.g. ../shared/data/universe/prices.parquet)")
    null = null or RUN_NULL
    if null.n_random < 0:
        raise OptionError("--random", f"{null.n_random} is not a number of baskets (0 or more)")
    if capital is not None:
        if not capital > 0 or not math.isfinite(capital):
            raise OptionError("--capital", f"{capital:g} is not a positive amount", "e.g. 1000000")
        baskets = [dataclasses.replace(b, capital=capital) for b in baskets]
    if not baskets:
        raise OptionError("BASKET_FILES", "no basket to run")
    _check_names(baskets, *study.benchmarks)
    listings = listings or run_listings(baskets, study, events)
    indices = local_indices(baskets, study, listings)
    listings = listings.including(indices)
    stage("reading and checking prices")
    if events is None:
        prices, baskets, skipped = gather_prices(
            source,
            baskets,
            study,
            listings=listings,
            skip_missing=skip_missing,
            strict=strict,
            optional=indices,
        )
    else:
        prices, baskets, skipped = _event_prices(
            source,
            baskets,
            study,
            events,
            listings,
            skip_missing=skip_missing,
            check_period=True,
            strict=strict,
            optional=indices,
        )
    held = held_symbols(baskets)
    symbols = list(dict.fromkeys([*held, *study.benchmarks]))
    panel = align(
        prices,
        symbols,
        pd.Timestamp(study.start),
        pd.Timestamp(study.end),
        currency=report_currency(study.currency, listings.of(held)),
        listings=listings,
        closures=prices.closures,
    )
    own_sessions = basket_sessions(panel, baskets, study.benchmark)
    for name, days in own_sessions.items():
        if len(days) < MIN_SESSIONS:
            raise OptionError(
                "--start/--end",
                f"{study.start}..{study.end} has {len(days)} session(s) for {name}; "
                f"at least {MIN_SESSIONS} are needed for daily statistics",
            )
    stage(f"backtesting {len(baskets)} basket(s) and their leave-one-out variants")
    backtest, robust, robust_notes = backtest_with_leave_one_out(
        panel, baskets, prices, fees=study.fees, rebalance=rebalance,
        default_rebalance=study.rebalance,
    )
    # Schemes other than equal and custom are computed per rebalance: attribution and the
    # event study use each basket's weights at the purchase.
    baskets = [purchase_weights(b, backtest.targets[b.name]) for b in baskets]
    blends, blend_notes = local_benchmarks(
        prices, baskets, study.event_study.markets, panel, listings
    )
    pools: dict[str, pd.Series] = {}
    ranks: dict[str, Ranking] = {}
    nulls: dict[str, np.ndarray] = {}
    universe_notes: list[str] = []
    if universe is not None:
        stage("the universe: equal-weight pools and matched random baskets")
        pools, ranks, nulls, universe_notes = universe_figures(
            universe, panel, baskets, backtest, own_sessions, study.fees, null
        )
    chosen = {b.name: selected_after(b, study.start) for b in baskets}
    further = {other: basket_sessions(panel, baskets, other) for other in study.further_benchmarks}
    summary = [
        with_null(with_robustness(
            dataclasses.replace(row, selected_after=chosen.get(row.basket)), robust.get(row.basket)
        ), ranks.get(row.basket))
        for row in basket_summaries(panel, backtest, own_sessions, study.benchmark, blends,
                                    further, pools=pools, trials=trials)
    ]
    notes = [*panel.notes, *prices.notes, *backtest.notes, *blend_notes, *robust_notes,
             *universe_notes]
    for basket in baskets:
        first, bought = own_sessions[basket.name][0], backtest.bought[basket.name]
        if bought > first:
            notes.append(
                f"{basket.name}: bought on {bought.date()}, the first session on which all its "
                f"exchanges trade (held as cash from {first.date()})"
            )
    for basket_name, dropped in skipped.items():
        for symbol, why in dropped.items():
            notes.append(f"{basket_name}: skipped {symbol} ({why}); weights renormalised")
    for basket in baskets:
        notes.extend(f"{basket.name}: {note}" for note in basket.notes)
        notes.extend(f"{basket.name}: {note}" for note in backtest.targets[basket.name].notes)
        if basket.name in backtest.executions:
            execution = backtest.executions[basket.name]
            equity = backtest.equity[basket.name]
            notes.extend(f"{basket.name}: {note}" for note in execution.summary_notes(equity))
    if events is not None:
        stage(f"event study of {len(events.events)} event(s)")
    return RunResult(
        study=study,
        baskets=list(baskets),
        panel=panel,
        backtest=backtest,
        summary=summary,
        prices=prices,
        skipped=skipped,
        notes=notes,
        events=None if events is None else study_events(prices, baskets, study, events, listings),
        event_options=events,
        universe=None if universe is None else {
            "file": universe.description, "n_random": null.n_random, "seed": null.seed,
            "matched_on": null.matched_on, "verify": null.verify,
        },
        leave_one_out=robust,
        nulls=nulls,
    )


def with_robustness(row: Summary, robust: LeaveOneOut | None) -> Summary:
    """``row`` with its leave-one-out figures (unchanged without them: one-stock baskets and
    the benchmark)."""
    if robust is None:
        return row
    return dataclasses.replace(
        row,
        top_contributor=robust.top_contributor,
        return_without_top=robust.without_top,
        worst_leave_one_out=robust.worst,
        return_worst_leave_one_out=robust.worst_return,
    )


def run_null(n_random: int | None = None, seed: int | None = None) -> SweepOptions | None:
    """The matched null of ``basket run --random N --seed S``: :data:`RUN_NULL` with the
    values given; None when neither is (the run's default, only with a universe)."""
    if n_random is None and seed is None:
        return None
    return dataclasses.replace(
        RUN_NULL,
        n_random=RUN_NULL.n_random if n_random is None else n_random,
        seed=RUN_NULL.seed if seed is None else seed,
    )


def with_null(row: Summary, ranking: Ranking | None) -> Summary:
    """``row`` with its total return's percentile and p-value among matched random baskets
    (unchanged without them)."""
    if ranking is None:
        return row
    return dataclasses.replace(row, null_percentile=ranking.percentile,
                               null_p_value=ranking.p_value, n_random=ranking.n_random)


def universe_figures(
    universe,
    panel: Panel,
    baskets: Sequence[Basket],
    backtest: BacktestResult,
    sessions: Mapping[str, pd.DatetimeIndex],
    fees: float,
    null: SweepOptions,
) -> tuple[dict[str, pd.Series], dict[str, Ranking], dict[str, np.ndarray], list[str]]:
    """What a universe adds to a run, per basket, on its own sessions (``sessions``,
    :func:`basket_sessions`):

    * the value of its **equal-weight pool**: every eligible universe stock of its markets
      (its own stocks included), weighted ``w_m / N_m`` by market
      (:func:`engine.market.benchmarks.pool_weights` of its market mix at the purchase),
      simulated by the kernel from the same starting cash with the basket's trading sessions
      (purchase and rebalances) and proportional ``fees``, in the report currency;
    * its total return's **ranking** among ``null.n_random`` random baskets matched on its
      market mix (as ``basket sweep`` draws them, :func:`matched_draws`; none when
      ``n_random`` is 0), ``null.verify`` of them checked against vectorbt, and the random
      baskets' total returns it is ranked among;

    and notes for the baskets that get neither (a market without universe stocks, rules the
    kernel does not know) and on how the random baskets were weighted when not as the basket.
    ``baskets`` carry their purchase weights."""
    from engine.analysis.null import rank_against
    from engine.errors import EngineFailure
    from engine.market.benchmarks import pool_weights, weights_by
    from engine.portfolio.kernel import basket_values

    # The lookback rules (inverse_vol, liquidity) read bars before the start, as the run did.
    history = max(LOOKBACK, weighting_history(baskets))
    view = read_universe(universe, panel.sessions[0] - history, panel.sessions[-1])
    markets = view.meta["market"].to_numpy()
    pools, ranks, nulls, notes = {}, {}, {}, []
    for basket in baskets:
        days = sessions[basket.name]
        own_rows = panel.sessions.get_indexer(days)
        aligned = universe_on(view, panel, basket)
        trade = panel.sessions.isin(backtest.targets[basket.name].weights.index)
        columns, weights, empty = pool_weights(markets, aligned.eligible,
                                               weights_by(basket, view.market))
        if empty:
            notes.append(f"{basket.name}: no equal-weight pool (the universe has no stock of "
                         f"market {', '.join(empty)} over the period)")
        else:
            values = basket_values(aligned.prices[own_rows], columns[None, :], weights,
                                   trade[own_rows], fees)[0]
            pools[basket.name] = pd.Series(values, index=days, name="pool")
        if not null.n_random:
            continue
        try:
            drawn = matched_draws(view, aligned, panel, days, basket, backtest, fees, null)
        except OptionError as error:
            why = error.message.removeprefix(f"{error.option}: ")
            notes.append(f"{basket.name}: no matched random baskets ({why})")
            continue
        if drawn.note:
            notes.append(drawn.note)
        schedule = backtest.schedules[basket.name]
        worst = _verify(aligned, drawn.draws, drawn.weigh(slice(0, null.verify)), drawn.trade,
                        fees, schedule, view.listings, panel, basket, null.verify)
        if worst > VERIFY_TOLERANCE:
            raise EngineFailure(
                f"the fast kernel and vectorbt differ by {worst:.3g} on a random basket of "
                f"{basket.name}", "this is a bug in basket; rerun with --random 0",
            )
        total = float(backtest.equity[basket.name].loc[days].iloc[-1] / INITIAL_CASH - 1.0)
        nulls[basket.name] = drawn.statistics[:, 0]
        ranks[basket.name] = rank_against(total, nulls[basket.name])
    return pools, ranks, nulls, notes


def basket_sessions(
    panel: Panel, baskets: Sequence[Basket], benchmark: str
) -> dict[str, pd.DatetimeIndex]:
    """Each basket's own sessions, then the benchmark's (keyed by its symbol).

    A basket's sessions are the study sessions on which one of its constituents' exchanges or
    the benchmark's trades (:meth:`Panel.sessions_of`), the benchmark's those of its exchange:
    the other baskets of a run never add a row, so a basket's statistics are the same run alone
    or with any others.
    """
    days = {b.name: panel.sessions_of([*b.symbols, benchmark]) for b in baskets}
    days[benchmark] = panel.sessions_of([benchmark])
    return days


def basket_summaries(
    panel: Panel,
    backtest: BacktestResult,
    sessions: dict[str, pd.DatetimeIndex],
    benchmark: str,
    blends: Mapping[str, pd.Series] | None = None,
    further: Mapping[str, dict[str, pd.DatetimeIndex]] | None = None,
    *,
    pools: Mapping[str, pd.Series] | None = None,
    trials: int = 0,
) -> list[Summary]:
    """The statistics of each basket of ``sessions`` (:func:`basket_sessions`) on its own
    sessions against the benchmark, its local blend (``blends``, by basket) sampled there and
    its equal-weight pool (``pools``, by basket, on its sessions), with the deflated Sharpe
    ratio over these baskets and ``trials`` more; then the benchmark's on its own
    sessions.  Against each ``further`` benchmark (symbol -> :func:`basket_sessions` with it)
    a basket's excess return, beta and alpha (:func:`engine.analysis.metrics.versus_figures`)
    use the sessions of its exchanges and that benchmark's, as the primary's use its
    exchanges' and the primary's."""
    bench = panel.prices[benchmark]
    blends = blends or {}
    further = further or {}
    pools = pools or {}
    rows = []
    for name, days in sessions.items():
        if name == benchmark:
            continue
        equity = backtest.equity[name]
        versus: dict[str, float] = {}
        for other, other_sessions in further.items():
            other_days = other_sessions[name]
            versus.update(versus_figures(
                equity.loc[other_days], panel.prices[other].loc[other_days], INITIAL_CASH, other
            ))
        row = summarize(
            name,
            equity.loc[days],
            bench.loc[days],
            INITIAL_CASH,
            blends[name].loc[days] if name in blends else None,
            pools.get(name),
        )
        rows.append(dataclasses.replace(row, versus=versus))
    own = bench.loc[sessions[benchmark]]
    return [*with_deflated_sharpe(rows, trials), summarize(benchmark, own, own, own.iloc[0])]


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


def write_run(
    result: RunResult | EventRun | ClaimsRun,
    out: str | Path = "results",
    *,
    name: str | None = None,
    argv: Sequence[str] | None = None,
) -> Path:
    """Write a backtest (``basket run``), an event study (``basket event``) or a claims check
    (``basket claims``) as a run folder under ``out``, its report included (a backtest's and an
    event study's rendered from the tables just written, held in memory, not read back);
    returns the path.
    """
    from engine.results.claims import CLAIMS_FOLDER
    from engine.results.report import write_report
    from engine.results.report.claims import write_claims_report
    from engine.results.runfolder import EVENT_FOLDER, RUN_FOLDER, write_folder

    def from_memory(folder: Path, contents) -> Path:
        return write_report(folder, contents=contents)

    def from_files(folder: Path, _contents) -> Path:
        return write_claims_report(folder)

    kinds = {
        RunResult: (RUN_FOLDER, from_memory),
        EventRun: (EVENT_FOLDER, from_memory),
        ClaimsRun: (CLAIMS_FOLDER, from_files),
    }
    if type(result) not in kinds:
        raise TypeError(f"a {type(result).__name__} is no run to write (run, event or claims)")
    kind, report = kinds[type(result)]
    return write_folder(kind, result, out, name=name, argv=argv, finish=[report])


#: Sessions before the publication date that ``--infer-asof`` scores.
INFER_SESSIONS = 15
#: The benchmark of a basket claim's run when the claim is not a comparison.
CLAIMS_BENCHMARK = "^IXIC"


@dataclass
class ClaimsRun:
    """A claims file checked against the data (``basket claims``).

    ``rows`` are the measurements at ``asof`` (one per claim and listing); ``scores`` the
    per-date score of ``--infer-asof`` (None without it), ``inferred`` its best date and
    ``tied`` every date as good; ``paths`` the path each row was measured on (for the report).
    """

    claims: object
    asof: dt.date
    rows: list
    prices: PriceSet
    paths: dict
    against: dict
    scores: pd.DataFrame | None = None
    inferred: str | None = None
    tied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def records(self) -> list[dict[str, object]]:
        return [row.to_dict() for row in self.rows]

    def unchecked(self) -> dict[str, str]:
        """Claims that no listing could measure, with the first reason."""
        from engine.analysis.claims import UNCHECKED

        out: dict[str, str] = {}
        for row in self.rows:
            if row.claim_verdict == UNCHECKED:
                out.setdefault(row.claim.text, row.reason)
        return out


def claims_listings(claims) -> RunListings:
    """The listings of a claims check, resolved once and passed to every claims stage: each
    symbol the claims need (:meth:`engine.config.claims.ClaimsFile.symbols`) and what the runs
    of basket claims add, :data:`CLAIMS_BENCHMARK` for a claim that is no comparison and the
    market indices of the baskets' exchanges (:func:`local_indices`); the baskets' explicit
    listings, else from the suffix."""
    baskets = [c.basket for c in claims.claims if c.basket]
    uncompared = any(c.basket and not c.outperformed for c in claims.claims)
    benchmark = [CLAIMS_BENCHMARK] if uncompared else []
    explicit = listing_overrides(baskets, Study())
    listings = RunListings.resolve(dict.fromkeys([*claims.symbols(), *benchmark]), explicit)
    # A basket claim's study (_basket_claim_study) has the default event-study markets.
    return listings.including(local_indices(baskets, Study(), listings)) if baskets else listings


def _claim_currency(claim, listings: Mapping[str, Listing]) -> str | None:
    """The currency a claim is measured in: its own, else each listing's (None), except a
    comparison across currencies, in USD."""
    if claim.currency:
        return claim.currency
    subjects = claim.basket.symbols if claim.basket else list(claim.symbols)
    involved = {listings[s].currency for s in [*subjects, *filter(None, [claim.outperformed])]}
    if len(involved) > 1 and (claim.basket or claim.outperformed):
        return "USD"
    return None


def _claims_span(claims, dates: Sequence[dt.date]) -> tuple[pd.Timestamp, pd.Timestamp]:
    first = min(c.since for c in claims.claims)
    last = max([*(c.until for c in claims.claims if c.until), *dates])
    return pd.Timestamp(first) - LOOKBACK, pd.Timestamp(last)


def _basket_claim_study(
    claim, currency: str | None, end: pd.Timestamp, listings: RunListings
) -> Study:
    """The study of a basket claim: bought at the last close before ``since`` on the basket's
    exchanges and held (no fees, no rebalancing) through ``end``."""
    from engine.analysis.claims import Unchecked

    basket = claim.basket
    union = study_sessions(
        listings.calendars(basket.symbols), pd.Timestamp(claim.since) - LOOKBACK, end
    )
    before = union[union < pd.Timestamp(claim.since)]
    if before.empty:
        raise Unchecked(f"{basket.name}: no session before {claim.since}")
    return Study(
        name=f"claim: {basket.name}",
        benchmark=claim.outperformed or CLAIMS_BENCHMARK,
        start=before[-1].date(),
        end=end.date(),
        currency=currency or "local",
        rebalance="none",
    )


def _basket_claim_path(
    claim, source: PriceSource, currency: str | None, end: pd.Timestamp, listings: RunListings
):
    """A basket claim's path (see :func:`_basket_claim_study`), by :func:`run`."""
    from engine.analysis.claims import Unchecked, basket_path

    basket = dataclasses.replace(claim.basket, rebalance="none")
    try:
        study = _basket_claim_study(claim, currency, end, listings)
        result = run([basket], study, source, listings=listings)
    except (MissingDataError, DateRangeError, OptionError) as error:
        raise Unchecked(f"{basket.name}: {error.message}") from None
    return basket_path(basket.name, result.backtest.equity[basket.name], result.panel.currency)


def _basket_claim_null(
    claim, source: PriceSource, universe, currency: str | None, end: pd.Timestamp,
    options: SweepOptions, listings: RunListings,
) -> dict[str, object]:
    """The basket claim's total return over its window ranked against matched random baskets
    of ``universe`` (:func:`sweep`): percentile, p-value, random median and count."""
    from engine.analysis.claims import Unchecked

    basket = dataclasses.replace(claim.basket, rebalance="none")
    try:
        result = sweep([basket], _basket_claim_study(claim, currency, end, listings), source,
                       universe, options)
    except (MissingDataError, DateRangeError, OptionError) as error:
        raise Unchecked(f"{basket.name}: {error.message}") from None
    row = next(r for r in result.rows if r["statistic"] == "total_return")
    return {
        "null_percentile": row["percentile"],
        "null_p_value": row["p_value"],
        "null_median": row["random_p50"],
        "null_n": row["n_random"],
        "null_matched_on": row["matched_on"],
    }


def check_claims(
    claims,
    source: PriceSource,
    *,
    asof: dt.date | None = None,
    infer: bool = False,
    sessions_scored: int = INFER_SESSIONS,
    universe=None,
    null: SweepOptions | None = None,
) -> ClaimsRun:
    """Check every claim of a :class:`engine.config.claims.ClaimsFile` against ``source``.

    ``asof`` replaces the file's as-of date; with ``infer`` the :data:`INFER_SESSIONS`
    sessions (of the claims' exchanges) up to the publication date are scored and the best
    one becomes the as-of date, unless ``asof`` is given.  A symbol without data, or a window
    the data do not cover, makes its rows *cannot be checked* (with the reason), not an error.
    With a ``universe`` (:class:`engine.data.universe.UniverseSource`) a basket claim's return
    is also ranked against ``null`` matched random baskets (default :data:`CLAIMS_NULL`).
    """
    from engine.analysis.claims import Unchecked, best_date, evaluate, listing_path, score_dates

    listings = claims_listings(claims)
    currencies = {c: _claim_currency(c, listings) for c in claims.claims}
    wanted_fx = fx_symbols_needed(
        listings.currencies(claims.symbols()) | {c for c in currencies.values() if c} | {"USD"}
    )
    candidates: list[pd.Timestamp] = []
    if infer:
        last = pd.Timestamp(claims.published or claims.asof)
        calendars = listings.calendars(claims.symbols())
        union = study_sessions(calendars, last - pd.Timedelta(days=4 * sessions_scored), last)
        candidates = list(union[-sessions_scored:])
    span = _claims_span(
        claims, [claims.asof, *(d.date() for d in candidates), *filter(None, [asof])]
    )
    histories, problems = source.fetch([*claims.symbols(), *wanted_fx], span[0], span[1])
    closures = detect_closures(histories, listings)
    prices = PriceSet(
        histories,
        source.description,
        skipped=problems,
        notes=closures.notes(*span),
        closures=closures,
    )

    paths: dict[tuple[int, str], object] = {}
    against: dict[int, object] = {}
    for index, claim in enumerate(claims.claims):
        currency = currencies[claim]
        builds = (
            [
                (
                    claim.basket.name,
                    lambda c=claim, cur=currency: _basket_claim_path(
                        c, source, cur, span[1], listings
                    ),
                )
            ]
            if claim.basket
            else [
                (s, lambda s=s, cur=currency: listing_path(prices, s, listings[s], cur, span))
                for s in claim.symbols
            ]
        )
        if claim.outperformed:
            builds.append(
                (
                    None,
                    lambda cur=currency, o=claim.outperformed: listing_path(
                        prices, o, listings[o], cur, span
                    ),
                )
            )
        for subject, build in builds:
            try:
                path = build()
            except Unchecked as why:
                path = why
            if subject is None:
                against[index] = path
            else:
                paths[(index, subject)] = path

    scores, inferred, tied = None, None, []
    if infer:
        scores = score_dates(claims, paths, against, candidates)
        inferred, tied = best_date(scores)
    chosen = asof or (dt.date.fromisoformat(inferred) if inferred else claims.asof)
    rows = evaluate(claims, paths, against, chosen)
    notes = [*(f"{s}: {why}" for s, why in problems.items()), *prices.notes]
    if universe is not None:
        rows = _with_nulls(
            rows, source, universe, currencies, chosen, null or CLAIMS_NULL, notes, listings
        )
    return ClaimsRun(claims, chosen, rows, prices, paths, against, scores, inferred, tied, notes)


def _with_nulls(
    rows, source, universe, currencies, asof: dt.date, options, notes, listings: RunListings
) -> list:
    """``rows`` with each measured basket claim's matched-null ranking added."""
    from engine.analysis.claims import Unchecked
    from engine.data.universe import SURVIVORSHIP_NOTE

    out = []
    for row in rows:
        claim = row.claim
        if claim.basket is not None and row.measured is not None:
            end = pd.Timestamp(claim.until or asof)
            try:
                ranking = _basket_claim_null(claim, source, universe, currencies[claim], end,
                                             options, listings)
            except Unchecked as why:
                notes.append(f"{claim.basket.name}: no matched null ({why})")
            else:
                row = dataclasses.replace(row, null=ranking)
                if SURVIVORSHIP_NOTE not in notes:
                    notes.append(SURVIVORSHIP_NOTE)
        out.append(row)
    return out


def rewrite_report(folder: str | Path, self_contained: bool = False) -> Path:
    """(Re)write the ``report.html`` of any run folder (``basket report``): a claims check's
    or a backtest's and event study's, by the kind its manifest names; ``self_contained``
    embeds plotly.js instead of referencing the results folder's shared copy."""
    from engine.results.reader import read_manifest
    from engine.results.report import write_report
    from engine.results.report.claims import write_claims_report

    kind = read_manifest(folder).get("kind")
    if kind == "claims":
        return write_claims_report(folder, self_contained)
    if kind == "sweep":
        # The sweep's report is drawn from the SweepResult in memory (options, study,
        # universe, notes), which its folder does not hold whole.
        raise ResultsError(
            f"{folder} is a sweep folder: its report is written by `basket sweep` from the "
            "random baskets it drew; report.html left alone",
            "run the sweep again to rewrite it; the same --seed draws the same baskets",
        )
    return write_report(folder, self_contained)


# -- basket sweep: themes against matched random baskets, over a parameter grid --------------

#: Statistics of the backtest that are ranked (more is better for each).
SWEEP_STATISTICS = ("total_return", "excess_return", "sharpe", "max_drawdown")
#: Largest difference allowed between the kernel and vectorbt on a verified basket.
VERIFY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class SweepOptions:
    """How to draw and rank: ``n_random`` baskets per theme, matched on the market mix and
    ``match`` (:data:`engine.analysis.null.MATCHES`), drawn with ``seed``, the theme's own
    stocks excluded unless ``include_theme``; ``verify`` random baskets per theme and grid
    point are checked against vectorbt; ``grid`` the points of ``--grid``."""

    n_random: int = 10_000
    match: tuple[str, ...] = ()
    seed: int = 0
    include_theme: bool = False
    verify: int = 3
    grid: tuple[dict[str, object], ...] = ({},)

    @property
    def matched_on(self) -> list[str]:
        return ["market", *self.match]


#: The matched null of a basket claim with ``--universe``: random baskets of the claim's
#: market mix (each run checks one against vectorbt).
CLAIMS_NULL = SweepOptions(n_random=1000, verify=1)
#: The matched null of ``basket run --universe``: 1,000 random baskets per basket, matched on
#: the market mix, seed 0, one checked against vectorbt.
RUN_NULL = SweepOptions(n_random=1000, verify=1)


@dataclass
class SweepResult:
    """What ``basket sweep`` produced.

    ``rows``: one dict per theme, grid point and statistic with the keys of
    :data:`engine.analysis.null.RANK_KEYS` plus ``basket, grid, statistic, matched_on, seed``.
    ``nulls``: the random values behind each row (same order).  ``draws``: per theme and
    period, the symbols of each random basket (``n_random x k``).  ``verified``: the largest
    difference between the kernel and vectorbt over the verified baskets."""

    study: Study
    baskets: list[Basket]
    options: SweepOptions
    universe: str
    rows: list[dict[str, object]]
    nulls: list[np.ndarray]
    draws: dict[str, np.ndarray]
    verified: float
    notes: list[str] = field(default_factory=list)
    events: EventOptions | None = None
    runs: list[RunResult] = field(default_factory=list)

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def records(self) -> list[dict[str, object]]:
        from engine.jsonable import json_ready

        return [json_ready(row) for row in self.rows]


def _universe_meta(universe, symbols: Sequence[str]) -> pd.DataFrame:
    """Calendar and currency of every universe symbol as the engine reads any symbol (from
    its suffix, so a US stock is on XNAS like a basket's), and its market, industry and board
    from the symbols table (the market from the suffix where the table does not say)."""
    from engine.data.universe import market_of
    from engine.symbols import listing_of

    table = universe.symbols_table().reindex(list(symbols)).fillna("")
    listings = [listing_of(s) for s in symbols]
    by_suffix = [market_of(s) for s in symbols]
    return pd.DataFrame(
        {
            "calendar": [x.calendar for x in listings],
            "currency": [x.currency for x in listings],
            "market": table["market"].where(table["market"] != "", by_suffix).to_numpy(),
            "industry": table["industry"].to_numpy(),
            "board": table["board"].to_numpy(),
        },
        index=pd.Index(list(symbols), name="symbol"),
    )


def _grid_study(study: Study, point: dict[str, object]) -> Study:
    """The study of one ``--grid`` point; a period the point makes empty names the point."""
    from engine.config.grid import point_label

    try:
        return resolve_study(study, start=point.get("start"), end=point.get("end"),
                             fees=point.get("fees"))
    except OptionError as error:
        if not point:
            raise
        at = f"at {point_label(point)}: {error.message}"
        raise OptionError("--grid", at, error.hint) from None


def _universe_listings(meta: pd.DataFrame) -> dict[str, Listing]:
    return {
        s: Listing(c, k)
        for s, c, k in zip(meta.index, meta["calendar"], meta["currency"], strict=True)
    }


def _strata(
    basket: Basket, view: UniverseView, match: Sequence[str], quintiles: pd.Series | None
) -> list[tuple]:
    """Each constituent's stratum: its market and the matched characteristics."""
    meta = view.meta
    strata = []
    for symbol in basket.symbols:
        key: list[object] = [view.market(symbol)]
        for what in match:
            if what == "listed":
                continue
            if what == "liquidity":
                value = quintiles.get(symbol, 0) if quintiles is not None else 0
                if not value:
                    raise OptionError(
                        "--match liquidity",
                        f"{basket.name}: {symbol} has no traded value in the universe over the "
                        "60 sessions before the start",
                        "the universe must hold the theme's stocks with their volume",
                    )
                key.append(f"liquidity Q{value}")
                continue
            if symbol not in meta.index:
                raise OptionError(
                    f"--match {what}",
                    f"{basket.name}: {symbol} is not in the universe",
                    f"do not match on {what}, or add {symbol} to the universe",
                )
            value = meta.at[symbol, what]
            # Boards exist for A-shares only: elsewhere the stock matches its market's others.
            if not value and what != "board":
                raise OptionError(
                    f"--match {what}",
                    f"{basket.name}: {symbol} has no {what} in the universe's symbols table",
                    f"add its {what} to the symbols table, or do not match on {what}",
                )
            key.append(value)
        strata.append(tuple(key))
    return strata


def _rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator for ``seed`` and the labels ``parts`` (a theme, a period): the same on any
    machine (CRC-32 of the labels, not Python's salted hash)."""
    import zlib

    return np.random.default_rng([seed, *(zlib.crc32(p.encode("utf-8")) for p in parts)])


class _UniverseCars:
    """Universe stocks' CARs per (event, window) from the same market model as a theme's event
    study: a :class:`engine.analysis.events.stocks.StockEvents` with the study's settings and
    the theme's closures gives the market series, event time and the model, and
    :func:`engine.analysis.null.universe_cars` applies them to the universe's columns."""

    def __init__(self, matrix, meta: pd.DataFrame, source: PriceSource, study: Study,
                 options: EventOptions) -> None:
        self.options, self.matrix, self.meta, self.study = options, matrix, meta, study
        markets = (
            [options.market_symbol] if options.market_symbol else list(options.markets.values())
        )
        if options.model == "mean-adjusted":
            markets = []
        fx = fx_symbols_needed(set(meta["currency"]) | {"USD"}) if options.currency == "USD" else []
        wanted = list(dict.fromkeys([*markets, *fx]))
        self.series, problems = source.fetch(wanted, None, None)
        if problems:
            raise MissingDataError(problems, source.description, "the event study needs them")

    def cars(self, columns: np.ndarray, closures) -> dict[tuple[pd.Timestamp, tuple[int, int]],
                                                           np.ndarray]:
        """Per (event, window): one CAR per universe column (NaN where excluded or not in
        ``columns``), event time counted on the sessions less ``closures``."""
        from engine.analysis.events.eventtime import window_span
        from engine.analysis.events.stocks import StockEvents
        from engine.analysis.null import universe_cars

        options = self.options
        stocks = StockEvents(
            self.series,
            estimation=options.estimation,
            span=window_span(options.windows),
            model=options.model.replace("-", "_"),
            markets=options.markets,
            market_symbol=options.market_symbol,
            currency=options.currency,
            min_estimation=options.min_estimation,
            listings=listing_overrides([], self.study),
            closures=closures,
        )
        return universe_cars(
            self.matrix.dates, self.matrix.closes, self.meta["calendar"].to_numpy(),
            self.meta["currency"].to_numpy(), columns, stocks,
            [pd.Timestamp(e.date) for e in options.events], options.windows,
        )


def _verify(aligned, draws: np.ndarray, weights: np.ndarray, trade: np.ndarray, fees: float,
            schedule: str, listings: dict[str, Listing], panel: Panel, theme: Basket,
            count: int) -> float:
    """The largest difference between the values the kernel gave the first ``count`` random
    baskets (traded on ``trade``) and vectorbt's for them (the engine's :func:`run_backtest`
    with the theme's ``schedule``, each exchange open when it is for the theme's ``panel``);
    infinite if vectorbt would trade them on other days."""
    from engine.config.baskets import Constituent
    from engine.portfolio.kernel import basket_values

    chosen = draws[:count]
    if not len(chosen):
        return 0.0
    if weights.ndim == 3:
        return _verify_targets(aligned.prices, chosen, weights[:count], trade, fees)
    symbols = list(dict.fromkeys(aligned.symbols[c] for c in chosen.ravel()))
    columns = [aligned.symbols.index(s) for s in symbols]
    index = aligned.sessions
    frame = pd.DataFrame(aligned.prices[:, columns], index=index, columns=symbols)
    open_by_calendar = {panel.listings[s].calendar: panel.open[s] for s in theme.symbols}
    is_open = pd.DataFrame(
        {s: open_by_calendar[listings[s].calendar].to_numpy() for s in symbols}, index=index
    )
    verified = Panel(frame, frame, is_open, {s: listings[s] for s in symbols}, panel.currency,
                     closures=panel.closures)
    baskets = [
        Basket(f"random {b}", tuple(Constituent(aligned.symbols[c], float(w))
                                    for c, w in zip(row, weights, strict=True)),
               weighting="custom")
        for b, row in enumerate(chosen)
    ]
    reference = run_backtest(verified, baskets, PriceSet({}, "universe"), fees=fees,
                             rebalance=schedule)
    values = basket_values(aligned.prices, chosen, weights, trade, fees)
    worst = 0.0
    for b, basket in enumerate(baskets):
        days = index.isin([reference.bought[basket.name], *reference.rebalances[basket.name]])
        if not np.array_equal(days, trade):
            return math.inf
        difference = np.abs(values[b] - reference.equity[basket.name].to_numpy())
        worst = max(worst, float(difference.max()))
    return worst


def _verify_targets(prices: np.ndarray, chosen: np.ndarray, weights: np.ndarray,
                    trade: np.ndarray, fees: float) -> float:
    """The largest difference between the kernel's values of the baskets ``chosen`` with
    targets per trading session (``weights``: ``(1 or n, sessions, k)``) and vectorbt's
    ``from_orders`` with those targets on the ``trade`` sessions (the engine's simulation)."""
    from engine.portfolio.kernel import basket_values
    from engine.portfolio.orders import Orders, simulate

    n, k = chosen.shape
    close = prices[:, chosen.ravel()]
    size = np.full(close.shape, np.nan)
    per_basket = np.broadcast_to(weights, (n, *weights.shape[1:]))
    size[trade] = per_basket.transpose(1, 0, 2).reshape(int(trade.sum()), n * k)
    simulated, _ = simulate(Orders(close, size, np.full(n, k), INITIAL_CASH,
                                   order_args={"fees": fees}))
    values = basket_values(prices, chosen, weights, trade, fees)
    return float(np.abs(values - simulated.value.T).max())


def _theme_targets(theme: Basket, backtest: BacktestResult) -> pd.DataFrame:
    """The theme's targets on each of its trading sessions (constituents as columns); an error
    when it is traded like the market, or when it caps a rule's weights: the random baskets'
    kernel knows proportional fees only, and applies a rule without caps."""
    from engine.config.baskets import LOOKBACK_WEIGHTINGS

    if theme.trades_like_the_market:
        raise OptionError(
            "sweep",
            f"basket '{theme.name}' is traded like the market (costs: market, commission or "
            "capital) and the random baskets' kernel knows proportional fees only",
            "sweep it without costs: market, commission and capital",
        )
    if theme.caps is not None and theme.weighting in LOOKBACK_WEIGHTINGS:
        raise OptionError(
            "sweep",
            f"basket '{theme.name}' caps its {theme.weighting} weights, and random baskets "
            "apply the rule without caps",
            "sweep it without caps, or with equal or custom weights",
        )
    return backtest.targets[theme.name].weights


def _random_targets(theme: Basket, targets: pd.DataFrame, draws: np.ndarray,
                    scores: np.ndarray | None) -> tuple[Callable[[slice], np.ndarray], bool,
                                                        str | None]:
    """How the random baskets are weighted (:mod:`engine.analysis.null`, Weights): a function
    giving the kernel's targets of the baskets ``draws[rows]`` (``(k,)`` when the theme's
    never change, else ``(1 or n, sessions, k)``), whether they are shared by every basket,
    and the note saying how they were weighted when not as the theme."""
    from engine.analysis.null import equal_over_members, rule_weights

    theme_targets = targets.to_numpy(dtype=float)
    if scores is not None:
        members = theme_targets > 0
        return (lambda rows: rule_weights(members, draws[rows], scores)), False, None
    note = None
    if theme.weighting not in ("equal", "custom"):
        theme_targets = equal_over_members(theme_targets)
        note = (f"random baskets of {theme.name}: equal weights over the members ({theme.weighting}"
                " weights come from data on the theme's own stocks)")
    shared = theme_targets[0] if (theme_targets == theme_targets[0]).all() else theme_targets[None]
    return (lambda rows: shared), True, note


#: Random baskets weighted at a time when each has its own targets (bounds their memory).
WEIGHED_AT_ONCE = 20_000


def _rule_scores(theme: Basket, matrix, meta: pd.DataFrame, panel: Panel,
                 trading: Sequence[pd.Timestamp],
                 factors: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Every universe stock's raw weight under the theme's rule on its trading sessions
    (:func:`engine.analysis.null.rule_scores`), or None for a theme without a rule that any
    stock has."""
    from engine.analysis.null import rule_scores
    from engine.config.baskets import LOOKBACK_WEIGHTINGS

    if theme.weighting not in LOOKBACK_WEIGHTINGS:
        return None
    rows = panel.sessions.get_indexer(trading)
    to_report = np.full((len(trading), len(matrix.symbols)), np.nan)
    for currency, factor in factors.items():
        to_report[:, (meta["currency"] == currency).to_numpy()] = np.asarray(factor)[rows, None]
    return rule_scores(theme.weighting, matrix.dates, matrix.closes, matrix.volume, trading,
                       theme.lookback, to_report)


def _liquidity(matrix, meta: pd.DataFrame, start: pd.Timestamp, theme: Basket,
               candidates: np.ndarray) -> pd.Series:
    """Each universe stock's liquidity quintile within its market (0: unknown), from the
    median traded value over the :data:`engine.analysis.null.LIQUIDITY_SESSIONS` sessions of
    its exchange before ``start``; an error where the theme's markets have no volume."""
    from engine.analysis.null import LIQUIDITY_SESSIONS, liquidity_quintiles, median_traded_value
    from engine.calendars import sessions as calendar_sessions

    traded = np.full(len(matrix.symbols), np.nan)
    for calendar in meta["calendar"].unique():
        columns = np.flatnonzero((meta["calendar"] == calendar).to_numpy())
        own = calendar_sessions(calendar, start - pd.Timedelta(days=200), start)
        own = own[own < start][-LIQUIDITY_SESSIONS:]
        rows = matrix.dates.isin(own)
        traded[columns] = median_traded_value(
            matrix.closes[:, columns], matrix.volume[:, columns], rows
        )
    markets = meta["market"].to_numpy()
    for market in {meta.at[s, "market"] for s in theme.symbols if s in meta.index}:
        if not np.isfinite(traded[markets == market]).any():
            raise OptionError(
                "--match liquidity",
                f"the universe has no volume for market {market} (needed by {theme.name})",
                "match on liquidity only themes of markets with volume data",
            )
    member = meta.index.isin(theme.symbols)
    quintiles = liquidity_quintiles(traded, markets, candidates | member)
    return pd.Series(quintiles, index=meta.index)


@dataclass(frozen=True)
class UniverseView:
    """A universe read once for a run or a sweep: its ``matrix`` over the dates needed, each
    symbol's calendar, currency, market, industry and board (``meta``, :func:`_universe_meta`),
    their ``listings``, the column of each symbol and the first row with a bar of each."""

    matrix: object
    meta: pd.DataFrame
    listings: dict[str, Listing]
    column_of: dict[str, int]
    first_bar: np.ndarray

    def market(self, symbol: str) -> str:
        """A symbol's market (A, HK, US): the symbols table's, else from its suffix."""
        from engine.data.universe import market_of

        return self.meta.at[symbol, "market"] if symbol in self.meta.index else market_of(symbol)


def read_universe(universe, first: pd.Timestamp, last: pd.Timestamp) -> UniverseView:
    """The :class:`UniverseView` of ``universe`` (a :class:`engine.data.universe.UniverseSource`)
    from ``first`` to ``last``."""
    matrix = universe.matrix(first, last)
    meta = _universe_meta(universe, matrix.symbols)
    return UniverseView(
        matrix, meta, _universe_listings(meta), {s: i for i, s in enumerate(matrix.symbols)},
        np.argmax(np.isfinite(matrix.closes), axis=0),
    )


def theme_factors(panel: Panel, theme: Basket) -> dict[str, np.ndarray]:
    """Per currency of the theme's constituents, the factor turning its local prices into the
    panel's currency on each session (as the theme's own prices were converted)."""
    factors: dict[str, np.ndarray] = {}
    for symbol in theme.symbols:
        ratio = (panel.prices[symbol] / panel.local[symbol]).to_numpy()
        factors.setdefault(panel.listings[symbol].currency, ratio)
    return factors


def universe_on(view: UniverseView, panel: Panel, theme: Basket):
    """The universe's closes on the sessions of ``panel``, in its currency, as the theme's
    constituents are (:func:`engine.market.universe.align_universe`, with the FX factors of the
    theme's currencies, :func:`theme_factors`: stocks of other currencies are not eligible)."""
    from engine.market.universe import align_universe

    return align_universe(
        view.matrix, view.meta["calendar"].to_numpy(), view.meta["currency"].to_numpy(),
        panel.sessions, theme_factors(panel, theme), panel.closures,
    )


@dataclass(frozen=True)
class MatchedDraws:
    """A theme's random baskets: ``weigh(rows)`` their targets for the kernel (``(k,)`` when
    the theme's never change, else ``(1 or n, sessions, k)``, :func:`_random_targets`), the
    weights at the purchase the event study uses (``at_purchase``), the theme's trading
    sessions (``trade``, bool per session of the panel), the universe columns they were drawn
    from (``pool``, bool), the ``draws`` (``n_random x k`` columns), their
    :data:`engine.portfolio.kernel.STATISTICS` on the theme's own sessions, and the note saying
    how they were weighted when not as the theme (else None)."""

    weigh: Callable[[slice], np.ndarray]
    at_purchase: np.ndarray
    trade: np.ndarray
    pool: np.ndarray
    draws: np.ndarray
    statistics: np.ndarray
    note: str | None = None


def matched_draws(
    view: UniverseView, aligned, panel: Panel, days: pd.DatetimeIndex, theme: Basket,
    backtest: BacktestResult, fees: float, options: SweepOptions, *,
    listed_from: pd.Timestamp | None = None, progress=None,
) -> MatchedDraws:
    """``options.n_random`` random baskets matched to ``theme`` (its market mix and
    ``options.match``; :func:`engine.analysis.null.draw_baskets` with a generator of the seed,
    the theme's name and its period ``days``), weighted as the theme on each of its trading
    sessions (its rule applied to the random stocks, :func:`_rule_scores`; baskets with their
    own targets :data:`WEIGHED_AT_ONCE` at a time), simulated by the kernel with ``fees`` on its
    own sessions ``days`` of ``aligned`` (:func:`universe_on`); ``progress(done)`` as they are.
    An :class:`OptionError` when the theme's rules are not the kernel's or a stratum has too few
    stocks."""
    from engine.analysis.metrics import PERIODS_PER_YEAR
    from engine.analysis.null import draw_baskets
    from engine.portfolio.kernel import basket_statistics

    targets = _theme_targets(theme, backtest)
    trade = panel.sessions.isin(targets.index)
    own_rows = panel.sessions.get_indexer(days)
    candidates = aligned.eligible.copy()
    if "listed" in options.match:
        since = listed_from or days[0] - LOOKBACK
        candidates &= view.matrix.dates[view.first_bar] <= since
    quintiles = (
        _liquidity(view.matrix, view.meta, days[0], theme, candidates)
        if "liquidity" in options.match else None
    )
    strata = _strata(theme, view, options.match, quintiles)
    scores = _rule_scores(theme, view.matrix, view.meta, panel, list(targets.index),
                          theme_factors(panel, theme))
    if scores is not None:
        # A stock the rule cannot weigh on some session is not drawn.
        candidates &= np.isfinite(scores).all(axis=0)
    pool = candidates.copy()
    if not options.include_theme:
        pool[[view.column_of[s] for s in theme.symbols if s in view.column_of]] = False
    keys = _stratum_keys(view.meta, options.match, quintiles)
    pools = {stratum: np.flatnonzero(pool & (keys == _key_text(stratum)))
             for stratum in dict.fromkeys(strata)}
    period = f"{days[0].date()}..{days[-1].date()}"
    draws = draw_baskets(strata, pools, options.n_random, _rng(options.seed, theme.name, period))
    weigh, shared, note = _random_targets(theme, targets, draws, scores)
    step = options.n_random if shared else WEIGHED_AT_ONCE
    parts, at_purchase = [], []
    for first_draw in range(0, options.n_random, step):
        block = slice(first_draw, first_draw + step)
        weights = weigh(block)

        def advance(count: int, before: int = first_draw) -> None:
            if progress is not None:
                progress(before + count)

        # The statistics use the basket's own sessions, as its summary does.
        parts.append(basket_statistics(
            aligned.prices[own_rows], draws[block], weights, trade[own_rows], fees,
            periods_per_year=PERIODS_PER_YEAR, progress=advance,
        ))
        # The event study weighs a basket by its weights at the purchase.
        at_purchase.append(weights if weights.ndim == 1 else weights[:, 0])
    purchase = at_purchase[0] if shared else np.concatenate(at_purchase)
    if purchase.ndim == 2 and len(purchase) == 1:
        purchase = purchase[0]
    return MatchedDraws(weigh, purchase, trade, pool, draws, np.concatenate(parts), note)


def sweep(
    baskets: Sequence[Basket],
    study: Study,
    source: PriceSource,
    universe,
    options: SweepOptions,
    *,
    events: EventOptions | None = None,
    rebalance: str | None = None,
    skip_missing: bool = False,
    strict: bool = False,
    progress=None,
) -> SweepResult:
    """Rank every theme of ``baskets`` against ``options.n_random`` matched random baskets of
    ``universe`` (a :class:`engine.data.universe.UniverseSource`), for every point of
    ``options.grid``: total and excess return, Sharpe and maximum drawdown of the backtest and,
    with ``events``, each event and window's CAR.

    Each theme runs as ``basket run`` would run it alone (its own sessions, schedule, fees,
    currency); its random baskets are simulated by :mod:`engine.portfolio.kernel` on the
    universe's closes aligned to those sessions, and ``options.verify`` of them through
    vectorbt (an :class:`EngineFailure` if they differ by more than
    :data:`VERIFY_TOLERANCE`).  ``progress(done, total)`` is called as baskets are simulated.
    """
    from engine.analysis.null import MATCHES, basket_cars, rank_against
    from engine.config.grid import point_label
    from engine.data.universe import SURVIVORSHIP_NOTE
    from engine.errors import EngineFailure

    if universe is None:
        raise OptionError("--universe", "a sweep draws its random baskets from a universe file",
                          "pass --universe FILE (e.g. ../shared/data/universe/prices.parquet)")
    if not baskets:
        raise OptionError("BASKET_FILES", "no basket to sweep")
    if options.n_random < 1:
        raise OptionError("--random", f"{options.n_random} is not a positive number of baskets")
    if options.verify < 0:
        raise OptionError("--verify", f"{options.verify} is not a number of baskets (0 or more)")
    unknown = [m for m in options.match if m not in MATCHES]
    if unknown:
        raise OptionError("--match", f"'{unknown[0]}' is not one of {', '.join(MATCHES)}")
    if rebalance is not None and rebalance not in REBALANCES:
        raise OptionError("--rebalance", f"'{rebalance}' is not one of {', '.join(REBALANCES)}")
    _check_names(baskets, study.benchmark)
    studies = [_grid_study(study, point) for point in options.grid]
    first = min(pd.Timestamp(s.start) for s in studies) - LOOKBACK - pd.Timedelta(days=200)
    last = max(pd.Timestamp(s.end) for s in studies)
    listed_from = None
    if events is not None:
        calendars = {"XSHG", "XHKG", "XNAS"}
        span_first, span_last = event_span(events, calendars)
        listed_from = span_first
        # The first estimation return needs the close of the session before the window.
        first, last = min(first, span_first - LOOKBACK), max(last, span_last)
    view = read_universe(universe, first, last)
    matrix, meta = view.matrix, view.meta
    cars = _UniverseCars(matrix, meta, source, study, events) if events is not None else None

    rows: list[dict[str, object]] = []
    notes = [SURVIVORSHIP_NOTE]
    nulls: list[np.ndarray] = []
    drawn: dict[str, np.ndarray] = {}
    runs: list[RunResult] = []
    worst = 0.0
    total = len(baskets) * len(options.grid) * options.n_random
    done = 0
    for basket in baskets:
        # Universe stocks' CARs by pool and closures: grid points of one period share them.
        stock_cars_of: dict[tuple, dict] = {}
        for point, point_study in zip(options.grid, studies, strict=True):
            result = run([basket], point_study, source, skip_missing=skip_missing,
                         rebalance=point.get("rebalance") or rebalance, events=events,
                         strict=strict, trials=len(baskets) * len(options.grid) - 1)
            runs.append(result)
            theme = result.baskets[0]
            panel = result.panel
            days = basket_sessions(panel, [theme], point_study.benchmark)[theme.name]
            aligned = universe_on(view, panel, theme)
            fees = point_study.fees

            def advance(count: int, before: int = done) -> None:
                if progress is not None:
                    progress(before + count, total)

            drawn_here = matched_draws(view, aligned, panel, days, theme, result.backtest,
                                       fees, options, listed_from=listed_from, progress=advance)
            draws, stats, pool = drawn_here.draws, drawn_here.statistics, drawn_here.pool
            at_purchase, trade = drawn_here.at_purchase, drawn_here.trade
            if drawn_here.note and drawn_here.note not in notes:
                notes.append(drawn_here.note)
            done += options.n_random
            summary = result.summary[0]
            random = {
                "total_return": stats[:, 0],
                "excess_return": stats[:, 0] - summary.benchmark_return,
                "sharpe": stats[:, 1],
                "max_drawdown": stats[:, 2],
            }
            label = point_label(point)
            common = {"basket": theme.name, "grid": label,
                      "matched_on": ",".join(options.matched_on), "seed": options.seed}
            for statistic in SWEEP_STATISTICS:
                ranking = rank_against(getattr(summary, statistic), random[statistic])
                rows.append({**common, "statistic": statistic, **ranking.to_dict()})
                nulls.append(random[statistic])
            if events is not None and cars is not None:
                table = result.events.summary
                closures = result.prices.closures
                closed = ((c, tuple(d.asi8)) for c, d in sorted(closures.days.items()))
                key = (pool.tobytes(), *closed)
                if key not in stock_cars_of:
                    stock_cars_of[key] = cars.cars(np.flatnonzero(pool), closures)
                stock_cars = stock_cars_of[key]
                for (day, window), values in stock_cars.items():
                    event = day.date().isoformat()
                    match = table[(table["basket"] == theme.name) & (table["event"] == event)
                                  & (table["window"].map(tuple) == window)]
                    value = float(match["car"].iloc[0]) if len(match) else math.nan
                    random_cars = basket_cars(values, draws, at_purchase, events.weighting)
                    statistic = f"car {event} [{window[0]}, {window[1]}]"
                    ranking = rank_against(value, random_cars)
                    rows.append({**common, "statistic": statistic, **ranking.to_dict()})
                    nulls.append(random_cars)
            schedule = result.backtest.schedules[theme.name]
            worst = max(worst, _verify(aligned, draws, drawn_here.weigh(slice(0, options.verify)),
                                       trade, fees, schedule, view.listings, panel, theme,
                                       options.verify))
            drawn[f"{theme.name} | {label}" if label else theme.name] = (
                np.array(matrix.symbols, dtype=object)[draws]
            )
    if worst > VERIFY_TOLERANCE:
        raise EngineFailure(
            f"the fast kernel and vectorbt differ by {worst:.3g} on verified random baskets",
            "this is a bug in basket; rerun with --verify 0 to skip the check (not advised)",
        )
    for result in runs:
        notes.extend(n for n in result.notes if n not in notes)
    return SweepResult(
        study=study, baskets=list(baskets), options=options, universe=universe.description,
        rows=rows, nulls=nulls, draws=drawn, verified=worst, notes=notes, events=events,
        runs=runs,
    )


def write_sweep_run(
    result: SweepResult,
    out: str | Path = "results",
    *,
    name: str | None = None,
    argv: Sequence[str] | None = None,
) -> Path:
    """Write a sweep (``basket sweep``) as a run folder, its report included."""
    from engine.results.report.sweep import write_sweep_report
    from engine.results.sweepfolder import write_sweep

    return write_sweep(result, out, name=name, argv=argv,
                       finish=[lambda folder, _: write_sweep_report(folder, result)])


def _key_text(stratum: tuple) -> str:
    return " / ".join(str(p) for p in stratum)


def _stratum_keys(
    meta: pd.DataFrame, match: Sequence[str], quintiles: pd.Series | None
) -> np.ndarray:
    """Every universe stock's stratum as text (market, then the matched characteristics)."""
    keys = meta["market"].astype(str)
    for what in match:
        if what == "listed":
            continue
        if what == "liquidity":
            assert quintiles is not None
            keys = keys + " / liquidity Q" + quintiles.astype(str)
        else:
            keys = keys + " / " + meta[what].astype(str)
    return keys.to_numpy()
