"""Comparing run folders: several runs basket by basket, their metrics side by side, the
differences against the first, and what changed between them (settings, baskets, data,
package versions).  How a comparison looks is :mod:`engine.results.runs_display`'s.

What ``basket runs`` and ``basket compare`` do, as Python calls::

    from engine.results.compare import compare_runs
    from engine.results.reader import list_runs, load_run, resolve_run
    from engine.results.runs_display import render_comparison

    list_runs("results")                      # one dict per folder, newest first
    a = load_run(resolve_run("20250301-101500-deepseek", "results"))
    b = load_run(resolve_run("results/20250301-101700-deepseek-nofees", "results"))
    comparison = compare_runs([a, b], sort="diff:sharpe")
    comparison.to_json()                      # {"runs": [...], "rows": [...], "changes": {...}}
    render_comparison(comparison, "table")    # what `basket compare` prints

Runs are labelled ``A``, ``B``, ``C``... in the order given; differences are always against the
first run (``B-A``, ``C-A``).  A basket missing from a run has no values there (NaN in tables,
``None`` in JSON, shown as ``missing`` on the terminal), so runs with different baskets or
periods still compare.

Nothing here imports vectorbt: reading results is fast.  May use ``results.reader`` and the
ground floor.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from engine.errors import OptionError
from engine.jsonable import json_ready
from engine.results.reader import METRICS, Run, rebalancing_text

#: How many characters of a data fingerprint the changes show.
HASH_CHARS = 12


def labels_for(count: int) -> list[str]:
    """``A``, ``B``, ... ``Z``, then ``R27``, ``R28``..."""
    return [string.ascii_uppercase[i] if i < 26 else f"R{i + 1}" for i in range(count)]


def flatten(value: Any, prefix: str, into: dict[str, Any]) -> None:
    """Nested settings as dotted keys in ``into``; a list of mappings (events) becomes one
    ``"2025-01-20 DeepSeek-R1 release; ..."`` string."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            flatten(inner, f"{prefix}.{key}" if prefix else str(key), into)
    elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
        into[prefix] = "; ".join(
            " ".join(str(x) for x in v.values()) if isinstance(v, dict) else str(v) for v in value
        )
    else:
        into[prefix] = value


def _settings(run: Run) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    flatten(run.study, "", flat)
    period = run.manifest.get("period") or {}
    flat["sessions"] = period.get("sessions")
    flat["first session"] = str(period.get("first_session") or "")[:10] or None
    flat["last session"] = str(period.get("last_session") or "")[:10] or None
    for key in ("benchmark", "currency", "fees"):
        flat.setdefault(key, run.manifest.get(key))
    return flat


def _event_settings(run: Run) -> dict[str, Any] | None:
    """The event study as run (``config.yaml``'s ``event_study``), None without one."""
    options = run.config.get("event_study")
    if not options:
        return None
    flat: dict[str, Any] = {}
    flatten(options, "", flat)
    return flat


def _basket_settings(run: Run) -> dict[str, dict[str, Any]]:
    baskets: dict[str, dict[str, Any]] = {}
    for basket in run.config.get("baskets") or []:
        flat: dict[str, Any] = {
            "file": basket.get("file"),
            "weighting": basket.get("weighting"),
            "rebalance": basket.get("rebalance"),
        }
        for c in basket.get("constituents") or []:
            flat[f"weight {c.get('symbol')}"] = c.get("weight")
        baskets[str(basket.get("name"))] = flat
    if not baskets:
        # Without config.yaml the manifest still names the baskets.
        baskets = {str(name): {} for name in run.manifest.get("baskets") or []}
    return baskets


def _same(values: Iterable[Any]) -> bool:
    values = list(values)
    first = values[0]
    for other in values[1:]:
        if isinstance(first, float) and isinstance(other, float):
            if not (first == other or (math.isnan(first) and math.isnan(other))):
                return False
        elif first != other:
            return False
    return True


def _diff_rows(tables: dict[str, dict[str, Any]], prefix: str = "") -> list[dict[str, Any]]:
    """One row per key whose value is not the same in every run: ``{key, values}``."""
    keys = list(dict.fromkeys(k for table in tables.values() for k in table))
    rows = []
    for key in keys:
        values = {label: table.get(key) for label, table in tables.items()}
        if not _same(values.values()):
            rows.append({"key": f"{prefix}{key}", "values": values})
    return rows


def _short_hash(value: Any) -> Any:
    return value[:HASH_CHARS] if isinstance(value, str) else value


