"""``basket sweep``: every theme against matched random baskets of a universe over a parameter
grid (:func:`sweep`, :class:`SweepResult`), the universe stocks' CARs for the events included.

May use the stages below the pipeline and :mod:`engine.pipeline.study`, ``listings``,
``draws`` and ``runs``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.config.baskets import Basket
from engine.config.studies import Study
from engine.config.weights import REBALANCES
from engine.data.prices import PriceSource
from engine.errors import MissingDataError, OptionError
from engine.market.listings import RunListings, fx_symbols_needed
from engine.market.panel import LOOKBACK
from engine.pipeline.draws import (
    VERIFY_TOLERANCE,
    SweepOptions,
    matched_draws,
    read_universe,
    universe_on,
    verify_draws,
)
from engine.pipeline.listings import listing_overrides
from engine.pipeline.runs import RunResult, basket_sessions, run
from engine.pipeline.study import EventOptions, check_names, event_span, resolve_study

#: Statistics of the backtest that are ranked (more is better for each).
SWEEP_STATISTICS = ("total_return", "excess_return", "sharpe", "max_drawdown")


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
    listings: RunListings | None = None,
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
    ``listings`` are the themes' when a caller holds them (e.g.
    :func:`engine.pipeline.claims.claims_listings`), passed to each theme's run; without them
    each run resolves its theme's (:func:`engine.pipeline.listings.run_listings`).
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
    check_names(baskets, study.benchmark)
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
                         strict=strict, trials=len(baskets) * len(options.grid) - 1,
                         listings=listings)
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
            worst = max(worst, verify_draws(
                aligned, draws, drawn_here.weigh(slice(0, options.verify)), trade, fees,
                schedule, view.listings, panel, theme, options.verify,
            ))
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
