"""Faults: interrupted and failing runs, runs racing for one folder name, folders that exist.

A run folder appears complete or not at all: a run stopped at any moment (Ctrl-C, a bug, a full
disk) leaves neither a half-written folder nor its hidden ``.<id>.*.partial`` staging folder,
the price cache stays consistent, an existing folder is never touched, and two runs started at
once write two separate, complete folders.

In-process tests make the fault happen at a chosen point (monkeypatching the file writer to
raise); the subprocess tests send a real SIGINT to ``basket run`` and start two real processes
at once.  The subprocesses all start together (one module fixture) so that their ~10 s imports
overlap.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT, make_sine_project, run_folders
from conftest_yahoo import fake_yahoo, make_source, price_cache, sleeps  # noqa: F401,F811
from yahoo_fake import needs_shared_prices

import engine.data.cache
import engine.pipeline.runs
import engine.results.runfolder
from engine.config.baskets import Basket, Constituent
from engine.config.studies import Study
from engine.data.cache import PriceCache

RUN_FILES = {"summary.csv", "summary.md", "summary.json", "equity.csv", "attribution.csv",
             "config.yaml", "manifest.json"}


def run_args(project: dict[str, Path], out: Path) -> list[str]:
    return ["run", str(project["basket"]), "--study", str(project["study"]),
            "--prices", str(project["prices"]), "--out", str(out)]


def assert_clean(out: Path, complete: int) -> list[Path]:
    """``out`` holds exactly ``complete`` run folders, each complete and naming itself in its
    manifest, and nothing else (no staging folder, no empty claimed name)."""
    entries = sorted(p for p in out.iterdir() if p.name != "assets") if out.exists() else []
    hidden = [p.name for p in entries if p.name.startswith(".")]
    assert hidden == [], f"staging left behind: {hidden}"
    assert len(entries) == complete, [p.name for p in entries]
    for folder in entries:
        assert {p.name for p in folder.iterdir()} >= RUN_FILES, folder
        assert json.loads((folder / "manifest.json").read_text())["run_id"] == folder.name
    return entries


# -- in-process: the fault happens at a chosen point ----------------------------------------------


@pytest.fixture
def project(tmp_path) -> dict[str, Path]:
    return make_sine_project(tmp_path)


def fail_on_write(monkeypatch, call: int, error: BaseException) -> None:
    """Make the ``call``-th file written into the run folder raise ``error`` instead."""
    original = engine.results.runfolder.write_text_synced
    count = {"n": 0}

    def write(path: Path, text: str) -> None:
        count["n"] += 1
        if count["n"] == call:
            raise error
        original(path, text)

    monkeypatch.setattr(engine.results.runfolder, "write_text_synced", write)


@pytest.mark.parametrize(
    "call, error, exit_code, message",
    [
        pytest.param(1, KeyboardInterrupt(), 1, "Aborted!", id="ctrl-c-on-the-first-file"),
        pytest.param(4, KeyboardInterrupt(), 1, "Aborted!", id="ctrl-c-on-the-manifest"),
        pytest.param(2, OSError(errno.ENOSPC, "No space left on device"), 1,
                     "could not be written (No space left on device)", id="disk-full"),
        pytest.param(3, RuntimeError("boom"), 1,
                     "Error: internal error: RuntimeError: boom (hint: this is a bug in basket; "
                     "rerun with --debug", id="bug-while-writing"),
    ],
)
def test_a_run_stopped_while_writing_leaves_no_folder(cli, project, tmp_path, monkeypatch, call,
                                                      error, exit_code, message):
    fail_on_write(monkeypatch, call, error)
    out = tmp_path / "results"
    result = cli(*run_args(project, out))
    assert result.exit_code == exit_code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert_clean(out, complete=0)


def test_a_run_stopped_while_renaming_gives_the_name_back(cli, project, tmp_path, monkeypatch):
    """Ctrl-C after the final name is claimed but before the staging folder moves onto it."""

    class InterruptedRename:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(src, dst):
            raise KeyboardInterrupt

    monkeypatch.setattr(engine.results.runfolder, "os", InterruptedRename())
    out = tmp_path / "results"
    result = cli(*run_args(project, out))
    assert result.exit_code == 1 and "Aborted!" in result.stderr
    assert_clean(out, complete=0)


@pytest.mark.parametrize(
    "error, exit_code, message",
    [
        pytest.param(KeyboardInterrupt(), 1, "Aborted!", id="ctrl-c"),
        pytest.param(ValueError("bad shape"), 1, "internal error: ValueError: bad shape",
                     id="bug"),
    ],
)
def test_a_run_stopped_during_the_backtest_writes_nothing(cli, project, tmp_path, monkeypatch,
                                                          error, exit_code, message):
    def backtest(*args, **kwargs):
        raise error

    monkeypatch.setattr(engine.pipeline.runs, "backtest_with_leave_one_out", backtest)
    out = tmp_path / "results"
    result = cli(*run_args(project, out))
    assert result.exit_code == exit_code and message in result.stderr, result.output
    assert not out.exists() or not any(out.iterdir())


def test_debug_shows_the_traceback_of_a_bug(cli, project, tmp_path, monkeypatch):
    monkeypatch.setattr(engine.pipeline.runs, "backtest_with_leave_one_out", lambda *a, **k: 1 / 0)
    result = cli("--debug", *run_args(project, tmp_path / "results"))
    assert isinstance(result.exception, ZeroDivisionError)


def test_an_existing_folder_is_never_overwritten(cli, project, tmp_path, monkeypatch):
    out = tmp_path / "results"
    mine = out / "clash"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my own work\n")
    (out / "clash-2").write_text("a file that holds the next name\n")
    monkeypatch.setattr(engine.results.runfolder, "new_run_id", lambda name, now=None: "clash")
    result = cli(*run_args(project, out))
    assert result.exit_code == 0, result.output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "my own work\n"
    assert (out / "clash-2").read_text() == "a file that holds the next name\n"
    written = out / "clash-3"
    assert {p.name for p in written.iterdir()} >= RUN_FILES
    assert json.loads((written / "manifest.json").read_text())["run_id"] == "clash-3"
    assert f"results: {written}" in result.stderr


@needs_shared_prices
def test_an_interrupted_download_leaves_the_cache_consistent(
    make_source, price_cache, monkeypatch  # noqa: F811
):
    """Ctrl-C between a symbol's data file and its metadata: the half-written entry counts as
    absent, the others verify, no temporary file stays, and the next run completes."""
    original = engine.data.cache.atomic_write
    calls = {"n": 0}

    def write(path: Path, data: bytes) -> None:
        calls["n"] += 1
        original(path, data)
        if calls["n"] == 3:  # the second symbol's parquet file is in place, its JSON is not
            raise KeyboardInterrupt

    basket = Basket("US", (Constituent("NVDA", 0.5), Constituent("AMD", 0.5)), "custom")
    study = Study(benchmark="^IXIC", start=pd.Timestamp("2025-01-02").date(),
                  end=pd.Timestamp("2025-02-28").date())
    monkeypatch.setattr(engine.data.cache, "atomic_write", write)
    with pytest.raises(KeyboardInterrupt):
        engine.pipeline.runs.run([basket], study, make_source())
    monkeypatch.undo()
    folder = price_cache.folder
    assert not [p.name for p in folder.rglob("*") if p.name.endswith(".tmp")]
    entries = price_cache.entries()
    assert len(entries) < 3  # the interrupted symbol is not in the cache
    assert all(price_cache.verify(entry.symbol) is None for entry in entries)
    result = engine.pipeline.runs.run([basket], study, make_source())
    assert [s.basket for s in result.summary] == ["US", "^IXIC"]
    assert sorted(e.symbol for e in price_cache.entries()) == ["AMD", "NVDA", "^IXIC"]
    assert all(price_cache.verify(entry.symbol) is None for entry in price_cache.entries())


# -- real processes: SIGINT, and two runs at once -------------------------------------------------

#: ``python -c WRAPPER SLOW ARGS...``: ``basket ARGS...`` whose run id is always "clash" and whose
#: every file write into the run folder first sleeps SLOW seconds, so that the process spends a
#: known stretch of time inside the atomic write; with $BASKET_TEST_GATE set, the writes wait
#: until that file exists (so that a test decides when the write starts).
WRAPPER = """
import os, sys, time
import engine.results.runfolder as results
slow = float(sys.argv.pop(1))
gate = os.environ.get("BASKET_TEST_GATE")
results.new_run_id = lambda name, now=None: "clash"
original = results.write_text_synced
def write_slowly(path, text):
    while gate and not os.path.exists(gate):
        time.sleep(0.01)
    time.sleep(slow)
    original(path, text)
