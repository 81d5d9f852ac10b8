"""A run's listings, resolved once and passed down (rule 2 of the layout): the symbols the
baskets hold (:func:`held_symbols`), the explicit listings of the study and the baskets
(:func:`listing_overrides`), the run's :class:`engine.market.listings.RunListings`
(:func:`run_listings`) and the market indices the local benchmarks blend
(:func:`local_indices`).

May use the stages below the pipeline and :mod:`engine.pipeline.study`.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.config.baskets import Basket
from engine.config.studies import Study
from engine.market.listings import RunListings
from engine.pipeline.study import EventOptions, event_markets
from engine.symbols import Listing


def local_indices(baskets: Sequence[Basket], study: Study, listings: RunListings) -> list[str]:
    """The market indices of the baskets' exchanges (the study's ``event_study.markets``),
    which their local benchmarks blend."""
    markets = study.event_study.markets
    calendars = listings.calendars(held_symbols(baskets))
    return sorted({markets[c] for c in calendars if c in markets})


def listing_overrides(baskets: Sequence[Basket], study: Study) -> dict[str, Listing]:
    """Explicit exchange/currency of symbols: the study's, then each basket's."""
    overrides = {**study.listings}
    for basket in baskets:
        overrides.update(basket.listings())
    return overrides


def held_symbols(baskets: Sequence[Basket]) -> list[str]:
    """Every constituent of ``baskets``, once, in their order."""
    return list(dict.fromkeys(s for b in baskets for s in b.symbols))


def run_listings(
    baskets: Sequence[Basket], study: Study, options: EventOptions | None = None
) -> RunListings:
    """The run's listings, resolved once and passed to every stage: each constituent's and the
    benchmark's (the study's and the baskets' explicit listings, else from the suffix) and,
    with ``options``, the event study's market indices for the constituents' exchanges."""
    held = held_symbols(baskets)
    listings = RunListings.resolve([*held, *study.benchmarks], listing_overrides(baskets, study))
    if options is None:
        return listings
    return listings.including(event_markets(options, listings.calendars(held)))
