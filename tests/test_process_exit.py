"""The process ends without the interpreter's teardown (cli.run_and_exit) and loses nothing:
standard output complete whether it goes to a file or a pipe, exit codes 0, 1 and 2 kept, the
run folder complete, exit handlers run; each against the same command ended the normal way."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import PROJECT, make_sine_project, only_run, write_yaml

#: The command ended the normal way: click's main() returns through SystemExit and the
#: interpreter tears itself down (the reference).
NORMAL_END = "import sys; sys.argv[0] = 'cli.py'; import cli; cli.main()"


def basket(*args, ended_normally: bool = False, **kwargs) -> subprocess.CompletedProcess:
    command = ["-c", NORMAL_END] if ended_normally else [str(PROJECT / "cli.py")]
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "BASKET_PRICES": ""}
    return subprocess.run([sys.executable, *command, *map(str, args)], cwd=PROJECT, env=env,
                          timeout=300, **kwargs)


def run_args(project, out) -> list[str]:
    return [str(a) for a in ("run", project["basket"], "--study", project["study"], "--prices",
                             project["prices"], "--out", out, "--no-events")]


#: Files that name the run (its id, time and command line).
PER_RUN = ("manifest.json", "report.html")


def folder_files(out) -> dict[str, bytes]:
    """The run folder's files, but for those naming the run: which exist, and their bytes."""
    folder = only_run(out)
    return {str(p.relative_to(folder)): p.read_bytes() if p.name not in PER_RUN else b""
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_run_piped_and_sent_to_a_file_writes_what_a_normal_end_writes(tmp_path):
    project = make_sine_project(tmp_path)
    piped = basket(*run_args(project, tmp_path / "piped"), "--format", "json",
                   capture_output=True, text=True)
    with open(tmp_path / "stdout.txt", "w") as handle:
        to_file = basket(*run_args(project, tmp_path / "file"), "--format", "json",
                         stdout=handle, stderr=subprocess.PIPE, text=True)
    normal = basket(*run_args(project, tmp_path / "normal"), "--format", "json",
                    capture_output=True, text=True, ended_normally=True)
    assert piped.returncode == to_file.returncode == normal.returncode == 0, piped.stderr
    assert piped.stdout == (tmp_path / "stdout.txt").read_text() == normal.stdout
    assert piped.stdout.endswith("]\n") and '"basket": "B"' in piped.stdout
    assert piped.stderr.splitlines()[-1].startswith("results: ")
    assert folder_files(tmp_path / "piped") == folder_files(tmp_path / "normal")
    assert folder_files(tmp_path / "file") == folder_files(tmp_path / "normal")


def test_a_large_output_through_a_pipe_arrives_whole(tmp_path):
    """More than a pipe holds (64 KiB): written while the reader reads, flushed before the end."""
    project = make_sine_project(tmp_path)
    files = [write_yaml(tmp_path / "many" / f"b{n:02d}.yaml",
                        f"name: Basket {n:02d}\nweighting: custom\nnormalize: true\nconstituents:\n"
                        f"  - {{symbol: AAA, weight: {n + 1}}}\n  - {{symbol: BBB, weight: 1}}\n")
             for n in range(60)]
    args = ["run", *files, *run_args(project, tmp_path / "fast")[2:], "--format", "json"]
    fast = basket(*args, capture_output=True, text=True)
    args[args.index(str(tmp_path / "fast"))] = str(tmp_path / "normal")
    normal = basket(*args, capture_output=True, text=True, ended_normally=True)
    assert fast.returncode == normal.returncode == 0, fast.stderr
    assert len(fast.stdout.encode()) > 65536
    assert fast.stdout == normal.stdout


@pytest.mark.parametrize("args, code", [
    (["run", "missing.yaml"], 2),
    (["run", "--prices", "/nonexistent/prices"], 2),
    (["report", "/nonexistent/run"], 2),
    (["--help"], 0),
    (["no-such-command"], 2),
])
def test_exit_codes_and_messages_are_those_of_a_normal_end(args, code):
    fast = basket(*args, capture_output=True, text=True)
    normal = basket(*args, capture_output=True, text=True, ended_normally=True)
    assert fast.returncode == normal.returncode == code, fast.stderr
    assert fast.stdout == normal.stdout and fast.stderr == normal.stderr


def test_a_runtime_failure_exits_1_and_says_so(tmp_path):
    project = make_sine_project(tmp_path)
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder\n")
    fast = basket(*run_args(project, blocked / "out"), capture_output=True, text=True)
    assert fast.returncode == 1
    assert fast.stderr.startswith("Error: results folder ") and fast.stdout == ""


def test_exit_handlers_run_before_the_end():
    code = ("import atexit, sys; sys.argv = ['cli.py', '--help']; "
            "atexit.register(lambda: print('handler ran', file=sys.stderr)); "
            "import cli; cli.run_and_exit()")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "handler ran\n"
    assert "Usage:" in done.stdout
