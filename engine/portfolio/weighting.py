"""Weighting schemes, one small function each, registered by the name a basket file uses.

In the spirit of bt's ``WeighEqually``/``WeighInvVol``: each rule takes a :class:`Weighing`
(what it may look at on one rebalance session) and returns one raw, non-negative weight per
member; :func:`scheme_weights` normalises them to sum to 1.  Every rule sees only data before
the rebalance close (lookbacks) or as of it (tables, prices), never after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.config.baskets import Basket
from engine.config.weights import LOOKBACK_WEIGHTINGS
from engine.data.prices import PriceSet
from engine.errors import ConfigError, MissingDataError
from engine.market.panel import Panel


@dataclass(frozen=True)
class Weighing:
    """One rebalance of one basket: the ``members`` to weigh on session ``day``, the basket
    (scheme, lookback, table), the aligned ``panel`` and the raw ``prices`` (bars before the
    study start, volumes)."""

    basket: Basket
    members: list[str]
    day: pd.Timestamp
    panel: Panel
    prices: PriceSet


def equal(w: Weighing) -> np.ndarray:
    """``1 / n`` each.  Needs: members.  (bt: ``WeighEqually``.)"""
    return np.ones(len(w.members))


def custom(w: Weighing) -> np.ndarray:
    """The file's ``weight`` of each member (renormalised over the members).  Needs: the
    constituents' weights.  (bt: ``WeighSpecified``.)"""
    given = w.basket.weights
    return np.array([given[s] for s in w.members])


def _bars_before(w: Weighing, symbol: str, count: int, column: str) -> np.ndarray:
    """``column`` of the last ``count`` bars of ``symbol`` strictly before the rebalance day
    (``adj_close`` falls back to ``close``); raises :class:`MissingDataError` when the data
    hold fewer."""
    frame = w.prices[symbol].frame
    end = int(frame.index.searchsorted(w.day, side="left"))
    if end < count:
        raise MissingDataError(
            {
                symbol: f"{w.basket.weighting} weighting needs {count} bars before "
                f"{w.day.date()}, the data have {end}"
            },
            w.prices.source,
            "lower 'lookback' or start the study later",
        )
    values = frame[column].to_numpy()[end - count : end]
    if column == "adj_close":
        values = np.where(np.isnan(values), frame["close"].to_numpy()[end - count : end], values)
    return values


def inverse_vol(w: Weighing) -> np.ndarray:
    """``1 / sigma_i``: sigma_i is the sample standard deviation (ddof 1) of the member's daily
    local-currency returns (adjusted closes) over its last ``lookback`` bars before the
    rebalance.  Needs: ``lookback`` + 1 bars before each rebalance.  (bt: ``WeighInvVol``.)"""
    sigmas = []
    for symbol in w.members:
        closes = _bars_before(w, symbol, w.basket.lookback + 1, "adj_close")
        sigma = float(np.std(closes[1:] / closes[:-1] - 1, ddof=1))
        if not sigma > 0:
            raise MissingDataError(
                {
                    symbol: f"no price movement in the {w.basket.lookback} sessions before "
                    f"{w.day.date()} (volatility {sigma:g})"
                },
                w.prices.source,
                "inverse_vol needs a moving price; choose another weighting",
            )
        sigmas.append(sigma)
    return 1.0 / np.array(sigmas)


def liquidity(w: Weighing) -> np.ndarray:
    """Median daily traded value (``close * volume``, local currency; bars without a volume
    left out) over the member's last ``lookback`` bars before the rebalance, converted to the
    report currency at the rebalance day's FX rate.  Needs: volumes."""
    to_report = w.panel.prices.loc[w.day, w.members] / w.panel.local.loc[w.day, w.members]
    values = []
    for symbol in w.members:
        closes = _bars_before(w, symbol, w.basket.lookback, "close")
        volumes = _bars_before(w, symbol, w.basket.lookback, "volume")
        traded = closes * volumes
        median = float(np.median(traded[~np.isnan(traded)])) if (~np.isnan(traded)).any() else 0
        if not median > 0:
            raise MissingDataError(
                {symbol: f"no volume in the {w.basket.lookback} bars before {w.day.date()}"},
                w.prices.source,
                "liquidity weighting needs volumes; choose another weighting",
            )
        values.append(median * to_report[symbol])
    return np.array(values)


