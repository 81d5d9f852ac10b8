"""Listings of a run: each symbol's exchange and currency, and the FX series they need."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.errors import OptionError
from engine.symbols import FX_SYMBOLS, Listing, listing_of


def resolve_listings(
    symbols: Iterable[str], overrides: Mapping[str, Listing] | None = None
) -> dict[str, Listing]:
    """Each symbol's exchange and currency: an explicit override, else from its suffix."""
    overrides = overrides or {}
    return {s: overrides.get(s) or listing_of(s) for s in symbols}


def fx_symbols_needed(currencies: Iterable[str]) -> list[str]:
    """Yahoo FX symbols needed to convert between the given currencies (through USD); none when
    there is only one currency."""
    currencies = set(currencies)
    needed = []
    for currency in sorted(currencies - {"USD"} if len(currencies) > 1 else ()):
        if currency not in FX_SYMBOLS:
            raise OptionError(
                "--currency",
                f"no FX series known for {currency}",
                f"supported: USD, {', '.join(FX_SYMBOLS)}",
            )
        needed.append(FX_SYMBOLS[currency])
    return needed


def report_currency(requested: str, listings: Mapping[str, Listing]) -> str:
    """The report currency: ``requested`` (``USD``, ``CNY``, ``HKD``), or with ``local`` the one
    currency every symbol shares (an error if they do not share one)."""
    requested = requested.upper()
    if requested != "LOCAL":
        fx_symbols_needed([requested, "USD"])
        return requested
    currencies = sorted({listing.currency for listing in listings.values()})
    if len(currencies) != 1:
        by_currency = {
            c: sorted(s for s, v in listings.items() if v.currency == c) for c in currencies
        }
        listed = "; ".join(f"{c}: {', '.join(s[:3])}" for c, s in by_currency.items())
        raise OptionError(
            "--currency local",
            f"the constituents trade in {len(currencies)} currencies ({listed})",
            "use --currency USD (or CNY/HKD) to convert them into one",
        )
    return currencies[0]
