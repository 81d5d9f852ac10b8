"""Checking a report's claims against the data: windows, measured figures and verdicts.

A claim is measured on a *path*: the closes of one listing on its own exchange (in the claim's
currency), or a basket's value.  The window of a claim ``since`` a date runs from the last
session of the path's exchange strictly *before* that date ("since January" = from the last
close of the previous year) to the last session on or before the as-of date (or ``until``);
both sessions need a real close in the data (a carried price would be a made-up figure).
Sessions are the calendar's less the closures the data show (a Hong Kong typhoon day is no
session: :func:`engine.market.sessions.detect_closures`).

The measured figure is the total return ``r = P_end / P_start - 1``; for a comparison ("X
outperformed Y") it is the excess ``r_X - r_Y``, each on its own exchange's sessions.

Verdicts (:func:`judge`), with ``d = measured - printed``:

* **holds**: ``|d| <= tolerance`` (the precision the printed digits imply, so 51 % holds for
  50.5 %..51.5 %), or the measured figure inside the bounds ``at_least``/``at_most``;
* **close**: ``|d| <= close`` (default five times the tolerance), or outside the bounds by at
  most ``close``;
* **does not hold**: anything else;
* **cannot be checked**: no data, a window before the first close or after the last, no close
  on a session of the window, with the reason.

A company with several listings is measured on each; the claim's verdict is that of the listing
closest to the printed figure (:func:`best_listing`), which the results name.

**As-of inference** (:func:`score_dates`) re-measures every claim without its own ``until``
with each candidate date as the as-of date and counts the claims that hold (then those close,
then the median distance from the printed figures in units of their precision): the report's
price date is the best date (:func:`best_date`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from engine.config.claims import Claim, ClaimsFile
from engine.data.prices import PriceSet
from engine.errors import BasketError
from engine.market.panel import align
from engine.symbols import Listing

HOLDS, CLOSE, FAILS, UNCHECKED = "holds", "close", "does not hold", "cannot be checked"
VERDICTS = (HOLDS, CLOSE, FAILS, UNCHECKED)
#: What a basket claim's matched null adds to its row (None without a universe).
NULL_KEYS = ("null_percentile", "null_p_value", "null_median", "null_n", "null_matched_on")
#: Rounding slack so that a figure exactly on the edge of the printed precision holds.
EDGE = 1e-9


class Unchecked(Exception):
    """A claim (or one listing of it) that the data cannot check; the message says why."""


@dataclass(frozen=True)
class Path:
    """What a claim is measured on: real observations only (no carried prices), the sessions of
    the exchange(s) it trades on, and the currency of its values."""

    subject: str
    values: pd.Series
    sessions: pd.DatetimeIndex
    currency: str
    calendar: str
    #: First and last date of the subject's data (the values may cover a shorter span).
    first: pd.Timestamp
    last: pd.Timestamp

    def window(self, since: dt.date, until: dt.date) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The last session strictly before ``since`` and the last on or before ``until``."""
        days = self.sessions
        before = days[days < pd.Timestamp(since)]
        upto = days[days <= pd.Timestamp(until)]
        if before.empty or upto.empty:
            raise Unchecked(f"{self.calendar} has no session before {since}")
        return before[-1], upto[-1]

    def total_return(
        self, since: dt.date, until: dt.date
    ) -> tuple[pd.Timestamp, pd.Timestamp, float]:
        """``(start, end, P_end / P_start - 1)`` over :meth:`window`."""
        start, end = self.window(since, until)
        if end <= start:
            raise Unchecked(
                f"no {self.calendar} session from {since} to {until} (the window ends before "
                "it starts)"
            )
        values, first, last = self.values, self.first, self.last
        for day, role in ((start, "start"), (end, "end")):
            if day < first:
                raise Unchecked(
                    f"{self.subject}: its data start {first.date()}, after the {role} "
                    f"{day.date()} ({self.calendar} session)"
                )
            if day > last:
                raise Unchecked(
                    f"{self.subject}: its data end {last.date()}, before the {role} "
                    f"{day.date()} ({self.calendar} session)"
                )
            if day not in values.index:
                raise Unchecked(
                    f"{self.subject}: no close on {day.date()}, the {role} "
                    f"({self.calendar} session)"
                )
        return start, end, float(values[end] / values[start] - 1.0)


