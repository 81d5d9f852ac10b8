"""Event time: day 0 and day ``k`` counted on an exchange's sessions, CAR and estimation windows.

Day 0 is the event date if it is a session of the exchange, else that exchange's next session;
day ``+k`` is the ``k``-th session after day 0 and day ``-k`` the ``k``-th before.  Sessions are
the exchange's less the closures the data show (:class:`engine.calendars.Closures`: Hong Kong's
typhoon day 2023-09-01 is no day).  Windows are
``(first day, last day)`` pairs, both inclusive.  May use the ground floor only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine.errors import OptionError

#: CAR windows (first day, last day) relative to day 0, both inclusive.
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((-1, 1), (0, 5), (-5, 10), (0, 20))
#: Estimation window (first day, last day) relative to day 0, both inclusive.
DEFAULT_ESTIMATION: tuple[int, int] = (-250, -30)


def iso(date: pd.Timestamp | None) -> str | None:
    """``YYYY-MM-DD``, or None for a missing date."""
    return None if date is None or pd.isna(date) else date.date().isoformat()


def event_label(event: pd.Timestamp, name: str) -> str:
    """How messages name an event: ``event 2025-01-27 (US AI sell-off)``."""
    return f"event {iso(event)} ({name})" if name else f"event {iso(event)}"


def take(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values[positions]`` with NaN where a position falls outside the array."""
    inside = (positions >= 0) & (positions < len(values))
    out = np.full(len(positions), np.nan)
    out[inside] = values[positions[inside]]
    return out


def day0_position(sessions: pd.DatetimeIndex, event: pd.Timestamp) -> int:
    """Position of day 0 among an exchange's ``sessions``: the event date or the next session."""
    return int(sessions.searchsorted(event))


def day0_date(sessions: pd.DatetimeIndex, event: pd.Timestamp) -> str | None:
    """The ISO date of day 0 among ``sessions`` (None past the last session the calendar
    knows)."""
    position = day0_position(sessions, event)
    return iso(sessions[position]) if position < len(sessions) else None


def event_timestamp(value: object, what: str) -> pd.Timestamp:
    """An event date as a naive midnight timestamp; :class:`OptionError` if it is not a date."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise OptionError("events", f"{what} {value!r} is not a date") from None
    if stamp is pd.NaT:
        raise OptionError("events", f"{what} is missing")
    return (stamp.tz_localize(None) if stamp.tzinfo else stamp).normalize()


def clean_windows(
    windows: Sequence[tuple[int, int]], estimation: tuple[int, int], min_estimation: int
) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """The CAR windows and the estimation window as int pairs, checked against each other.

    Raises :class:`OptionError` for no window, a pair that is not two ints, a window ending
    before it starts or overlapping the estimation window, and an estimation window shorter
    than ``min_estimation`` (itself at least 3).
    """
    if not windows:
        raise OptionError("windows", "no CAR window given", "e.g. windows=[(-1, 1), (0, 5)]")
    try:
        clean = [(int(a), int(b)) for a, b in windows]
        e0, e1 = (int(x) for x in estimation)
    except (TypeError, ValueError):
        raise OptionError(
            "windows",
            f"windows {list(windows)} and estimation {estimation} must be (a, b) int pairs",
        ) from None
    for a, b in clean:
        if a > b:
            raise OptionError("windows", f"window [{a}, {b}] ends before it starts")
        if a <= e1:
            raise OptionError(
                "windows",
                f"window [{a}, {b}] overlaps the estimation window [{e0}, {e1}]",
                "end the estimation window before the earliest CAR window",
            )
    if min_estimation < 3:
        raise OptionError("min_estimation", f"{min_estimation} is too small; use at least 3")
    if e0 > e1 or e1 - e0 + 1 < min_estimation:
        raise OptionError(
            "estimation",
            f"estimation window [{e0}, {e1}] has {max(e1 - e0 + 1, 0)} sessions, fewer than "
            f"min_estimation {min_estimation}",
        )
    return clean, (e0, e1)


def window_span(windows: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The widest span the windows cover: first day of any, last day of any."""
    return min(a for a, _ in windows), max(b for _, b in windows)
