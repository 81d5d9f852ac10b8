"""The event study's entry point: checks the arguments, computes every (event, stock) once and
collects the rows of every basket, event and window into an :class:`EventStudy`.

May use the other ``analysis.events`` modules, ``data.prices`` and the ground floor.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from engine.analysis.events.baskets import WEIGHTINGS, EventBasket
from engine.analysis.events.eventtime import (
    DEFAULT_ESTIMATION,
    DEFAULT_WINDOWS,
    clean_windows,
    day0_date,
    event_timestamp,
    iso,
    window_span,
)
from engine.analysis.events.models import MODELS
from engine.analysis.events.multiple import with_adjusted_pvalues
from engine.analysis.events.stocks import CURRENCIES, DEFAULT_MARKETS, StockEvents
from engine.analysis.events.tables import EventStudy, Rows, study_basket, tables_of
from engine.calendars import Closures
from engine.data.prices import PriceHistory
from engine.errors import MissingDataError, OptionError
from engine.symbols import Listing


def run_event_study(
    prices: Mapping[str, PriceHistory],
    baskets: Sequence[EventBasket],
    events: Sequence[tuple[pd.Timestamp, str]],
    *,
    windows: Sequence[tuple[int, int]] = DEFAULT_WINDOWS,
    estimation: tuple[int, int] = DEFAULT_ESTIMATION,
    model: str = "market",
    markets: Mapping[str, str] = DEFAULT_MARKETS,
    market_symbol: str | None = None,
    currency: str = "local",
    weighting: str = "basket",
    min_estimation: int = 100,
    listings: Mapping[str, Listing] | None = None,
    closures: Closures | None = None,
) -> EventStudy:
    """Abnormal returns, CARs, BHARs and their tests for every basket, event and window.

    ``prices`` must hold every constituent, every market index used and, with
    ``currency="USD"``, the FX rates (``CNY=X``, ``HKD=X``).  ``events`` are (date, name) pairs.
    Event time counts each exchange's sessions less its ``closures`` (days the data show it
    closed).

    Tables of the returned :class:`EventStudy`:

    * ``summary``: one row per basket, event and window: ``basket, event`` (ISO date),
      ``event_name, day0`` (dict calendar -> ISO date of day 0 for the basket's exchanges),
      ``window`` ([a, b]), ``window_start, window_end, n_stocks`` (included),
      ``n_excluded, car`` (weighted), ``mean_car`` (equal-weighted), ``bhar`` (weighted),
      ``t_cross_sectional, p_cross_sectional, t_patell, p_patell, t_bmp, p_bmp, rbar,
      t_kolari_pynnonen, p_kolari_pynnonen, z_rank, p_rank, z_sign, p_sign`` and, when the
      basket has a portfolio series, ``portfolio_day0, portfolio_car, t_portfolio,
      p_portfolio`` (else None/NaN); then ``n_tests`` (every finite p-value of the table) and
      each p-value's Holm and Benjamini-Hochberg adjustment over them, ``p_X_holm, p_X_bh``
      (:mod:`engine.analysis.events.multiple`).
    * ``abnormal_returns``: ``basket, event, symbol, calendar, day, date, return,
      market_return, normal_return, abnormal_return`` for the days of the widest window span,
      for every stock with a fitted model.
    * ``stock_cars``: ``basket, event, window, window_start, window_end, symbol, weight, car,
      bhar, scar`` for every included stock and window.
    * ``excluded``: ``basket, event, window`` (None when excluded from the whole event),
      ``symbol`` (:data:`PORTFOLIO` for the portfolio series), ``reason``.
    * ``day0``: ``event, event_name, calendar, day0``.
    * ``car_paths``: ``basket, event, day, n_stocks, car, portfolio_car``: the cumulative
      basket abnormal return from the first day of the widest window (each day's AR averaged
      over the stocks that have one, weights renormalised), for charts.

    Raises :class:`OptionError` for bad arguments, :class:`MissingDataError` when ``prices``
    lacks a symbol, :class:`DateRangeError` when the prices do not cover an event and its
    windows.
    """
    check_options(model, currency, weighting)
    windows, estimation = clean_windows(windows, estimation, min_estimation)
    check_baskets(baskets, events, model)
    study = StockEvents(
        prices,
        estimation=estimation,
        span=window_span(windows),
        model=model,
        markets=markets,
        market_symbol=market_symbol,
        currency=currency,
        min_estimation=min_estimation,
        listings=listings,
        closures=closures or Closures(),
    )
    constituents = list(dict.fromkeys(s for b in baskets for s in b.weights))
    needed = dict.fromkeys(n for s in constituents for n in study.needed_symbols(s))
    missing = {s: "not in the price set" for s in needed if s not in prices}
    if missing:
        raise MissingDataError(missing, "the event study's prices")
    parsed = [(event_timestamp(date, "event date"), str(name or "")) for date, name in events]

    rows = Rows()
    weights = [(b.name, b.weights) for b in baskets]
    for event, name in parsed:
        study.check_coverage(event, name, weights)
        for calendar in study.calendars_of(constituents):
            rows.add(
                "day0",
                {
                    "event": iso(event),
                    "event_name": name,
                    "calendar": calendar,
                    "day0": day0_date(study.sessions(calendar), event),
                },
            )
        for basket in baskets:
            study_basket(study, basket, event, name, windows, weighting, rows)

    calendars = study.calendars_of(constituents)
    settings = {
        "model": model,
        "estimation": list(estimation),
        "windows": [list(w) for w in windows],
        "currency": currency,
        "weighting": weighting,
        "min_estimation": min_estimation,
        "markets": {c: study.market_of(c) for c in calendars} if study.uses_market else {},
    }
    tables = tables_of(rows, settings)
    return dataclasses.replace(tables, summary=with_adjusted_pvalues(tables.summary))


def check_options(model: str, currency: str, weighting: str) -> None:
    """:class:`OptionError` unless each option is one of its choices."""
    choices = {"model": (model, MODELS), "currency": (currency, CURRENCIES)}
    choices["weighting"] = (weighting, WEIGHTINGS)
    for option, (value, allowed) in choices.items():
        if value not in allowed:
            raise OptionError(option, f"'{value}' is not one of {', '.join(allowed)}")


def check_baskets(
    baskets: Sequence[EventBasket], events: Sequence[tuple[pd.Timestamp, str]], model: str
) -> None:
    """:class:`OptionError` for no basket or event, weights that are not finite with a positive
    sum, and a portfolio series without the market series its model needs."""
    if not baskets:
        raise OptionError("baskets", "no basket to study")
    if not events:
        raise OptionError("events", "no event date given")
    for basket in baskets:
        values = list(basket.weights.values())
        if not values or not all(math.isfinite(w) for w in values) or sum(values) <= 0:
            raise OptionError(
                "weights", f"basket '{basket.name}' needs finite weights with a positive sum"
            )
        if (
            basket.portfolio_returns is not None
            and model != "mean_adjusted"
            and (basket.portfolio_market is None)
        ):
            raise OptionError(
                "portfolio_market",
                f"basket '{basket.name}' has portfolio returns but no market series for the "
                f"{model} model",
            )
