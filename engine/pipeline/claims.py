"""``basket claims``: a report's claims checked against the data (:func:`check_claims`,
:class:`ClaimsRun`): the claims' listings resolved once (:func:`claims_listings`), each claim's
currency, a basket claim's run and, with a universe, its matched-null ranking.

May use the stages below the pipeline and :mod:`engine.pipeline.listings`, ``draws``, ``runs``
and ``sweep``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from engine.config.studies import Study
from engine.data.prices import PriceSet, PriceSource
from engine.errors import DateRangeError, MissingDataError, OptionError
from engine.market.listings import RunListings, fx_symbols_needed
from engine.market.panel import LOOKBACK, study_sessions
from engine.market.sessions import detect_closures
from engine.pipeline.draws import SweepOptions
from engine.pipeline.listings import listing_overrides, local_indices
from engine.pipeline.runs import run
from engine.pipeline.sweep import sweep
from engine.symbols import Listing

#: Sessions before the publication date that ``--infer-asof`` scores.
INFER_SESSIONS = 15


#: The benchmark of a basket claim's run when the claim is not a comparison.
CLAIMS_BENCHMARK = "^IXIC"


@dataclass
class ClaimsRun:
    """A claims file checked against the data (``basket claims``).

    ``rows`` are the measurements at ``asof`` (one per claim and listing); ``scores`` the
    per-date score of ``--infer-asof`` (None without it), ``inferred`` its best date and
    ``tied`` every date as good; ``paths`` the path each row was measured on (for the report).
    """

    claims: object
    asof: dt.date
    rows: list
    prices: PriceSet
    paths: dict
    against: dict
    scores: pd.DataFrame | None = None
    inferred: str | None = None
    tied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def records(self) -> list[dict[str, object]]:
        return [row.to_dict() for row in self.rows]

    def unchecked(self) -> dict[str, str]:
        """Claims that no listing could measure, with the first reason."""
        from engine.analysis.claims import UNCHECKED

        out: dict[str, str] = {}
        for row in self.rows:
            if row.claim_verdict == UNCHECKED:
                out.setdefault(row.claim.text, row.reason)
        return out


def claims_listings(claims) -> RunListings:
    """The listings of a claims check, resolved once and passed to every claims stage: each
    symbol the claims need (:meth:`engine.config.claims.ClaimsFile.symbols`) and what the runs
    of basket claims add, :data:`CLAIMS_BENCHMARK` for a claim that is no comparison and the
    market indices of the baskets' exchanges (:func:`local_indices`); the baskets' explicit
    listings, else from the suffix."""
    baskets = [c.basket for c in claims.claims if c.basket]
    uncompared = any(c.basket and not c.outperformed for c in claims.claims)
    benchmark = [CLAIMS_BENCHMARK] if uncompared else []
    explicit = listing_overrides(baskets, Study())
    listings = RunListings.resolve(dict.fromkeys([*claims.symbols(), *benchmark]), explicit)
    # A basket claim's study (_basket_claim_study) has the default event-study markets.
    return listings.including(local_indices(baskets, Study(), listings)) if baskets else listings


def _claim_currency(claim, listings: Mapping[str, Listing]) -> str | None:
    """The currency a claim is measured in: its own, else each listing's (None), except a
    comparison across currencies, in USD."""
    if claim.currency:
        return claim.currency
    subjects = claim.basket.symbols if claim.basket else list(claim.symbols)
    involved = {listings[s].currency for s in [*subjects, *filter(None, [claim.outperformed])]}
    if len(involved) > 1 and (claim.basket or claim.outperformed):
        return "USD"
    return None


def _claims_span(claims, dates: Sequence[dt.date]) -> tuple[pd.Timestamp, pd.Timestamp]:
    first = min(c.since for c in claims.claims)
    last = max([*(c.until for c in claims.claims if c.until), *dates])
    return pd.Timestamp(first) - LOOKBACK, pd.Timestamp(last)


def _basket_claim_study(
    claim, currency: str | None, end: pd.Timestamp, listings: RunListings
) -> Study:
    """The study of a basket claim: bought at the last close before ``since`` on the basket's
    exchanges and held (no fees, no rebalancing) through ``end``."""
    from engine.analysis.claims import Unchecked

    basket = claim.basket
    union = study_sessions(
        listings.calendars(basket.symbols), pd.Timestamp(claim.since) - LOOKBACK, end
    )
    before = union[union < pd.Timestamp(claim.since)]
    if before.empty:
        raise Unchecked(f"{basket.name}: no session before {claim.since}")
    return Study(
        name=f"claim: {basket.name}",
        benchmark=claim.outperformed or CLAIMS_BENCHMARK,
        start=before[-1].date(),
        end=end.date(),
        currency=currency or "local",
        rebalance="none",
    )


def _basket_claim_path(
    claim, source: PriceSource, currency: str | None, end: pd.Timestamp, listings: RunListings
):
    """A basket claim's path (see :func:`_basket_claim_study`), by :func:`run`."""
    from engine.analysis.claims import Unchecked, basket_path

    basket = dataclasses.replace(claim.basket, rebalance="none")
    try:
        study = _basket_claim_study(claim, currency, end, listings)
        result = run([basket], study, source, listings=listings)
    except (MissingDataError, DateRangeError, OptionError) as error:
        raise Unchecked(f"{basket.name}: {error.message}") from None
    return basket_path(basket.name, result.backtest.equity[basket.name], result.panel.currency)


