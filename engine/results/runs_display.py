"""How runs look to people and programs: the run listing (``basket runs``) and comparisons
(``basket compare``) as terminal text, Markdown, CSV and JSON.

A basket a run lacks shows as ``missing`` on the terminal and in Markdown.  May use
``results.compare``, ``results.reader``, ``results.display`` and the ground floor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.jsonable import json_ready
from engine.results.compare import EVENT_STATISTICS, Comparison
from engine.results.display import PERCENT_COLUMNS
from engine.results.reader import METRICS
from engine.text import printable

#: The metrics the terminal and Markdown comparison shows unless ``--metric`` says otherwise.
DEFAULT_METRICS = ("total_return", "excess_return", "sharpe", "max_drawdown", "volatility")
#: What a terminal or Markdown cell shows for a run without the basket.
MISSING = "missing"


def value_text(value: Any) -> str:
    """A configuration value for people: ``missing`` for None, lists comma-separated."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(json_ready(value), sort_keys=True)
    return str(value)


def changes_frame(comparison: Comparison) -> pd.DataFrame:
    """The changes as one table: index ``what`` (section and key), a text column per run."""
    rows = []
    for section in ("settings", "baskets", "data", "versions"):
        for change in comparison.changes.get(section, []):
            rows.append({
                "what": f"{section}: {change['key']}",
                **{label: value_text(change["values"].get(label)) for label in comparison.labels},
            })
    frame = pd.DataFrame(rows, columns=["what", *comparison.labels])
    return frame.set_index("what")


def event_frame(events: pd.DataFrame) -> pd.DataFrame:
    """:func:`engine.results.compare.event_comparison` for people: short column names
    (``CAR A``, ``t KP B-A``...), CARs and their differences as text in % and pp; one row
    per basket, event and window."""
    names = {"car": "CAR", "t_kolari_pynnonen": "t KP", "p_kolari_pynnonen": "p KP",
             "z_rank": "z rank", "p_rank": "p rank"}
    out = pd.DataFrame({"event": events.index.get_level_values("event"),
                        "window": events.index.get_level_values("window")},
                       index=pd.Index(events.index.get_level_values("basket"), name="basket"))
    for column, values in events.items():
        statistic, label = column.rstrip("]").split("[")
        if statistic == "car":
            text = [_difference_text(v, True) if "-" in label else _metric_text(v, True)
                    for v in values]
            values = pd.Series(["" if pd.isna(v) else t for v, t in
                                zip(values, text, strict=True)], index=values.index)
        out[f"{names[statistic]} {label}"] = values.to_numpy()
    return out


def _runs_legend(comparison: Comparison, width: int) -> str:
    """One line per run (label, id, period, currency, benchmark, fees), wrapped at spaces to
    ``width`` columns (an id is never broken)."""
    import textwrap

    records = comparison.run_records()
    id_width = max(len(r["id"]) for r in records)
    lines = []
    for record in records:
        fees = "" if record["fees"] is None else f", fees {record['fees']:g}"
        described = ", ".join(
            str(part) for part in (record["period"], record["currency"]) if part
        )
        lines += textwrap.wrap(
            f"{record['label']}  {record['id'].ljust(id_width)}  "
            f"{described + ', ' if described else ''}vs {record['benchmark']}{fees}",
            width, subsequent_indent="   ", break_long_words=False, break_on_hyphens=False,
        )
    return "\n".join(lines) + "\n"


def _changes_text(comparison: Comparison, width: int) -> str:
    import textwrap

    frame = changes_frame(comparison)
    if frame.empty:
        return "No differences in settings, baskets, data or package versions.\n"
    lines = [f"What changed ({', '.join(comparison.labels)}):"]
    key_width = min(max(len(k) for k in frame.index), 40)
    indent = " " * (key_width + 4)
    for what, row in frame.iterrows():
        values = "  ".join(f"{label} {text}" for label, text in row.items())
        key = what if len(what) <= key_width else what[: key_width - 1] + "…"
        lines += textwrap.wrap(
            values, width, initial_indent=f"  {key.ljust(key_width)}  ",
            subsequent_indent=indent, break_on_hyphens=False, break_long_words=False,
        )
    return "\n".join(lines) + "\n"


