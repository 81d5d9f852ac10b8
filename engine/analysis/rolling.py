"""Statistics of a run through time, for the long-run charts of the report: rolling beta
against the benchmark and calendar-month returns.

Pure functions of daily value curves (pandas, indexed by session); NaN where too little is
known.  May use nothing but numpy and pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Sessions in the rolling beta's window (about a quarter).
ROLLING_BETA_SESSIONS = 63


def rolling_beta(
    values: pd.DataFrame, benchmark: str, window: int = ROLLING_BETA_SESSIONS
) -> pd.DataFrame:
    """Beta of each curve of ``values`` against the column ``benchmark`` over the trailing
    ``window`` daily returns: ``beta_t = cov(r, r_m) / var(r_m)`` over returns ``t - window +
    1 .. t`` (sample covariance and variance, the same ``n - 1``), the slope of the OLS
    regression of ``r`` on ``r_m`` with an intercept (Sharpe 1964's market-model beta; e.g.
    Bodie, Kane & Marcus, *Investments*, ch. 8).

    ``values``: daily values (any scale) indexed by session; returns are
    ``v_t / v_{t-1} - 1``.  Returns a frame of the other columns indexed like ``values``, NaN
    until ``window`` returns are known and where the benchmark did not move over the window.
    """
    returns = values.pct_change(fill_method=None).iloc[1:]
    market = returns[benchmark]
    others = returns.drop(columns=[benchmark])
    var_m = market.rolling(window).var()
    betas = {
        name: others[name].rolling(window).cov(market) / var_m.where(var_m > 0)
        for name in others.columns
    }
    frame = pd.DataFrame(betas, index=returns.index)
    return frame.reindex(values.index)


def monthly_returns(values: pd.DataFrame) -> pd.DataFrame:
    """Each curve's return in each calendar month: the last value of the month over the last
    value of the month before (the first value of the curve for its first month, left out
    when that is the month's only value), minus 1.  Rows: months as ``YYYY-MM``; columns: the
    curves."""
    index = pd.DatetimeIndex(pd.to_datetime(values.index))
    frame = values.set_axis(index)
    months = index.to_period("M")
    month_end = frame.groupby(months).last()
    previous = month_end.shift(1)
    previous.iloc[0] = frame.iloc[0]
    result = month_end / previous - 1
    if (months == months[0]).sum() == 1:  # a curve starting on a month's last session
        result = result.iloc[1:]
    result.index = [str(p) for p in result.index]
    return result.astype(float).replace([np.inf, -np.inf], np.nan)
