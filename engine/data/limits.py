"""A-share daily price limits: the board rules of Shanghai and Shenzhen (main boards ±10 %, STAR
and ChiNext ±20 %, ChiNext ±10 % before its 2020 reform) and their price tick.  The data checks
(:func:`engine.data.quality.limit_breaches`) and the execution model
(:mod:`engine.portfolio.execution`) both use them."""

from __future__ import annotations

import pandas as pd

#: ChiNext moved from ±10 % to ±20 % limits on this date.
CHINEXT_REFORM = pd.Timestamp("2020-08-24")
#: One price tick on Shanghai and Shenzhen (CNY).
A_SHARE_TICK = 0.01


def price_limit(symbol: str, day: pd.Timestamp) -> float | None:
    """The daily price limit of an A-share on ``day`` as a fraction, None when not checked
    (indices, B-shares, anything not on Shanghai/Shenzhen)."""
    if len(symbol) != 9 or symbol[6:] not in (".SS", ".SZ") or not symbol[:6].isdigit():
        return None
    code, board = symbol[:6], symbol[7:]
    if board == "SS":
        if code.startswith(("688", "689")):
            return 0.20
        if code.startswith("60"):
            return 0.10
        return None  # 000xxx.SS are indices, 900xxx B-shares
    if code.startswith(("300", "301")):
        return 0.20 if pd.Timestamp(day) >= CHINEXT_REFORM else 0.10
    if code.startswith(("000", "001", "002", "003")):
        return 0.10
    return None  # 399xxx indices, 200xxx B-shares
