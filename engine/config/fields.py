"""Reading the fields of one YAML mapping: typed access (text, choice, number, boolean,
date, list) with errors that name the file, line and field, and the values several files
share (dates, symbols, listings).  Used by the basket, study and claims files; may use
``config.yamlfile`` and the ground floor.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import math
import re
from typing import Any

from engine.config.yamlfile import Mapping
from engine.errors import ConfigError, SymbolError
from engine.symbols import KNOWN_CALENDARS, Listing, normalize_symbol

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Dates outside these are refused (pandas' nanosecond timestamps end in 1677 and 2262).
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
#: The keys of an explicit listing (a constituent's or a study's ``listings`` entry).
LISTING_KEYS = ("exchange", "currency")


class Fields:
    """Typed access to one YAML mapping, raising errors that name file, line and field."""

    def __init__(
        self,
        path: str,
        mapping: Any,
        where: str,
        allowed: tuple[str, ...],
        *,
        line: int | None = None,
    ) -> None:
        self.path = path
        self.where = where
        if not isinstance(mapping, dict):
            # A list item or plain value has no line of its own: ``line`` is its parent's.
            raise ConfigError(
                path,
                f"expected a mapping of keys, got {kind_of(mapping)}",
                field=where or None,
                line=getattr(mapping, "line", None) or line,
            )
        self.mapping = mapping
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                raise ConfigError(
                    path,
                    f"unknown key '{key}'",
                    field=self._name(key),
                    line=self.line(key),
                    hint=f"did you mean '{close[0]}'?"
                    if close
                    else f"allowed: {', '.join(allowed)}",
                )

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def line(self, key: str | None = None) -> int | None:
        if isinstance(self.mapping, Mapping):
            return self.mapping.line_of(key) if key else self.mapping.line
        return None

    def error(self, key: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(
            self.path, message, field=self._name(key), line=self.line(key), hint=hint
        )

    def has(self, key: str) -> bool:
        return key in self.mapping and self.mapping[key] is not None

    def yaml_word(self, key: str) -> str | None:
        """The unquoted word (``ON``, ``NO``, ``NULL``) YAML 1.1 read as a boolean or null."""
        value = self.mapping.get(key)
        if value is not None and not isinstance(value, bool):
            return None
        return getattr(self.mapping, "value_texts", {}).get(key) or None

    def quote_hint(self, key: str) -> str | None:
        word = self.yaml_word(key)
        if word is None:
            return None
        meaning = "nothing" if self.mapping.get(key) is None else str(self.mapping[key]).lower()
        return f"YAML reads the unquoted word {word} as {meaning}: quote it, e.g. {key}: '{word}'"

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        if not self.has(key):
            if required:
                raise self.error(key, "is required", self.quote_hint(key))
            return default
        value = self.mapping[key]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"must be text, got {kind_of(value)}", self.quote_hint(key))
        value = str(value).strip()
        if required and not value:
            raise self.error(key, "must not be empty")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.text(key, default)
        if value is None:
            return None
        if value.lower() not in choices:
            close = difflib.get_close_matches(value.lower(), choices, n=1)
            raise self.error(
                key,
                f"'{value}' is not one of {', '.join(choices)}",
                f"did you mean '{close[0]}'?" if close else None,
            )
        return value.lower()

    def number(self, key: str, default: float | None = None) -> float | None:
        if not self.has(key):
            return default
        value = self.mapping[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {kind_of(value)} {short_repr(value)}")
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {value}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if not self.has(key):
            return default
        value = self.mapping[key]
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {short_repr(value)}")
        return value

    def date(self, key: str) -> dt.date | None:
        if not self.has(key):
            return None
        return parse_date(self.mapping[key], lambda message: self.error(key, message))

    def sequence(self, key: str, *, required: bool = False) -> list[Any]:
        if not self.has(key):
            if required:
                raise self.error(key, "is required", self.quote_hint(key))
            return []
        value = self.mapping[key]
        if not isinstance(value, list):
            raise self.error(key, f"must be a list, got {kind_of(value)}")
        return value


def kind_of(value: Any) -> str:
    """What a YAML value is, for messages: ``nothing``, ``a boolean``, ``a mapping``, ``text``..."""
    if value is None:
        return "nothing"
    for kind, label in ((bool, "a boolean"), (dict, "a mapping"), (list, "a list"), (str, "text")):
        if isinstance(value, kind):
            return label
    return type(value).__name__


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters so that a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_date(value: Any, error: Any) -> dt.date:
    """An ISO date (``YYYY-MM-DD``) from YAML (already a date) or text, between
    :data:`FIRST_DATE` and :data:`LAST_DATE`; ``error(message)`` builds the exception to raise."""
    day = None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str) and ISO_DATE.fullmatch(value.strip()):
        # fromisoformat alone would also take 20250106 and 2025-W02-1.
        with contextlib.suppress(ValueError):
            day = dt.date.fromisoformat(value.strip())
    if day is None:
        raise error(f"{short_repr(value)} is not an ISO date (YYYY-MM-DD)")
    if not FIRST_DATE <= day <= LAST_DATE:
        raise error(f"{day} is outside the dates the engine handles ({FIRST_DATE}..{LAST_DATE})")
    return day


def listing_field(fields: Fields) -> Listing | None:
    """The explicit ``exchange`` (and ``currency``, default: the exchange's) of a mapping, or
    None when it names neither."""
    exchange = fields.text("exchange")
    currency = fields.text("currency")
    if exchange is None and currency is None:
        return None
    if exchange is None:
        raise fields.error("exchange", "is required when 'currency' is set")
    exchange = exchange.upper()
    if exchange not in KNOWN_CALENDARS:
        raise fields.error("exchange", f"'{exchange}' is not one of {', '.join(KNOWN_CALENDARS)}")
    return Listing(exchange, (currency or KNOWN_CALENDARS[exchange]).upper())


def symbol_field(fields: Fields, key: str, notes: list[str]) -> str:
    """The canonical symbol under ``key`` (required); a rewrite (``700.HK`` -> ``0700.HK``) is
    noted in ``notes``."""
    raw = fields.mapping.get(key)
    if raw is None:
        raise fields.error(key, "is required", fields.quote_hint(key))
    try:
        symbol, note = normalize_symbol(raw)
    except SymbolError as error:
        raise fields.error(key, error.message, fields.quote_hint(key) or error.hint) from None
    if note:
        notes.append(note)
    return symbol
