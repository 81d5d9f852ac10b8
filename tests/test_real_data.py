"""Runs on the real shared prices, checked against independent computations and market facts.

The reference numbers are read straight from the CSV files with the ``csv`` module, without the
engine's loading, alignment or simulation.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from engine.config.baskets import Basket, Constituent, load_basket
from engine.config.studies import Study, load_study
from engine.data.csvfolder import CsvFolderSource
from engine.pipeline.runs import run
from engine.pipeline.study import resolve_study

PROJECT = Path(__file__).resolve().parents[1]


def closes(folder: Path, stem: str) -> dict[str, float]:
    with open(folder / f"{stem}.csv", newline="") as handle:
        return {
            row["date"]: float(row["adj_close"] or row["close"]) for row in csv.DictReader(handle)
        }


def as_of(series: dict[str, float], day: str) -> float:
    return series[max(d for d in series if d <= day)]


def one(symbol: str) -> Basket:
    return Basket(name=symbol, constituents=(Constituent(symbol, 1.0),))


def period(start: str, end: str, **changes) -> Study:
    return Study(start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end), **changes)


def test_nvidia_and_the_nasdaq_on_the_us_sell_off(shared_prices):
    result = run([one("NVDA")], period("2025-01-23", "2025-01-28"), CsvFolderSource(shared_prices))
    daily = result.equity_frame().pct_change()
    # Known market facts: Nvidia -16.97 % and the NASDAQ Composite -3.07 % on 2025-01-27.
    assert daily.loc["2025-01-27", "NVDA"] == pytest.approx(-0.1697, abs=5e-5)
    assert daily.loc["2025-01-27", "^IXIC"] == pytest.approx(-0.0307, abs=5e-5)


def test_one_stock_basket_equals_the_stock_on_real_data(shared_prices):
    nvda = closes(shared_prices, "NVDA")
    result = run([one("NVDA")], period("2024-12-31", "2025-02-28"), CsvFolderSource(shared_prices))
    assert result.summary[0].total_return == pytest.approx(
        nvda["2025-02-28"] / nvda["2024-12-31"] - 1, rel=1e-9
    )


def test_report_headliners_in_usd_match_a_direct_computation(shared_prices):
    """Equal-weight buy and hold of four Hong Kong stocks, no fees, in US dollars: the average
    of each stock's dollar return, with the HKD rate carried to each date."""
    start, end = "2024-12-31", "2025-02-14"
    basket = load_basket(PROJECT / "baskets" / "report_headliners.yaml")
    result = run([basket], period(start, end), CsvFolderSource(shared_prices))
    hkd = closes(shared_prices, "HKD_X")
    expected = []
    for symbol in basket.symbols:
        price = closes(shared_prices, symbol)
        expected.append(
            (as_of(price, end) / as_of(hkd, end)) / (as_of(price, start) / as_of(hkd, start)) - 1
        )
    assert result.summary[0].total_return == pytest.approx(sum(expected) / 4, rel=1e-9)
    # The report's "since January Alibaba, SMIC, BYD and Xiaomi rose 51%, 43%, 37% and 30%"
    # holds in Hong Kong dollars to 2025-02-14, within 1.5 points (adjusted prices).
    local = result.attribution_frame().set_index("symbol")["local_return"]
    claimed = {"9988.HK": 0.51, "0981.HK": 0.43, "1211.HK": 0.37, "1810.HK": 0.30}
    for symbol, gain in claimed.items():
        assert local[symbol] == pytest.approx(gain, abs=0.015), symbol


def test_smic_listings_diverge(shared_prices):
    """THEMES.md: from 2024-12-31 to 2025-02-14 SMIC's Hong Kong shares rose about 44 % while
    its Shanghai shares rose about 5 %."""
    both = Basket(
        name="SMIC",
        constituents=(Constituent("0981.HK", 0.5), Constituent("688981.SS", 0.5)),
        weighting="custom",
    )
    result = run([both], period("2024-12-31", "2025-02-14"), CsvFolderSource(shared_prices))
    local = result.attribution_frame().set_index("symbol")["local_return"]
    assert local["0981.HK"] == pytest.approx(0.44, abs=0.01)
    assert local["688981.SS"] == pytest.approx(0.05, abs=0.01)


def test_deepseek_study_runs_every_theme(shared_prices):
    study = resolve_study(load_study(PROJECT / "baskets" / "studies" / "deepseek.yaml"))
    baskets = [load_basket(p) for p in sorted((PROJECT / "baskets").glob("*.yaml"))]
    result = run(baskets, study, CsvFolderSource(shared_prices))
    summary = result.summary_frame()
    assert list(summary.index) == [b.name for b in baskets] + ["^IXIC"]
    nasdaq = closes(shared_prices, "_IXIC")
    assert summary.loc["^IXIC", "total_return"] == pytest.approx(
        nasdaq["2025-02-28"] / nasdaq["2024-12-31"] - 1, rel=1e-9
    )
    # The basket rows carry the same benchmark and their excess over it.
    assert (summary["benchmark_return"] == summary.loc["^IXIC", "total_return"]).all()
    assert summary["excess_return"].to_numpy() == pytest.approx(
        (summary["total_return"] - summary["benchmark_return"]).to_numpy()
    )
    # Every Chinese theme beat the NASDAQ over the report's window; the US leaders did not.
    chinese = summary.drop(index=["US AI leaders", "^IXIC"])
    assert (chinese["excess_return"] > 0).all()
    assert summary.loc["US AI leaders", "excess_return"] < 0.05
