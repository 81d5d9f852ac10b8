"""Yahoo Finance symbols: normalisation and the exchange (calendar, currency) each one trades on.

Symbols are Yahoo symbols (``9988.HK``, ``688981.SS``, ``002594.SZ``, ``NVDA``, ``^IXIC``).  The
exchange follows from the suffix; a basket or study may name it explicitly for anything else.
Shenzhen has no calendar of its own in ``exchange_calendars``: it shares Shanghai's (XSHG).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import OptionError, SymbolError


@dataclass(frozen=True)
class Listing:
    """Where a symbol trades: an ``exchange_calendars`` calendar name and the quote currency."""

    calendar: str
    currency: str


SHANGHAI_SHENZHEN = Listing("XSHG", "CNY")
HONG_KONG = Listing("XHKG", "HKD")
UNITED_STATES = Listing("XNAS", "USD")

SUFFIX_LISTINGS = {".SS": SHANGHAI_SHENZHEN, ".SZ": SHANGHAI_SHENZHEN, ".HK": HONG_KONG}

INDEX_LISTINGS = {
    "^HSI": HONG_KONG,
    "^HSCE": HONG_KONG,
    "^HSTECH": HONG_KONG,
    "^IXIC": UNITED_STATES,
    "^NDX": UNITED_STATES,
    "^GSPC": UNITED_STATES,
    "^DJI": UNITED_STATES,
    "^SOX": UNITED_STATES,
}

#: Currencies the engine can convert, with the Yahoo symbol of their rate in units per US dollar.
FX_SYMBOLS = {"CNY": "CNY=X", "HKD": "HKD=X"}

#: Calendars an explicit ``exchange:`` may name, with the currency they usually quote in.
KNOWN_CALENDARS = {"XSHG": "CNY", "XHKG": "HKD", "XNAS": "USD", "XNYS": "USD"}

_A_SHARE = re.compile(r"^(\d{6})\.(SS|SZ|SH)$")
_HONG_KONG = re.compile(r"^(\d{1,5})\.HK$")
_US = re.compile(r"^[A-Z][A-Z0-9]{0,5}(-[A-Z]{1,2})?$")
_INDEX = re.compile(r"^\^[A-Z0-9.]{1,10}$")
_FX = re.compile(r"^[A-Z]{3}(?:[A-Z]{3})?=X$")
_OTHER = re.compile(r"^[A-Z0-9][A-Z0-9\-]{0,11}\.[A-Z]{1,3}$")


def normalize_symbol(raw: object) -> tuple[str, str | None]:
    """Return the canonical Yahoo symbol for what a user typed, and a note when it changed.

    ``700.HK`` and ``00700.HK`` become ``0700.HK`` (Yahoo's four digits), ``688981.SH`` becomes
    ``688981.SS`` (Yahoo's Shanghai suffix) and lower case becomes upper case.  Raises
    :class:`SymbolError` for anything that is not a plausible symbol.
    """
    if not isinstance(raw, str):
        number = isinstance(raw, int | float) and not isinstance(raw, bool)
        kind = next(
            (name for t, name in ((dict, "mapping"), (list, "list")) if isinstance(raw, t)),
            type(raw).__name__,
        )
        shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "..."
        raise SymbolError(
            shown,
            f"must be text, got the {kind} {shown}",
            "YAML reads unquoted digits as a number: quote the symbol, e.g. symbol: '0700.HK'"
            if number
            else "write one Yahoo symbol, e.g. 0700.HK",
        )
    text = raw.strip().upper()
    if not text or any(ch.isspace() for ch in text):
        raise SymbolError(
            raw, "contains spaces or is empty", "write one Yahoo symbol, e.g. 0700.HK"
        )
    symbol = text
    if match := _A_SHARE.match(text):
        code, suffix = match.groups()
        symbol = f"{code}.{'SS' if suffix == 'SH' else suffix}"
    elif match := _HONG_KONG.match(text):
        code = int(match.group(1))
        if code == 0:
            raise SymbolError(raw, "Hong Kong code 0 does not exist")
        symbol = f"{code:04d}.HK"
    elif not (_US.match(text) or _INDEX.match(text) or _FX.match(text) or _OTHER.match(text)):
        raise SymbolError(
            raw,
            "is not a Yahoo symbol",
            "use e.g. NVDA, 0700.HK, 688981.SS, 002594.SZ or ^IXIC",
        )
    note = None if symbol == raw else f"symbol '{raw}' read as '{symbol}'"
    return symbol, note


def option_symbol(option: str, raw: str) -> str:
    """The canonical symbol for one given with a command-line ``option`` (``--benchmark``,
    ``--market``): a malformed one raises :class:`OptionError` naming the option."""
    try:
        return normalize_symbol(raw)[0]
    except SymbolError as error:
        raise OptionError(option, error.message, error.hint) from None


def listing_of(symbol: str) -> Listing:
    """The exchange and currency a canonical symbol trades in, from its suffix or index name.

    Raises :class:`SymbolError` when neither tells: the basket must then name the exchange and
    currency of that symbol.
    """
    if symbol in INDEX_LISTINGS:
        return INDEX_LISTINGS[symbol]
    for suffix, listing in SUFFIX_LISTINGS.items():
        if symbol.endswith(suffix):
            return listing
    if _US.match(symbol):
        return UNITED_STATES
    raise SymbolError(
        symbol,
        "has no known exchange (suffixes .SS, .SZ, .HK and US tickers are known)",
        "set 'exchange' (XSHG, XHKG, XNAS, XNYS) and 'currency' for it in the basket",
    )


def file_stem(symbol: str) -> str:
    """The file name stem of a symbol in a CSV price folder: ``^`` and ``=`` become ``_``."""
    return symbol.replace("^", "_").replace("=", "_")


def symbol_from_stem(stem: str) -> str:
    """Invert :func:`file_stem` for the usual cases: a leading ``_`` is ``^``
    (``_HSI`` -> ``^HSI``) and a trailing ``_X`` is ``=X`` (``CNY_X`` -> ``CNY=X``)."""
    symbol = stem
    if symbol.startswith("_"):
        symbol = "^" + symbol[1:]
    if re.fullmatch(r"[A-Za-z]{3,6}_X", symbol):
        symbol = symbol[:-2] + "=X"
    return symbol
