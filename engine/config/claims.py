"""Claims files: a research report's figures written down so that the data can check them.

A claims file quotes a report and lists what each figure says::

    source: {title: "CITIC Securities on DeepSeek", published: 2025-02-18}
    asof: 2025-02-14          # the report's price date (default: the publication date)
    claims:
      - text: "Alibaba rose 51% since January"
        symbols: [9988.HK, BABA]      # listings of one company: each is checked
        since: 2025-01-01             # from the last close strictly before this date
        printed: 0.51                 # a decimal total return ...
      - text: "Nvidia has risen 8.5 times since 2023"
        symbols: [NVDA]
        since: 2023-01-01
        until: 2025-02-14             # default: asof
        printed: 8.5 times            # ... or text: '51%', '8.5 times', '8.5x'
      - text: "IDC and cloud infrastructure companies have also seen significant increases"
        basket: ../aidc.yaml          # a basket file, relative to this file
        since: 2025-01-01
        at_least: 0.10                # a bound instead of a printed figure
      - text: "Alibaba outperformed the NASDAQ"
        symbols: [9988.HK]
        outperformed: ^IXIC           # measured: the return of the claim minus that of ^IXIC
        since: 2025-01-01

**Precision.**  A printed figure holds when the data's figure rounds to it: ``0.51`` and
``51%`` hold for 50.5 %..51.5 %, ``8.5 times`` for 8.45..8.55, ``1.00`` (100 %) for 99.5 %..
100.5 % (the precision is read from the digits as written, so write ``1.00``, not ``1.0``,
for "100 %").  ``tolerance`` replaces that half-width; ``close`` is the wider band of the
verdict *close* (default :data:`CLOSE_FACTOR` times the tolerance).

**"Risen N times"** is read as a total return of N (price multiple N + 1); a figure printed
with ``times``/``x``, or a claim whose text says "times", is also shown read as a price
multiple, since reports use both.

Every error is a :class:`~engine.errors.ConfigError` naming the file, line and field.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config.baskets import Basket, load_basket
from engine.config.fields import Fields, symbol_field
from engine.config.validate import validate_mapping
from engine.config.yamlfile import Mapping, load_yaml
from engine.errors import ConfigError, SymbolError
from engine.symbols import FX_SYMBOLS, listing_of, normalize_symbol

CLAIMS_KEYS = ("source", "asof", "claims")
SOURCE_KEYS = ("title", "published", "url", "section")
CLAIM_KEYS = (
    "text",
    "name",
    "symbols",
    "basket",
    "since",
    "until",
    "printed",
    "at_least",
    "at_most",
    "tolerance",
    "close",
    "outperformed",
    "currency",
)
#: The verdict *close* is ``CLOSE_FACTOR`` times the printed precision unless ``close`` is given.
CLOSE_FACTOR = 5
CURRENCIES = ("USD", *FX_SYMBOLS)
_FIGURE = re.compile(
    r"^\s*(?P<number>[+-]?(?:\d+(?:\.(?P<decimals>\d+))?|\.(?P<bare>\d+)))\s*"
    r"(?P<unit>%|x|×|times|fold)?\s*$",
    re.IGNORECASE,
)
_TIMES_TEXT = re.compile(r"\btimes\b|\d\s*[x×]\b|\bfold\b", re.IGNORECASE)


@dataclass(frozen=True)
class Figure:
    """A printed figure as a decimal total return, with the half-width its digits imply."""

    value: float
    tolerance: float
    written: str
    times: bool = False


@dataclass(frozen=True)
class Claim:
    """One claim: what it measures (``symbols`` or ``basket``) from the last close before
    ``since`` to ``until`` (None: the as-of date), and what it asserts (``figure``, or the
    bounds ``at_least``/``at_most``; a comparison when ``outperformed`` names a symbol)."""

    text: str
    since: dt.date
    line: int | None = None
    name: str = ""
    symbols: tuple[str, ...] = ()
    basket: Basket | None = None
    until: dt.date | None = None
    figure: Figure | None = None
    at_least: float | None = None
    at_most: float | None = None
    close: float | None = None
    outperformed: str | None = None
    currency: str | None = None

    @property
    def subjects(self) -> tuple[str, ...]:
        """What is measured: the listings, or the basket's name."""
        return self.symbols or ((self.basket.name,) if self.basket else ())

    @property
    def times(self) -> bool:
        """Whether the claim reads "risen N times" (the figure is then shown both ways)."""
        printed = self.figure is not None and self.figure.times
        return printed or (self.figure is not None and bool(_TIMES_TEXT.search(self.text)))

    def close_band(self) -> float:
        """Half-width of the verdict *close* around the printed figure or the bounds."""
        if self.close is not None:
            return self.close
        return CLOSE_FACTOR * self.figure.tolerance if self.figure else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "name": self.name,
            "symbols": list(self.symbols),
            "basket": self.basket.path if self.basket else None,
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "printed": self.figure.written if self.figure else None,
            "value": self.figure.value if self.figure else None,
            "tolerance": self.figure.tolerance if self.figure else None,
            "at_least": self.at_least,
            "at_most": self.at_most,
            "close": self.close_band(),
            "outperformed": self.outperformed,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class ClaimsFile:
    """A validated claims file; ``asof`` is the report's price date (given, else published)."""

    title: str
    claims: tuple[Claim, ...]
    published: dt.date | None = None
    asof: dt.date | None = None
    url: str = ""
    section: str = ""
    path: str | None = None

    @property
    def name(self) -> str:
        return self.title

    def symbols(self) -> list[str]:
        """Every symbol the claims need prices of (listings, baskets' constituents, the symbols
        they are compared with), in order of first use."""
        wanted: list[str] = []
        for claim in self.claims:
            wanted += claim.symbols or (claim.basket.symbols if claim.basket else [])
            if claim.outperformed:
                wanted.append(claim.outperformed)
        return list(dict.fromkeys(wanted))

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "source": {
                "title": self.title,
                "published": self.published.isoformat() if self.published else None,
                "url": self.url,
                "section": self.section,
            },
            "asof": self.asof.isoformat() if self.asof else None,
            "claims": [c.to_dict() for c in self.claims],
        }


