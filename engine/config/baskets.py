"""Basket files: a theme's constituents and rules, validated into a typed, immutable
:class:`Basket`.

A **basket** file describes one theme::

    name: Domestic chips
    weighting: custom      # equal | custom | inverse_vol | liquidity | file | market_cap | shares
                           # (default: equal, or custom when every weight is given)
    normalize: false       # true: custom weights are divided by their sum (else must sum to 1)
    lookback: 60           # inverse_vol, liquidity: sessions measured before each rebalance
    table: caps.csv        # file, market_cap, shares: CSV date,symbol,weight|market_cap|shares
    caps: {single: 0.10, top: [5, 0.40]}   # per issuer; the five largest at most 40 %
    rebalance: monthly     # none | monthly | quarterly   (default: the study's, else none)
    reviews: [6, 12]       # months in which membership (from/until) changes take effect
    costs: market          # statutory costs by market, side and date (or a proportional number)
    commission: {rate: 0.0003, minimum: 5}   # broker's, minimum in the listing's currency
    capital: 1000000       # report currency: whole board lots (see engine.portfolio.execution)
    constituents:
      - symbol: 0981.HK
        name: SMIC (H shares)
        reason: China's largest foundry
        weight: 0.6
        issuer: SMIC       # constituents of one issuer share one cap
      - symbol: 688256.SS
        weight: 0.4
        exchange: XSHG     # optional: calendar and currency for symbols without a known suffix
        currency: CNY
        from: 2024-06-01   # joins at the first rebalance (or review) on or after this date
        until: 2025-06-01  # leaves at the first rebalance (or review) on or after this date
        lot: 200           # board lot (Hong Kong: per stock); st: true for risk-warning shares

A study file given as a basket is refused (:func:`is_study_file` tells the two apart).  Every
error is a :class:`~engine.errors.ConfigError` naming the file, line and field (the field
reading is :mod:`engine.config.fields`).  May use ``config.fields``, ``config.yamlfile``,
``config.weights`` (schemes, tables, schedules), ``config.studies`` (the sessions a lookback
may reach, the study keys) and the ground floor.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.config.fields import Fields, listing_field, short_repr, symbol_field
from engine.config.studies import MAX_FEE, MAX_OFFSET, STUDY_KEYS
from engine.config.weights import (
    DEFAULT_LOOKBACK,
    LOOKBACK_WEIGHTINGS,
    REBALANCES,
    TABLE_COLUMNS,
    WEIGHT_TOLERANCE,
    WEIGHTINGS,
    WeightTable,
    read_weight_table,
)
from engine.config.yamlfile import load_yaml
from engine.errors import ConfigError, SymbolError
from engine.symbols import Listing, listing_of

BASKET_KEYS = (
    "name",
    "description",
    "weighting",
    "normalize",
    "lookback",
    "table",
    "caps",
    "rebalance",
    "reviews",
    "costs",
    "commission",
    "capital",
    "defined",
    "source",
    "constituents",
)
CONSTITUENT_KEYS = (
    "symbol",
    "name",
    "weight",
    "reason",
    "exchange",
    "currency",
    "issuer",
    "from",
    "until",
    "lot",
    "st",
)
CAPS_KEYS = ("single", "top")
COMMISSION_KEYS = ("rate", "minimum")


@dataclass(frozen=True)
class Constituent:
    """One holding of a basket; ``weight`` is its target weight (the weights sum to 1) under
    ``equal`` or ``custom`` weighting, and its weight at the purchase once a run has computed
    the other schemes.  ``issuer`` groups constituents under one cap; ``joins``/``leaves`` are
    the file's ``from``/``until`` dates."""

    symbol: str
    weight: float
    name: str = ""
    reason: str = ""
    listing: Listing | None = None
    issuer: str | None = None
    joins: dt.date | None = None
    leaves: dt.date | None = None
    lot: int | None = None
    st: bool = False


@dataclass(frozen=True)
class Caps:
    """Weight caps applied after the weighting scheme: ``single`` per issuer, and ``top``
    ``(n, cap)``: the ``n`` largest issuers weigh at most ``cap`` together."""

    single: float | None = None
    top: tuple[int, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"single": self.single, "top": list(self.top) if self.top else None}


@dataclass(frozen=True)
class Commission:
    """A broker's commission: ``rate`` of each order's value, at least ``minimum`` per order in
    the listing's currency."""

    rate: float
    minimum: float = 0.0


