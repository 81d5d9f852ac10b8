"""The random baskets' values behind a ranking, as one long table: ``nulls.parquet``.

``basket sweep`` writes every random value behind each of its summary rows; ``basket run
--universe`` the random baskets' total returns behind each basket's null percentile.  One
format for both, one row per random basket::

    basket      the theme or basket ranked (text)
    grid        the grid point (text; "" for a run, which has no grid)
    statistic   what is ranked (``total_return``, ``sharpe``, ``car ...``)
    draw        the random basket's number, 0 .. n-1
    value       the random basket's value of the statistic (decimal; NaN where undefined)

Parquet keeps the numbers exact (no ten-digit CSV rounding).  A run's report, drawn right
after the run, reads the bytes written to the file the way ``basket report`` reads the file
(:func:`read_run_totals`), so both draw the same histograms; ``basket report`` of a sweep
folder reads every row's values with the same checks (:func:`null_values`).  Writes and reads
only this file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: The file's name in a run or sweep folder.
NULLS = "nulls.parquet"
#: Its columns, in order.
NULL_COLUMNS = ("basket", "grid", "statistic", "draw", "value")
#: The statistic a run ranks (and writes the random values of).
RUN_STATISTIC = "total_return"


class MalformedNulls(ValueError):
    """A ``nulls.parquet`` that cannot be read as :data:`NULL_COLUMNS` (the message says
    why)."""


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


def write_run_nulls(folder: Path, totals: Mapping[str, np.ndarray]) -> bytes:
    """Write a run's random total returns (``totals``: per basket, in the run's order) as
    ``folder/nulls.parquet`` (grid ``""``, statistic :data:`RUN_STATISTIC`) and return the
    bytes written."""
    keys = [{"basket": basket, "grid": "", "statistic": RUN_STATISTIC} for basket in totals]
    buffer = io.BytesIO()
    nulls_frame(keys, list(totals.values())).to_parquet(buffer, index=False)
    data = buffer.getvalue()
    (folder / NULLS).write_bytes(data)
    return data


def null_values(frame: pd.DataFrame) -> dict[tuple[str, str, str], np.ndarray]:
    """The random values of every ``(basket, grid, statistic)`` of a long table, in draw order
    (keys in the table's order); :class:`MalformedNulls` when a column is missing or of the
    wrong type, or a key's draws are not 0 .. n-1 once each."""
    missing = [name for name in NULL_COLUMNS if name not in frame.columns]
    if missing:
        raise MalformedNulls(f"no column {', '.join(missing)} (it holds "
                             f"{', '.join(map(str, frame.columns)) or 'no columns'})")
    if not pd.api.types.is_float_dtype(frame["value"]):
        raise MalformedNulls(f"column 'value' holds {frame['value'].dtype}, not numbers")
    if not pd.api.types.is_integer_dtype(frame["draw"]):
        raise MalformedNulls(f"column 'draw' holds {frame['draw'].dtype}, not whole numbers")
    keys = list(NULL_COLUMNS[:3])
    for name in keys:
        if not is_text(frame[name]):
            raise MalformedNulls(f"column '{name}' holds something other than text")
    values = {}
    for (basket, grid, statistic), rows in frame.groupby(keys, sort=False):
        rows = rows.sort_values("draw", kind="stable")
        if not np.array_equal(rows["draw"].to_numpy(), np.arange(len(rows))):
            what = basket if (grid, statistic) == ("", RUN_STATISTIC) else (
                f"{basket}'s {statistic}" + (f" at {grid}" if grid else ""))
            raise MalformedNulls(f"the draws of {what} are not 0..{len(rows) - 1} once each")
        values[(str(basket), str(grid), str(statistic))] = rows["value"].to_numpy(dtype=float)
    return values


def is_text(column: pd.Series) -> bool:
    """Whether every cell of ``column`` is text: told by its type when pandas read a string
    column (parquet's strings: no cell to look at, a sweep's million rows included), else cell
    by cell."""
    if isinstance(column.dtype, pd.StringDtype):
        return bool(column.notna().all())
    return all(isinstance(value, str) for value in column)


def run_totals(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The random total returns per basket (in draw order, baskets in the table's order) of a
    run's long table (:func:`null_values`, the rows of :data:`RUN_STATISTIC` without a grid)."""
    return {basket: values for (basket, grid, statistic), values in null_values(frame).items()
            if grid == "" and statistic == RUN_STATISTIC}


def read_nulls(source: Path | bytes) -> pd.DataFrame:
    """The long table in the file at ``source``, or in the bytes written to it, unchecked;
    :class:`MalformedNulls` when it is not a parquet file."""
    try:
        return pd.read_parquet(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (OSError, ValueError, TypeError, NotImplementedError) as error:
        # pyarrow starts with "Could not open Parquet input source '<path>': ": the path
        # is named by the caller already.
        reason = re.sub(r"^Could not open .*?': ", "", str(error).split("\n")[0])
        raise MalformedNulls(f"not a parquet table ({reason or type(error).__name__})") from None


def read_run_totals(source: Path | bytes) -> dict[str, np.ndarray]:
    """:func:`run_totals` of the file at ``source``, or of the bytes written to it;
    :class:`MalformedNulls` when it is not a parquet file or not such a table."""
    return run_totals(read_nulls(source))
