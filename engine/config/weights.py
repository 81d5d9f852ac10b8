"""How a basket's weights are set: the weighting schemes (:data:`WEIGHTINGS`; those measured
over ``lookback`` sessions and those read from a ``table`` CSV), the rebalancing schedules
(:data:`REBALANCES`, a basket's own or its study's default), the tolerance of a sum of weights,
and the point-in-time tables of the ``file``, ``market_cap`` and ``shares`` schemes
(:class:`WeightTable`, :func:`read_weight_table`, every error naming the file and line).

May use ``config.fields`` and the ground floor.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.config.fields import parse_date, short_repr
from engine.errors import ConfigError, SymbolError
from engine.files import UnreadableFile, read_bounded
from engine.symbols import normalize_symbol

WEIGHTINGS = ("equal", "custom", "inverse_vol", "liquidity", "file", "market_cap", "shares")
#: The column a weighting's ``table`` CSV holds next to ``date`` and ``symbol``.
TABLE_COLUMNS = {"file": "weight", "market_cap": "market_cap", "shares": "shares"}
#: Weightings measured over ``lookback`` sessions before each rebalance.
LOOKBACK_WEIGHTINGS = ("inverse_vol", "liquidity")
DEFAULT_LOOKBACK = 60
REBALANCES = ("none", "monthly", "quarterly")
WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class WeightTable:
    """A point-in-time table of one value per symbol and date (``weight``, ``market_cap`` or
    ``shares``), read from the basket's ``table`` CSV; ``rows`` are ``(date, symbol, value)``
    in file order."""

    path: str
    column: str
    rows: tuple[tuple[dt.date, str, float], ...]


#: The largest weight or market-cap table read (daily rows of a hundred stocks over twenty
#: years take about 15 MB).
MAX_TABLE_BYTES = 100_000_000


def read_weight_table(path: Path, column: str, symbols: Iterable[str]) -> WeightTable:
    """A ``date,symbol,<column>`` CSV of point-in-time values of the basket's ``symbols``;
    every error names the file and line."""
    known = set(symbols)
    shown = str(path)
    try:  # bounded: a FIFO, a device or a huge file is refused before reading
        text = read_bounded(path, MAX_TABLE_BYTES).decode("utf-8-sig")
    except UnreadableFile as error:
        if error.reason == "file not found":
            raise ConfigError(
                shown, "table file not found", hint="a path relative to the basket file"
            ) from None
        raise ConfigError(shown, error.reason) from None
    except UnicodeDecodeError:
        raise ConfigError(shown, "is not UTF-8 text", hint="save it as a UTF-8 CSV file") from None
    reader = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(reader, [])]
    wanted = ["date", "symbol", column]
    if sorted(header) != sorted(wanted):
        raise ConfigError(
            shown,
            f"header is {short_repr(','.join(header)) if header else 'empty'}",
            line=1,
            hint=f"expected {','.join(wanted)}",
        )
    at = {name: header.index(name) for name in wanted}
    rows = []
    seen: dict[tuple[dt.date, str], int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise ConfigError(shown, f"{len(cells)} cells, expected {len(header)}", line=line)

        def bad(message: str, name: str, line: int = line) -> ConfigError:
            return ConfigError(shown, message, line=line, field=name)

        date = parse_date(cells[at["date"]], lambda message: bad(message, "date"))
        try:
            symbol, _ = normalize_symbol(cells[at["symbol"]])
        except SymbolError as error:
            raise bad(error.message, "symbol") from None
        if symbol not in known:
            raise bad(
                f"{symbol} is not a constituent of the basket",
                "symbol",
            )
        try:
            value = float(cells[at[column]])
        except ValueError:
            raise bad(f"{short_repr(cells[at[column]])} is not a number", column) from None
        if not math.isfinite(value) or value < 0 or (value == 0 and column != "weight"):
            raise bad(
                f"{value:g} must be a finite number > 0"
                + (" (or 0)" if column == "weight" else ""),
                column,
            )
        if (date, symbol) in seen:  # which of the two would win is nowhere written
            raise bad(
                f"{symbol} on {date} is also on line {seen[date, symbol]}", "symbol"
            )
        seen[date, symbol] = line
        rows.append((date, symbol, value))
    if not rows:
        raise ConfigError(
            shown, "table has no rows", hint=f"one line per date and symbol: {','.join(wanted)}"
        )
    return WeightTable(shown, column, tuple(rows))
