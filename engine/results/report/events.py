"""The event-study part of a run report: per event, the CAR paths, the CAR table led by the
robust tests (Kolari-Pynnönen and the rank test, p below 0.001 as ``<0.001``), every window
with its test statistics, and the stocks excluded with reasons.

Reads the run's ``events/`` tables (:meth:`engine.results.reader.Run.events`) and the study's
events and settings from its configuration.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from engine.analysis.significance import kolari_pynnonen_car_band
from engine.results.display import format_cell
from engine.results.reader import Run
from engine.results.report.charts import CarMarks, car_chart, stock_car_chart
from engine.results.report.page import Charts, esc, html_table, note, number, p_text, section
from engine.results.report.provenance import settings_table
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


#: Confidence level of the bands around the CAR paths.
BAND_LEVEL = 0.95


def car_bands(
    ars: pd.DataFrame, weights: dict[str, float], rbar: float, days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The half-width and standard error of the :data:`BAND_LEVEL` band of one basket's CAR
    path on each of ``days``, from its stocks' abnormal returns ``ars`` (rows of
    ``events/abnormal_returns.csv`` of one basket and event): on day ``d`` each stock's CAR
    sums its abnormal returns from the first day of the span to ``d`` (a missing one counts
    as zero, a stock without any yet is left out), and the band is
    :func:`engine.analysis.significance.kolari_pynnonen_car_band` of those CARs with the
    basket's ``weights`` and ``rbar``."""
    symbols, columns = np.unique(ars["symbol"].to_numpy(dtype=str), return_inverse=True)
    rows = pd.Index(days).get_indexer(ars["day"].to_numpy())
    values = ars["abnormal_return"].to_numpy(dtype=float)
    # the first finite value of a (day, symbol) wins, as a pivot's "first" would take it:
    # assigned from the last row to the first
    given = np.flatnonzero((rows >= 0) & np.isfinite(values))[::-1]
    matrix = np.full((len(days), len(symbols)), np.nan)
    matrix[rows[given], columns[given]] = values[given]
    seen = np.cumsum(np.isfinite(matrix), axis=0) > 0
    cars = np.where(seen, np.nancumsum(matrix, axis=0), np.nan)
    w = np.array([weights.get(s, math.nan) for s in symbols], dtype=float)
    bands = np.array([kolari_pynnonen_car_band(row, w, rbar, BAND_LEVEL) for row in cars],
                     dtype=float).reshape(-1, 2)
    return bands[:, 0], bands[:, 1]


def window_marks(ars: pd.DataFrame, event: str, events: dict[str, str]) -> CarMarks:
    """What happens inside one event's window besides it, in event time (from its rows of
    ``events/abnormal_returns.csv``: calendar, day, date): the other events of the study on
    the day they fall on in each calendar, and the days each exchange is closed between two
    of its sessions (weekdays without a session: holidays, typhoons)."""
    sessions = ars[["calendar", "day", "date"]].drop_duplicates().sort_values(["calendar", "day"])
    others: dict[tuple[str, int], list[str]] = {}
    closures: list[tuple[float, str]] = []
    for calendar, rows in sessions.groupby("calendar", sort=True):
        days, dates = rows["day"].to_numpy(dtype=int), rows["date"].astype(str).str[:10].tolist()
        for day, date in zip(days, dates, strict=True):
            if date in events and date != event:
                others.setdefault((date, int(day)), []).append(str(calendar))
        for k in range(len(dates) - 1):
            gap = pd.bdate_range(pd.Timestamp(dates[k]) + pd.Timedelta(days=1),
                                 pd.Timestamp(dates[k + 1]) - pd.Timedelta(days=1))
            if len(gap) and days[k + 1] == days[k] + 1:
                closed = f"{gap[0]:%m-%d}" + (f"..{gap[-1]:%m-%d}" if len(gap) > 1 else "")
                closures.append((days[k] + 0.5, f"{calendar} closed {closed}"))
    marks = [
        (day, f"{date}{' ' + events[date] if events[date] else ''}: day {day:+d} "
              f"({', '.join(calendars)})")
        for (date, day), calendars in others.items()
    ]
    return CarMarks(events=marks, closures=closures)


