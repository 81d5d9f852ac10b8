"""A universe on a basket's sessions: every stock's closes in the report currency, at once.

The arrays follow the rules of :func:`engine.market.panel.align` for a basket's constituents,
column by column: a stock's closes are read on the sessions of its own exchange (a session
without a bar carries the last close), then sampled on the basket's sessions with the last
close carried (a closed market contributes a zero return), then converted with the FX factor of
its currency.  A stock is *eligible* when :func:`engine.market.panel.coverage_problems` would
accept it: a bar on a session of its exchange at most :data:`engine.market.panel.LOOKBACK` before
the start, and a bar on or after its exchange's last session of the period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.calendars import Closures
from engine.data.universe import UniverseMatrix
from engine.market.panel import LOOKBACK


@dataclass(frozen=True)
class UniversePrices:
    """``prices``: ``(n_sessions, n_symbols)`` closes in the report currency on ``sessions``
    (NaN for a stock that is not eligible); ``eligible``: bool per symbol."""

    sessions: pd.DatetimeIndex
    symbols: list[str]
    prices: np.ndarray
    eligible: np.ndarray


def align_universe(
    matrix: UniverseMatrix,
    calendars: Sequence[str],
    currencies: Sequence[str],
    union: pd.DatetimeIndex,
    factors: Mapping[str, np.ndarray],
    closures: Closures | None = None,
) -> UniversePrices:
    """``matrix`` (dates x symbols, local closes) on the basket's sessions ``union``.

    ``calendars``/``currencies``: each symbol's exchange and currency; ``factors``: per
    currency, the factor turning local prices into report-currency prices on each session of
    ``union`` (symbols of a currency without a factor are not eligible); ``closures``: the
    closures the basket's data show (no session there, as in its panel)."""
    closures = closures or Closures()
    start, end = union[0], union[-1]
    prices = np.full((len(union), len(matrix.symbols)), np.nan)
    eligible = np.zeros(len(matrix.symbols), bool)
    calendars = np.asarray(calendars)
    currencies = np.asarray(currencies)
    for calendar in np.unique(calendars):
        own = closures.sessions(calendar, start - LOOKBACK, end)
        in_period = own[own >= start]
        if in_period.empty:
            continue
        for currency in np.unique(currencies[calendars == calendar]):
            if currency not in factors:
                continue
            columns = np.flatnonzero((calendars == calendar) & (currencies == currency))
            local = matrix.closes[:, columns]
            on_own = pd.DataFrame(local, index=matrix.dates).reindex(own).to_numpy()
            started = np.isfinite(on_own[own <= start]).any(axis=0)
            later = np.isfinite(local[matrix.dates >= in_period[-1]]).any(axis=0)
            ok = started & later
            carried = pd.DataFrame(on_own[:, ok]).ffill().to_numpy()
            rows = own.searchsorted(union, side="right") - 1
            sampled = carried[rows]
            prices[:, columns[ok]] = sampled * np.asarray(factors[currency])[:, None]
            eligible[columns[ok]] = True
    return UniversePrices(union, list(matrix.symbols), prices, eligible)
