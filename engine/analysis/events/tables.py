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


class Rows:
    """The rows of every table as they are made: one dict per row, or a block of rows as
    columns (arrays, lists, or one value for every row of the block)."""

    def __init__(self) -> None:
        self._parts: dict[str, list[tuple[int, dict[str, object]]]] = {
            name: [] for name in TABLE_COLUMNS
        }

    def add(self, table: str, row: dict[str, object]) -> None:
        self._parts[table].append((1, {k: [v] for k, v in row.items()}))

    def add_block(self, table: str, length: int, columns: dict[str, object]) -> None:
        """``length`` rows; a column that is not an array or a list is one value for all."""
        self._parts[table].append(
            (
                length,
                {
                    k: v if isinstance(v, np.ndarray | list) else [v] * length
                    for k, v in columns.items()
                },
            )
        )

    def frame(self, table: str) -> pd.DataFrame:
        """The table, its columns in :data:`TABLE_COLUMNS` order; column types as pandas
        infers them from the values (the same as from one dict per row)."""
        columns = TABLE_COLUMNS[table]
        parts = [part for length, part in self._parts[table] if length]
        if not parts:
            return pd.DataFrame([], columns=list(columns))
        data = {}
        for column in columns:
            pieces = [part[column] for part in parts]
            if all(isinstance(p, np.ndarray) and p.dtype.kind in "if" for p in pieces):
                data[column] = np.concatenate(pieces)
            else:
                data[column] = [v for p in pieces for v in p]
        return pd.DataFrame(data, columns=list(columns))


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


def tables_of(rows: Rows, settings: dict[str, object]) -> EventStudy:
    """The :class:`EventStudy` of the rows collected."""
    return EventStudy(**{name: rows.frame(name) for name in TABLE_COLUMNS}, settings=settings)


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
            rows.add(
                "excluded", {**head, "window": None, "symbol": stock.symbol, "reason": stock.reason}
            )
    day0 = {stock.calendar: stock.day0 for stock in stocks}

    span_days = study.span[1] - study.span[0] + 1
    for stock in fitted:
        rows.add_block("abnormal_returns", span_days, {**head, **stock.span_columns(study.span)})

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
            rows.add(
                "excluded",
                {**head, "window": None, "symbol": PORTFOLIO, "reason": portfolio.reason},
            )

    weights = weights_over(basket, [s.symbol for s in fitted], weighting)
    path, counts = basket_car_path(fitted, weights, study.span)
    portfolio_path = (
        portfolio.car_path(study.span) if portfolio is not None else np.full(span_days, np.nan)
    )
    rows.add_block(
        "car_paths",
        span_days,
        {
            **head,
            "day": np.arange(study.span[0], study.span[1] + 1),
            "n_stocks": counts.astype(np.int64),
            "car": path,
            "portfolio_car": portfolio_path,
        },
    )
    for window in windows:
        rows.add(
            "summary",
            window_row(
                study,
                basket,
                event,
                name,
                window,
                fitted,
                len(stocks),
                portfolio,
                weighting,
                day0,
                rows,
            ),
        )


def window_row(
    study: StockEvents,
    basket: EventBasket,
    event: pd.Timestamp,
    name: str,
    window: tuple[int, int],
    fitted: Sequence[StockEvent],
    n_stocks: int,
    portfolio: PortfolioEvent | None,
    weighting: str,
    day0: dict[str, str | None],
    rows: Rows,
) -> dict[str, object]:
    """Stock CARs of one window (appended to ``rows``) and the basket's summary row."""
    a, b = window
    head = {"basket": basket.name, "event": iso(event)}
    included: list[StockEvent] = []
    results = []
    for stock in fitted:
        result = stock.window(window)
        if result.gap_reason:
            rows.add(
                "excluded",
                {**head, "window": [a, b], "symbol": stock.symbol, "reason": result.gap_reason},
            )
        else:
            included.append(stock)
            results.append(result)
    weights = weights_over(basket, [s.symbol for s in included], weighting)
    cars = np.array([r.car for r in results])
    bhars = np.array([r.bhar for r in results])
    scars = np.array([r.scar for r in results])
    dofs = np.array([s.fit.dof for s in included if s.fit is not None])
    if included:
        rows.add_block(
            "stock_cars",
            len(included),
            {
                **head,
                "window": [[a, b] for _ in included],
                "window_start": a,
                "window_end": b,
                "symbol": [s.symbol for s in included],
                "weight": weights.astype(float),
                "car": cars,
                "bhar": bhars,
                "scar": scars,
            },
        )

    estimation_ar = (
        np.column_stack([s.estimation_abnormal for s in included]) if included else np.empty((0, 0))
    )
    uniform = (
        np.column_stack([s.rank_uniform(window) for s in included])
        if included
        else np.empty((0, 0))
    )
    rbar = study.rbar(event, included)
    t_cs = sig.cross_sectional_t_test(cars)
    patell = sig.patell_test(scars, dofs)
    bmp = sig.bmp_test(scars)
    kp = sig.kolari_pynnonen_test(scars, rbar)
    rank = sig.rank_test_of_uniforms(uniform, estimation_ar.shape[0])
    sign = sig.generalized_sign_test(cars, estimation_ar)

    portfolio_car, portfolio_t = math.nan, sig.TestResult(math.nan, math.nan)
    if portfolio is not None and portfolio.fit is not None:
        portfolio_ar = portfolio.abnormal(window)
        if np.isfinite(portfolio_ar).all():
            portfolio_car = float(portfolio_ar.sum())
            portfolio_t = sig.time_series_t_test(
                portfolio_car, portfolio.fit.sigma, len(portfolio_ar), portfolio.fit.dof
            )
        else:
            rows.add(
                "excluded",
                {
                    **head,
                    "window": [a, b],
                    "symbol": PORTFOLIO,
                    "reason": f"missing portfolio or market return in [{a}, {b}]; CAR undefined",
                },
            )

    return {
        **head,
        "event_name": name,
        "day0": dict(day0),
        "window": [a, b],
        "window_start": a,
        "window_end": b,
        "n_stocks": len(included),
        "n_excluded": n_stocks - len(included),
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