def _group_rows(
    groups: dict[str, dict[str, Any] | None], name: str, prefix: str
) -> list[dict[str, Any]]:
    """Rows for a group of settings some runs may lack entirely: one ``name`` row saying
    which runs have it (when not all do), then the keys that differ among those that do."""
    rows = []
    if len({g is None for g in groups.values()}) > 1:
        rows.append({
            "key": name,
            "values": {label: "yes" if g is not None else None for label, g in groups.items()},
        })
    present = {label: g for label, g in groups.items() if g is not None}
    if len(present) > 1:
        rows += _diff_rows(present, prefix)
    return rows


def _fingerprint_rows(by: dict[str, Run]) -> list[dict[str, Any]]:
    prints = {label: run.manifest.get("fingerprints") or {} for label, run in by.items()}
    symbols = list(dict.fromkeys(s for table in prints.values() for s in table))
    rows = []
    lacking = {
        label: [s for s in symbols if s not in table] for label, table in prints.items()
    }
    if any(lacking.values()):
        rows.append({
            "key": "price series not in this run",
            "values": {label: ", ".join(missing) or "-" for label, missing in lacking.items()},
        })
    for symbol in symbols:
        values = {label: _short_hash(table.get(symbol)) for label, table in prints.items()}
        present = [v for v in values.values() if v is not None]
        if len(present) > 1 and not _same(present):
            rows.append({"key": f"prices {symbol}", "values": values})
    return rows


