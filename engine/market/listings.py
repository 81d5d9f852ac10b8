"""Listings of a run: each symbol's exchange and currency (:class:`RunListings`, resolved once
per run and passed to every later stage), and the FX series they need.  May use the ground
floor only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from engine.errors import OptionError
from engine.symbols import FX_SYMBOLS, Listing, listing_of


def resolve_listings(
    symbols: Iterable[str], overrides: Mapping[str, Listing] | None = None
) -> dict[str, Listing]:
    """Each symbol's exchange and currency: an explicit override, else from its suffix."""
    overrides = overrides or {}
    return {s: overrides.get(s) or listing_of(s) for s in symbols}


@dataclass(frozen=True)
class RunListings(Mapping[str, Listing]):
    """A run's listings, resolved once: symbol -> :class:`Listing` (exchange calendar and
    currency) for every constituent, the benchmark and the event study's market indices; FX
    series have none.  ``explicit`` are the listings the study and basket files name (a
    downloading source checks Yahoo's metadata against them); every other symbol's follows
    from its suffix (:func:`engine.symbols.listing_of`).

    A mapping, so a stage that takes ``Mapping[str, Listing]`` takes it as it is.
    """

    resolved: Mapping[str, Listing]
    explicit: Mapping[str, Listing] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls, symbols: Iterable[str], explicit: Mapping[str, Listing] | None = None
    ) -> RunListings:
        """The listings of ``symbols``: the explicit one, else from the suffix."""
        explicit = MappingProxyType(dict(explicit or {}))
        return cls(MappingProxyType(resolve_listings(symbols, explicit)), explicit)

    def including(self, symbols: Iterable[str]) -> RunListings:
        """These listings and those of ``symbols`` not resolved yet (market indices)."""
        more = [s for s in dict.fromkeys(symbols) if s not in self.resolved]
        if not more:
            return self
        added = resolve_listings(more, self.explicit)
        return RunListings(MappingProxyType({**self.resolved, **added}), self.explicit)

    def __getitem__(self, symbol: str) -> Listing:
        return self.resolved[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self.resolved)

    def __len__(self) -> int:
        return len(self.resolved)

    def of(self, symbols: Iterable[str]) -> dict[str, Listing]:
        """The listings of ``symbols`` (each resolved already), in their order."""
        return {s: self.resolved[s] for s in symbols}

    def calendars(self, symbols: Iterable[str]) -> set[str]:
        """The exchange calendars ``symbols`` trade on."""
        return {self.resolved[s].calendar for s in symbols}

    def currencies(self, symbols: Iterable[str]) -> set[str]:
        """The currencies ``symbols`` are quoted in."""
        return {self.resolved[s].currency for s in symbols}


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
