"""What the main job costs against a plain numpy script, measured in one run on this machine.

    python bench/bench_run.py [--prices DIR] [--repeat N] [--baskets N]

Interleaved (one of each per round, ``--repeat`` rounds; medians reported):

* ``numpy script``: ``bench/numpy_summary.py``, the main job's summary written plainly;
* ``main job``: ``basket run`` on the baskets of ``baskets/``, with the study's event study;
* ``N baskets``: ``basket run`` on ``--baskets`` generated baskets (2-12 random constituents of
  the real baskets, random weights and schedules), event study included;
* ``basket event``: the event study of the real baskets on its own;
* ``basket report``: the main job's report rendered again from its run folder;
* ``basket --help``.

It first checks that the numpy script's summary equals the main job's (to 1e-9), then prints
wall time, CPU time and peak memory (max RSS) of each command with the ratio of its wall time to
the numpy script's, whether the targets are met (main job within 3.5x the numpy script, the
generated baskets under 6 s wall and CPU, the main job's peak under 250 MB), the main job's
interpreter teardown (from its last exit handler to the end of the process, each round), the
load of the machine before and after, and the ``-X importtime`` profile of one main job (the
packages costing most to import, cumulative).  Commands run with ``OPENBLAS_NUM_THREADS=1``:
multithreaded OpenBLAS stalls on this shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
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
#: The targets of issue 17: main job / numpy script, seconds for the generated baskets (wall and
#: CPU), MB of peak memory for the main job.
TARGETS = {"ratio": 3.5, "baskets_seconds": 6.0, "peak_mb": 250.0}
#: Runs ``python -m cli ARGS`` and, from its last exit handler (registered first, so run last),
#: prints the wall-clock time on standard error: the rest of the process is the teardown.
TEARDOWN_MARK = "teardown from"
WITH_TEARDOWN_MARK = f"""
import atexit, runpy, sys, time
atexit.register(lambda: print("{TEARDOWN_MARK}", repr(time.time()), file=sys.stderr, flush=True))
sys.argv = ["cli.py", *sys.argv[1:]]
runpy.run_module("cli", run_name="__main__", alter_sys=True)
"""


def measured(command: list[str]) -> tuple[float, float, float, str, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``command``, its standard output, and its
    teardown: seconds from the teardown mark on its standard error (see
    :data:`WITH_TEARDOWN_MARK`) to its end, NaN without the mark."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT, env=ENV, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        ended = time.time()
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        errors = err.read().decode()
        if process.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{errors[-2000:]}")
        marks = [line.split()[-1] for line in errors.splitlines() if line.startswith(TEARDOWN_MARK)]
        teardown = ended - float(marks[-1]) if marks else math.nan
        cpu = usage.ru_utime + usage.ru_stime
        return wall, cpu, usage.ru_maxrss / 1024, out.read().decode(), teardown


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


def load() -> str:
    """The machine's load averages over 1, 5 and 15 minutes."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", default=str(PROJECT.parent / "shared" / "data" / "prices"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baskets", type=int, default=200)
    args = parser.parse_args()
    print(f"load before: {load()}")
    work = Path(tempfile.mkdtemp(prefix="basket-bench-"))
    cli = [sys.executable, "-m", "cli"]
    options = ["--prices", args.prices, "--out", str(work / "out")]
    run = [*cli, "run", *options, "--name", "main", "--format", "json"]
    many = generated_baskets(work, args.baskets)
    commands = {
        "numpy script": [sys.executable, "bench/numpy_summary.py", "--prices", args.prices],
        "main job": [sys.executable, "-c", WITH_TEARDOWN_MARK, *run[3:]],
        f"{args.baskets} baskets": [*cli, "run", *many, *options, "--format", "json"],
        "basket event": [*cli, "event", *options],
        "basket report": [*cli, "report"],  # the folder of the check's main job, below
        "basket --help": [*cli, "--help"],
    }
    worst = check_numpy_script(measured(commands["numpy script"])[3], measured(run)[3])
    print(f"numpy script = main job's summary (12 columns, 9 rows) to {worst:.1e}")
    commands["basket report"].append(str(next((work / "out").glob("*-main"))))
    samples: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            wall, cpu, peak, _, teardown = measured(command)
            samples[name].append((wall, cpu, peak, teardown))
    reference = statistics.median(s[0] for s in samples["numpy script"])
    print(f"\n{'command':<16}{'wall s':>9}{'x numpy':>9}{'CPU s':>8}{'peak MB':>9}")
    figures = {}
    for name, values in samples.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        peak = max(v[2] for v in values)
        figures[name] = wall, cpu, peak
        print(f"{name:<16}{wall:>9.2f}{wall / reference:>9.2f}{cpu:>8.2f}{peak:>9.0f}")
    main_wall, _, main_peak = figures["main job"]
    many_wall, many_cpu, _ = figures[f"{args.baskets} baskets"]
    print("\ntargets:")
    for met, text in (
        (main_wall / reference <= TARGETS["ratio"],
         f"main job {main_wall / reference:.2f}x the numpy script (<= {TARGETS['ratio']}x)"),
        (max(many_wall, many_cpu) < TARGETS["baskets_seconds"],
         f"{args.baskets} baskets {many_wall:.2f} s wall, {many_cpu:.2f} s CPU "
         f"(< {TARGETS['baskets_seconds']:.0f} s)"),
        (main_peak < TARGETS["peak_mb"],
         f"main job peak {main_peak:.0f} MB (< {TARGETS['peak_mb']:.0f} MB)"),
    ):
        print(f"  {'met' if met else 'MISSED':<8}{text}")
    teardowns = [v[3] for v in samples["main job"]]
    print(f"\nmain job teardown (last exit handler to the end of the process): median "
          f"{statistics.median(teardowns):.3f} s, rounds: "
          + ", ".join(f"{t:.3f}" for t in teardowns))
    print(f"\nmedians of {args.repeat} interleaved rounds; load after: {load()}")
    print("imports of one main job (ms):")
    for name, ms in import_profile(run, 12):
        print(f"  {name:<36}{ms:>7.0f}")


if __name__ == "__main__":
    main()