def event_bands(
    paths: pd.DataFrame, ars: pd.DataFrame | None, summary: pd.DataFrame | None,
    stock_cars: pd.DataFrame | None, event: str,
) -> dict[str, tuple[list[float], list[float]]]:
    """Per basket of one event, the lower and upper bounds of its CAR band on each day of
    ``paths`` (:func:`car_bands`); baskets without the abnormal returns, weights or ``rbar``
    needed get none."""
    if ars is None or summary is None or stock_cars is None or "rbar" not in summary:
        return {}
    rbar_of = summary[summary["event"] == event].drop_duplicates("basket").set_index("basket")
    stocks_of = dict(tuple(ars.groupby("basket", sort=False)))
    holdings = stock_cars[stock_cars["event"].astype(str).str[:10] == event] \
        if "weight" in stock_cars and "event" in stock_cars else stock_cars.iloc[0:0]
    weights_of = {basket: dict(zip(rows["symbol"], rows["weight"], strict=True))
                  for basket, rows in holdings.groupby("basket", sort=False)}
    bands = {}
    for basket, rows in paths.groupby("basket", sort=False):
        rows = rows.sort_values("day")
        weights = weights_of.get(basket, {})
        stocks = stocks_of.get(basket)
        if basket not in rbar_of.index or not weights or stocks is None or stocks.empty:
            continue
        rbar = number(rbar_of.at[basket, "rbar"])
        days = rows["day"].to_numpy(dtype=int)
        half, _ = car_bands(stocks, weights, rbar, days)
        car = rows["car"].to_numpy(dtype=float)
        bands[str(basket)] = ((car - half).tolist(), (car + half).tolist())
    return bands


def widest_window(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``events/stock_cars.csv`` of one event over its widest window (the first
    of the widest), one per basket and stock."""
    if not {"window_start", "window_end"} <= set(rows.columns):
        return rows.drop_duplicates(["basket", "symbol"])
    length = rows["window_end"] - rows["window_start"]
    widest = rows[length == length.max()]
    first = widest.iloc[0][["window_start", "window_end"]]
    chosen = widest[(widest["window_start"] == first["window_start"])
                    & (widest["window_end"] == first["window_end"])]
    return chosen.drop_duplicates(["basket", "symbol"])


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
    tables = run.events(("summary", "car_paths", "excluded", "day0", "stock_cars"))
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
        parts.append("<details><summary>Settings of the event study</summary>"
                     + settings_table(settings) + "</details>")
    names = dict(study_events(run))
    ars = run.table("events/abnormal_returns.csv", usecols=[
        "basket", "event", "symbol", "calendar", "day", "date", "abnormal_return"])
    if ars is not None and {"basket", "event", "symbol", "day", "abnormal_return"} <= set(
            ars.columns):
        ars = ars.assign(event=ars["event"].astype(str).str[:10])
    else:
        ars = None
    stock_cars = tables.get("stock_cars")
    if stock_cars is not None and {"basket", "event", "symbol", "car"} <= set(stock_cars.columns):
        stock_cars = stock_cars.assign(event=stock_cars["event"].astype(str).str[:10])
    else:
        stock_cars = None
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
                rows = None if ars is None else ars[ars["event"] == event]
                bands = event_bands(chosen, rows, summary, stock_cars, event)
                marks = window_marks(rows, event, names) if rows is not None and {
                    "calendar", "date"} <= set(rows.columns) else CarMarks()
                parts.append(car_chart(charts, chosen, event, name, colors, bands, marks))
        if stock_cars is not None:
            rows = stock_cars[stock_cars["event"] == event]
            if not rows.empty:
                parts.append(stock_car_chart(charts, widest_window(rows), event, colors))
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
                 "day; the shaded band around it is its 95 % confidence band from the "
                 "cross-sectional standard error of the stocks' CARs adjusted for the "
                 "correlation of their abnormal returns (Kolari-Pynnönen). Dotted lines: the "
                 "study's other events on the event day they fall on; grey bars: an exchange "
                 "closed between two of its sessions. The legend entry \u201cbasket "
                 "portfolios\u201d (off by default) adds the CAR of each basket's own return "
                 "series, dotted. Per-stock bars: each stock's CAR over the event's widest "
                 "window (stock_cars.csv has every window).</p>")
    return section("events", "Event study", "".join(parts))