@dataclass(frozen=True)
class Basket:
    """A validated basket: weights always sum to 1, whatever the file's weighting.

    ``defined`` is the date its constituents were chosen and ``source`` who chose them (both
    optional): a period or an event before ``defined`` was seen when the basket was made, so its
    results are marked "selected after" (hindsight).
    """

    name: str
    constituents: tuple[Constituent, ...]
    weighting: str = "equal"
    rebalance: str | None = None
    description: str = ""
    path: str | None = None
    notes: tuple[str, ...] = ()
    lookback: int = DEFAULT_LOOKBACK
    table: WeightTable | None = None
    caps: Caps | None = None
    reviews: tuple[int, ...] = ()
    defined: dt.date | None = None
    source: str = ""
    costs: str | float | None = None
    commission: Commission | None = None
    capital: float | None = None

    @property
    def trades_like_the_market(self) -> bool:
        """Whether the basket is traded with market rules (statutory costs, commissions,
        board lots, price limits, suspensions) rather than as frictionless fractions."""
        return self.costs == "market" or self.commission is not None or self.capital is not None

    @property
    def symbols(self) -> list[str]:
        return [c.symbol for c in self.constituents]

    @property
    def weights(self) -> dict[str, float]:
        return {c.symbol: c.weight for c in self.constituents}

    def listings(self) -> dict[str, Listing]:
        """Explicit exchange/currency overrides written in the basket."""
        return {c.symbol: c.listing for c in self.constituents if c.listing is not None}

    def without(self, symbols: Iterable[str]) -> Basket:
        """The basket without ``symbols``, remaining weights renormalised to sum to 1."""
        dropped = set(symbols)
        kept = [c for c in self.constituents if c.symbol not in dropped]
        if not kept:
            raise ConfigError(
                self.path, f"basket '{self.name}' has no constituent with data left after skipping"
            )
        total = math.fsum(c.weight for c in kept)
        return replace(self, constituents=tuple(replace(c, weight=c.weight / total) for c in kept))

    def to_dict(self) -> dict[str, Any]:
        """The basket as resolved (weights after defaults), for the run's configuration file."""
        return {
            "name": self.name,
            "file": self.path,
            "weighting": self.weighting,
            **({"lookback": self.lookback} if self.weighting in LOOKBACK_WEIGHTINGS else {}),
            **({"table": self.table.path} if self.table else {}),
            **({"caps": self.caps.to_dict()} if self.caps else {}),
            "rebalance": self.rebalance,
            **({"reviews": list(self.reviews)} if self.reviews else {}),
            **({"costs": self.costs} if self.costs is not None else {}),
            **(
                {"commission": {"rate": self.commission.rate, "minimum": self.commission.minimum}}
                if self.commission
                else {}
            ),
            **({"capital": self.capital} if self.capital is not None else {}),
            "defined": self.defined.isoformat() if self.defined else None,
            "source": self.source,
            "constituents": [
                {
                    "symbol": c.symbol,
                    "name": c.name,
                    "weight": c.weight,
                    **(
                        {"exchange": c.listing.calendar, "currency": c.listing.currency}
                        if c.listing
                        else {}
                    ),
                    **({"issuer": c.issuer} if c.issuer else {}),
                    **({"from": c.joins.isoformat()} if c.joins else {}),
                    **({"until": c.leaves.isoformat()} if c.leaves else {}),
                    **({"lot": c.lot} if c.lot else {}),
                    **({"st": True} if c.st else {}),
                }
                for c in self.constituents
            ],
        }


def _caps(top: Fields, issuers: int) -> Caps | None:
    """The ``caps`` mapping, checked feasible for ``issuers`` issuers (a run checks again on
    each rebalance, when fewer constituents may be members)."""
    if not top.has("caps"):
        return None
    sub = Fields(top.path, top.mapping["caps"], "caps", CAPS_KEYS, line=top.line("caps"))
    single = sub.number("single")
    if single is not None and not 0 < single <= 1:
        raise sub.error("single", f"{single:g} is not a weight in (0, 1]", "0.10 = 10 %")
    if single is not None and single * issuers < 1 - WEIGHT_TOLERANCE:
        raise sub.error(
            "single",
            f"a cap of {single:g} cannot hold {issuers} issuer(s) (they weigh at most "
            f"{single * issuers:g})",
            f"raise it to at least {1 / issuers:.4g} or add constituents",
        )
    top_rule = None
    if sub.has("top"):
        value = sub.mapping["top"]
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], int)
            and not isinstance(value[0], bool)
            and value[0] >= 1
            and isinstance(value[1], int | float)
            and not isinstance(value[1], bool)
            and 0 < value[1] <= 1
        )
        if not ok:
            raise sub.error("top", f"{short_repr(value)} is not [count, cap]", "e.g. [5, 0.40]")
        count, cap = value[0], float(value[1])
        if count / issuers > cap + WEIGHT_TOLERANCE:
            raise sub.error(
                "top",
                f"the {count} largest of {issuers} issuer(s) cannot weigh at most {cap:g} "
                f"(equal weights already give {min(count / issuers, 1):.4g})",
                "raise the cap, lower the count or add constituents",
            )
        top_rule = (count, cap)
    if single is None and top_rule is None:
        raise top.error("caps", "is empty", "set 'single' and/or 'top'")
    return Caps(single, top_rule)


