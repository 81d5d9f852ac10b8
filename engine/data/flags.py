"""Data-quality findings and how they are reported: :class:`Flag` (one finding: symbol, kind,
dates, message, severity), the severities ``info`` < ``warning`` < ``error``, the notes a run
keeps (:func:`flag_notes`: one line per symbol and kind), the groups a report shows
(:func:`flag_groups`: the symbols flagged alike on the same dates) and what a terminal shows
(:func:`flag_summary`: one line per kind), and strict mode (:func:`raise_if_strict` turns flags
at or above a severity into one :class:`DataQualityError`).  The checks that make flags are in
:mod:`engine.data.quality`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from engine.errors import InputError

SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class Flag:
    """One finding: the symbol, what kind, the dates concerned (ascending), a message and a
    severity (``info``, ``warning`` or ``error``)."""

    symbol: str
    kind: str
    dates: tuple[pd.Timestamp, ...]
    message: str
    severity: str = "warning"

    @property
    def first(self) -> pd.Timestamp | None:
        return self.dates[0] if self.dates else None

    @property
    def last(self) -> pd.Timestamp | None:
        return self.dates[-1] if self.dates else None

    def span(self) -> str:
        """``2024-12-24`` or ``2024-06-03..2024-06-07``."""
        if not self.dates:
            return "-"
        first, last = self.dates[0].date(), self.dates[-1].date()
        return str(first) if first == last else f"{first}..{last}"

    def one_line(self) -> str:
        return f"{self.symbol} {self.span()} {self.kind} ({self.severity}): {self.message}"

    def record(self) -> dict[str, object]:
        """The flag as plain JSON values (a run's manifest keeps them as ``data_flags``)."""
        return {"symbol": self.symbol, "kind": self.kind, "severity": self.severity,
                "dates": [str(d.date()) for d in self.dates], "message": self.message}

    @classmethod
    def from_record(cls, record: dict[str, object]) -> Flag:
        """The flag :meth:`record` wrote."""
        return cls(str(record["symbol"]), str(record["kind"]),
                   tuple(pd.Timestamp(str(d)) for d in record["dates"]),  # type: ignore[union-attr]
                   str(record["message"]), str(record["severity"]))


class DataQualityError(InputError):
    """Prices fail the data-quality checks in strict mode."""

    def __init__(self, flags: Sequence[Flag]) -> None:
        self.flags = list(flags)
        by_symbol: dict[str, list[Flag]] = {}
        for flag in self.flags:
            by_symbol.setdefault(flag.symbol, []).append(flag)
        parts = []
        for symbol, found in sorted(by_symbol.items()):
            kinds: dict[str, list[Flag]] = {}
            for flag in found:
                kinds.setdefault(flag.kind, []).append(flag)
            listed = ", ".join(
                f"{len(group)} {kind} (first {group[0].span()})" for kind, group in kinds.items()
            )
            parts.append(f"{symbol}: {listed}")
        count = len(self.flags)
        super().__init__(
            f"data-quality check failed with {count} flag{'s' if count != 1 else ''}: "
            + "; ".join(parts),
            "inspect the prices, or run without strict data checks to continue with warnings",
        )


def _spans(flags: Sequence[Flag], shown: int = 3) -> str:
    """``2024-12-24, 2024-12-31`` or ``a, b, c and 4 more``."""
    spans = [f.span() for f in flags]
    more = f" and {len(spans) - shown} more" if len(spans) > shown else ""
    return ", ".join(spans[:shown]) + more


def flag_notes(flags: Iterable[Flag]) -> list[str]:
    """One line per symbol and kind of flag, for a run's notes::

        9988.HK: data check placeholder_bar (warning), 2 flags on 2024-12-24, 2024-12-31;
        first: placeholder bar (volume missing, no open, no high, no low): close 395 kept; ...

    (on one line).  The severity is the worst of the group; symbols in the order given, kinds in
    order of their first flag.
    """
    groups: dict[tuple[str, str], list[Flag]] = {}
    for flag in flags:
        groups.setdefault((flag.symbol, flag.kind), []).append(flag)
    notes = []
    for (symbol, kind), group in groups.items():
        severity = max((f.severity for f in group), key=SEVERITIES.index)
        count = len(group)
        first = "first: " if count > 1 else ""
        notes.append(
            f"{symbol}: data check {kind} ({severity}), {count} flag{'s' if count > 1 else ''} "
            f"on {_spans(group)}; {first}{group[0].message}"
        )
    return notes


@dataclass(frozen=True)
class FlagGroup:
    """The symbols whose flags of one kind and severity fall on the same dates (``spans``, as
    :meth:`Flag.span` prints them; ``dates`` every date they cover), with what their messages
    say in common: one line of a report's data notes."""

    kind: str
    severity: str
    spans: tuple[str, ...]
    dates: tuple[pd.Timestamp, ...]
    symbols: tuple[str, ...]
    message: str


def shared_message(messages: Sequence[str]) -> str:
    """What every one of ``messages`` says: the message itself when they are all the same,
    else their common beginning up to its last clause (``placeholder bar (volume missing):
    close 395 kept`` and ``... close 17.3 kept`` share ``placeholder bar (volume missing)``),
    or ``""`` when they share no whole clause."""
    if len(set(messages)) == 1:
        return messages[0]
    prefix = os.path.commonprefix(list(messages))
    return prefix[: max(prefix.rfind(": "), prefix.rfind("; "), prefix.rfind(" ("), 0)]


def flag_groups(flags: Iterable[Flag]) -> list[FlagGroup]:
    """The flags grouped for people: one group per kind, severity and dates, naming every
    symbol so flagged (in the order given), groups in order of their first flag.  Twenty
    Hong Kong stocks with a placeholder bar on the same three half-day sessions are one
    group, not twenty near-identical notes."""
    per_symbol: dict[tuple[str, str], list[Flag]] = {}
    for flag in flags:
        per_symbol.setdefault((flag.symbol, flag.kind), []).append(flag)
    groups: dict[tuple, tuple[list[str], list[str], tuple[pd.Timestamp, ...]]] = {}
    for (symbol, kind), found in per_symbol.items():
        severity = max((f.severity for f in found), key=SEVERITIES.index)
        key = (kind, severity, tuple(f.span() for f in found))
        dates = tuple(sorted({d for f in found for d in f.dates}))
        symbols, messages, _ = groups.setdefault(key, ([], [], dates))
        symbols.append(symbol)
        messages.extend(f.message for f in found)
    return [
        FlagGroup(kind, severity, spans, dates, tuple(symbols), shared_message(messages))
        for (kind, severity, spans), (symbols, messages, dates) in groups.items()
    ]


def flag_summary(flags: Iterable[Flag], shown: int = 4) -> list[str]:
    """One line per kind of flag across symbols, for a terminal::

        data check placeholder_bar (warning): 19 symbols (0020.HK, 0268.HK, ... and 15 more)
    """
    groups: dict[str, list[Flag]] = {}
    for flag in flags:
        groups.setdefault(flag.kind, []).append(flag)
    lines = []
    for kind, group in groups.items():
        severity = max((f.severity for f in group), key=SEVERITIES.index)
        symbols = list(dict.fromkeys(f.symbol for f in group))
        more = f" and {len(symbols) - shown} more" if len(symbols) > shown else ""
        noun = "symbol" if len(symbols) == 1 else "symbols"
        lines.append(
            f"data check {kind} ({severity}): {len(group)} flag{'s' if len(group) > 1 else ''} "
            f"on {len(symbols)} {noun} "
            f"({', '.join(symbols[:shown])}{more})"
        )
    return lines


def at_least(flags: Iterable[Flag], severity: str = "warning") -> list[Flag]:
    """The flags whose severity is ``severity`` or worse."""
    floor = SEVERITIES.index(severity)
    return [f for f in flags if SEVERITIES.index(f.severity) >= floor]


def raise_if_strict(flags: Iterable[Flag], min_severity: str = "warning") -> None:
    """Raise one :class:`DataQualityError` summarising every flag at ``min_severity`` or worse."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}")
    serious = at_least(flags, min_severity)
    if serious:
        raise DataQualityError(serious)