def render_comparison(
    comparison: Comparison,
    fmt: str,
    *,
    metrics: Sequence[str] | None = None,
    terminal: bool = False,
) -> str:
    """The comparison in one of :data:`engine.results.display.FORMATS`.

    * ``table`` / ``markdown``: the runs (labels A, B...), then one table of the metrics
      (default :data:`DEFAULT_METRICS`) that differ (:func:`differences_frame`), or a line
      saying that none does, then what changed;
    * ``csv``: :meth:`Comparison.wide_frame` (every metric unless ``metrics`` is given);
    * ``json``: :meth:`Comparison.to_json`.
    """
    from engine.results.display import render, terminal_width

    if fmt == "json":
        return json.dumps(comparison.to_json(metrics or METRICS), indent=2) + "\n"
    if fmt == "csv":
        if comparison.events is not None and all(v.empty for v in comparison.values.values()):
            return render(comparison.events, "csv")  # event-only runs have no summary
        return render(comparison.wide_frame(metrics or METRICS), "csv")
    chosen = list(metrics or DEFAULT_METRICS)
    width = terminal_width()
    parts = [_runs_legend(comparison, width) if fmt == "table" else _markdown_runs(comparison)]
    frame = differences_frame(comparison, chosen)
    has_backtests = not all(v.empty for v in comparison.values.values())
    if not has_backtests:
        pass  # event-only runs: their event tables below are the comparison
    elif frame.empty:
        import textwrap

        parts.append(textwrap.fill(
            f"No metric differs: {', '.join(chosen)} are the same in every run for every "
            "basket.", width, break_long_words=False, break_on_hyphens=False) + "\n")
    else:
        title = "Metrics that differ (percentages in %, their differences in pp)"
        parts.append(render(frame, fmt, title=title, terminal=terminal))
    if comparison.events is not None:
        changed = differing_events(comparison.events, comparison.labels)
        if changed.empty:
            import textwrap

            parts.append(textwrap.fill(
                "No event statistic differs: CAR and the Kolari-Pynnönen and rank tests are "
                "the same in every run for every basket, event and window.", width,
                break_long_words=False, break_on_hyphens=False) + "\n")
        else:
            parts.append(render(
                event_frame(changed), fmt, terminal=terminal,
                title="Event studies that differ: CAR and the robust tests "
                      "(KP: Kolari-Pynnönen), B-A",
            ))
    if fmt == "markdown":
        changes = changes_frame(comparison)
        parts.append(
            render(changes, "markdown", title="What changed")
            if not changes.empty
            else "No differences in settings, baskets, data or package versions.\n"
        )
    else:
        parts.append(_changes_text(comparison, width))
    return "\n".join(parts)


#: Values closer than this (in the metric's unit) count as the same.
SAME = 1e-12


def _metric_text(value: Any, percent: bool) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.2%}" if percent else f"{value:.3f}"


def _difference_text(value: Any, percent: bool) -> str:
    """A difference for people: percentage points (``+1.23 pp``) between percentages."""
    if isinstance(value, str):
        return value
    return f"{value * 100:+.2f} pp" if percent else f"{value:+.3f}"


