"""Parameter grids: ``--grid KEY=V1,V2,...`` options parsed into the points of their product.

Keys (:data:`GRID_KEYS`): ``rebalance`` (none, monthly, quarterly), ``fees`` (decimals, 0.001 =
10 bp), ``start`` and ``end`` (ISO dates).  Each point is a dict of the keys given; the product
runs in the order the options were given, the last key varying fastest.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence

from engine.calendars import EARLIEST_HINT, before_calendars
from engine.config.fields import parse_date
from engine.config.weights import REBALANCES
from engine.errors import OptionError

GRID_KEYS = ("rebalance", "fees", "start", "end")


def _value(key: str, text: str) -> object:
    text = text.strip()
    if key == "rebalance":
        if text not in REBALANCES:
            raise OptionError("--grid", f"rebalance '{text}' is not one of {', '.join(REBALANCES)}")
        return text
    if key == "fees":
        try:
            fees = float(text)
        except ValueError:
            raise OptionError(
                "--grid", f"fees '{text}' is not a number", "e.g. fees=0,0.001"
            ) from None
        if not math.isfinite(fees) or not 0 <= fees < 0.1:
            raise OptionError("--grid", f"fees {text} is not in [0, 0.1)", "0.001 = 10 bp")
        return fees
    try:
        day = parse_date(text, ValueError)
    except ValueError as error:
        raise OptionError("--grid", f"{key} '{text}': {error}") from None
    problem = before_calendars(day)
    if problem:
        raise OptionError("--grid", f"{key} {problem}", EARLIEST_HINT)
    return day


def parse_grid(items: Sequence[str]) -> list[dict[str, object]]:
    """The points of the grid ``items`` (``["rebalance=none,monthly", "fees=0,0.001"]``);
    one empty point without items.  Raises :class:`OptionError` for an unknown or repeated key,
    an empty or bad value."""
    axes: dict[str, list[object]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in GRID_KEYS:
            raise OptionError(
                "--grid", f"'{item}' is not KEY=V1,V2 with KEY one of {', '.join(GRID_KEYS)}",
                "e.g. --grid rebalance=none,monthly",
            )
        if key in axes:
            raise OptionError("--grid", f"key {key} is given twice", "list its values once")
        parts = [v for v in values.split(",") if v.strip()]
        if not parts:
            raise OptionError("--grid", f"{key} has no value", f"e.g. {key}=V1,V2")
        axes[key] = list(dict.fromkeys(_value(key, v) for v in parts))
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def point_label(point: dict[str, object]) -> str:
    """``rebalance=monthly fees=0.001`` (empty for the single point of no grid)."""
    def text(value: object) -> str:
        if isinstance(value, dt.date):
            return value.isoformat()
        return f"{value:g}" if isinstance(value, float) else str(value)

    return " ".join(f"{k}={text(v)}" for k, v in point.items())
