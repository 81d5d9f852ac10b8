"""What the runner asks of a price source: the dates a run and an event study need."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
from conftest import PROJECT

from engine.config.baskets import load_basket
from engine.config.studies import load_study
from engine.data.csvfolder import CsvFolderSource
from engine.pipeline.events import run_events
from engine.pipeline.study import event_options, resolve_study


class RecordingSource(CsvFolderSource):
    """The shared CSV folder, remembering the period each fetch asked for."""

    def __init__(self, folder):
        super().__init__(folder)
        self.asked = []

    def fetch(self, symbols, start=None, end=None):
        self.asked.append((start, end))
        return super().fetch(symbols, start, end)


def test_an_event_study_asks_for_its_estimation_and_event_windows(shared_prices):
    """An event after the study's period still gets its windows' prices from a downloading
    source: the fetch runs from the estimation window to the last window day."""
    study = resolve_study(load_study(PROJECT / "baskets" / "studies" / "deepseek.yaml"))
    study = dataclasses.replace(study, end=dt.date(2025, 2, 28))
    options = event_options(study, events=[dt.date(2025, 6, 2)], windows=[(0, 20)])
    source = RecordingSource(shared_prices)
    run_events([load_basket(PROJECT / "baskets" / "us_ai_leaders.yaml")], study, source, options)
    ((start, end),) = source.asked
    # Day -250 and day +20 around 2025-06-02, counted on Nvidia's real trading days.
    nvda = pd.read_csv(shared_prices / "NVDA.csv")["date"].tolist()
    day0 = nvda.index("2025-06-02")
    assert (start, end) == (pd.Timestamp(nvda[day0 - 250]), pd.Timestamp(nvda[day0 + 20]))


def test_portfolio_series_of_all_baskets_from_one_alignment_equal_each_alone(shared_prices):
    """The event study's portfolio series of every basket come from one alignment per
    currency; each equals the series computed the old way, from an alignment of that basket
    alone, with pandas (the reference written here), to the bit."""
    from engine.market.listings import resolve_listings
    from engine.market.panel import align
    from engine.pipeline.events import portfolio_returns
    from engine.pipeline.listings import listing_overrides
    from engine.pipeline.prices import gather_prices

    study = resolve_study(load_study(PROJECT / "baskets" / "studies" / "deepseek.yaml"))
    baskets = [load_basket(p) for p in sorted((PROJECT / "baskets").glob("*.yaml"))]
    source = CsvFolderSource(shared_prices)
    prices, baskets, _ = gather_prices(source, baskets, study)
    symbols = [*{s for b in baskets for s in b.symbols}, study.benchmark]
    listings = resolve_listings(symbols, listing_overrides(baskets, study))
    start, end = pd.Timestamp("2024-01-02"), pd.Timestamp("2025-02-28")
    currencies = ["USD"] * (len(baskets) - 1) + ["HKD"]  # two alignments
    series = portfolio_returns(prices, baskets, study.benchmark, start, end, currencies, listings)
    for basket, currency, (portfolio, market) in zip(baskets, currencies, series, strict=True):
        panel = align(
            prices,
            [*basket.symbols, study.benchmark],
            start,
            end,
            currency=currency,
            listings=listings,
            partial=True,
        )
        returns = panel.prices[panel.open[basket.symbols].any(axis=1)].pct_change().iloc[1:]
        stocks = returns[basket.symbols]
        weights = pd.Series(basket.weights)
        weight_sum = stocks.notna().mul(weights, axis=1).sum(axis=1)
        expected = stocks.mul(weights, axis=1).sum(axis=1) / weight_sum.where(weight_sum > 0)
        pd.testing.assert_series_equal(
            portfolio, expected.rename(basket.name), check_exact=True, check_freq=False
        )
        pd.testing.assert_series_equal(
            market, returns[study.benchmark], check_exact=True, check_freq=False
        )


def test_a_run_resolves_each_listing_once(shared_prices, monkeypatch):
    """Resolve once, pass down: during a run with its event study, every symbol's listing is
    derived from its suffix at most once (engine.pipeline.listings.run_listings), whichever
    stages use it (fetching, quality checks, alignment, portfolio series, event study)."""
    import engine.analysis.events.stocks as event_stocks
    import engine.market.listings as listings_module
    from engine.pipeline.runs import run
    from engine.symbols import listing_of

    resolved: list[str] = []

    def counted(symbol):
        resolved.append(symbol)
        return listing_of(symbol)

    monkeypatch.setattr(listings_module, "listing_of", counted)
    monkeypatch.setattr(event_stocks, "listing_of", counted)
    study = resolve_study(load_study(PROJECT / "baskets" / "studies" / "deepseek.yaml"))
    baskets = [load_basket(p) for p in sorted((PROJECT / "baskets").glob("*.yaml"))]
    result = run(baskets, study, CsvFolderSource(shared_prices), events=event_options(study))
    assert not result.events.summary.empty
    held = {s for b in baskets for s in b.symbols}
    assert sorted(resolved) == sorted(set(resolved))  # none twice
    assert held | {"^IXIC", "000300.SS", "^HSI"} == set(resolved)
