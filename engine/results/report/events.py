"""The event-study part of a run report: per event, the CAR paths, the CAR table led by the
robust tests (Kolari-Pynnönen and the rank test, p below 0.001 as ``<0.001``), every window
with its test statistics, and the stocks excluded with reasons.

Reads the run's ``events/`` tables (:meth:`engine.results.reader.Run.events`) and the study's
events and settings from its configuration.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from engine.results.display import format_cell
from engine.results.reader import Run
from engine.results.report.charts import car_chart
from engine.results.report.page import Charts, esc, html_table, note, number, p_text, section
from engine.results.runs_display import value_text
from engine.results.summary_tables import event_notes

#: The p-values under each CAR of the event tables, robust tests first: (label, column).
PIVOT_TESTS = (("KP", "p_kolari_pynnonen"), ("BH", "p_kolari_pynnonen_bh"), ("rank", "p_rank"))
EVENT_COLUMNS = {
    "basket": "Basket",
    "window": "Window",
    "n_stocks": "Stocks",
    "n_excluded": "Excl.",
    "car": "CAR",
    "bhar": "BHAR",
    "p_kolari_pynnonen": "p KP",
    "p_kolari_pynnonen_holm": "p KP Holm",
    "p_kolari_pynnonen_bh": "p KP BH",
    "p_rank": "p rank",
    "p_rank_holm": "p rank Holm",
    "p_rank_bh": "p rank BH",
    "t_cross_sectional": "t (cs)",
    "p_cross_sectional": "p (cs)",
    "p_patell": "p Patell",
    "p_bmp": "p BMP",
    "p_sign": "p sign",
    "portfolio_car": "Portfolio CAR",
    "selected_after": "Chosen after",
}
EVENT_PERCENT = ("car", "bhar", "mean_car", "portfolio_car")


def event_options(run: Run) -> dict[str, Any]:
    """The event study's settings as run (``config.yaml``'s ``event_study``, else the
    study file's)."""
    return run.config.get("event_study") or run.study.get("event_study") or {}


def study_events(run: Run) -> list[tuple[str, str]]:
    """The study's events as ``(date, name)`` pairs, dates as ``YYYY-MM-DD``."""
    events = []
    listed = run.config.get("event_study") or {}
    for event in listed.get("events") or run.study.get("events") or []:
        if isinstance(event, dict) and event.get("date"):
            events.append((str(event["date"])[:10], str(event.get("name") or "")))
    return events


def window_text(row: pd.Series) -> str:
    """A summary row's window as ``[-2, +2]``."""
    start, end = number(row.get("window_start")), number(row.get("window_end"))
    if not math.isnan(start) and not math.isnan(end):
        return f"[{int(start):+d}, {int(end):+d}]"
    return str(row.get("window", ""))


def car_pivot(rows: pd.DataFrame) -> str:
    """Baskets by windows: the weighted CAR with the robust tests' p-values first: the
    Kolari-Pynnönen adjusted t test's, its Benjamini-Hochberg adjustment over the study's
    tests, and the rank test's."""
    windows = list(dict.fromkeys(rows["window"]))
    baskets = list(dict.fromkeys(rows["basket"]))
    cells = {(r["basket"], r["window"]): r for _, r in rows.iterrows()}
    head = "".join(f"<th class=\"num\">CAR {esc(w)}</th>" for w in windows)
    body = []
    for basket in baskets:
        tds = []
        for window in windows:
            row = cells.get((basket, window))
            car = number(row.get("car")) if row is not None else math.nan
            if math.isnan(car):
                tds.append("<td></td>")
                continue
            css = "num neg" if car < 0 and format_cell(car, True).strip("-0.%") else "num"
            tests = [(name, number(row.get(key))) for name, key in PIVOT_TESTS]
            pvalues = " · ".join(f"{name} {p_text(p)}" for name, p in tests if not math.isnan(p))
            pvalue = f'<br><span class="p">{esc(pvalues)}</span>' if pvalues else ""
            tds.append(f'<td class="{css}">{esc(format_cell(car, True))}{pvalue}</td>')
        body.append(f"<tr><th scope=\"row\">{esc(basket)}</th>{''.join(tds)}</tr>")
    return (
        f'<table class="car"><thead><tr><th>Basket</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        '<p class="caption">CAR weighted by basket weights over the included stocks. KP: '
        "two-sided p-value of the Kolari-Pynnönen test (the cross-sectional t test adjusted "
        "for the correlation of the stocks' abnormal returns), BH: the same adjusted by "
        "Benjamini-Hochberg over every test of the study, rank: the Corrado rank test's; "
        "the unadjusted cross-sectional, Patell and BMP tests are in the full table.</p>"
    )