def differing_events(events: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """The rows of :func:`engine.results.compare.event_comparison` (one per basket, event and
    window) in which a statistic of :data:`~engine.results.compare.EVENT_STATISTICS` differs
    between the runs by more than :data:`SAME`, or which a run lacks (its value missing where
    another run has one), as :func:`differences_frame` decides for metrics."""
    differ = np.zeros(len(events), dtype=bool)
    for statistic in EVENT_STATISTICS:
        values = events[[f"{statistic}[{label}]" for label in labels]].to_numpy(dtype=float)
        finite = np.isfinite(values)
        some = finite.any(axis=1)
        high = np.where(finite, values, -np.inf).max(axis=1)
        low = np.where(finite, values, np.inf).min(axis=1)
        differ |= (some & ~finite.all(axis=1)) | (some & (high - low > SAME))
    return events[differ]


def differences_frame(comparison: Comparison, metrics: Sequence[str]) -> pd.DataFrame:
    """The (basket, metric) pairs whose value differs between the runs (or that a run lacks),
    as text: a column per run, then per difference (``B-A``...).  Percentages print as
    percentages (``12.34%``) and their differences in percentage points (``+1.23 pp``, a
    difference of percentages is not a percentage); other metrics with three decimals.
    Indexed by ``basket`` (in the comparison's order), the ``metric`` column first."""
    columns = [*comparison.labels, *comparison.diff_labels]
    rows, index = [], []
    frames = {metric: comparison.metric_frame(metric, missing=MISSING) for metric in metrics}
    for basket in comparison.baskets:
        for metric, frame in frames.items():
            values = [frame.at[basket, label] for label in comparison.labels]
            numbers = [v for v in values if not isinstance(v, str)]
            finite = [v for v in numbers if not pd.isna(v)]
            same = (len(numbers) == len(values) and len(finite) in (0, len(values))
                    and (not finite or max(finite) - min(finite) <= SAME))
            if same:
                continue
            percent = metric in PERCENT_COLUMNS
            rows.append([
                *(_metric_text(frame.at[basket, label], percent) if not pd.isna(
                    frame.at[basket, label]) else "" for label in comparison.labels),
                *(_difference_text(frame.at[basket, label], percent) if not pd.isna(
                    frame.at[basket, label]) else "" for label in comparison.diff_labels),
            ])
            index.append((basket, metric))
    frame = pd.DataFrame(rows, columns=columns)
    frame.insert(0, "metric", [metric for _, metric in index])
    frame.index = pd.Index([basket for basket, _ in index], name="basket")
    return frame


def _markdown_runs(comparison: Comparison) -> str:
    from engine.results.display import markdown_table

    frame = pd.DataFrame(comparison.run_records()).set_index("label")
    frame = frame[["id", "period", "benchmark", "currency", "fees", "rebalancing"]]
    return markdown_table(frame, digits=4)


def runs_frame(rows: Sequence[dict[str, Any]], *, text: bool = False) -> pd.DataFrame:
    """:func:`list_runs` rows as a table indexed by id (for csv, json and markdown); ``text``
    writes counts and fees as text (``8``, ``0.001``) for Markdown."""
    columns = ["status", "kind", "when", "baskets", "basket_names", "period", "sessions",
               "benchmark", "currency", "fees", "rebalancing", "note", "path"]
    frame = pd.DataFrame(list(rows), columns=["id", *columns]).set_index("id")
    if text:
        for column in ("baskets", "sessions", "fees"):
            frame[column] = [
                "" if row[column] is None else value_text(row[column]) for row in rows
            ]
    return frame


def runs_table(rows: Sequence[dict[str, Any]], *, terminal: bool = False) -> str:
    """:func:`list_runs` rows as aligned text (``terminal``: a rich table fitting the terminal),
    ids never cut (they are what ``compare`` and ``report`` take): id (it starts with the UTC
    start time), n (baskets), period, benchmark, currency, fees and the rebalancing schedules
    used."""
    header = ["id", "n", "period", "bench", "cur", "fees", "rebalance"]
    lines = []
    for row in rows:
        period = "(broken)" if row["status"] != "ok" else row["period"] or f"({row['kind']})"
        schedules = [part.split(" ", 1)[-1] for part in row["rebalancing"].split(", ") if part]
        lines.append([printable(cell) for cell in (
            row["id"],
            "" if row["baskets"] is None else str(row["baskets"]),
            period,
            row["benchmark"],
            row["currency"],
            "" if row["fees"] is None else value_text(row["fees"]),
            "/".join(schedules),
        )])
    if terminal:
        from engine.results.display import rich_table

        return rich_table(pd.DataFrame(lines, columns=header).set_index("id"))
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    right = {1, 5}

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, lines)]) + "\n"