def _basket_claim_null(
    claim, source: PriceSource, universe, currency: str | None, end: pd.Timestamp,
    options: SweepOptions, listings: RunListings,
) -> dict[str, object]:
    """The basket claim's total return over its window ranked against matched random baskets
    of ``universe`` (:func:`engine.pipeline.sweep.sweep`, with the claims' ``listings``):
    percentile, p-value, random median and count."""
    from engine.analysis.claims import Unchecked

    basket = dataclasses.replace(claim.basket, rebalance="none")
    try:
        result = sweep([basket], _basket_claim_study(claim, currency, end, listings), source,
                       universe, options, listings=listings)
    except (MissingDataError, DateRangeError, OptionError) as error:
        raise Unchecked(f"{basket.name}: {error.message}") from None
    row = next(r for r in result.rows if r["statistic"] == "total_return")
    return {
        "null_percentile": row["percentile"],
        "null_p_value": row["p_value"],
        "null_median": row["random_p50"],
        "null_n": row["n_random"],
        "null_matched_on": row["matched_on"],
    }


def check_claims(
    claims,
    source: PriceSource,
    *,
    asof: dt.date | None = None,
    infer: bool = False,
    sessions_scored: int = INFER_SESSIONS,
    universe=None,
    null: SweepOptions | None = None,
) -> ClaimsRun:
    """Check every claim of a :class:`engine.config.claims.ClaimsFile` against ``source``.

    ``asof`` replaces the file's as-of date; with ``infer`` the :data:`INFER_SESSIONS`
    sessions (of the claims' exchanges) up to the publication date are scored and the best
    one becomes the as-of date, unless ``asof`` is given.  A symbol without data, or a window
    the data do not cover, makes its rows *cannot be checked* (with the reason), not an error.
    With a ``universe`` (:class:`engine.data.universe.UniverseSource`) a basket claim's return
    is also ranked against ``null`` matched random baskets (default :data:`CLAIMS_NULL`).
    """
    from engine.analysis.claims import Unchecked, best_date, evaluate, listing_path, score_dates

    listings = claims_listings(claims)
    currencies = {c: _claim_currency(c, listings) for c in claims.claims}
    wanted_fx = fx_symbols_needed(
        listings.currencies(claims.symbols()) | {c for c in currencies.values() if c} | {"USD"}
    )
    candidates: list[pd.Timestamp] = []
    if infer:
        last = pd.Timestamp(claims.published or claims.asof)
        calendars = listings.calendars(claims.symbols())
        union = study_sessions(calendars, last - pd.Timedelta(days=4 * sessions_scored), last)
        candidates = list(union[-sessions_scored:])
    span = _claims_span(
        claims, [claims.asof, *(d.date() for d in candidates), *filter(None, [asof])]
    )
    histories, problems = source.fetch([*claims.symbols(), *wanted_fx], span[0], span[1])
    closures = detect_closures(histories, listings)
    prices = PriceSet(
        histories,
        source.description,
        skipped=problems,
        notes=closures.notes(*span),
        closures=closures,
    )

    paths: dict[tuple[int, str], object] = {}
    against: dict[int, object] = {}
    for index, claim in enumerate(claims.claims):
        currency = currencies[claim]
        builds = (
            [
                (
                    claim.basket.name,
                    lambda c=claim, cur=currency: _basket_claim_path(
                        c, source, cur, span[1], listings
                    ),
                )
            ]
            if claim.basket
            else [
                (s, lambda s=s, cur=currency: listing_path(prices, s, listings[s], cur, span))
                for s in claim.symbols
            ]
        )
        if claim.outperformed:
            builds.append(
                (
                    None,
                    lambda cur=currency, o=claim.outperformed: listing_path(
                        prices, o, listings[o], cur, span
                    ),
                )
            )
        for subject, build in builds:
            try:
                path = build()
            except Unchecked as why:
                path = why
            if subject is None:
                against[index] = path
            else:
                paths[(index, subject)] = path

    scores, inferred, tied = None, None, []
    if infer:
        scores = score_dates(claims, paths, against, candidates)
        inferred, tied = best_date(scores)
    chosen = asof or (dt.date.fromisoformat(inferred) if inferred else claims.asof)
    rows = evaluate(claims, paths, against, chosen)
    notes = [*(f"{s}: {why}" for s, why in problems.items()), *prices.notes]
    if universe is not None:
        rows = _with_nulls(
            rows, source, universe, currencies, chosen, null or CLAIMS_NULL, notes, listings
        )
    return ClaimsRun(claims, chosen, rows, prices, paths, against, scores, inferred, tied, notes)


def _with_nulls(
    rows, source, universe, currencies, asof: dt.date, options, notes, listings: RunListings
) -> list:
    """``rows`` with each measured basket claim's matched-null ranking added."""
    from engine.analysis.claims import Unchecked
    from engine.data.universe import SURVIVORSHIP_NOTE

    out = []
    for row in rows:
        claim = row.claim
        if claim.basket is not None and row.measured is not None:
            end = pd.Timestamp(claim.until or asof)
            try:
                ranking = _basket_claim_null(claim, source, universe, currencies[claim], end,
                                             options, listings)
            except Unchecked as why:
                notes.append(f"{claim.basket.name}: no matched null ({why})")
            else:
                row = dataclasses.replace(row, null=ranking)
                if SURVIVORSHIP_NOTE not in notes:
                    notes.append(SURVIVORSHIP_NOTE)
        out.append(row)
    return out


#: The matched null of a basket claim with ``--universe``: random baskets of the claim's
#: market mix (each run checks one against vectorbt).
CLAIMS_NULL = SweepOptions(n_random=1000, verify=1)
