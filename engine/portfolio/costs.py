"""Statutory trading costs by market, side and effective date, and the rates of each order.

``costs: market`` charges, on each trade date, the rates in force that day (checked for 2025):

==========  ==============================  ======  =========================================
market      charge (kind)                   side    rate
==========  ==============================  ======  =========================================
A-shares    stamp duty (stamp_duty)         sell    0.1 %; 0.05 % since 2023-08-28
A-shares    handling fee (levies)           both    0.00487 %; 0.00341 % since 2023-08-28
A-shares    securities management (levies)  both    0.002 %
A-shares    transfer fee (levies)           both    0.002 %; 0.001 % since 2022-04-29
Hong Kong   stamp duty (stamp_duty)         both    0.13 %; 0.10 % since 2023-11-17
Hong Kong   trading fee (levies)            both    0.005 %; 0.00565 % since 2023-01-01
Hong Kong   SFC levy (levies)               both    0.0027 %
Hong Kong   AFRC levy (levies)              both    0.00015 % since 2022-01-01 (FRC levy)
Hong Kong   settlement fee (levies)         both    0.002 %; 0.0042 % since 2025-06-30
US          none (the SEC fee is 0 since 2025-05-14 and not modelled before)
==========  ==============================  ======  =========================================

The 2025 rates are those of the issue that asked for them (checked for 2025); the earlier rows
follow the announcements of the change: Ministry of Finance and State Taxation Administration
announcement 2023 No. 39 (stamp duty halved from 2023-08-28, the day SSE and SZSE cut the
handling fee by 30 %), ChinaClear's halving of the transfer fee (2022-04-29), the Stamp Duty
(Amendment) Ordinance 2023 (Hong Kong, 2023-11-17), HKEX's trading fee of 2023-01-01, the FRC
(now AFRC) levy from 2022-01-01, HKSCC's settlement fee of 2025-06-30.  Per-trade minimums and
maximums (Hong Kong's settlement fee) are not modelled.

Each charge is a table keyed by the date it took effect, so a rule change is a new row, not a
new constant.  ``commission:`` is the broker's, separate: proportional, with an optional
minimum per order in the listing's currency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The kinds of cost a run reports per basket.
KINDS = ("commission", "stamp_duty", "levies", "fees")


@dataclass(frozen=True)
class Charge:
    """One statutory charge of a market: its kind, the sides it applies to, and its rate
    (fraction of the traded value) from each effective date on."""

    name: str
    kind: str
    sides: tuple[str, ...]
    rates: tuple[tuple[dt.date, float], ...]

    def rate_on(self, days: pd.DatetimeIndex) -> np.ndarray:
        """The rate in force on each of ``days`` (0 before the first effective date)."""
        starts = pd.DatetimeIndex([pd.Timestamp(d) for d, _ in self.rates])
        values = np.array([0.0] + [r for _, r in self.rates])
        return values[starts.searchsorted(days, side="right")]


EVER = dt.date(1990, 1, 1)
BOTH, SELL = ("buy", "sell"), ("sell",)

#: Statutory charges by market (the calendar a listing trades on).
MARKET_CHARGES: dict[str, tuple[Charge, ...]] = {
    "XSHG": (
        Charge("stamp duty", "stamp_duty", SELL, ((EVER, 0.001), (dt.date(2023, 8, 28), 0.0005))),
        Charge(
            "handling fee", "levies", BOTH, ((EVER, 0.0000487), (dt.date(2023, 8, 28), 0.0000341))
        ),
        Charge("securities management fee", "levies", BOTH, ((EVER, 0.00002),)),
        Charge(
            "transfer fee", "levies", BOTH, ((EVER, 0.00002), (dt.date(2022, 4, 29), 0.00001))
        ),
    ),
    "XHKG": (
        Charge("stamp duty", "stamp_duty", BOTH, ((EVER, 0.0013), (dt.date(2023, 11, 17), 0.001))),
        Charge(
            "trading fee", "levies", BOTH, ((EVER, 0.00005), (dt.date(2023, 1, 1), 0.0000565))
        ),
        Charge("SFC levy", "levies", BOTH, ((EVER, 0.000027),)),
        Charge("AFRC levy", "levies", BOTH, ((dt.date(2022, 1, 1), 0.0000015),)),
        Charge(
            "settlement fee", "levies", BOTH, ((EVER, 0.00002), (dt.date(2025, 6, 30), 0.000042))
        ),
    ),
    "XNAS": (),
    "XNYS": (),
}


def market_rates(calendar: str, side: str, days: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Rate per kind of cost on each of ``days`` for one ``side`` (``buy``/``sell``) of a
    listing on ``calendar``: the sum of that kind's charges in force."""
    rates = {kind: np.zeros(len(days)) for kind in KINDS}
    for charge in MARKET_CHARGES.get(calendar, ()):
        if side in charge.sides:
            rates[charge.kind] = rates[charge.kind] + charge.rate_on(days)
    return rates
