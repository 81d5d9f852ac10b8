"""Summary rows and tables: the rows of every basket, event and window, and the tables they
make (:class:`EventStudy`).

Per window the cross-section of included stocks is tested, equally weighted, as in the papers
(formulas in :mod:`engine.analysis.significance`): cross-sectional t, Patell, BMP,
Kolari-Pynnönen (``rbar`` from the estimation residuals of the included stocks aligned on
calendar dates), the Corrado/Campbell-Wasley rank test (ranks of the estimation days and the
tested window, rows in event time) and Cowan's generalized sign test.

May use ``analysis.significance``, the other ``analysis.events`` modules and the ground floor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.analysis import significance as sig
from engine.analysis.events.baskets import (
    EventBasket,
    PortfolioEvent,
    basket_car_path,
    portfolio_event,
    weights_over,
)
from engine.analysis.events.eventtime import event_label, iso
from engine.analysis.events.stocks import StockEvent, StockEvents
from engine.jsonable import json_ready

#: The ``symbol`` under which the basket's own portfolio series appears in ``excluded``.
PORTFOLIO = "(portfolio)"

SUMMARY_COLUMNS = (
    "basket",
    "event",
    "event_name",
    "day0",
    "window",
    "window_start",
    "window_end",
    "n_stocks",
    "n_excluded",
    "car",
    "mean_car",
    "bhar",
    "t_cross_sectional",
    "p_cross_sectional",
    "t_patell",
    "p_patell",
    "t_bmp",
    "p_bmp",
    "rbar",
    "t_kolari_pynnonen",
    "p_kolari_pynnonen",
    "z_rank",
    "p_rank",
    "z_sign",
    "p_sign",
    "portfolio_day0",
    "portfolio_car",
    "t_portfolio",
    "p_portfolio",
)
AR_COLUMNS = (
    "basket",
    "event",
    "symbol",
    "calendar",
    "day",
    "date",
    "return",
    "market_return",
    "normal_return",
    "abnormal_return",
)
STOCK_CAR_COLUMNS = (
    "basket",
    "event",
    "window",
    "window_start",
    "window_end",
    "symbol",
    "weight",
    "car",
    "bhar",
    "scar",
)
EXCLUDED_COLUMNS = ("basket", "event", "window", "symbol", "reason")
DAY0_COLUMNS = ("event", "event_name", "calendar", "day0")
PATH_COLUMNS = ("basket", "event", "day", "n_stocks", "car", "portfolio_car")

#: Table name -> its columns, in the order :class:`EventStudy` holds them.
TABLE_COLUMNS = {
    "summary": SUMMARY_COLUMNS,
    "abnormal_returns": AR_COLUMNS,
    "stock_cars": STOCK_CAR_COLUMNS,
    "excluded": EXCLUDED_COLUMNS,
    "day0": DAY0_COLUMNS,
    "car_paths": PATH_COLUMNS,
}

Rows = dict[str, list[dict[str, object]]]


@dataclass(frozen=True)
class EventStudy:
    """The tables of an event study (see :func:`run_event_study` for their columns)."""

    summary: pd.DataFrame
    abnormal_returns: pd.DataFrame
    stock_cars: pd.DataFrame
    excluded: pd.DataFrame
    day0: pd.DataFrame
    car_paths: pd.DataFrame
    settings: dict[str, object] = field(default_factory=dict)

    def summary_records(self) -> list[dict[str, object]]:
        """The summary as JSON-serialisable dicts: plain floats and ints, None for NaN."""
        return [json_ready(row) for row in self.summary.to_dict(orient="records")]


def empty_rows() -> Rows:
    """One empty row list per table of :data:`TABLE_COLUMNS`."""
    return {name: [] for name in TABLE_COLUMNS}


def tables_of(rows: Rows, settings: dict[str, object]) -> EventStudy:
    """The :class:`EventStudy` of the rows collected, each table with its columns."""
    frames = {
        name: pd.DataFrame(rows[name], columns=list(columns))
        for name, columns in TABLE_COLUMNS.items()
    }
    return EventStudy(**frames, settings=settings)


def study_basket(
    study: StockEvents,
    basket: EventBasket,
    event: pd.Timestamp,
    name: str,
    windows: Sequence[tuple[int, int]],
    weighting: str,
    rows: Rows,
) -> None:
    """Append the rows of one basket and one event to ``rows``."""
    head = {"basket": basket.name, "event": iso(event)}
    stocks = [study.stock_event(event, s) for s in basket.weights]
    fitted = [s for s in stocks if s.fit is not None]
    for stock in stocks:
        if stock.fit is None:
            rows["excluded"].append(
                {**head, "window": None, "symbol": stock.symbol, "reason": stock.reason}
            )
    day0 = {stock.calendar: stock.day0 for stock in stocks}

    for stock in fitted:
        assert stock.fit is not None
        abnormal = stock.abnormal
        for k in stock.window_index(study.span):
            rows["abnormal_returns"].append(
                {
                    **head,
                    "symbol": stock.symbol,
                    "calendar": stock.calendar,
                    "day": int(stock.days[k]),
                    "date": iso(stock.dates[k]),
                    "return": stock.returns[k],
                    "market_return": stock.market_returns[k],
                    "normal_return": stock.fit.normal[k],
                    "abnormal_return": abnormal[k],
                }
            )

    portfolio = None
    if basket.portfolio_returns is not None:
        portfolio = portfolio_event(
            basket,
            event,
            event_label(event, name),
            study.estimation,
            study.span,
            study.model,
            study.min_estimation,
        )
        if portfolio.reason:
            rows["excluded"].append(
                {**head, "window": None, "symbol": PORTFOLIO, "reason": portfolio.reason}
            )

    weights = weights_over(basket, [s.symbol for s in fitted], weighting)
    path, counts = basket_car_path(fitted, weights, study.span)
    portfolio_path = (
        portfolio.car_path(study.span) if portfolio is not None else np.full(len(path), np.nan)
    )
    for k, day in enumerate(range(study.span[0], study.span[1] + 1)):
        rows["car_paths"].append(
            {
                **head,
                "day": day,
                "n_stocks": int(counts[k]),
                "car": path[k],
                "portfolio_car": portfolio_path[k],
            }
        )
    for window in windows:
        rows["summary"].append(
            window_row(
                study, basket, event, name, window, fitted, stocks, portfolio, weighting, day0, rows
            )
        )


def window_row(
    study: StockEvents,
    basket: EventBasket,
    event: pd.Timestamp,
    name: str,
    window: tuple[int, int],
    fitted: Sequence[StockEvent],
    stocks: Sequence[StockEvent],
    portfolio: PortfolioEvent | None,
    weighting: str,
    day0: dict[str, str | None],
    rows: Rows,
) -> dict[str, object]:
    """Stock CARs of one window (appended to ``rows``) and the basket's summary row."""
    a, b = window
    head = {"basket": basket.name, "event": iso(event)}
    window_head = {**head, "window": [a, b], "window_start": a, "window_end": b}
    included: list[StockEvent] = []
    for stock in fitted:
        reason = stock.gap_reason(window)
        if reason:
            rows["excluded"].append(
                {**head, "window": [a, b], "symbol": stock.symbol, "reason": reason}
            )
        else:
            included.append(stock)
    weights = weights_over(basket, [s.symbol for s in included], weighting)
    cars, bhars, scars, dofs = [], [], [], []
    for stock, weight in zip(included, weights, strict=True):
        assert stock.fit is not None
        car, bhar, scar = stock.window_car(window)
        cars.append(car)
        bhars.append(bhar)
        scars.append(scar)
        dofs.append(stock.fit.dof)
        rows["stock_cars"].append(
            {
                **window_head,
                "symbol": stock.symbol,
                "weight": float(weight),
                "car": car,
                "bhar": bhar,
                "scar": scar,
            }
        )

    # Every stock's day range starts at the first estimation day.
    n_est_days = study.estimation[1] - study.estimation[0] + 1
    estimation_ar = (
        np.column_stack([np.where(s.estimation, s.abnormal, np.nan)[:n_est_days] for s in included])
        if included
        else np.empty((0, 0))
    )
    window_ar = (
        np.column_stack([s.abnormal[s.window_index(window)] for s in included])
        if included
        else np.empty((0, 0))
    )
    rbar = (
        sig.average_cross_correlation(dated_residuals(included)) if len(included) > 1 else math.nan
    )
    t_cs = sig.cross_sectional_t_test(np.array(cars))
    patell = sig.patell_test(np.array(scars), np.array(dofs))
    bmp = sig.bmp_test(np.array(scars))
    kp = sig.kolari_pynnonen_test(np.array(scars), rbar)
    rank = sig.rank_test(estimation_ar, window_ar)
    sign = sig.generalized_sign_test(np.array(cars), estimation_ar)

    portfolio_car, portfolio_t = math.nan, sig.TestResult(math.nan, math.nan)
    if portfolio is not None and portfolio.fit is not None:
        portfolio_ar = portfolio.abnormal(window)
        if np.isfinite(portfolio_ar).all():
            portfolio_car = float(portfolio_ar.sum())
            portfolio_t = sig.time_series_t_test(
                portfolio_car, portfolio.fit.sigma, len(portfolio_ar), portfolio.fit.dof
            )
        else:
            rows["excluded"].append(
                {
                    **head,
                    "window": [a, b],
                    "symbol": PORTFOLIO,
                    "reason": f"missing portfolio or market return in [{a}, {b}]; CAR undefined",
                }
            )

    return {
        **head,
        "event_name": name,
        "day0": dict(day0),
        "window": [a, b],
        "window_start": a,
        "window_end": b,
        "n_stocks": len(included),
        "n_excluded": len(stocks) - len(included),
        "car": float(np.dot(weights, cars)) if included else math.nan,
        "mean_car": float(np.mean(cars)) if included else math.nan,
        "bhar": float(np.dot(weights, bhars)) if included else math.nan,
        "t_cross_sectional": t_cs.statistic,
        "p_cross_sectional": t_cs.pvalue,
        "t_patell": patell.statistic,
        "p_patell": patell.pvalue,
        "t_bmp": bmp.statistic,
        "p_bmp": bmp.pvalue,
        "rbar": rbar,
        "t_kolari_pynnonen": kp.statistic,
        "p_kolari_pynnonen": kp.pvalue,
        "z_rank": rank.statistic,
        "p_rank": rank.pvalue,
        "z_sign": sign.statistic,
        "p_sign": sign.pvalue,
        "portfolio_day0": iso(portfolio.day0) if portfolio is not None else None,
        "portfolio_car": portfolio_car,
        "t_portfolio": portfolio_t.statistic,
        "p_portfolio": portfolio_t.pvalue,
    }


def dated_residuals(stocks: Sequence[StockEvent]) -> np.ndarray:
    """Estimation-window abnormal returns, one column per stock, rows on calendar dates.

    Cross-correlation is a same-day phenomenon, so stocks are aligned on dates (not on event
    days, which differ across exchanges around holidays).
    """
    columns = {stock.symbol: stock.estimation_residuals for stock in stocks}
    return pd.DataFrame(columns).to_numpy(dtype=float)
