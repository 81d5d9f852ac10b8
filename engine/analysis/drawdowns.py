"""Drawdown periods of a value series: each fall from a running peak until it is made good.

The definitions are the usual ones of performance tear sheets (pyfolio's
``gen_drawdown_table``, QuantStats' ``drawdown_details``; Magdon-Ismail and Atiya 2004 for the
maximum drawdown): the drawdown on a day is ``value / running peak - 1``; a drawdown period
runs from the last day at the peak to the first day the value is back at or above that peak
(its recovery), or to the last day when it is not recovered yet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The columns of :func:`drawdown_periods`, in order.
PERIOD_COLUMNS = ("start", "trough", "recovery", "depth", "length")


def drawdown_periods(values: pd.Series, initial: float | None = None) -> pd.DataFrame:
    """The drawdown periods of ``values`` (indexed by date), deepest first.

    ``initial`` is a peak before the first value (the starting cash, when the first value is
    already net of the purchase's fees); a fall from it starts on the first date.  Columns:

    * ``start``: the last date at the running peak before the fall (the first date for a
      fall from ``initial``);
    * ``trough``: the date of the lowest value of the period (the first, if repeated);
    * ``recovery``: the first date with the value back at or above the peak (NaT if never);
    * ``depth``: ``trough value / peak - 1`` (negative);
    * ``length``: sessions from ``start`` to ``recovery``, or to the last date when not
      recovered (index positions apart).

    Ties in depth keep the order of the periods in time.
    """
    v = values.to_numpy(dtype=float)
    dates = values.index
    peaks = np.maximum.accumulate(v) if len(v) else v
    if initial is not None and len(v):
        peaks = np.maximum(peaks, initial)
    under = v < peaks
    rows = []
    i, n = 0, len(v)
    while i < n:
        if not under[i]:
            i += 1
            continue
        j = i
        while j < n and under[j]:
            j += 1
        start = max(i - 1, 0)
        trough = i + int(np.argmin(v[i:j]))
        end = j if j < n else n - 1
        rows.append({
            "start": dates[start],
            "trough": dates[trough],
            "recovery": dates[j] if j < n else pd.NaT,
            "depth": v[trough] / peaks[trough] - 1.0,
            "length": end - start,
        })
        i = j
    frame = pd.DataFrame(rows, columns=list(PERIOD_COLUMNS))
    return frame.sort_values("depth", kind="stable").reset_index(drop=True)
