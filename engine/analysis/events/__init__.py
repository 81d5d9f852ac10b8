"""Event studies of baskets: abnormal returns around event dates, counted per exchange.

What it offers: :func:`run_event_study` (the tables of every basket, event and window, as an
:class:`EventStudy`), the baskets it takes (:class:`EventBasket`), the defaults
(:data:`DEFAULT_WINDOWS`, :data:`DEFAULT_ESTIMATION`, :data:`DEFAULT_MARKETS`), the choices
(:data:`MODELS`, :data:`WEIGHTINGS`, :data:`CURRENCIES`) and the tables' columns.

The rooms, along the computation:

* :mod:`.eventtime`: day 0 and day ``k`` on an exchange's sessions, windows.  Each stock counts
  days on the sessions of its own exchange (``exchange_calendars``: XSHG for ``.SS``/``.SZ``,
  XHKG for ``.HK``, XNAS for US tickers; ``listings`` may override).  Calendar days and
  forward-filled days are never counted.  Around the 2025 Lunar New Year an event on
  2025-01-27 has day +1 on 2025-02-05 in Shanghai/Shenzhen but on 2025-01-28 in Hong Kong.
* :mod:`.models`: normal-return models (``market``, ``market_adjusted``, ``mean_adjusted``),
  fitted on the estimation days (default -250..-30).
* :mod:`.stocks`: per-stock returns, market returns, gaps and abnormal returns, computed once
  per (event, stock) and shared by every basket and window.  The market index of an exchange
  other than the stock's is non-synchronous (a US close of date ``d`` is later than an Asian
  close of ``d``); the engine does not shift it.
* :mod:`.baskets`: a basket's stocks combined (weights renormalised over the included stocks,
  or equal) and its own portfolio return series studied as one security.
* :mod:`.tables`: the summary row of each basket, event and window with its tests, and the
  tables of :class:`EventStudy`.
* :mod:`.multiple`: the tests of the whole study counted, each p-value with its Holm and
  Benjamini-Hochberg adjustment over them.
* :mod:`.study`: :func:`run_event_study`, which checks its arguments and runs the rest.

Outputs per window ``W = [a, b]`` (``L = b - a + 1`` sessions)
    ``CAR_i = sum_{t in W} AR_it``; ``BHAR_i = prod_{t in W} (1 + R_it) - prod_{t in W}
    (1 + N_it)`` with ``N_it`` the model's normal return, i.e. the benchmark is buy-and-hold of
    ``alpha + beta Rm`` (market model), of the index itself (market-adjusted) or of the
    constant estimation mean (mean-adjusted).  ``SCAR_i = CAR_i / se(CAR_i)`` with the
    forecast-error corrected standard errors of :mod:`engine.analysis.significance`.

Errors
    :class:`DateRangeError` when an event is after the last price of a constituent, market or
    FX series, when the widest window runs past any of them, when the event is before the
    first price of a market/FX series or of every constituent of a basket.  A constituent
    listed after the event is not an error: it has too few estimation returns and is excluded.

May use ``analysis.significance``, ``data.prices`` and the ground floor.
"""

from engine.analysis.events.baskets import WEIGHTINGS, EventBasket
from engine.analysis.events.eventtime import DEFAULT_ESTIMATION, DEFAULT_WINDOWS
from engine.analysis.events.models import MODELS
from engine.analysis.events.stocks import CURRENCIES, DEFAULT_MARKETS
from engine.analysis.events.study import run_event_study
from engine.analysis.events.tables import (
    AR_COLUMNS,
    DAY0_COLUMNS,
    EXCLUDED_COLUMNS,
    PATH_COLUMNS,
    PORTFOLIO,
    STOCK_CAR_COLUMNS,
    SUMMARY_COLUMNS,
    EventStudy,
)

__all__ = [
    "AR_COLUMNS",
    "CURRENCIES",
    "DAY0_COLUMNS",
    "DEFAULT_ESTIMATION",
    "DEFAULT_MARKETS",
    "DEFAULT_WINDOWS",
    "EXCLUDED_COLUMNS",
    "MODELS",
    "PATH_COLUMNS",
    "PORTFOLIO",
    "STOCK_CAR_COLUMNS",
    "SUMMARY_COLUMNS",
    "WEIGHTINGS",
    "EventBasket",
    "EventStudy",
    "run_event_study",
]
