"""Notes for people: the run's notes with repeated ones grouped into one line with a count.

Used by the terminal (:func:`engine.results.console.note_lines`) and the report's data-notes
table; plain text in, plain text out, nothing else imported.
"""

from __future__ import annotations

from collections.abc import Sequence

#: How many of a group's subjects a grouped note names before "and N more".
NAMED_IN_GROUP = 3


def group_notes(notes: Sequence[str]) -> list[str]:
    """Repeated notes as one line each, in the order of their first appearance.

    A note ``"<subject>: <text>"`` whose subject has no space (a symbol, a run id) is grouped
    with every other note of the same text: ``"0700.HK, 9988.HK, 1810.HK and 10 more (13):
    <text>"``.  Identical notes of any form are printed once, with ``(xN)`` after them.
    """
    subjects: dict[str, list[str]] = {}
    for note in notes:
        subject, sep, text = note.partition(": ")
        key, who = (text, subject) if sep and subject and " " not in subject else (note, "")
        subjects.setdefault(key, []).append(who)
    lines = []
    for text, who in subjects.items():
        named = list(dict.fromkeys(w for w in who if w))
        if not named:
            lines.append(text if len(who) == 1 else f"{text} (x{len(who)})")
        elif len(named) == 1:
            lines.append(f"{named[0]}: {text}" + (f" (x{len(who)})" if len(who) > 1 else ""))
        else:
            shown = ", ".join(named[:NAMED_IN_GROUP])
            more = len(named) - NAMED_IN_GROUP
            shown += f" and {more} more" if more > 0 else ""
            lines.append(f"{shown} ({len(named)}): {text}")
    return lines
