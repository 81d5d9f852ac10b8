"""The event study of the real-data main job (`basket run --prices ../shared/data/prices`: every
basket of baskets/ under the default study) gives the numbers recorded before the event study
was restructured and made to scale.

The golden file ``tests/golden/event_study_main_job.json`` was written by this module's
``record`` from the code of commit 324114a (``python -c "import tests.test_event_golden as g;
g.record()"`` from the project folder, so that this worktree's engine is imported); it holds
the summary, stock CARs, CAR paths, exclusions and day-0 tables in full, and the abnormal
returns condensed per basket, event and stock (row count, first and last date, sums of each
return column and of ``day * abnormal_return``), and every table's column types (what the CSV
files show depends on them).  Numbers must agree to 1e-12 (relative):
a refactor may reorder a sum, not change a result.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[1]
GOLDEN = PROJECT / "tests" / "golden" / "event_study_main_job.json"
FULL_TABLES = ("summary", "stock_cars", "car_paths", "excluded", "day0")
AR_SUMS = ("return", "market_return", "normal_return", "abnormal_return")


def main_job_events(prices: Path):
    from engine.config.baskets import load_basket
    from engine.config.studies import load_study
    from engine.data.csvfolder import CsvFolderSource
    from engine.pipeline.runs import run
    from engine.pipeline.study import event_options, resolve_study

    study = resolve_study(load_study(PROJECT / "baskets" / "studies" / "deepseek.yaml"))
    baskets = [load_basket(p) for p in sorted((PROJECT / "baskets").glob("*.yaml"))]
    result = run(baskets, study, CsvFolderSource(prices), events=event_options(study))
    return result.events


def plain(value: object) -> object:
    """JSON-ready cells: NaN as None, numpy scalars as Python numbers, lists kept."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return plain(value.item())
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def condensed_abnormal_returns(frame: pd.DataFrame) -> list[dict[str, object]]:
    rows = []
    for (basket, event, symbol), group in frame.groupby(["basket", "event", "symbol"], sort=True):
        row = {"basket": basket, "event": event, "symbol": symbol, "n": len(group)}
        row.update(first_date=group["date"].min(), last_date=group["date"].max())
        row.update({f"sum_{c}": float(group[c].astype(float).sum()) for c in AR_SUMS})
        row["sum_day_abnormal"] = float((group["day"] * group["abnormal_return"]).sum())
        rows.append(plain(row))
    return rows


def snapshot(events) -> dict[str, object]:
    from engine.analysis.events.multiple import adjusted_columns

    # Columns added to the summary after the recording are derived from it and checked by
    # their own tests (tests/test_multiple_tests.py): the multiple-test count and adjusted
    # p-values, and the hindsight date.
    added = [*adjusted_columns(), "selected_after"]
    events = dataclasses.replace(events, summary=events.summary.drop(columns=added))
    tables = {
        name: [plain(r) for r in getattr(events, name).to_dict(orient="records")]
        for name in FULL_TABLES
    }
    tables["abnormal_returns"] = condensed_abnormal_returns(events.abnormal_returns)
    tables["settings"] = plain(events.settings)
    tables["dtypes"] = {
        name: {c: str(t) for c, t in getattr(events, name).dtypes.items()}
        for name in (*FULL_TABLES, "abnormal_returns")
    }
    return tables


def assert_same(actual: object, expected: object, where: str) -> None:
    if isinstance(expected, float) and isinstance(actual, int | float):
        assert actual == pytest.approx(expected, rel=1e-12, abs=1e-15), where
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for k, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{where}[{k}]")
    else:
        assert actual == expected, where


def test_the_main_job_event_tables_are_those_recorded(shared_prices):
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    actual = json.loads(json.dumps(snapshot(main_job_events(shared_prices))))
    assert list(actual) == list(expected)
    for table in expected:
        assert_same(actual[table], expected[table], table)


def test_the_golden_file_holds_every_table_with_rows():
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert len(golden["summary"]) == 64  # 8 baskets x 2 events x 4 windows
    assert all(golden[t] for t in (*FULL_TABLES, "abnormal_returns"))


def record(prices: Path = PROJECT.parent / "shared" / "data" / "prices") -> None:
    """Write the golden file: one line per table row, so that a change shows as a few lines."""
    tables = snapshot(main_job_events(prices))
    lines = ["{"]
    for k, (name, rows) in enumerate(tables.items()):
        end = "," if k < len(tables) - 1 else ""
        if isinstance(rows, list):
            body = ",\n".join("  " + json.dumps(row) for row in rows)
            lines.append(f"{json.dumps(name)}: [\n{body}\n]{end}")
        else:
            lines.append(f"{json.dumps(name)}: {json.dumps(rows)}{end}")
    GOLDEN.write_text("\n".join([*lines, "}"]) + "\n", encoding="utf-8")