def parse_figure(value: Any, written: str | None, error: Any) -> Figure:
    """A printed figure: a number (a decimal total return; the precision is half a unit of its
    last written digit) or text with a unit (``51%``, ``8.5 times``, ``8.5x``).
    ``written`` is the value as the file spells it; ``error(message, hint)`` builds the
    exception for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise error(f"{_kind_of(value)} is not a figure", FIGURE_HINT)
    text = (
        written if written is not None else repr(value) if isinstance(value, float) else str(value)
    )
    match = _FIGURE.match(text)
    if not match:
        raise error(f"{_quoted(text)} is not a figure", FIGURE_HINT)
    digits = match["decimals"] or match["bare"] or ""
    number = float(match["number"])
    unit = (match["unit"] or "").lower()
    half_unit = 0.5 * 10.0 ** -len(digits)
    if unit == "%":
        number, half_unit = number / 100, half_unit / 100
    if not math.isfinite(number):
        raise error(f"{_quoted(text)} is not a finite figure", FIGURE_HINT)
    times = unit in ("x", "×", "times", "fold")
    if number < (0 if times else -1):  # no price falls below zero
        raise error(
            f"{_quoted(text)} is a loss of more than everything "
            f"({'a negative multiple' if times else 'below -100 %'})",
            "a total return is -1 (-100 %) at the lowest",
        )
    return Figure(number, half_unit, text.strip(), times=times)


FIGURE_HINT = (
    "write a decimal total return (0.51), a percentage ('51%') or a multiple ('8.5 times')"
)


def _kind_of(value: Any) -> str:
    return (
        "a list"
        if isinstance(value, list)
        else "a mapping"
        if isinstance(value, dict)
        else repr(value)
    )


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _listings(fields: Fields, key: str) -> tuple[str, ...]:
    raw = fields.mapping[key]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise fields.error(key, "is empty", "list the listings to check, e.g. [9988.HK, BABA]")
    symbols: list[str] = []
    for item in items:
        try:
            symbol, _ = normalize_symbol(item)
            listing_of(symbol)
        except SymbolError as error:
            raise fields.error(key, error.message, error.hint) from None
        if symbol in symbols:
            raise fields.error(key, f"lists {symbol} twice", "list each listing once")
        symbols.append(symbol)
    return tuple(symbols)


def _figure(fields: Fields, key: str) -> Figure | None:
    if not fields.has(key):
        return None
    mapping = fields.mapping
    written = mapping.text_of(key) if isinstance(mapping, Mapping) else None
    return parse_figure(
        mapping[key], written, lambda message, hint: fields.error(key, message, hint)
    )


def _positive(fields: Fields, key: str) -> float | None:
    value = fields.number(key)
    if value is not None and value < 0:
        raise fields.error(
            key, f"must be >= 0, got {value:g}", "a half-width, e.g. 0.005 = 0.5 point"
        )
    return value


def _basket(fields: Fields, key: str, folder: Path) -> Basket:
    name = fields.text(key)
    path = Path(name)
    path = path if path.is_absolute() else Path(os.path.normpath(folder / path))
    if not path.is_file():
        raise fields.error(
            key, f"basket file {path} not found", "give its path relative to the claims file"
        )
    return load_basket(path)


def claim_from_mapping(item: Any, path: str, index: int, parent_line: int | None) -> Claim:
    """Validate one entry of ``claims``."""
    fields = Fields(path, item, f"claims[{index}]", CLAIM_KEYS, line=parent_line)
    text = fields.text("text", required=True)
    has_symbols, has_basket = fields.has("symbols"), fields.has("basket")
    if has_symbols == has_basket:
        raise fields.error(
            "symbols" if has_symbols else "text",
            "give either 'symbols' (listings of one company) or 'basket' (a basket file)"
            + (", not both" if has_symbols else ""),
        )
    since = fields.date("since")
    if since is None:
        raise fields.error(
            "since", "is required", "the date the claim measures from, e.g. 2025-01-01"
        )
    until = fields.date("until")
    if until is not None and until < since:
        raise fields.error("until", f"{until} is before since {since}")
    figure = _figure(fields, "printed")
    at_least, at_most = fields.number("at_least"), fields.number("at_most")
    outperformed = symbol_field(fields, "outperformed", []) if fields.has("outperformed") else None
    given = [
        k
        for k, v in (("printed", figure), ("at_least", at_least), ("at_most", at_most))
        if v is not None
    ]
    if not given and not outperformed:
        raise fields.error(
            "printed",
            "is required",
            "the figure as printed, or 'at_least'/'at_most' for a claim without one",
        )
    if figure is not None and len(given) > 1:
        raise fields.error(
            given[1], "cannot be given with 'printed'", "keep the printed figure or the bounds"
        )
    if at_least is not None and at_most is not None and at_least > at_most:
        raise fields.error("at_most", f"{at_most:g} is below at_least {at_least:g}")
    tolerance = _positive(fields, "tolerance")
    if tolerance is not None:
        if figure is None:
            raise fields.error("tolerance", "needs a 'printed' figure")
        figure = Figure(figure.value, tolerance, figure.written, figure.times)
    close = _positive(fields, "close")
    if close is not None and figure is not None and close < figure.tolerance:
        raise fields.error(
            "close", f"{close:g} is narrower than the tolerance {figure.tolerance:g}"
        )
    currency = fields.text("currency")
    if currency is not None and currency.upper() not in CURRENCIES:
        raise fields.error("currency", f"'{currency}' is not one of {', '.join(CURRENCIES)}")
    symbols = _listings(fields, "symbols") if has_symbols else ()
    if outperformed and outperformed in symbols:
        raise fields.error("outperformed", f"{outperformed} is also one of the claim's symbols")
    if outperformed:
        try:
            listing_of(outperformed)
        except SymbolError as error:
            raise fields.error("outperformed", error.message, error.hint) from None
    return Claim(
        text=text,
        since=since,
        line=fields.line(),
        name=fields.text("name", "") or "",
        symbols=symbols,
        basket=_basket(fields, "basket", Path(path).parent) if has_basket else None,
        until=until,
        figure=figure,
        at_least=at_least,
        at_most=at_most,
        close=close,
        outperformed=outperformed,
        currency=currency.upper() if currency else None,
    )


def claims_from_mapping(data: Any, path: str) -> ClaimsFile:
    """Validate a parsed claims file into a :class:`ClaimsFile`."""
    if data is None:
        raise ConfigError(path, "file is empty", hint="a claims file needs 'source' and 'claims'")
    top = Fields(path, data, "", CLAIMS_KEYS)
    if not top.has("source"):
        raise top.error("source", "is required", "source: {title: ..., published: YYYY-MM-DD}")
    source = Fields(path, top.mapping["source"], "source", SOURCE_KEYS, line=top.line("source"))
    title = source.text("title", required=True)
    published = source.date("published")
    asof = top.date("asof") or published
    if asof is None:
        raise top.error("asof", "is required when the source has no 'published' date")
    if published and asof > published:
        raise top.error("asof", f"{asof} is after the publication date {published}")
    items = top.sequence("claims", required=True)
    if not items:
        raise top.error("claims", "is empty", "list at least one claim")
    claims = tuple(
        claim_from_mapping(item, path, index, top.line("claims"))
        for index, item in enumerate(items)
    )
    for index, claim in enumerate(claims):
        if claim.since > (claim.until or asof):
            raise ConfigError(
                path,
                f"since {claim.since} is after the as-of date {asof}",
                field=f"claims[{index}].since",
                line=claim.line,
                hint="set 'until' or correct 'asof'",
            )
    return ClaimsFile(
        title=title,
        claims=claims,
        published=published,
        asof=asof,
        url=source.text("url", "") or "",
        section=source.text("section", "") or "",
        path=path,
    )


def load_claims(path: str | Path) -> ClaimsFile:
    """Load and validate one claims file."""
    return claims_from_mapping(load_yaml(path), str(path))


def is_claims_file(data: Any) -> bool:
    """Whether a parsed YAML file is a claims file: a mapping with ``claims`` and ``source``."""
    return isinstance(data, dict) and "claims" in data and "source" in data


def validate_any(path: str | Path) -> tuple[str, Any]:
    """Load a claims, basket or study file, whichever it is (``basket validate``):
    ``("claims", ClaimsFile)``, ``("basket", Basket)`` or ``("study", Study)``."""
    data = load_yaml(path)
    if is_claims_file(data):
        return "claims", claims_from_mapping(data, str(path))
    return validate_mapping(data, path)