def listing_path(
    prices: PriceSet,
    symbol: str,
    listing: Listing,
    currency: str | None,
    span: tuple[pd.Timestamp, pd.Timestamp],
) -> Path:
    """The closes of ``symbol`` (on ``listing``, as the claims check resolved it) on the
    sessions of its exchange within ``span`` (as far as the data reach; the closures the data
    show are no sessions), converted to ``currency`` (None: its listing currency) with the
    engine's FX alignment (:func:`engine.market.panel.align`); only days with a bar in the
    data."""
    if symbol not in prices.histories:
        raise Unchecked(f"{symbol}: {prices.skipped.get(symbol, 'no prices')}")
    history = prices[symbol]
    first, last = history.first_date, history.last_date
    start, end = max(first, span[0]), min(last, span[1])
    values = pd.Series(dtype=float)
    if start <= end:
        try:
            panel = align(
                prices,
                [symbol],
                start,
                end,
                currency=currency or listing.currency,
                listings={symbol: listing},
                partial=True,
                closures=prices.closures,
            )
        except BasketError as error:
            raise Unchecked(f"{symbol}: {error.message}") from None
        converted = panel.prices[symbol]
        values = converted[converted.index.isin(history.frame.index)].dropna()
    return Path(
        symbol,
        values,
        prices.closures.all_sessions(listing.calendar),
        currency or listing.currency,
        listing.calendar,
        first,
        last,
    )


def basket_path(name: str, values: pd.Series, currency: str) -> Path:
    """A basket's value on its sessions (every day of ``values`` is a real valuation)."""
    values = values.dropna()
    days = pd.DatetimeIndex(values.index)
    return Path(name, values, days, currency, "the basket's exchanges", days[0], days[-1])


def bounds_of(claim: Claim) -> tuple[float | None, float | None]:
    """The bounds a claim without a printed figure asserts; "X outperformed Y" alone means an
    excess return above zero."""
    if claim.figure is None and claim.at_least is None and claim.at_most is None:
        return 0.0, None
    return claim.at_least, claim.at_most


def judge(claim: Claim, measured: float) -> tuple[str, float]:
    """The verdict on ``measured`` and its difference from the printed figure (or from the
    nearest bound; zero inside the bounds)."""
    band = claim.close_band()
    if claim.figure is not None:
        difference = measured - claim.figure.value
        if abs(difference) <= claim.figure.tolerance + EDGE:
            return HOLDS, difference
        return (CLOSE if abs(difference) <= band + EDGE else FAILS), difference
    low, high = bounds_of(claim)
    difference = 0.0
    if low is not None and measured < low:
        difference = measured - low
    elif high is not None and measured > high:
        difference = measured - high
    if difference == 0.0:
        return HOLDS, difference
    return (CLOSE if abs(difference) <= band + EDGE else FAILS), difference


def judge_multiple(claim: Claim, measured: float) -> str:
    """The verdict if "risen N times" meant a price multiple of N: ``1 + r`` against N."""
    multiple = claim.figure
    assert multiple is not None
    difference = 1.0 + measured - multiple.value
    if abs(difference) <= multiple.tolerance + EDGE:
        return HOLDS
    return CLOSE if abs(difference) <= claim.close_band() + EDGE else FAILS


@dataclass(frozen=True)
class Measurement:
    """One claim measured on one of its listings (or its basket) at one as-of date."""

    index: int
    claim: Claim
    subject: str
    asof: dt.date
    verdict: str
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    currency: str | None = None
    measured: float | None = None
    difference: float | None = None
    subject_return: float | None = None
    against_return: float | None = None
    reason: str = ""
    matches: bool = False
    claim_verdict: str = UNCHECKED
    #: A basket claim's rank among matched random baskets (``null_percentile, null_p_value,
    #: null_median, null_n, null_matched_on``), with a universe.
    null: dict[str, Any] | None = None

    @property
    def as_multiple(self) -> float | None:
        """The price multiple ``1 + r`` (shown for "risen N times" claims)."""
        if not self.claim.times or self.measured is None:
            return None
        return 1.0 + self.measured

    def to_dict(self) -> dict[str, Any]:
        claim = self.claim
        figure = claim.figure
        low, high = bounds_of(claim) if figure is None else (None, None)
        return {
            "claim": claim.text,
            "claim_index": self.index,
            "name": claim.name,
            "symbol": self.subject,
            "basket": claim.basket.path if claim.basket else None,
            "outperformed": claim.outperformed,
            "asof": self.asof.isoformat(),
            "start": self.start.date().isoformat() if self.start is not None else None,
            "end": self.end.date().isoformat() if self.end is not None else None,
            "currency": self.currency,
            "printed": figure.value if figure else None,
            "printed_as": figure.written if figure else None,
            "tolerance": figure.tolerance if figure else None,
            "at_least": low,
            "at_most": high,
            "close": claim.close_band(),
            "measured": self.measured,
            "difference": self.difference,
            "subject_return": self.subject_return,
            "against_return": self.against_return,
            "verdict": self.verdict,
            "reason": self.reason,
            "matches": self.matches,
            "claim_verdict": self.claim_verdict,
            "times": claim.times,
            "as_multiple": self.as_multiple,
            "as_multiple_verdict": judge_multiple(claim, self.measured)
            if self.as_multiple is not None
            else None,
            **{key: (self.null or {}).get(key) for key in NULL_KEYS},
        }