def _months(top: Fields, key: str) -> tuple[int, ...]:
    months = top.sequence(key)
    for month in months:
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            raise top.error(key, f"{short_repr(month)} is not a month number 1..12", "e.g. [6, 12]")
    if len(set(months)) != len(months):
        raise top.error(key, "lists a month twice")
    return tuple(sorted(months))


def _weighting_inputs(
    top: Fields, weighting: str, symbols: list[str]
) -> tuple[int, WeightTable | None]:
    """``lookback`` and ``table`` of the basket, each allowed only for the schemes using it."""
    if top.has("lookback") and weighting not in LOOKBACK_WEIGHTINGS:
        raise top.error(
            "lookback",
            f"is not used by weighting {weighting}",
            f"only by {', '.join(LOOKBACK_WEIGHTINGS)}",
        )
    lookback = top.number("lookback", DEFAULT_LOOKBACK)
    if lookback != int(lookback) or not 2 <= lookback <= MAX_OFFSET:
        raise top.error(
            "lookback", f"{lookback:g} is not a whole number of sessions in 2..{MAX_OFFSET}"
        )
    column = TABLE_COLUMNS.get(weighting)
    if column is None:
        if top.has("table"):
            raise top.error(
                "table",
                f"is not used by weighting {weighting}",
                f"only by {', '.join(TABLE_COLUMNS)}",
            )
        return int(lookback), None
    if not top.has("table"):
        raise top.error(
            "weighting",
            f"{weighting} needs 'table': a CSV date,symbol,{column}",
            "the shared price data have no shares outstanding or market caps"
            if weighting != "file"
            else "e.g. an index factsheet's weight history",
        )
    location = Path(top.text("table") or "")
    if not location.is_absolute():
        location = Path(top.path).parent / location
    return int(lookback), read_weight_table(location, column, symbols)


def _lot(fields: Fields) -> int | None:
    lot = fields.number("lot")
    if lot is not None and (lot != int(lot) or lot < 1):
        raise fields.error("lot", f"{lot:g} is not a whole number of shares >= 1", "e.g. 100")
    return None if lot is None else int(lot)


def _costs(top: Fields) -> str | float | None:
    """``market`` (statutory costs by exchange, side and date) or a proportional fee."""
    if not top.has("costs"):
        return None
    value = top.mapping["costs"]
    if isinstance(value, str) and value.strip().lower() == "market":
        return "market"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise top.error("costs", f"{short_repr(value)} is neither 'market' nor a proportional fee")
    fee = top.number("costs")
    if not 0 <= fee < MAX_FEE:
        raise top.error(
            "costs", f"{fee:g} is not a proportional fee in [0, {MAX_FEE:g})", "0.001 = 10 bp"
        )
    return fee


def _commission(top: Fields) -> Commission | None:
    """``commission: 0.00025`` or ``commission: {rate: 0.00025, minimum: 5}``."""
    if not top.has("commission"):
        return None
    value = top.mapping["commission"]
    if isinstance(value, dict):
        sub = Fields(top.path, value, "commission", COMMISSION_KEYS, line=top.line("commission"))
        rate, minimum, key = sub.number("rate"), sub.number("minimum", 0.0), "rate"
        if rate is None:
            raise sub.error("rate", "is required", "e.g. {rate: 0.00025, minimum: 5}")
        if minimum < 0:
            raise sub.error("minimum", f"must be >= 0, got {minimum:g}")
    else:
        sub, rate, minimum, key = top, top.number("commission"), 0.0, "commission"
    if not 0 <= rate < MAX_FEE:
        raise sub.error(
            key, f"{rate:g} is not a proportional rate in [0, {MAX_FEE:g})", "0.00025 = 2.5 bp"
        )
    return Commission(rate, minimum)


def _capital(top: Fields) -> float | None:
    capital = top.number("capital")
    if capital is not None and capital <= 0:
        raise top.error(
            "capital", f"must be > 0, got {capital:g}", "in the report currency, e.g. 1000000"
        )
    return capital


def _membership(fields: Fields) -> tuple[dt.date | None, dt.date | None]:
    joins, leaves = fields.date("from"), fields.date("until")
    if joins and leaves and leaves <= joins:
        raise fields.error("until", f"{leaves} is not after from {joins}")
    return joins, leaves


