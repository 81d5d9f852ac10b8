"""What the commands print: each command's output text, built from the engine's results.

The CLI calls these and echoes what they return, so a Python user gets the same tables and
lines: the basket list, a run's summary, an event study's summary and exclusions, the price
cache's fetch and status reports, a claims check.  ``fmt`` is one of
:data:`engine.results.display.FORMATS`; ``terminal`` says whether standard output is a terminal
(rich tables there, plain text in pipes).  May use every stage below ``results`` and the other
``results`` modules.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from engine.results.display import PERCENT_COLUMNS, render
from engine.results.notes import group_notes
from engine.text import printable

#: The event summary's columns in a terminal table, with their headers.
EVENT_COLUMNS = {
    "n_stocks": "N",
    "car": "CAR",
    "t_kolari_pynnonen": "t KP",
    "p_kolari_pynnonen": "p KP",
    "p_kolari_pynnonen_bh": "KP BH",
    "z_rank": "z rank",
    "p_rank": "p rank",
    "p_rank_bh": "rank BH",
    "portfolio_car": "Port CAR",
}
#: The event summary's keys in ``--format json``, in order.
EVENT_JSON_KEYS = (
    "basket", "event", "event_name", "day0", "window", "n_stocks", "n_excluded", "car",
    "mean_car", "bhar", "rbar",
    "t_kolari_pynnonen", "p_kolari_pynnonen", "p_kolari_pynnonen_holm", "p_kolari_pynnonen_bh",
    "z_rank", "p_rank", "p_rank_holm", "p_rank_bh",
    "t_cross_sectional", "p_cross_sectional", "t_patell", "p_patell", "t_bmp", "p_bmp",
    "z_sign", "p_sign", "portfolio_day0", "portfolio_car", "t_portfolio", "p_portfolio",
    "n_tests",
    "selected_after",
)  # fmt: skip
EVENT_PERCENT = ["CAR", "BHAR", "Port CAR", "car", "mean_car", "bhar", "portfolio_car"]
#: How many characters of the symbols the basket list shows in a piped table (a terminal shows
#: them all, wrapped).
LIST_SYMBOLS_WIDTH = 40


def basket_list(paths: Iterable[str | Path], fmt: str, *, terminal: bool = False) -> str:
    """``basket list``: per basket file its name, file, constituents, weighting, rebalancing
    and symbols (piped as a table: shortened to :data:`LIST_SYMBOLS_WIDTH` characters at a
    space, never inside a symbol; on a terminal all of them, wrapped)."""
    from engine.config.baskets import load_basket

    rows = []
    for path in paths:
        basket = load_basket(path)
        rows.append(
            {
                "basket": basket.name,
                "file": Path(path).name,
                "n": len(basket.constituents),
                "weighting": basket.weighting,
                "rebalance": basket.rebalance or "study",
                "symbols": " ".join(basket.symbols),
            }
        )
    frame = pd.DataFrame(rows).set_index("basket")
    if fmt == "table" and not terminal:
        frame["symbols"] = [
            textwrap.shorten(s, LIST_SYMBOLS_WIDTH, placeholder=" …") for s in frame["symbols"]
        ]
    return render(frame, fmt, terminal=terminal)


def run_summary(result: Any, fmt: str, *, terminal: bool = False) -> str:
    """``basket run``: the summary of a :class:`engine.pipeline.runs.RunResult` under a title naming
    the study, period, currency, benchmark (with its return) and fees, as the tables of
    :mod:`engine.results.summary_tables` and, with several baskets, their effective number of
    independent themes; csv/json give every column."""
    from engine.results.runfolder import summary_records
    from engine.results.summary_tables import notes_text, render_summary, themes_note

    study, sessions = result.study, result.panel.sessions
    summary = result.summary_frame()
    first, last = sessions[0].date(), sessions[-1].date()
    if fmt in ("table", "markdown"):
        title = (
            f"{study.name}: {first}..{last}, {result.panel.currency}, vs {study.benchmark} "
            f"({result.summary[-1].total_return:+.2%}), fees {study.fees:g}"
        )
        text = render_summary(summary, (last - first).days, fmt, title=title, terminal=terminal)
        if len(result.baskets) > 1:
            themes = themes_note(result.effective_themes(), len(result.baskets))
            text += notes_text([themes], fmt)
        return text
    return render(summary, fmt, records=summary_records(summary), percent=PERCENT_COLUMNS)


def event_summary(events: Any, fmt: str, *, terminal: bool = False) -> str:
    """``basket event``: an :class:`engine.analysis.events.EventStudy`'s summary under one line
    per event naming its day 0 on each exchange; a table shows :data:`EVENT_COLUMNS` and, with
    markdown, is followed by the notes on the multiple-test adjustments and hindsight
    (:func:`engine.results.summary_tables.event_notes`); json gives the keys
    :data:`EVENT_JSON_KEYS`."""
    from engine.results.summary_tables import event_notes, notes_text

    summary = events.summary
    records = [{k: row.get(k) for k in EVENT_JSON_KEYS} for row in events.summary_records()]
    frame = summary.assign(
        window=summary["window"].map(lambda w: f"[{w[0]}, {w[1]}]"),
        day0=summary["day0"].map(lambda d: ", ".join(f"{c} {day}" for c, day in d.items())),
    ).set_index("basket")
    if fmt == "table":
        frame = frame[["event", "window", *EVENT_COLUMNS]].rename(columns=EVENT_COLUMNS)
    title = "\n".join(
        f"Day 0 of {event} ({group['event_name'].iloc[0]}): "
        + ", ".join(f"{c} {d}" for c, d in zip(group["calendar"], group["day0"], strict=True))
        for event, group in events.day0.groupby("event", sort=False)
    )
    text = render(
        frame, fmt, records=records, percent=EVENT_PERCENT, title=title, terminal=terminal
    )
    if fmt in ("table", "markdown"):
        text += notes_text(event_notes(summary), fmt)
    return text


def event_exclusions(events: Any) -> list[str]:
    """One line per stock (or portfolio series) an event study left out, with why."""
    return [
        f"{row.basket}, event {row.event}: excluded {row.symbol} ({row.reason})"
        for row in events.excluded.itertuples()
    ]


def fetch_report(report: Any, fmt: str, *, terminal: bool = False) -> str:
    """``basket data fetch``: one row per symbol of a :class:`engine.data.store.FetchReport`."""
    records = [row.to_dict() for row in report.rows]
    frame = pd.DataFrame(records).set_index("symbol")
    return render(frame, fmt, records=records, terminal=terminal)


def fetch_counts(report: Any) -> str:
    """``12 symbols: 3 fetched, 1 updated, 8 cached, 0 failed; <source>``."""
    counts = {a: sum(r.action == a for r in report.rows) for a in ("fetched", "updated", "cached")}
    done = ", ".join(f"{n} {a}" for a, n in counts.items())
    return f"{len(report.rows)} symbols: {done}, {len(report.failed)} failed; {report.source}"


def status_report(report: Any, fmt: str, *, terminal: bool = False) -> str | None:
    """``basket data status``: one row per cached symbol of a
    :class:`engine.data.store.StatusReport` (a table shows the source's kind only: yahoo,
    import; json/csv give the file); None when there is none."""
    records = [row.to_dict() for row in report.rows]
    if not records:
        return None
    frame = pd.DataFrame(
        [
            {
                "symbol": r["symbol"],
                "state": r["state"],
                "first": r["first_date"],
                "last": r["last_date"],
                "rows": r["rows"],
                "source": r["source"],
                "fetched_at": r["fetched_at"],
                "flags": row.flag_summary(),
            }
            for r, row in zip(records, report.rows, strict=True)
        ]
    ).set_index("symbol")
    frame["rows"] = frame["rows"].astype("Int64")  # a count, even beside a corrupt entry's none
    if fmt == "table":
        frame["source"] = frame["source"].str.split(":").str[0]
    return render(frame, fmt, records=records, terminal=terminal)


def claims_output(run: Any, fmt: str, *, asof_given: bool = False, width: int = 80) -> str:
    """``basket claims``: a :class:`engine.pipeline.claims.ClaimsRun` as text ``width`` characters
    wide under a title (the claims' title, publication, as-of date and how it was chosen:
    inferred, given or the file's) with the as-of scores when they were computed, or as a
    csv/json/markdown table."""
    from engine.results.claims import claims_frame, claims_text, score_text

    claims, records = run.claims, run.records()
    if fmt != "table":
        return render(claims_frame(records), fmt, records=records)
    how = "inferred" if run.inferred and not asof_given else "given" if asof_given else "file"
    published = f", published {claims.published}" if claims.published else ""
    title = f"{claims.title}{published}: as of {run.asof} ({how}), {claims.path}"
    text = claims_text(records, title, width)
    if run.scores is not None:
        text += "\n" + score_text(run.scores, run.inferred, run.tied)
    return text


#: The sweep's columns in a terminal table, after basket, grid point and statistic.
SWEEP_COLUMNS = ("value", "random_p05", "random_p50", "random_p95", "percentile", "p_value")
#: The sweep's keys in ``--format json``, in order.
SWEEP_JSON_KEYS = (
    "basket", "grid", "statistic", "value", "random_mean", "random_p05", "random_p50",
    "random_p95", "percentile", "p_value", "n_random", "matched_on", "seed",
)  # fmt: skip


def sweep_summary(result: Any, fmt: str, *, terminal: bool = False) -> str:
    """``basket sweep``: per theme, grid point and statistic of a
    :class:`engine.pipeline.sweep.SweepResult` the theme's value, the random baskets' 5th/50th/95th
    percentiles, the theme's percentile and p-value (percent statistics as percentages), under
    a title naming the number of random baskets, what they are matched on and the seed; the
    grid column only when there is a grid; csv/json give :data:`SWEEP_JSON_KEYS`."""
    from engine.results.display import fitted_table, p_text
    from engine.results.sweepfolder import is_percent

    records = [{k: r[k] for k in SWEEP_JSON_KEYS} for r in result.records()]
    frame = pd.DataFrame(records)
    if fmt != "table":
        return render(frame.set_index("basket"), fmt, records=records)
    shown = frame[["basket", "grid", "statistic", *SWEEP_COLUMNS]].copy()
    if not shown["grid"].astype(bool).any():
        shown = shown.drop(columns="grid")
    for column in SWEEP_COLUMNS[:4]:
        shown[column] = [
            "" if v is None else f"{v:.1%}" if is_percent(s) else f"{v:.2f}"
            for s, v in zip(frame["statistic"], frame[column], strict=True)
        ]
    shown["percentile"] = [("" if v is None else f"{v:.1f}") for v in frame["percentile"]]
    shown["p_value"] = [("" if v is None else p_text(v)) for v in frame["p_value"]]
    shown = shown.rename(
        columns={
            "value": "theme",
            "random_p05": "p5",
            "random_p50": "p50",
            "random_p95": "p95",
            "percentile": "pctile",
            "p_value": "p",
        }
    )
    options = result.options
    title = (
        f"{result.study.name}: each theme against {options.n_random} random baskets matched on "
        f"{', '.join(options.matched_on)} (seed {options.seed})"
    )
    if terminal:
        return fitted_table(shown.set_index("basket"), title)
    return render(shown.set_index("basket"), "table", title=title)


def sweep_notes(result: Any) -> list[str]:
    """The sweep's notes: its first (survivorship), how the random baskets were verified
    against vectorbt, then each theme's terminal notes, once each, naming the theme."""
    notes = [
        f"verified {result.options.verify} random basket(s) per theme against vectorbt: "
        f"largest difference {result.verified:.1e}"
    ]
    for run in result.runs:
        theme = run.baskets[0].name
        for note in run.console_notes():
            if note == result.notes[0]:
                continue
            note = note if note.startswith(f"{theme}:") else f"{theme}: {note}"
            if note not in notes:
                notes.append(note)
    return [result.notes[0], *notes]


def note_lines(notes: Sequence[str]) -> str:
    """Notes as the commands print them on stderr: ``note: ...``, one line each, repeated
    notes grouped into one line with a count (:func:`group_notes`), control characters made
    visible (:func:`engine.text.printable`)."""
    return "".join(f"note: {printable(note)}\n" for note in group_notes(notes))