def _table(w: Weighing) -> pd.DataFrame:
    table = w.basket.table
    if table is None:  # the basket file's validation requires it; a hand-built Basket may not
        raise ConfigError(w.basket.path, f"weighting {w.basket.weighting} needs 'table'")
    return pd.DataFrame(table.rows, columns=["date", "symbol", "value"]).assign(
        date=lambda f: pd.to_datetime(f["date"])
    )


def _as_of(w: Weighing, rows: pd.DataFrame, what: str) -> pd.Series:
    """Each member's value in ``rows`` (date, symbol, value), raising a clear error for a
    member without one."""
    values = rows.drop_duplicates("symbol", keep="last").set_index("symbol")["value"]
    missing = [s for s in w.members if s not in values.index]
    if missing:
        table = w.basket.table
        raise ConfigError(
            table.path if table else w.basket.path,
            f"no {what} for {', '.join(missing)} on or before {w.day.date()}",
            hint="add rows for every member, dated no later than the rebalance",
        )
    return values[w.members]


def from_file(w: Weighing) -> np.ndarray:
    """The table's latest snapshot dated on or before the rebalance (every row of that date):
    point-in-time index weights, e.g. a factsheet history.  Needs: ``table`` (``weight``)."""
    rows = _table(w)
    dated = rows[rows["date"] <= w.day]
    if dated.empty:
        raise ConfigError(
            w.basket.table.path if w.basket.table else w.basket.path,
            f"no weights dated on or before {w.day.date()}",
            hint="the first snapshot must not be after the purchase",
        )
    snapshot = dated[dated["date"] == dated["date"].max()]
    return _as_of(w, snapshot, "weight").to_numpy()


def market_cap(w: Weighing) -> np.ndarray:
    """Each member's latest market cap on or before the rebalance.  Needs: ``table``
    (``market_cap``, any one currency).  (bt: ``WeighMarketCap`` style.)"""
    rows = _table(w)
    return _as_of(
        w, rows[rows["date"] <= w.day].sort_values("date", kind="stable"), "market_cap"
    ).to_numpy()


def shares(w: Weighing) -> np.ndarray:
    """Shares outstanding (latest on or before the rebalance) times the rebalance close in the
    report currency: a market cap that moves with the price.  Needs: ``table`` (``shares``)."""
    rows = _table(w)
    count = _as_of(w, rows[rows["date"] <= w.day].sort_values("date", kind="stable"), "shares")
    return count.to_numpy() * w.panel.prices.loc[w.day, w.members].to_numpy()


#: Weighting schemes by the name a basket file uses.
RULES: dict[str, Callable[[Weighing], np.ndarray]] = {
    "equal": equal,
    "custom": custom,
    "inverse_vol": inverse_vol,
    "liquidity": liquidity,
    "file": from_file,
    "market_cap": market_cap,
    "shares": shares,
}


def scheme_weights(w: Weighing) -> np.ndarray:
    """The basket's scheme applied to ``w.members``, normalised to sum to 1."""
    raw = np.asarray(RULES[w.basket.weighting](w), dtype=float)
    total = raw.sum()
    if not total > 0:
        raise ConfigError(
            w.basket.path,
            f"weighting {w.basket.weighting} gives no member a weight on {w.day.date()}",
            hint="check the table's weights for that date",
        )
    return raw / total


def weighting_history(baskets: Sequence[Basket]) -> pd.Timedelta:
    """How far before the start the lookback schemes of ``baskets`` read bars: ``lookback``
    sessions at five a week, plus four weeks for holidays (the Spring Festival week)."""
    sessions = max((b.lookback for b in baskets if b.weighting in LOOKBACK_WEIGHTINGS), default=0)
    return pd.Timedelta(days=0 if sessions == 0 else sessions * 7 // 5 + 28)
