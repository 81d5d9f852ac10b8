"""basket: thematic basket backtests and event studies.

Data flows one way: ``baskets`` (YAML files) -> ``data`` (prices per symbol) -> ``market``
(calendars, FX, one aligned panel) -> ``backtest`` / ``events`` -> ``metrics`` -> ``results``.

What the ``basket`` command does, from Python::

    import engine

    study = engine.resolve_study(engine.load_study("baskets/studies/deepseek.yaml"))
    baskets = [engine.load_basket("baskets/domestic_chips.yaml")]
    source = engine.open_source("../shared/data/prices")    # None: Yahoo through the cache
    result = engine.run(baskets, study, source, events=engine.event_options(study))
    result.summary_frame()
    engine.write_run(result, "results")

Importing this package is cheap: the names below load their modules (pandas, vectorbt) on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_basket": "engine.baskets",
    "load_study": "engine.baskets",
    "validate_file": "engine.baskets",
    "open_source": "engine.data",
    "CsvFolderSource": "engine.data",
    "resolve_study": "engine.runner",
    "event_options": "engine.runner",
    "run": "engine.runner",
    "run_events": "engine.runner",
    "write_run": "engine.results",
    "write_event_run": "engine.results",
    "compare_runs": "engine.compare",
    "write_report": "engine.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
