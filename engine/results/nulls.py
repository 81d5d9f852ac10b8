"""The random baskets' values behind a ranking, as one long table: ``nulls.parquet``.

``basket sweep`` writes every random value behind each of its summary rows, one row per random
basket::

    basket      the theme or basket ranked (text)
    grid        the grid point (text; "" without a grid)
    statistic   what is ranked (``total_return``, ``sharpe``, ``car ...``)
    draw        the random basket's number, 0 .. n-1
    value       the random basket's value of the statistic (decimal; NaN where undefined)

Parquet keeps the numbers exact (no ten-digit CSV rounding).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: The file's name in a run folder.
NULLS = "nulls.parquet"
#: Its columns, in order.
NULL_COLUMNS = ("basket", "grid", "statistic", "draw", "value")


def nulls_frame(keys: Sequence[Mapping[str, Any]], values: Sequence[np.ndarray]) -> pd.DataFrame:
    """The long table of the random ``values`` behind each of ``keys`` (mappings with
    ``basket``, ``grid`` and ``statistic``: a sweep's summary rows), in their order."""
    pieces = [
        pd.DataFrame({
            "basket": key["basket"], "grid": key["grid"], "statistic": key["statistic"],
            "draw": np.arange(len(drawn)), "value": np.asarray(drawn, dtype=float),
        })
        for key, drawn in zip(keys, values, strict=True)
    ]
    if not pieces:
        return pd.DataFrame(columns=list(NULL_COLUMNS))
    return pd.concat(pieces, ignore_index=True)
