"""``basket run``: the backtest of baskets over a study (:func:`run`, :class:`RunResult`), each
basket's own sessions and statistics (:func:`basket_sessions`, :func:`basket_summaries`), and the
leave-one-out and matched-null figures added to its row (:func:`with_robustness`,
:func:`with_null`, :func:`run_null`, :data:`RUN_NULL`).

May use the stages below the pipeline and :mod:`engine.pipeline.study`, ``listings``,
``prices``, ``draws``, ``universe`` and ``events``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

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
from engine.config.baskets import Basket
from engine.config.studies import Study
from engine.config.weights import REBALANCES
from engine.data.prices import PriceSet, PriceSource
from engine.errors import OptionError
from engine.market.benchmarks import local_benchmarks
from engine.market.listings import RunListings, report_currency
from engine.market.panel import Panel, align
from engine.pipeline.draws import SweepOptions
from engine.pipeline.events import study_events
from engine.pipeline.listings import held_symbols, local_indices, run_listings
from engine.pipeline.prices import console_notes, event_prices, gather_prices
from engine.pipeline.study import EventOptions, check_names, selected_after, silent
from engine.pipeline.universe import universe_figures
from engine.portfolio.simulation import INITIAL_CASH, BacktestResult
from engine.portfolio.targets import purchase_weights

MIN_SESSIONS = 3


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
    """Backtest ``baskets`` over the ``study`` (already resolved with
    :func:`engine.pipeline.study.resolve_study`), and study ``events`` if given.

    ``rebalance`` overrides every basket's own schedule (the command line's ``--rebalance``).
    ``strict`` makes data-quality warnings an error (see :func:`gather_prices`).  ``capital``
    (report currency; the command line's ``--capital``) trades every basket in whole board lots
    of that starting capital (see :mod:`engine.portfolio.execution`).  ``stage(text)``, if
    given, is told each stage as it starts (a progress display).  ``listings`` are the run's
    (:func:`run_listings`, or a caller's that hold them, e.g.
    :func:`engine.pipeline.claims.claims_listings`; resolved here when not given).

    With a ``universe`` (a :class:`engine.data.universe.UniverseSource`) every basket is also
    measured against the equal-weight pool of its markets' universe stocks and ranked against
    ``null.n_random`` matched random baskets (default :data:`RUN_NULL`; 0: none), see
    :func:`universe_figures`.  ``trials``: strategies tried besides these baskets (grid points,
    trials run elsewhere), counted by the deflated Sharpe ratio
    (:func:`engine.analysis.metrics.with_deflated_sharpe`).
    """
    stage = stage or silent
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
    check_names(baskets, *study.benchmarks)
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
        prices, baskets, skipped = event_prices(
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


#: The matched null of ``basket run --universe``: 1,000 random baskets per basket, matched on
#: the market mix, seed 0, one checked against vectorbt.
RUN_NULL = SweepOptions(n_random=1000, verify=1)
