"""What the main job costs against a plain numpy script, measured in one run on this machine.

    python bench/bench_run.py [--prices DIR] [--repeat N] [--baskets N]

Interleaved (one of each per round, ``--repeat`` rounds; medians reported):

* ``numpy script``: ``bench/numpy_summary.py``, the main job's summary written plainly;
* ``main job``: ``basket run`` on the baskets of ``baskets/``, with the study's event study;
* ``N baskets``: ``basket run`` on ``--baskets`` generated baskets (2-12 random constituents of
  the real baskets, random weights and schedules), event study included;
* ``basket event``: the event study of the real baskets on its own;
* ``basket --help``.

It first checks that the numpy script's summary equals the main job's (to 1e-9), then prints
wall time, CPU time and peak memory (max RSS) of each command with the ratio of its wall time to
the numpy script's, and the ``-X importtime`` profile of one main job (the packages costing most
to import, cumulative).  Commands run with ``OPENBLAS_NUM_THREADS=1``: multithreaded OpenBLAS
stalls on this shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

PROJECT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
TOLERANCE = 1e-9


def measured(command: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``command``, and its standard output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT, env=ENV, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read().decode()[-2000:]}")
        cpu = usage.ru_utime + usage.ru_stime
        return wall, cpu, usage.ru_maxrss / 1024, out.read().decode()


def generated_baskets(folder: Path, count: int, seed: int = 17) -> list[str]:
    """``count`` basket files of 2-12 random constituents of the real baskets."""
    symbols = sorted({c["symbol"] for path in (PROJECT / "baskets").glob("*.yaml")
                      for c in yaml.safe_load(path.read_text())["constituents"]})
    rng = np.random.default_rng(seed)
    paths = []
    for number in range(count):
        chosen = rng.choice(symbols, size=int(rng.integers(2, 13)), replace=False)
        weights = rng.dirichlet(np.ones(len(chosen)))
        spec = {
            "name": f"Generated {number:03d}",
            "weighting": "custom",
            "normalize": True,
            "rebalance": str(rng.choice(["none", "monthly", "quarterly"])),
            "constituents": [{"symbol": str(s), "weight": round(float(w), 6)}
                             for s, w in zip(chosen, weights, strict=True)],
        }
        path = folder / f"generated_{number:03d}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        paths.append(str(path))
    return paths


def check_numpy_script(numpy_json: str, run_json: str) -> float:
    """The largest relative difference between the numpy script's summary and the run's."""
    run = {row["basket"]: row for row in json.loads(run_json)}
    worst = 0.0
    for row in json.loads(numpy_json):
        for column, value in row.items():
            theirs = run[row["basket"]][column]
            if column == "basket" or (value is None and theirs is None):
                continue
            difference = abs(value - theirs) / max(abs(theirs), 1e-300)
            if not difference <= TOLERANCE:
                raise SystemExit(f"numpy script differs: {row['basket']} {column} "
                                 f"{value!r} != {theirs!r}")
            worst = max(worst, difference)
    return worst


def import_profile(command: list[str], top: int) -> list[tuple[str, float]]:
    """The packages costing most to import in ``command``: each package's own line of
    ``-X importtime`` (cumulative ms: what it imports included, wherever it was imported)."""
    done = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], cwd=PROJECT,
                          env=ENV, capture_output=True, text=True, check=True)
    costs = {}
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+([\w]+)$", line)
        if found:
            costs[found.group(2)] = int(found.group(1)) / 1000
    return sorted(costs.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", default=str(PROJECT.parent / "shared" / "data" / "prices"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baskets", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="basket-bench-"))
    cli = [sys.executable, "-m", "cli"]
    run = [*cli, "run", "--prices", args.prices, "--out", str(work / "out"), "--format", "json"]
    many = generated_baskets(work, args.baskets)
    commands = {
        "numpy script": [sys.executable, "bench/numpy_summary.py", "--prices", args.prices],
        "main job": run,
        f"{args.baskets} baskets": [*run[:4], *many, *run[4:]],
        "basket event": [*cli, "event", "--prices", args.prices, "--out", str(work / "out")],
        "basket --help": [*cli, "--help"],
    }
    worst = check_numpy_script(measured(commands["numpy script"])[3], measured(run)[3])
    print(f"numpy script = main job's summary (12 columns, 9 rows) to {worst:.1e}")
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            samples[name].append(measured(command)[:3])
    reference = statistics.median(s[0] for s in samples["numpy script"])
    print(f"\n{'command':<16}{'wall s':>9}{'x numpy':>9}{'CPU s':>8}{'peak MB':>9}")
    for name, values in samples.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        peak = max(v[2] for v in values)
        print(f"{name:<16}{wall:>9.2f}{wall / reference:>9.2f}{cpu:>8.2f}{peak:>9.0f}")
    print(f"\nmedians of {args.repeat} interleaved rounds; imports of one main job (ms):")
    for name, ms in import_profile(run, 12):
        print(f"  {name:<36}{ms:>7.0f}")


if __name__ == "__main__":
    main()