results.write_text_synced = write_slowly
from cli import main
main(sys.argv[1:], prog_name="basket")
"""


def start(args: list[str], slow: float, env: dict[str, str]) -> subprocess.Popen:
    """``basket ARGS`` through :data:`WRAPPER`."""
    return subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(slow), *args],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    """Start, all at once: two runs into one folder (racing for the name "clash"), and one
    run on the offline Yahoo cache that a test will interrupt with SIGINT."""
    root = tmp_path_factory.mktemp("processes")
    project = make_sine_project(root)
    cache = PriceCache(root / "cache")
    cache.import_folder(project["prices"])
    env = {k: v for k, v in os.environ.items() if k != "BASKET_PRICES"}
    env |= {"BASKET_CACHE": str(root / "cache"), "PYTHONPATH": str(PROJECT)}
    together = root / "together"
    victim_out = root / "interrupted"
    victim_args = ["run", str(project["basket"]), "--study", str(project["study"]), "--offline",
                   "--out", str(victim_out)]
    running = {
        "first": start(run_args(project, together), 0.1, env),
        "second": start(run_args(project, together), 0.1, env),
        "victim": start(victim_args, 0.4, env),
        **{name: start(run_args(project, root / name), 0.4,
                       env | {"BASKET_TEST_GATE": str(root / f"{name}.go")})
           for name in STOP_SIGNALS},
    }
    yield {"together": together, "victim_out": victim_out, "cache": cache, "root": root,
           **running}
    for process in running.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigint_at_any_moment_of_the_write_leaves_a_complete_folder_or_none(processes):
    victim, out = processes["victim"], processes["victim_out"]
    deadline = time.monotonic() + 180
    while victim.poll() is None and time.monotonic() < deadline:
        if out.is_dir() and any(p.name.endswith(".partial") for p in out.iterdir()):
            break
        time.sleep(0.01)
    # The write takes about 2 s (0.4 s per file): land anywhere in it, or just after it.
    delay = random.uniform(0.0, 2.5)
    time.sleep(delay)
    if victim.poll() is None:
        victim.send_signal(signal.SIGINT)
    _, stderr = victim.communicate(timeout=120)
    print(f"SIGINT {delay:.2f} s after the staging folder appeared: exit {victim.returncode}")
    # 0: done before the signal; 1: stopped by it ("Aborted!"); -SIGINT: it landed while the
    # interpreter was exiting after the run, where Python's default handler ends the process.
    assert victim.returncode in (0, 1, -signal.SIGINT), (delay, stderr)
    if victim.returncode == 1:
        assert "Aborted!" in stderr and "Traceback" not in stderr, (delay, stderr)
    # Stopped before the rename: nothing; after it (or not stopped at all): the whole folder.
    visible = run_folders(out) if out.exists() else []
    assert len(visible) <= 1, (delay, visible)
    assert_clean(out, complete=len(visible))
    if victim.returncode == 0:
        assert len(visible) == 1
    cache = processes["cache"]
    assert len(cache.entries()) == 3
    assert all(cache.verify(entry.symbol) is None for entry in cache.entries())


#: The signals ``timeout``, a cancelled CI job, ``docker stop`` and a closed terminal send.
STOP_SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP}


@pytest.mark.parametrize("name", list(STOP_SIGNALS))
def test_sigterm_and_sighup_at_a_random_moment_leave_a_complete_folder_or_none(processes, name):
    victim, out = processes[name], processes["root"] / name
    deadline = time.monotonic() + 180
    while victim.poll() is None and time.monotonic() < deadline:
        if out.is_dir() and any(p.name.endswith(".partial") for p in out.iterdir()):
            break
        time.sleep(0.01)
    (processes["root"] / f"{name}.go").touch()  # the run now writes its files, 0.4 s each
    delay = random.uniform(0.0, 3.5)
    time.sleep(delay)
    if victim.poll() is None:
        victim.send_signal(STOP_SIGNALS[name])
    _, stderr = victim.communicate(timeout=120)
    print(f"{name} {delay:.2f} s after the staging folder appeared: exit {victim.returncode}")
    # 0: done before the signal; 128+n: stopped by it, cleaned up; -n: it landed while the
    # interpreter was exiting after the run, where the default handler ends the process.
    number = int(STOP_SIGNALS[name])
    assert victim.returncode in (0, 128 + number, -number), (delay, stderr)
    if victim.returncode == 128 + number:
        assert f"Error: stopped by {name}" in stderr and "Traceback" not in stderr, stderr
    visible = run_folders(out) if out.exists() else []
    assert len(visible) <= 1, (delay, visible)
    assert_clean(out, complete=len(visible))


def test_a_staging_folder_of_a_killed_run_is_removed_by_runs_and_the_next_run(
    cli, project, tmp_path
):
    out = tmp_path / "results"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for name in ("a", "b"):
        (out / f".20250101-000000-{name}.pid{dead}.x1y2.partial").mkdir(parents=True)
    mine = out / f".20250101-000000-c.pid{os.getpid()}.x1y2.partial"  # a live process's
    mine.mkdir()
    result = cli("runs", "--out", out)
    assert "removed .20250101-000000-a." in result.stderr, result.output
    assert sorted(p.name for p in out.iterdir()) == [mine.name]
    (out / f".20250101-000000-d.pid{dead}.x1y2.partial").mkdir()
    mine.rmdir()
    assert cli(*run_args(project, out)).exit_code == 0
    assert_clean(out, complete=1)


def test_a_temporary_file_of_a_killed_import_is_removed_by_data_status_and_imports(
    cli, project, tmp_path
):
    cache = PriceCache(tmp_path / "cache")
    cache.import_folder(project["prices"])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    left = cache.folder / f".AAA.parquet.pid{dead}.k3j4.tmp"
    left.write_bytes(b"half a file")
    result = cli("data", "--cache", cache.root, "status")
    assert result.exit_code == 0, result.output
    assert f"removed {left.name}" in result.stderr and not left.exists()
    left.write_bytes(b"half a file")
    cache.import_folder(project["prices"])
    assert not left.exists()


def test_two_runs_at_once_write_two_complete_folders(processes):
    outputs = [processes[name].communicate(timeout=180) for name in ("first", "second")]
    for process, (_, stderr) in zip((processes["first"], processes["second"]), outputs,
                                    strict=True):
        assert process.returncode == 0, stderr
    folders = assert_clean(processes["together"], complete=2)
    assert [f.name for f in folders] == ["clash", "clash-2"]
    reported = sorted(line.split("results: ")[1] for _, err in outputs
                      for line in err.splitlines() if line.startswith("results: "))
    assert reported == [str(f) for f in folders]
    summaries = [(f / "summary.csv").read_text() for f in folders]
    assert summaries[0] == summaries[1]
