"""A run folder made the fast way (vectorbt's compiled engine called directly, YAML through
libyaml, the report written with the run) is the run folder of the reference way (the full
``vbt.Portfolio`` simulation, PyYAML's pure-Python dumper, the report re-rendered
from the folder by ``basket report``): every table, the configuration, the manifest but for its
time and run id, and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import only_run

from engine.portfolio import simulation
from engine.portfolio.orders import simulate_portfolio
from engine.results import runfolder

#: Manifest fields that differ between any two runs.
PER_RUN = ("run_id", "created_at", "command")


def the_only_run(out: Path) -> Path:
    folder = only_run(out)
    return folder


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def manifest_without_run(text: bytes) -> dict:
    manifest = json.loads(text)
    return {k: v for k, v in manifest.items() if k not in PER_RUN}


def report_without_run(text: bytes, folder: Path) -> str:
    manifest = json.loads((folder / "manifest.json").read_text())
    page = text.decode()
    for key in PER_RUN[:2]:
        page = page.replace(str(manifest[key]), f"<{key}>")
    return page.replace(str(folder.parent), "<out>")


@pytest.fixture
def reference_way(monkeypatch):
    monkeypatch.setattr(simulation, "simulate", lambda orders: (simulate_portfolio(orders), []))
    monkeypatch.setattr(runfolder, "YAML_DUMPER", yaml.SafeDumper)


def test_the_main_job_writes_the_same_run_folder_both_ways(cli, shared_prices, tmp_path, request):
    fast_out, reference_out = tmp_path / "fast", tmp_path / "reference"
    done = cli("run", "--prices", shared_prices, "--out", fast_out, "--name", "same")
    assert done.exit_code == 0, done.output
    fast = the_only_run(fast_out)
    rendered_with_the_run = (fast / "report.html").read_bytes()

    request.getfixturevalue("reference_way")
    done = cli("run", "--prices", shared_prices, "--out", reference_out, "--name", "same")
    assert done.exit_code == 0, done.output
    reference = the_only_run(reference_out)
    done = cli("report", reference)
    assert done.exit_code == 0, done.output

    mine, theirs = files(fast), files(reference)
    assert sorted(mine) == sorted(theirs)
    assert "events/summary.csv" in mine and "report.html" in mine
    for name in mine:
        if name == "manifest.json":
            assert manifest_without_run(mine[name]) == manifest_without_run(theirs[name])
        elif name == "report.html":
            assert report_without_run(mine[name], fast) == report_without_run(
                theirs[name], reference
            )
        else:
            assert mine[name] == theirs[name], name
    # and `basket report` re-renders the fast run's own report byte for byte
    done = cli("report", fast)
    assert done.exit_code == 0, done.output
    assert (fast / "report.html").read_bytes() == rendered_with_the_run