def basket_from_mapping(data: Any, path: str) -> Basket:
    """Validate a parsed basket file into a :class:`Basket`."""
    if data is None:
        raise ConfigError(path, "file is empty", hint="a basket needs 'name' and 'constituents'")
    if is_study_file(data):
        raise ConfigError(
            path, "is a study file, not a basket", hint="pass it with --study, baskets as FILES"
        )
    top = Fields(path, data, "", BASKET_KEYS)
    name = top.text("name", required=True)
    weighting = top.choice("weighting", WEIGHTINGS, None)
    rebalance = top.choice("rebalance", REBALANCES, None)
    normalize = top.boolean("normalize", False)
    items = top.sequence("constituents", required=True)
    if not items:
        raise top.error("constituents", "is empty", "list at least one symbol")
    notes: list[str] = []
    rows = []
    first_line: dict[str, int | None] = {}
    for index, item in enumerate(items):
        fields = Fields(
            path, item, f"constituents[{index}]", CONSTITUENT_KEYS, line=top.line("constituents")
        )
        symbol = symbol_field(fields, "symbol", notes)
        if symbol in first_line:
            raise fields.error(
                "symbol",
                f"duplicate symbol {symbol} (first at line {first_line[symbol]})",
                "list each symbol once",
            )
        first_line[symbol] = fields.line("symbol")
        listing = listing_field(fields)
        if listing is None:
            try:
                listing_of(symbol)
            except SymbolError as error:
                raise fields.error("symbol", error.message, error.hint) from None
        weight = fields.number("weight")
        if weight is not None and weight <= 0:
            raise fields.error(
                "weight", f"must be > 0, got {weight:g}", "remove the constituent instead"
            )
        rows.append((fields, symbol, weight, listing))

    given = [weight is not None for _, _, weight, _ in rows]
    if weighting is None:
        weighting = "custom" if all(given) else "equal"
    if weighting != "custom":
        if any(given):
            fields = rows[given.index(True)][0]
            raise fields.error(
                "weight",
                f"weights are given but weighting is {weighting}",
                "set 'weighting: custom'",
            )
        # Schemes other than equal are computed by a run on each rebalance; until then the
        # constituents carry equal weights.
        weights = [1.0 / len(rows)] * len(rows)
    else:
        for fields, _, weight, _ in rows:
            if weight is None:
                raise fields.error("weight", "is required when weighting is custom")
        weights = [weight for _, _, weight, _ in rows]
        # Summed relative to the largest weight: 1e308 + 1e308 would overflow.
        largest = max(weights)
        relative = [w / largest for w in weights]
        relative_total = math.fsum(relative)
        total = largest * relative_total
        if normalize:
            weights = [r / relative_total for r in relative]
        elif abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise top.error(
                "constituents",
                f"custom weights sum to {total:.6g}, not 1",
                "fix the weights or set 'normalize: true'",
            )
    symbols = [symbol for _, symbol, _, _ in rows]
    lookback, table = _weighting_inputs(top, weighting, symbols)
    constituents = tuple(
        Constituent(
            symbol=symbol,
            weight=weight,
            name=fields.text("name", "") or "",
            reason=fields.text("reason", "") or "",
            listing=listing,
            issuer=fields.text("issuer"),
            joins=joins,
            leaves=leaves,
            lot=_lot(fields),
            st=fields.boolean("st", False),
        )
        for (fields, symbol, _, listing), weight in zip(rows, weights, strict=True)
        for joins, leaves in [_membership(fields)]
    )
    issuers = len({c.issuer or c.symbol for c in constituents})
    return Basket(
        name=name,
        constituents=constituents,
        weighting=weighting,
        rebalance=rebalance,
        description=top.text("description", "") or "",
        path=path,
        notes=tuple(notes),
        lookback=lookback,
        table=table,
        caps=_caps(top, issuers),
        reviews=_months(top, "reviews"),
        costs=_costs(top),
        commission=_commission(top),
        capital=_capital(top),
        defined=top.date("defined"),
        source=top.text("source", "") or "",
    )


def load_basket(path: str | Path) -> Basket:
    """Load and validate one basket file."""
    return basket_from_mapping(load_yaml(path), str(path))


def is_study_file(data: Any) -> bool:
    """Whether a parsed YAML file is a study rather than a basket: a mapping without
    constituents that has a study-only key."""
    study_only = set(STUDY_KEYS) - set(BASKET_KEYS)
    return isinstance(data, dict) and "constituents" not in data and bool(study_only & set(data))
