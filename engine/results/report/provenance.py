"""The parts of a report that say where its numbers come from: the data notes (the run's notes
as a table, repeated ones grouped, the flags on the purchase date and inside event windows
first; skipped symbols; unreadable files; the data source and price fingerprints) and the
settings (the study, the event study and the baskets as run, and the manifest).

Shared by the run and claims reports.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import Any

import pandas as pd

from engine.data.flags import Flag, FlagGroup, flag_groups, flag_notes
from engine.results.compare import flatten
from engine.results.notes import group_notes
from engine.results.reader import Run
from engine.results.report.page import definition_list, esc, html_table, note, section
from engine.results.runs_display import value_text

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def flagged_dates(run: Run) -> dict[str, str]:
    """The dates where a data flag matters most, each with why: the purchase (the first
    session) and every day of each event's windows (``events/abnormal_returns.csv``)."""
    dates: dict[str, str] = {}
    ars = run.table("events/abnormal_returns.csv", usecols=["event", "date"])
    if ars is not None and {"event", "date"} <= set(ars.columns):
        for event, date in zip(ars["event"].astype(str).str[:10], ars["date"].astype(str),
                               strict=True):
            dates.setdefault(date[:10], f"window of the {event} event")
    first = str((run.manifest.get("period") or {}).get("first_session") or "")[:10]
    if first:
        dates[first] = "purchase date"
    return dates


#: How many symbols a grouped flag note names before "and N more".
NAMED_SYMBOLS = 12


def flag_group_line(group: FlagGroup) -> str:
    """One report line for a group of flags: its symbols, check, dates and shared message."""
    symbols = ", ".join(group.symbols[:NAMED_SYMBOLS])
    if len(group.symbols) > NAMED_SYMBOLS:
        symbols += f" and {len(group.symbols) - NAMED_SYMBOLS} more"
    if len(group.symbols) > 1:
        symbols += f" ({len(group.symbols)})"
    flags = len(group.spans)
    counted = f"{flags} flag{'s' if flags > 1 else ''}{' each' if len(group.symbols) > 1 else ''}"
    said = f": {group.message}" if group.message else ""
    return (f"{symbols}: data check {group.kind} ({group.severity}), {counted} on "
            f"{', '.join(group.spans)}{said}")


def notes_table(notes: Sequence[str], key_dates: dict[str, str],
                flags: Sequence[Flag] = ()) -> str:
    """The run's notes as a table: its data flags grouped by check and dates
    (:func:`engine.data.flags.flag_groups`; their per-symbol notes left out), the other notes
    with repeated ones grouped (:func:`group_notes`); the lines naming a purchase date or a day
    of an event window first, with where."""
    per_symbol = set(flag_notes(flags))
    lines = [(flag_group_line(g), [str(d.date()) for d in g.dates]) for g in flag_groups(flags)]
    lines += [(line, DATE.findall(line))
              for line in group_notes([n for n in notes if n not in per_symbol])]
    rows = []
    for line, dates in lines:
        where = list(dict.fromkeys(f"{key_dates[d]} ({d})" for d in dates if d in key_dates))
        rows.append({"matters": "; ".join(where), "note": line})
    rows.sort(key=lambda r: not r["matters"])  # stable: the flagged ones first, in order
    frame = pd.DataFrame(rows, columns=["matters", "note"])
    return (
        "<h3>Notes</h3>" + html_table(frame, headers={"matters": "Where it matters",
                                                      "note": "Note"}, index=False, css="notes")
        + f'<p class="caption">{len(notes)} notes in {len(rows)} lines (flags of one check on '
        "the same dates grouped, repeated notes grouped); the lines naming the purchase date or "
        "a day of an event window first. Each symbol's flags in detail: manifest.json.</p>"
    )


def notes_section(run: Run) -> str:
    m = run.manifest
    parts = []
    notes = [str(n) for n in m.get("notes") or []]
    if notes:
        flags = [Flag.from_record(record) for record in m.get("data_flags") or []]
        parts.append(notes_table(notes, flagged_dates(run), flags))
    skipped = [
        {"basket": b, "symbol": s, "reason": why}
        for b, symbols in (m.get("skipped") or {}).items() for s, why in symbols.items()
    ]
    if skipped:
        parts.append("<h3>Skipped symbols</h3>"
                     + html_table(pd.DataFrame(skipped), index=False)
                     + "<p class=\"caption\">Weights renormalised over the rest.</p>")
    if run.problems:
        parts.append("<h3>Run folder</h3><ul class=\"notes\">"
                     + "".join(f"<li>{esc(p)}</li>" for p in run.problems) + "</ul>")
    if not parts:
        parts.append(note("The run recorded no data notes and skipped no symbol."))
    fingerprints = m.get("fingerprints") or {}
    parts.append(f"<p>Data source: {esc(m.get('data_source') or 'not recorded')}</p>")
    if fingerprints:
        frame = pd.DataFrame(
            {"sha256": list(fingerprints.values())},
            index=pd.Index(list(fingerprints), name="symbol"),
        )
        parts.append(f"<details><summary>Fingerprints of {len(fingerprints)} price series"
                     f"</summary>{html_table(frame, css='mono')}</details>")
    return section("notes", "Data notes", "".join(parts))


def setting_text(value: Any) -> str:
    """A setting for people: yes/no, ``[-1, 1], [0, 5]`` for a list of windows, ``none`` for
    an empty mapping, else :func:`engine.results.runs_display.value_text`."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and not value:
        return "none"
    if isinstance(value, list | tuple) and value and all(isinstance(v, list | tuple)
                                                         for v in value):
        return ", ".join(value_text(v) for v in value)
    return value_text(value)


def settings_table(settings: dict[str, Any]) -> str:
    """Nested settings as a two-column table, one dotted key a row (``markets.XSHG``), the
    values readable (:func:`setting_text`); unset ones left out."""
    flat: dict[str, Any] = {}
    flatten(settings, "", flat)
    return definition_list([(k, None if v is None else setting_text(v)) for k, v in flat.items()])


def settings_section(run: Run) -> str:
    """The study, the event study and the baskets as run, and the manifest (command, time,
    versions)."""
    m = run.manifest
    parts = []
    if run.study:
        parts.append("<h3>Study</h3>" + settings_table(run.study))
    if run.config.get("event_study"):
        parts.append("<h3>Event study as run</h3>" + settings_table(run.config["event_study"]))
    rebalances = m.get("rebalances") or {}
    baskets = run.config.get("baskets") or []
    if baskets:
        rows = [
            {
                "basket": b.get("name"),
                "file": b.get("file"),
                "weighting": b.get("weighting"),
                "rebalance": b.get("rebalance"),
                "constituents": len(b.get("constituents") or []),
                "rebalance dates": ", ".join(rebalances.get(b.get("name"), [])) or "none",
            }
            for b in baskets
        ]
        parts.append("<h3>Baskets</h3>" + html_table(pd.DataFrame(rows), index=False))
    period = m.get("period") or {}
    versions = m.get("versions") or {}
    command = m.get("command")
    items = [
        ("run id", run.id),
        ("created", m.get("created_at")),
        ("command", shlex.join(str(c) for c in command) if isinstance(command, list)
         else command),
        ("period", f"{run.period} ({period['sessions']} sessions)" if period.get("sessions")
         else None),
        ("benchmark", m.get("benchmark")),
        ("currency", m.get("currency")),
        ("fees", None if m.get("fees") is None else value_text(m["fees"])),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
    ]
    parts.append("<h3>Manifest</h3>" + definition_list(items))
    return section("settings", "Settings", "".join(parts))
