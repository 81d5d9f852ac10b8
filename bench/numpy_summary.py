"""The main job's summary written plainly with numpy (and pandas to read the CSVs): the yardstick
``bench/bench_run.py`` measures ``basket run`` against.

    python bench/numpy_summary.py [--prices DIR]    # prints the summary as JSON

The eight baskets of ``baskets/`` under ``baskets/studies/deepseek.yaml``: prices in dollars on
the union of the exchanges' sessions (a closed market keeps its last close), each basket bought
at the first session's close with all its cash and the proportional fee on top (vectorbt's
target-percent orders: buys in ascending order of value, the last cut to the cash left), the
monthly basket rebalanced on the first session of each month on which all its exchanges trade
(sells first), and the first twelve summary columns on the sessions of the basket's exchanges
and the benchmark's.  Knows nothing of the engine.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import exchange_calendars as xc
import numpy as np
import pandas as pd
import yaml

PROJECT = Path(__file__).resolve().parents[1]
CALENDARS = {".SS": "XSHG", ".SZ": "XSHG", ".HK": "XHKG"}
CURRENCIES = {"XSHG": "CNY", "XHKG": "HKD", "XNAS": "USD"}
LOOKBACK = pd.Timedelta(days=31)


def calendar_of(symbol: str) -> str:
    return next((c for suffix, c in CALENDARS.items() if symbol.endswith(suffix)), "XNAS")


def baskets() -> list[dict]:
    found = []
    for path in sorted((PROJECT / "baskets").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        symbols = [c["symbol"] for c in spec["constituents"]]
        if spec.get("weighting") == "custom":
            weights = np.array([c["weight"] for c in spec["constituents"]], dtype=float)
        else:
            weights = np.ones(len(symbols))
        found.append({"name": spec["name"], "symbols": symbols, "weights": weights / weights.sum(),
                      "rebalance": spec.get("rebalance")})
    return found


def closes(prices: Path, symbol: str) -> pd.Series:
    stem = symbol.replace("^", "_").replace("=", "_")
    frame = pd.read_csv(prices / f"{stem}.csv", index_col="date", parse_dates=True)
    return frame["adj_close"].fillna(frame["close"]).dropna()


def as_of(series: pd.Series, days: pd.DatetimeIndex) -> np.ndarray:
    """The last value on or before each of ``days``."""
    positions = series.index.searchsorted(days, side="right") - 1
    return np.where(positions >= 0, series.to_numpy()[np.maximum(positions, 0)], np.nan)


def simulate(prices: np.ndarray, weights: np.ndarray, trade: np.ndarray, fee: float) -> np.ndarray:
    """Value per session of target-weight orders on the ``trade`` sessions (the first too)."""
    held = np.zeros(len(weights))
    cash = 1.0
    values = np.empty(len(prices))
    for t, price in enumerate(prices):
        if t == 0 or trade[t]:
            value = cash + held @ price
            order_value = weights * value - held * price  # vectorbt's sort key, exactly
            change = weights * value / price - held
            for i in np.argsort(order_value, kind="stable"):
                if change[i] < 0:
                    cash += -change[i] * price[i] * (1 - fee)
                    held[i] += change[i]
                elif change[i] > 0:
                    size = min(change[i], cash / (price[i] * (1 + fee)))
                    cash -= size * price[i] * (1 + fee)
                    held[i] += size
        values[t] = cash + held @ price
    return values


def summary(name: str, v: np.ndarray, b: np.ndarray, days: pd.DatetimeIndex, initial: float):
    r, rb = v[1:] / v[:-1] - 1, b[1:] / b[:-1] - 1
    total, bench = v[-1] / initial - 1, b[-1] / b[0] - 1
    beta = np.cov(r, rb, ddof=1)[0, 1] / np.var(rb, ddof=1)
    active = r - rb
    sd_active = np.std(active, ddof=1)
    peaks = np.maximum.accumulate(np.concatenate([[initial], v]))
    return {
        "basket": name,
        "total_return": total,
        "annualized_return": (1 + total) ** (365.25 / (days[-1] - days[0]).days) - 1,
        "volatility": np.std(r, ddof=1) * math.sqrt(252),
        "sharpe": np.mean(r) / np.std(r, ddof=1) * math.sqrt(252),
        "max_drawdown": np.min(np.concatenate([[initial], v]) / peaks - 1),
        "beta": beta,
        "alpha": (np.mean(r) - beta * np.mean(rb)) * 252,
        "tracking_error": sd_active * math.sqrt(252),
        "information_ratio": np.mean(active) / sd_active * math.sqrt(252) if sd_active else None,
        "benchmark_return": bench,
        "excess_return": total - bench,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = PROJECT.parent / "shared" / "data" / "prices"
    parser.add_argument("--prices", type=Path, default=shared)
    args = parser.parse_args()
    study = yaml.safe_load((PROJECT / "baskets" / "studies" / "deepseek.yaml").read_text())
    start, end = pd.Timestamp(study["start"]), pd.Timestamp(study["end"])
    benchmark, fee = study["benchmark"], float(study["fees"])
    chosen = baskets()
    symbols = list(dict.fromkeys([s for b in chosen for s in b["symbols"]] + [benchmark]))
    own = {c: xc.get_calendar(c, start="2000-01-01").sessions_in_range(start - LOOKBACK, end)
           for c in {calendar_of(s) for s in symbols}}
    union = pd.DatetimeIndex(sorted(set().union(*(d[d >= start] for d in own.values()))))
    fx = {"USD": np.ones(len(union))}
    for currency in ("CNY", "HKD"):
        fx[currency] = as_of(closes(args.prices, f"{currency}=X"), union)
    dollars, is_open = {}, {}
    for symbol in symbols:
        calendar = calendar_of(symbol)
        series = closes(args.prices, symbol)
        series = series[series.index.isin(own[calendar])]
        dollars[symbol] = as_of(series, union) / fx[CURRENCIES[calendar]]
        is_open[symbol] = union.isin(own[calendar])
    bench = dollars[benchmark]
    rows = []
    for basket in chosen:
        prices = np.column_stack([dollars[s] for s in basket["symbols"]])
        all_open = np.all([is_open[s] for s in basket["symbols"]], axis=0)
        trade = np.zeros(len(union), dtype=bool)
        if basket["rebalance"] == "monthly":
            months = union.to_period("M")
            for month in months[months > months[0]].unique():
                candidates = np.flatnonzero((months == month) & all_open)
                if len(candidates):
                    trade[candidates[0]] = True
        values = simulate(prices, basket["weights"], trade, fee)
        calendars = {calendar_of(s) for s in basket["symbols"]} | {calendar_of(benchmark)}
        days = np.any([union.isin(own[c]) for c in calendars], axis=0)
        rows.append(summary(basket["name"], values[days], bench[days], union[days], 1.0))
    days = union.isin(own[calendar_of(benchmark)])
    rows.append(summary(benchmark, bench[days], bench[days], union[days], bench[days][0]))
    print(json.dumps([{k: v if v is None or k == "basket" else float(v) for k, v in row.items()}
                      for row in rows], indent=2))


if __name__ == "__main__":
    main()
