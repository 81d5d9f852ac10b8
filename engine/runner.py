"""A study run: baskets and a study in, aligned prices, backtest, metrics and notes out.

This is what ``basket run`` does, as one Python call::

    from engine.runner import run
    from engine.baskets import load_basket, load_study
    from engine.data import CsvFolderSource

    study = resolve_study(load_study("baskets/studies/deepseek.yaml"), fees=0.0)
    baskets = [load_basket("baskets/domestic_chips.yaml")]
    result = run(baskets, study, CsvFolderSource("../shared/data/prices"))
    result.summary_frame()
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from engine.backtest import INITIAL_CASH, BacktestResult, run_backtest
from engine.baskets import REBALANCES, Basket, Study
from engine.data import PriceSet, PriceSource
from engine.errors import ConfigError, MissingDataError, OptionError
from engine.market import (
    LOOKBACK,
    Panel,
    align,
    coverage_problems,
    fx_symbols_needed,
    report_currency,
    resolve_listings,
    study_sessions,
)
from engine.metrics import Summary, summarize

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

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame([s.to_dict() for s in self.summary]).set_index("basket")

    def equity_frame(self) -> pd.DataFrame:
        """Daily values of every basket and the benchmark, rebased to 1 at the starting cash."""
        bench = self.panel.prices[self.study.benchmark]
        frame = self.backtest.equity / INITIAL_CASH
        frame[self.study.benchmark] = bench / bench.iloc[0]
        return frame

    def attribution_frame(self) -> pd.DataFrame:
        """Per constituent: target weight, local and report-currency returns over the period,
        and contribution to the basket's total return."""
        rows = []
        prices, local = self.panel.prices, self.panel.local
        for basket in self.baskets:
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
            "benchmark": benchmark,
            "currency": currency.upper() if currency else None,
            "fees": fees,
        }.items()
        if value is not None
    }
    resolved = dataclasses.replace(study, **changes)
    if resolved.start is None or resolved.end is None:
        raise OptionError("--start/--end", "the period is not set", "pass both or use a study file")
    if resolved.start > resolved.end:
        raise OptionError("--start", f"{resolved.start} is after the end {resolved.end}")
    if not 0 <= resolved.fees < 0.1:
        raise OptionError("--fees", f"{resolved.fees:g} is not in [0, 0.1)", "0.001 = 10 bp")
    return resolved


def _check_names(baskets: Sequence[Basket], benchmark: str) -> None:
    seen: dict[str, str | None] = {}
    for basket in baskets:
        if basket.name in seen:
            raise ConfigError(
                basket.path,
                f"basket name '{basket.name}' is also used by {seen[basket.name]}",
                field="name",
                hint="give every basket a distinct name",
            )
        if basket.name == benchmark:
            raise ConfigError(basket.path, f"basket name '{basket.name}' is the benchmark's symbol")
        seen[basket.name] = basket.path


def gather_prices(
    source: PriceSource,
    baskets: Sequence[Basket],
    study: Study,
    *,
    skip_missing: bool = False,
) -> tuple[PriceSet, list[Basket], dict[str, dict[str, str]]]:
    """Fetch every price the run needs and check it covers the period.

    Every problem (no data, data starting after the start or ending before the end) is listed
    in one :class:`MissingDataError`.  With ``skip_missing`` constituents with problems are
    dropped from their baskets (weights renormalised) and reported per basket; the benchmark and
    FX series are never skipped.
    """
    overrides = {**study.listings}
    for basket in baskets:
        overrides.update(basket.listings())
    constituents = list(dict.fromkeys(s for b in baskets for s in b.symbols))
    listings = resolve_listings([*constituents, study.benchmark], overrides)
    currency = report_currency(study.currency, listings)
    fx = fx_symbols_needed({v.currency for v in listings.values()} | {currency})
    start, end = pd.Timestamp(study.start), pd.Timestamp(study.end)
    wanted = list(dict.fromkeys([*constituents, study.benchmark, *fx]))
    histories, problems = source.fetch(wanted, start - LOOKBACK, end)
    union = study_sessions({v.calendar for v in listings.values()}, start, end)
    problems.update(
        coverage_problems(
            {s: h for s, h in histories.items() if s in listings}, listings, union[0], union[-1]
        )
    )
    required = {study.benchmark, *fx}
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
    return PriceSet(usable, source.description, skipped=problems), kept, skipped


def run(
    baskets: Sequence[Basket],
    study: Study,
    source: PriceSource,
    *,
    skip_missing: bool = False,
    rebalance: str | None = None,
) -> RunResult:
    """Backtest ``baskets`` over the ``study`` (already resolved with :func:`resolve_study`).

    ``rebalance`` overrides every basket's own schedule (the command line's ``--rebalance``).
    """
    if rebalance is not None and rebalance not in REBALANCES:
        raise OptionError("--rebalance", f"'{rebalance}' is not one of {', '.join(REBALANCES)}")
    if not baskets:
        raise OptionError("BASKET_FILES", "no basket to run")
    _check_names(baskets, study.benchmark)
    prices, baskets, skipped = gather_prices(source, baskets, study, skip_missing=skip_missing)
    overrides = {**study.listings}
    for basket in baskets:
        overrides.update(basket.listings())
    symbols = list(dict.fromkeys([s for b in baskets for s in b.symbols] + [study.benchmark]))
    panel = align(
        prices,
        symbols,
        pd.Timestamp(study.start),
        pd.Timestamp(study.end),
        currency=study.currency,
        listings=overrides,
    )
    if len(panel.sessions) < MIN_SESSIONS:
        raise OptionError(
            "--start/--end",
            f"{study.start}..{study.end} has {len(panel.sessions)} session(s); "
            f"at least {MIN_SESSIONS} are needed for daily statistics",
        )
    backtest = run_backtest(
        panel, baskets, fees=study.fees, rebalance=rebalance, default_rebalance=study.rebalance
    )
    bench = panel.prices[study.benchmark]
    summary = [summarize(b.name, backtest.equity[b.name], bench, INITIAL_CASH) for b in baskets] + [
        summarize(study.benchmark, bench, bench, bench.iloc[0])
    ]
    notes = list(panel.notes)
    first = panel.sessions[0]
    for symbol in symbols:
        if not panel.open.at[first, symbol]:
            notes.append(
                f"{symbol}: its exchange is closed on the first session {first.date()}; "
                "valued at its last close before it"
            )
    for basket_name, dropped in skipped.items():
        for symbol, why in dropped.items():
            notes.append(f"{basket_name}: skipped {symbol} ({why}); weights renormalised")
    for basket in baskets:
        notes.extend(f"{basket.name}: {note}" for note in basket.notes)
    return RunResult(
        study=study,
        baskets=list(baskets),
        panel=panel,
        backtest=backtest,
        summary=summary,
        prices=prices,
        skipped=skipped,
        notes=notes,
    )
