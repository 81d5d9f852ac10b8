"""Wall-clock cost of the main job, and Numba versus vectorbt's Rust engine.

    python bench/bench_run.py [--prices DIR] [--python PYTHON ...] [--repeat N]

For each interpreter (default: this one) it measures, in one run on this machine:

* ``basket --help`` (must stay fast: no heavy import),
* ``import vectorbt``,
* ``basket run --no-events`` on every basket with an empty Numba cache (cold: kernels compile),
* the same run again (warm: kernels load from the cache),

and prints the medians and their ratio to the first interpreter.  Pass a second interpreter
from a virtual environment with ``vectorbt[rust]`` installed to compare the engines; vectorbt
uses Rust whenever ``vectorbt-rust`` is importable.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(python: str, prices: str, repeat: int) -> dict[str, float]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    cli = [python, "-m", "cli"]
    out = tempfile.mkdtemp(prefix="basket-bench-")
    run = [*cli, "run", "--prices", prices, "--no-events", "--out", out, "--format", "json"]
    results = {
        "basket --help": statistics.median(timed([*cli, "--help"], env) for _ in range(repeat)),
        "import vectorbt": statistics.median(
            timed([python, "-c", "import vectorbt"], env) for _ in range(repeat)
        ),
    }
    cold_env = {**env, "NUMBA_CACHE_DIR": tempfile.mkdtemp(prefix="numba-cold-")}
    results["run, cold cache"] = timed(run, cold_env)
    results["run, warm cache"] = statistics.median(timed(run, cold_env) for _ in range(repeat))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", default=str(PROJECT.parent / "shared" / "data" / "prices"))
    parser.add_argument("--python", action="append", help="interpreter(s) to compare")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pythons = args.python or [sys.executable]
    table = {python: measure(python, args.prices, args.repeat) for python in pythons}
    reference = table[pythons[0]]
    print(f"{'measure':<18}" + "".join(f"{Path(p).parents[1].name[:18]:>20}" for p in pythons))
    for name in reference:
        cells = []
        for python in pythons:
            value = table[python][name]
            ratio = value / reference[name]
            cells.append(f"{value:8.2f} s (x{ratio:4.2f})")
        print(f"{name:<18}" + "".join(f"{c:>20}" for c in cells))


if __name__ == "__main__":
    main()
