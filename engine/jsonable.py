"""Plain JSON values from what pandas and numpy hand back."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd


def json_ready(value: Any) -> Any:
    """``value`` with plain JSON types only: mappings and sequences recursively, NaN, infinities
    and NaT as None, numpy scalars as Python numbers, dates as ISO strings (a midnight
    timestamp without a time zone as its date, ``2025-01-20``)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):
        midnight = value.tzinfo is None and value.time() == dt.time()
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
