"""Event studies in a command: the baskets' constant-weight portfolio series
(:func:`portfolio_returns`), the event study of a run's baskets (:func:`study_events`, with
:func:`with_hindsight`), and ``basket event`` on its own (:func:`run_events`, :class:`EventRun`).

May use the stages below the pipeline and :mod:`engine.pipeline.study`, ``listings`` and
``prices``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.config.baskets import Basket
from engine.config.studies import Study
from engine.data.prices import PriceSet, PriceSource
from engine.errors import DateRangeError, OptionError
from engine.market.listings import RunListings, fx_symbols_needed, report_currency
from engine.market.panel import align
from engine.pipeline.listings import held_symbols, run_listings
from engine.pipeline.prices import console_notes, event_prices
from engine.pipeline.study import EventOptions, check_names, event_span, selected_after, silent
from engine.symbols import Listing


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

    ``strict`` makes data-quality warnings an error (see
    :func:`engine.pipeline.prices.gather_prices`);
    ``stage(text)``, if given, is told each stage as it starts.
    """
    stage = stage or silent
    if not baskets:
        raise OptionError("BASKET_FILES", "no basket to study")
    check_names(baskets, study.benchmark)
    listings = run_listings(baskets, study, options)
    stage("reading and checking prices")
    prices, baskets, skipped = event_prices(
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
