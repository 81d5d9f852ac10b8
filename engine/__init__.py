"""basket: thematic basket backtests and event studies.

The subpackages are the stages of the data flow, and imports only point down it:
``config`` (YAML baskets and studies) -> ``data`` (prices per symbol) -> ``market`` (listings,
FX, one aligned panel) -> ``portfolio`` (schedules, the vectorbt simulation) -> ``analysis``
(metrics, event studies, tests) -> ``results`` (run folders, compare, report, display).
``pipeline`` runs the stages for the commands; ``errors``, ``symbols``, ``calendars`` and
``jsonable`` are the ground floor every stage may use.

What the ``basket`` command does, from Python::

    import engine

    study = engine.resolve_study(engine.load_study("baskets/studies/deepseek.yaml"))
    baskets = [engine.load_basket("baskets/domestic_chips.yaml")]
    source = engine.open_source("../shared/data/prices")    # None: Yahoo through the cache
    result = engine.run(baskets, study, source, events=engine.event_options(study))
    result.summary_frame()
    print(engine.run_summary(result, "table"))    # what `basket run` prints
    engine.write_run(result, "results")    # also an event study's or a claims check's

Importing this package is cheap: the names below load their modules (pandas, vectorbt) on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The public Python API (what the CLI calls), by the module that holds each name.
_EXPORTS = {
    "load_basket": "engine.config.baskets",
    "load_study": "engine.config.studies",
    "validate_file": "engine.config.validate",
    "open_source": "engine.data.sources",
    "CsvFolderSource": "engine.data.csvfolder",
    "resolve_study": "engine.pipeline.study",
    "event_options": "engine.pipeline.study",
    "run": "engine.pipeline.runs",
    "run_events": "engine.pipeline.events",
    "write_run": "engine.pipeline.writing",
    "load_claims": "engine.config.claims",
    "check_claims": "engine.pipeline.claims",
    "run_listings": "engine.pipeline.listings",
    "fetch_needs": "engine.pipeline.prices",
    "sweep": "engine.pipeline.sweep",
    "SweepOptions": "engine.pipeline.draws",
    "compare_runs": "engine.results.compare",
    "write_report": "engine.results.report",
    "run_summary": "engine.results.console",
    "event_summary": "engine.results.console",
    "event_exclusions": "engine.results.console",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
