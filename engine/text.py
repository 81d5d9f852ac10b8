"""Text from files, neutralised before it reaches a spreadsheet or a terminal.

Basket, symbol and event names come from shared files, so they may hold anything:

* :func:`spreadsheet_cell` escapes a CSV cell that a spreadsheet would evaluate as a formula
  (OWASP "CSV injection": a text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return) by prefixing an apostrophe, which spreadsheets hide and which marks the cell as text.
  A text that already starts with an apostrophe gets one more, so :func:`unescape_cell` gives
  every cell back exactly.  Numbers (``-0.5``, ``+3``, ``-inf``) are left alone.
* :func:`printable` replaces control characters (escape sequences, bell, backspace, bidi
  overrides) by visible ``\\xNN`` / ``\\uNNNN`` escapes, so a name cannot retitle, clear or
  rewrite a terminal.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where frames are handled: errors use this module too
    import pandas as pd

#: First characters that make a spreadsheet evaluate a cell, plus the escape mark itself.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")

#: C0 and C1 control characters, DEL, and the bidirectional overrides and isolates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spreadsheet_cell(value: Any) -> Any:
    """``value`` made safe for a CSV cell: text a spreadsheet would evaluate gets a leading
    apostrophe; anything that is not text, or is a number written as text, is unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


def unescape_cell(value: Any) -> Any:
    """The cell :func:`spreadsheet_cell` was given (reading back a CSV basket wrote)."""
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def _is_text(values: pd.Index | pd.Series) -> bool:
    import pandas as pd

    return values.dtype == object or pd.api.types.is_string_dtype(values)


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels are all
    :func:`spreadsheet_cell`-safe, ready for ``to_csv``."""
    return _map_text(frame, spreadsheet_cell)


def unescape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` read from a CSV basket wrote, with every cell and label as it was given."""
    return _map_text(frame, unescape_cell)


def _map_text(frame: pd.DataFrame, cell: Any) -> pd.DataFrame:
    """A copy of ``frame`` with ``cell`` applied to every text cell, column name and index
    label (a MultiIndex is left alone: basket never writes one)."""
    import pandas as pd

    mapped = frame.copy()
    for position in range(mapped.shape[1]):
        values = mapped.iloc[:, position]
        if _is_text(values):
            mapped.isetitem(position, values.map(cell))
    for axis in ("columns", "index"):
        labels = getattr(mapped, axis)
        if _is_text(labels) and not isinstance(labels, pd.MultiIndex):
            setattr(mapped, axis, pd.Index([cell(v) for v in labels], name=cell(labels.name)))
    return mapped


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: Any) -> str:
    """``str(text)`` with every control character shown as an escape (``\\x1b``), a newline
    included: one name, one line."""
    return _CONTROL.sub(_escape, str(text))