def run_changes(runs: Sequence[Run], labels: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """What differs between the runs, by section.

    * ``settings``: the study as run (period, benchmark, currency, fees, rebalancing, events,
      event-study settings, listings), the sessions actually covered, and the event study
      as run (``event study`` says which runs have one);
    * ``baskets``: per basket, presence, file, weighting, rebalancing and every weight;
    * ``data``: the data source; ``price series not in this run`` (per run, the symbols that
      other runs have and it lacks); ``prices SYMBOL`` for a symbol whose price-file
      fingerprint (first 12 hex digits) differs between runs that have it; skipped symbols;
    * ``versions``: Python and package versions.

    Each section is a list of ``{"key": ..., "values": {label: value}}`` for keys whose values
    are not all equal; ``None`` means the run does not have it.  Settings of a group a run
    lacks (a basket, the event study) are compared among the runs that have it.
    """
    by = dict(zip(labels, runs, strict=True))
    settings = _diff_rows({label: _settings(run) for label, run in by.items()})
    settings += _group_rows(
        {label: _event_settings(run) for label, run in by.items()},
        "event study", "event study: ",
    )
    baskets_of = {label: _basket_settings(run) for label, run in by.items()}
    names = list(dict.fromkeys(n for table in baskets_of.values() for n in table))
    basket_rows = []
    for name in names:
        basket_rows += _group_rows(
            {label: table.get(name) for label, table in baskets_of.items()},
            f"{name}: basket", f"{name}: ",
        )
    data = _diff_rows({label: {"source": run.manifest.get("data_source")}
                       for label, run in by.items()})
    data += _fingerprint_rows(by)
    data += _diff_rows(
        {label: {f"{b}: {s}": why for b, skipped in (run.manifest.get("skipped") or {}).items()
                 for s, why in skipped.items()}
         for label, run in by.items()},
        "skipped ",
    )
    versions = _diff_rows({label: run.manifest.get("versions") or {} for label, run in by.items()})
    return {"settings": settings, "baskets": basket_rows, "data": data, "versions": versions}


def _parse_sort(sort: str | None) -> tuple[str, bool] | None:
    if not sort:
        return None
    by_difference = sort.startswith("diff:")
    metric = sort.removeprefix("diff:")
    if metric not in METRICS:
        raise OptionError(
            "--sort", f"'{sort}' is not a metric", f"one of {', '.join(METRICS)}, or diff:METRIC"
        )
    return metric, by_difference


@dataclass
class Comparison:
    """Runs side by side.

    ``values[label]`` is a frame indexed by basket (union over the runs, in :attr:`baskets`
    order) with the columns of :data:`METRICS`, NaN where that run lacks the basket;
    ``present`` says which run has which basket; ``differences["B-A"]`` is
    ``values["B"] - values["A"]``.
    """

    runs: list[Run]
    labels: list[str]
    baskets: list[str]
    values: dict[str, pd.DataFrame]
    present: pd.DataFrame
    differences: dict[str, pd.DataFrame]
    changes: dict[str, list[dict[str, Any]]]
    benchmarks: list[str]
    sort: str | None = None
    events: pd.DataFrame | None = None

    @property
    def diff_labels(self) -> list[str]:
        return list(self.differences)

    def metric_frame(self, metric: str, *, missing: Any = math.nan) -> pd.DataFrame:
        """One metric: a column per run, then a column per difference; ``missing`` fills the
        cells of runs that lack the basket (NaN by default, ``"missing"`` for the terminal)."""
        columns = {label: self.values[label][metric] for label in self.labels}
        columns.update({label: frame[metric] for label, frame in self.differences.items()})
        frame = pd.DataFrame(columns, index=pd.Index(self.baskets, name="basket"))
        if not (isinstance(missing, float) and math.isnan(missing)):
            frame = frame.astype(object)
            for label in self.labels:
                frame.loc[~self.present[label], label] = missing
            for label in self.diff_labels:
                other = label.split("-")[0]
                absent = ~(self.present[other] & self.present[self.labels[0]])
                frame.loc[absent, label] = missing
        return frame

    def wide_frame(self, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
        """Every metric of every run and difference as ``metric[label]`` columns, plus
        ``runs``: the labels of the runs that have the basket (for CSV)."""
        index = pd.Index(self.baskets, name="basket")
        runs = pd.Series([
            " ".join(label for label in self.labels if self.present.at[b, label])
            for b in self.baskets
        ], index=index, name="runs")
        columns = [
            column.rename(f"{metric}[{label}]")
            for metric in metrics for label, column in self.metric_frame(metric).items()
        ]
        # One concat: a column inserted at a time fragments the frame (pandas warns).
        return pd.concat([runs, *columns], axis=1).reindex(index)

    def run_records(self) -> list[dict[str, Any]]:
        return [
            {
                "label": label,
                "id": run.id,
                "path": str(run.path),
                "created_at": run.manifest.get("created_at"),
                "period": run.period,
                "sessions": (run.manifest.get("period") or {}).get("sessions"),
                "benchmark": run.benchmark,
                "currency": run.manifest.get("currency"),
                "fees": run.manifest.get("fees"),
                "rebalancing": rebalancing_text(run.config),
                "baskets": list(run.manifest.get("baskets") or []),
            }
            for label, run in zip(self.labels, self.runs, strict=True)
        ]

    def row_records(self, metrics: Sequence[str] = METRICS) -> list[dict[str, Any]]:
        rows = []
        for basket in self.baskets:
            runs = {
                label: {m: self.values[label].at[basket, m] for m in metrics}
                if self.present.at[basket, label]
                else None
                for label in self.labels
            }
            differences = {}
            for label, frame in self.differences.items():
                other = label.split("-")[0]
                both = self.present.at[basket, other] and self.present.at[basket, self.labels[0]]
                differences[label] = {m: frame.at[basket, m] for m in metrics} if both else None
            rows.append({
                "basket": basket,
                "benchmark": basket in self.benchmarks,
                "runs": runs,
                "differences": differences,
            })
        return rows

    def to_json(self, metrics: Sequence[str] = METRICS) -> dict[str, Any]:
        """``{"runs": [...], "rows": [...], "changes": {...}}``, JSON-ready (NaN -> None).

        * ``runs``: per run ``label, id, path, created_at, period, sessions, benchmark,
          currency, fees, rebalancing, baskets``;
        * ``rows``: per basket ``basket, benchmark`` (true for a benchmark row), ``runs``
          (label -> {metric: value}, or None when that run lacks the basket) and
          ``differences`` (``"B-A"`` -> {metric: B - A}, or None when either lacks it);
        * ``events`` (only when two or more runs hold an event study): one record per
          basket, event and window of :func:`event_comparison`;
        * ``changes``: :func:`run_changes`, plus ``sort`` (the ``--sort`` used, or None).
        """
        events = {} if self.events is None else {
            "events": self.events.reset_index().to_dict(orient="records")
        }
        return json_ready({
            "runs": self.run_records(),
            "rows": self.row_records(metrics),
            **events,
            "changes": {**self.changes, "sort": self.sort},
        })


def chosen_metrics(metrics: Sequence[str]) -> list[str] | None:
    """The metrics ``--metric`` names (``all``: every one), checked; None when none is named
    (each format's default)."""
    if not metrics:
        return None
    chosen = list(METRICS) if "all" in metrics else list(metrics)
    unknown = [m for m in chosen if m not in METRICS]
    if unknown:
        raise OptionError(
            "--metric", f"'{unknown[0]}' is not a metric", f"one of {', '.join(METRICS)}, or all"
        )
    return chosen


def compare_runs(runs: Sequence[Run], *, sort: str | None = None) -> Comparison:
    """Compare runs basket by basket; the first run is the reference of the differences.

    ``sort``: ``METRIC`` orders the baskets by that metric of the *last* run, ``diff:METRIC``
    by its difference last run - first run; largest first, baskets missing from that run
    last.  Benchmark rows always come after the baskets.  Without ``sort`` the baskets keep the
    first run's order, then those only in later runs.
    """
    if len(runs) < 2:
        raise OptionError("RUNS", f"{len(runs)} run given; compare needs at least two")
    order = _parse_sort(sort)
    labels = labels_for(len(runs))
    benchmarks = list(dict.fromkeys(r.benchmark for r in runs if r.benchmark))
    names = list(dict.fromkeys(b for run in runs for b in run.summary.index))
    baskets = [b for b in names if b not in benchmarks] + [b for b in names if b in benchmarks]
    values = {
        label: run.summary[~run.summary.index.duplicated()].reindex(baskets)
        for label, run in zip(labels, runs, strict=True)
    }
    present = pd.DataFrame(
        {label: [b in run.summary.index for b in baskets]
         for label, run in zip(labels, runs, strict=True)},
        index=pd.Index(baskets, name="basket"),
    )
    differences = {f"{label}-{labels[0]}": values[label] - values[labels[0]]
                   for label in labels[1:]}
    if order is not None:
        metric, by_difference = order
        key = (differences[f"{labels[-1]}-{labels[0]}"] if by_difference
               else values[labels[-1]])[metric]
        ranked = sorted(
            (b for b in baskets if b not in benchmarks),
            key=lambda b: (math.isnan(key[b]), -key[b] if not math.isnan(key[b]) else 0.0),
        )
        baskets = ranked + [b for b in baskets if b in benchmarks]
        values = {label: frame.reindex(baskets) for label, frame in values.items()}
        differences = {label: frame.reindex(baskets) for label, frame in differences.items()}
        present = present.reindex(baskets)
    return Comparison(
        runs=list(runs),
        labels=labels,
        baskets=baskets,
        values=values,
        present=present,
        differences=differences,
        changes=run_changes(runs, labels),
        benchmarks=benchmarks,
        sort=sort,
        events=event_comparison(runs, labels),
    )


#: Keys of an event-study summary row, and what a comparison shows of it: the CAR and the two
#: tests robust to cross-correlation (Kolari-Pynnönen, rank), with B-A of CAR and statistics.
EVENT_KEYS = ("basket", "event", "window")
EVENT_STATISTICS = ("car", "t_kolari_pynnonen", "p_kolari_pynnonen", "z_rank", "p_rank")
EVENT_DIFFERENCES = ("car", "t_kolari_pynnonen", "z_rank")


def event_comparison(runs: Sequence[Run], labels: Sequence[str]) -> pd.DataFrame | None:
    """The event studies of the runs side by side: one row per (basket, event, window) found in
    any run, columns ``STATISTIC[LABEL]`` for :data:`EVENT_STATISTICS` and ``STATISTIC[B-A]``
    for :data:`EVENT_DIFFERENCES` (NaN where a run lacks the row).  None when fewer than two of
    the runs hold an event study."""
    tables = {}
    for label, run in zip(labels, runs, strict=True):
        summary = run.events().get("summary")
        if summary is not None and set(EVENT_KEYS) <= set(summary.columns):
            frame = summary.astype({"basket": str, "event": str, "window": str})
            tables[label] = frame.drop_duplicates(list(EVENT_KEYS)).set_index(list(EVENT_KEYS))
    if len(tables) < 2:
        return None
    index = pd.MultiIndex.from_tuples(
        list(dict.fromkeys(k for t in tables.values() for k in t.index)), names=EVENT_KEYS
    )
    columns: dict[str, pd.Series] = {}
    for statistic in EVENT_STATISTICS:
        for label, table in tables.items():
            column = table[statistic] if statistic in table else pd.Series(dtype=float)
            columns[f"{statistic}[{label}]"] = pd.to_numeric(column, errors="coerce").reindex(
                index
            )
    first = next(iter(tables))
    for statistic in EVENT_DIFFERENCES:
        for label in list(tables)[1:]:
            columns[f"{statistic}[{label}-{first}]"] = (
                columns[f"{statistic}[{label}]"] - columns[f"{statistic}[{first}]"]
            )
    return pd.DataFrame(columns, index=index)
