"""Run folders out: a backtest's, an event study's or a claims check's (:func:`write_run`), a
sweep's (:func:`write_sweep_run`), each with its report, and a folder's report rewritten
(:func:`rewrite_report`, ``basket report``).

May use every stage below the pipeline and every other room of the pipeline (the results it
writes).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.errors import ResultsError
from engine.pipeline.claims import ClaimsRun
from engine.pipeline.events import EventRun
from engine.pipeline.runs import RunResult
from engine.pipeline.sweep import SweepResult


def write_run(
    result: RunResult | EventRun | ClaimsRun,
    out: str | Path = "results",
    *,
    name: str | None = None,
    argv: Sequence[str] | None = None,
) -> Path:
    """Write a backtest (``basket run``), an event study (``basket event``) or a claims check
    (``basket claims``) as a run folder under ``out``, its report included (a backtest's and an
    event study's rendered from the tables just written, held in memory, not read back);
    returns the path.
    """
    from engine.results.claims import CLAIMS_FOLDER
    from engine.results.report import write_report
    from engine.results.report.claims import write_claims_report
    from engine.results.runfolder import EVENT_FOLDER, RUN_FOLDER, write_folder

    def from_memory(folder: Path, contents) -> Path:
        return write_report(folder, contents=contents)

    def from_files(folder: Path, _contents) -> Path:
        return write_claims_report(folder)

    kinds = {
        RunResult: (RUN_FOLDER, from_memory),
        EventRun: (EVENT_FOLDER, from_memory),
        ClaimsRun: (CLAIMS_FOLDER, from_files),
    }
    if type(result) not in kinds:
        raise TypeError(f"a {type(result).__name__} is no run to write (run, event or claims)")
    kind, report = kinds[type(result)]
    return write_folder(kind, result, out, name=name, argv=argv, finish=[report])


def rewrite_report(folder: str | Path, self_contained: bool = False) -> Path:
    """(Re)write the ``report.html`` of any run folder (``basket report``): a claims check's
    or a backtest's and event study's, by the kind its manifest names; ``self_contained``
    embeds plotly.js instead of referencing the results folder's shared copy."""
    from engine.results.reader import read_manifest
    from engine.results.report import write_report
    from engine.results.report.claims import write_claims_report

    kind = read_manifest(folder).get("kind")
    if kind == "claims":
        return write_claims_report(folder, self_contained)
    if kind == "sweep":
        # The sweep's report is drawn from the SweepResult in memory (options, study,
        # universe, notes), which its folder does not hold whole.
        raise ResultsError(
            f"{folder} is a sweep folder: its report is written by `basket sweep` from the "
            "random baskets it drew; report.html left alone",
            "run the sweep again to rewrite it; the same --seed draws the same baskets",
        )
    return write_report(folder, self_contained)


def write_sweep_run(
    result: SweepResult,
    out: str | Path = "results",
    *,
    name: str | None = None,
    argv: Sequence[str] | None = None,
) -> Path:
    """Write a sweep (``basket sweep``) as a run folder, its report included."""
    from engine.results.report.sweep import write_sweep_report
    from engine.results.sweepfolder import write_sweep

    return write_sweep(result, out, name=name, argv=argv,
                       finish=[lambda folder, _: write_sweep_report(folder, result)])