def events_section(run: Run, charts: Charts, colors: dict[str, str]) -> str:
    """The event study of ``run``, or a remark saying why it has none."""
    tables = run.events(("summary", "car_paths", "excluded", "day0"))
    if not tables:
        planned = study_events(run)
        if planned:
            text = "This run has no event study (run with --no-events, or made before event " \
                "studies were written). Study events: " \
                + "; ".join(f"{d} {n}".strip() for d, n in planned) + "."
        else:
            text = "The study has no events, so this run has no event study."
        return section("events", "Event study", note(text))
    parts = []
    settings = {k: v for k, v in event_options(run).items() if k != "events"}
    if settings:
        parts.append("<p class=\"caption\">Settings: " + esc(", ".join(
            f"{k} {value_text(v)}" for k, v in settings.items() if v is not None)) + "</p>")
    names = dict(study_events(run))
    paths = tables.get("car_paths")
    summary = tables.get("summary")
    day0 = tables.get("day0")
    event_dates = list(dict.fromkeys(
        [str(e)[:10] for e in paths["event"]] if paths is not None and "event" in paths
        else [str(e)[:10] for e in summary["event"]] if summary is not None and "event" in summary
        else []
    ))
    if paths is not None and {"basket", "event", "day", "car"} <= set(paths.columns):
        paths = paths.assign(event=paths["event"].astype(str).str[:10])
    else:
        parts.append(note("events/car_paths.csv is not in this run folder: no CAR chart."))
        paths = None
    if summary is not None and "event" in summary:
        summary = summary.assign(event=summary["event"].astype(str).str[:10])
        for _, row in summary.drop_duplicates("event").iterrows():
            names.setdefault(row["event"], str(row.get("event_name") or ""))
    for event in event_dates:
        name = names.get(event, "")
        parts.append(f"<h3>{esc(event)}{': ' + esc(name) if name else ''}</h3>")
        if day0 is not None and {"event", "calendar", "day0"} <= set(day0.columns):
            rows = day0[day0["event"].astype(str).str[:10] == event]
            if not rows.empty:
                parts.append("<p class=\"caption\">Day 0: " + esc(", ".join(
                    f"{c} {str(d)[:10]}" for c, d in zip(rows["calendar"], rows["day0"],
                                                          strict=True))) + "</p>")
        if paths is not None:
            chosen = paths[paths["event"] == event]
            if not chosen.empty:
                parts.append(car_chart(charts, chosen, event, name, colors))
        if summary is not None:
            rows = summary[summary["event"] == event].copy()
            if not rows.empty:
                rows["window"] = [window_text(r) for _, r in rows.iterrows()]
                parts.append(car_pivot(rows))
                columns = [c for c in EVENT_COLUMNS if c in rows.columns]
                table = rows[columns].reset_index(drop=True)
                digits = {c: 3 for c in columns if c.startswith("p_")}
                parts.append(
                    "<details><summary>Every window with its test statistics</summary>"
                    + html_table(table, percent=EVENT_PERCENT, headers=EVENT_COLUMNS,
                                 digits=digits, index=False, css="events")
                    + "</details>"
                )
    excluded = tables.get("excluded")
    if excluded is not None and not excluded.empty:
        table = excluded.reset_index(drop=True)
        parts.append(
            f"<details><summary>{len(table)} stock exclusion(s) from event windows, with "
            f"reasons</summary>{html_table(table, index=False)}</details>"
        )
    if summary is not None and "n_tests" in summary.columns:
        parts += [f'<p class="caption">{esc(text)}</p>' for text in event_notes(summary)]
    parts.append("<p class=\"caption\">CAR: cumulative abnormal return from the first day "
                 "of the widest window, weighted over the stocks with an abnormal return that "
                 "day. The legend entry \u201cbasket portfolios\u201d (off by default) adds the "
                 "CAR of each basket's own return series, dotted.</p>")
    return section("events", "Event study", "".join(parts))
