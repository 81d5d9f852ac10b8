"""What trading like the market costs in time: the planned-orders path against the plain one.

    python bench/bench_market_rules.py [--prices DIR] [--repeat N]

Simulates (``engine.portfolio.simulation.run_backtest``, prices already aligned) the shipped
Hang Seng TECH-rules basket (liquidity weights, 8 % cap, quarterly reviews, market costs,
commission minimum, board lots, limits) and its plain twin (equal weights, target-percent
orders), in one process on this machine, and prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", default=str(PROJECT.parent / "shared" / "data" / "prices"))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from engine.config.baskets import load_basket
    from engine.config.studies import load_study
    from engine.data.csvfolder import CsvFolderSource
    from engine.pipeline.runs import run
    from engine.pipeline.study import resolve_study
    from engine.portfolio.simulation import run_backtest

    study = resolve_study(load_study(PROJECT / "baskets/studies/since_2023.yaml"))
    medians = {}
    for name in ("plain", "rules"):
        basket = load_basket(PROJECT / f"baskets/examples/hang_seng_tech_{name}.yaml")
        result = run([basket], study, CsvFolderSource(args.prices))
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            run_backtest(result.panel, result.baskets, result.prices, fees=study.fees)
            times.append(time.perf_counter() - started)
        medians[name] = statistics.median(times)
    for name, seconds in medians.items():
        ratio = seconds / medians["plain"]
        print(f"{name:6} {seconds * 1000:8.1f} ms  x{ratio:.2f}")


if __name__ == "__main__":
    main()
