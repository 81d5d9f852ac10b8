"""Target weights of a basket on each session it trades: who is a member, weighted how, capped.

A basket trades at its purchase and on its rebalancing sessions (``rebalance:``) and its review
sessions (``reviews:``, months of reconstitution such as ``[6, 12]``: the first session of each
such month on which every exchange of the basket trades).  **Membership** is point in time: a
constituent with ``from:`` joins, and one with ``until:`` leaves, at the first *review* on or
after that date (the first rebalance when the basket has no ``reviews``); the purchase counts
as both.  On each trading session the members are weighed by the basket's scheme
(:mod:`engine.portfolio.weighting`) and capped (:mod:`engine.portfolio.caps`); non-members get
a target of 0 (sold if held).  Every join and leave becomes a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from engine.config.baskets import Basket, Constituent
from engine.data.prices import PriceSet
from engine.errors import ConfigError
from engine.market.panel import Panel
from engine.portfolio.caps import cap_weights
from engine.portfolio.schedules import monthly
from engine.portfolio.weighting import Weighing, scheme_weights


@dataclass
class Targets:
    """``weights``: one row per trading session (purchase first), one column per constituent,
    rows summing to 1.  ``notes``: joins and leaves."""

    weights: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def rebalances(self) -> list[pd.Timestamp]:
        """The trading sessions after the purchase."""
        return list(self.weights.index[1:])


def review_sessions(
    all_open: pd.Series, bought: pd.Timestamp, months: Sequence[int]
) -> list[pd.Timestamp]:
    """The first session of each month in ``months`` after the purchase month on which every
    exchange of the basket trades."""
    if not months:
        return []
    return [day for day in monthly(all_open, bought) if day.month in months]


def _member(constituent: Constituent, day: pd.Timestamp) -> bool:
    """Whether ``constituent`` belongs to the basket as of a membership session ``day``."""
    joined = constituent.joins is None or pd.Timestamp(constituent.joins) <= day
    left = constituent.leaves is not None and pd.Timestamp(constituent.leaves) <= day
    return joined and not left


def membership(
    basket: Basket, changes: Sequence[pd.Timestamp], trading: Sequence[pd.Timestamp]
) -> tuple[np.ndarray, list[str]]:
    """Members (bool, one row per ``trading`` session, one column per constituent): as of the
    last membership session in ``changes`` on or before it (``changes`` starts with the
    purchase); and a note for every join and leave."""
    changes = sorted(changes)
    rows, notes = [], []
    for day in trading:
        as_of = max(d for d in changes if d <= day)
        rows.append([_member(c, as_of) for c in basket.constituents])
    members = np.array(rows, dtype=bool).reshape(len(trading), len(basket.constituents))
    when = "review" if basket.reviews else "rebalance"
    for c in basket.constituents:
        for date, verb, key in ((c.joins, "joins", "from"), (c.leaves, "leaves", "until")):
            if date is None:
                continue
            on = [d for d in changes if d >= pd.Timestamp(date)]
            if verb == "joins" and changes[0] >= pd.Timestamp(date):
                continue  # a member from the purchase on: nothing changes
            if on:
                notes.append(f"{c.symbol} {verb} on {on[0].date()} ({key}: {date})")
            else:
                notes.append(f"{c.symbol} never {verb[:-1]}s: no {when} on or after {key}: {date}")
    return members, notes


def basket_targets(
    basket: Basket,
    panel: Panel,
    prices: PriceSet,
    bought: pd.Timestamp,
    rebalances: Sequence[pd.Timestamp],
    all_open: pd.Series | None = None,
) -> Targets:
    """Target weights of ``basket`` at the purchase ``bought`` and on every rebalancing and
    review session; ``all_open`` is ``panel.all_open(basket.symbols)`` if the caller has it."""
    if all_open is None:
        all_open = panel.all_open(basket.symbols)
    reviews = review_sessions(all_open, bought, basket.reviews)
    trading = sorted({bought, *rebalances, *reviews})
    changes = [bought, *(reviews if basket.reviews else rebalances)]
    members, notes = membership(basket, changes, trading)
    issuer = {c.symbol: c.issuer or c.symbol for c in basket.constituents}
    weights = np.zeros(members.shape)
    for row, (day, member) in enumerate(zip(trading, members, strict=True)):
        names = [s for s, is_member in zip(basket.symbols, member, strict=True) if is_member]
        if not names:
            raise ConfigError(
                basket.path,
                f"basket '{basket.name}' has no member on {day.date()}",
                hint="check the constituents' from/until dates",
            )
        raw = scheme_weights(Weighing(basket, names, day, panel, prices))
        held = [s for s, w in zip(names, raw, strict=True) if w > 0]
        raw = raw[raw > 0]
        if basket.caps is not None:
            raw = cap_weights(
                raw,
                single=basket.caps.single,
                top=basket.caps.top,
                issuers=[issuer[s] for s in held],
                where=f"{basket.path or basket.name} on {day.date()}",
            )
        weights[row, [basket.symbols.index(s) for s in held]] = raw
    return Targets(
        pd.DataFrame(weights, index=pd.DatetimeIndex(trading), columns=basket.symbols), notes
    )


def purchase_weights(basket: Basket, targets: Targets) -> Basket:
    """``basket`` with each constituent's ``weight`` set to its target at the purchase."""
    first = targets.weights.iloc[0]
    return replace(
        basket,
        constituents=tuple(replace(c, weight=float(first[c.symbol])) for c in basket.constituents),
    )
