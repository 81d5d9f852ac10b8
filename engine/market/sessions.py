"""Closures the data show: exchange sessions on which nothing of that exchange traded.

``exchange_calendars`` lists Hong Kong's typhoon (2023-09-01) and black-rainstorm (2023-09-08)
days as sessions; the data have no bar there.  Rule: a session of exchange ``X`` on which none of
the loaded symbols listed on ``X`` whose data span the day (first bar <= day <= last bar) has a
bar is a *closure*.  A single symbol without a bar while others of its exchange trade is a
*suspension*, not a closure (alignment carries its last close and notes it).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from engine.calendars import Closures, closures_from_bars
from engine.data.prices import PriceHistory
from engine.errors import SymbolError
from engine.symbols import FX_SYMBOLS, Listing, listing_of


def _calendar_of(symbol: str, listings: Mapping[str, Listing]) -> str | None:
    """The symbol's exchange calendar, None for FX series and symbols of no known exchange."""
    if symbol in FX_SYMBOLS.values():
        return None
    try:
        return (listings.get(symbol) or listing_of(symbol)).calendar
    except SymbolError:
        return None


def detect_closures(
    histories: Mapping[str, PriceHistory], listings: Mapping[str, Listing] | None = None
) -> Closures:
    """The closures of every exchange the ``histories`` are listed on.

    ``listings`` overrides the exchange of symbols (else it follows from the suffix).  For each
    session ``d`` of exchange ``X``: ``spanning(d)`` counts the symbols of ``X`` with
    ``first <= d <= last`` and ``trading(d)`` those with a bar on ``d``; ``d`` is a closure when
    ``spanning(d) > 0`` and ``trading(d) == 0``.
    """
    listings = listings or {}
    by_calendar: dict[str, list[pd.DatetimeIndex]] = {}
    for symbol, history in histories.items():
        name = _calendar_of(symbol, listings)
        if name is not None:
            by_calendar.setdefault(name, []).append(history.frame.index)
    return closures_from_bars(by_calendar)