def measure(
    index: int,
    claim: Claim,
    subject: str,
    path: Path | Unchecked,
    against: Path | Unchecked | None,
    asof: dt.date,
) -> Measurement:
    """Measure ``claim`` on the path of ``subject`` (or say why it cannot be), as an excess
    over ``against`` for a comparison."""
    until = claim.until or asof
    try:
        if isinstance(path, Unchecked):
            raise path
        start, end, total = path.total_return(claim.since, until)
        other = None
        if against is not None:
            if isinstance(against, Unchecked):
                raise against
            other = against.total_return(claim.since, until)[2]
    except Unchecked as why:
        return Measurement(index, claim, subject, asof, UNCHECKED, reason=str(why))
    measured = total - other if other is not None else total
    verdict, difference = judge(claim, measured)
    return Measurement(
        index,
        claim,
        subject,
        asof,
        verdict,
        start,
        end,
        path.currency,
        measured,
        difference,
        total,
        other,
    )


def best_listing(rows: Sequence[Measurement]) -> int | None:
    """Position of the listing the printed figure matches: the best verdict, then the smallest
    difference; None when no listing could be measured."""
    ranked = [
        (VERDICTS.index(r.verdict), abs(r.difference), i)
        for i, r in enumerate(rows)
        if r.verdict != UNCHECKED
    ]
    return min(ranked)[2] if ranked else None


def evaluate(
    claims: ClaimsFile,
    paths: Mapping[tuple[int, str], Path | Unchecked],
    against: Mapping[int, Path | Unchecked],
    asof: dt.date | None = None,
) -> list[Measurement]:
    """Every claim measured on each of its subjects at ``asof`` (default the file's), each
    row marked with the claim's verdict and whether it is the listing the figure matches.

    ``paths`` maps (claim index, subject) to its path, ``against`` a comparison claim's index
    to the path of what it is compared with.
    """
    asof = asof or claims.asof
    assert asof is not None
    rows: list[Measurement] = []
    for index, claim in enumerate(claims.claims):
        measured = [
            measure(index, claim, subject, paths[(index, subject)], against.get(index), asof)
            for subject in claim.subjects
        ]
        best = best_listing(measured)
        verdict = measured[best].verdict if best is not None else UNCHECKED
        rows += [
            replace(row, matches=i == best, claim_verdict=verdict) for i, row in enumerate(measured)
        ]
    return rows


def claim_verdicts(rows: Sequence[Measurement]) -> dict[int, str]:
    """Each claim's verdict (claim index -> verdict)."""
    return {row.index: row.claim_verdict for row in rows}


def score_dates(
    claims: ClaimsFile,
    paths: Mapping[tuple[int, str], Path | Unchecked],
    against: Mapping[int, Path | Unchecked],
    dates: Sequence[pd.Timestamp],
) -> pd.DataFrame:
    """Per candidate as-of date: how many claims (those without their own ``until``) hold,
    are close, do not hold, cannot be checked, and which hold.  One row per date."""
    free = ClaimsFile(
        claims.title,
        tuple(c for c in claims.claims if c.until is None),
        claims.published,
        claims.asof,
        path=claims.path,
    )
    positions = [i for i, c in enumerate(claims.claims) if c.until is None]
    renumber = {new: old for new, old in enumerate(positions)}
    free_paths = {
        (new, s): paths[(old, s)]
        for new, old in renumber.items()
        for s in free.claims[new].subjects
    }
    free_against = {new: against[old] for new, old in renumber.items() if old in against}
    rows = []
    for day in dates:
        measured = evaluate(free, free_paths, free_against, day.date())
        verdicts = claim_verdicts(measured)
        counts = {v: sum(x == v for x in verdicts.values()) for v in VERDICTS}
        held = [renumber[i] + 1 for i, v in sorted(verdicts.items()) if v == HOLDS]
        distances = [
            abs(r.difference) / r.claim.figure.tolerance
            for r in measured
            if r.matches and r.claim.figure is not None and r.claim.figure.tolerance > 0
        ]
        rows.append(
            {
                "date": day.date().isoformat(),
                **counts,
                "distance": float(np.median(distances)) if distances else math.nan,
                "claims_holding": " ".join(map(str, held)),
            }
        )
    return pd.DataFrame(rows)


def best_date(scores: pd.DataFrame) -> tuple[str, list[str]]:
    """The date with the most claims holding, then the most close, then the smallest median
    distance (``|measured - printed| / tolerance`` of each claim's matching listing); and
    every date as good on the two counts."""
    ranked = scores.sort_values([HOLDS, CLOSE, "distance"], ascending=[False, False, True])
    best = ranked.iloc[0]
    tied = scores[(scores[HOLDS] == best[HOLDS]) & (scores[CLOSE] == best[CLOSE])]
    return str(best["date"]), tied["date"].tolist()
