"""Tables for people and for programs: terminal, CSV, JSON and Markdown renderings.

On a terminal a table is drawn with ``rich`` (aligned, percentages as percentages, negative
numbers in red) to the terminal's real width, never cutting a number: text wraps, then the table
folds (:func:`rich_table`); when standard output is not a terminal it is plain aligned text, so
that pipes and files get no escape codes.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from engine.text import printable, spreadsheet_frame

FORMATS = ("table", "csv", "json", "markdown")


def format_cell(value: Any, percent: bool, digits: int = 2) -> str:
    """One cell as text: numbers with ``digits`` decimals, percentages with one less
    (``5.1%``), NaN/None as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        text = f"{value:.{max(digits - 1, 0)}%}" if percent else f"{value:.{digits}f}"
        # A tiny negative number rounds to "-0.00": show it as zero.
        return text[1:] if text.startswith("-") and not text.strip("-0.%") else text
    return printable(value)


#: p-values below this print as ``<0.001`` in tables for people (CSV and JSON keep the number).
P_FLOOR = 0.001


def is_pvalue(column: Any) -> bool:
    """Whether a column holds p-values, by its name: ``p_...`` (``p_bmp``, ``p_rank_bh``) or a
    short header ``p ...``/``... BH``/``... Holm`` (``p KP``, ``KP BH``)."""
    name = str(column)
    return name.startswith(("p_", "p ")) or name.endswith((" BH", " Holm"))


#: Decimals of a p-value for people: with :data:`P_FLOOR`, 0.015 prints as 0.015, not 0.01.
P_DECIMALS = 3


def p_text(p: float) -> str:
    """A p-value for people (terminal, Markdown and report tables): :data:`P_DECIMALS`
    decimals, below :data:`P_FLOOR` as ``<0.001``; missing as an empty cell."""
    if isinstance(p, float) and 0 <= p < P_FLOOR:
        return f"<{P_FLOOR:g}"
    return format_cell(p, False, P_DECIMALS)


def table_cell(value: Any, column: Any, percent: Sequence[str], digits: int = 2) -> str:
    """A cell of column ``column`` for a terminal or Markdown table: :func:`format_cell`, a
    p-value (:func:`is_pvalue`) as :func:`p_text`."""
    if is_pvalue(column) and isinstance(value, float):
        return p_text(value)
    return format_cell(value, column in percent, digits)


def _numeric(values: Any) -> bool:
    """Whether every value is a number or missing (a column to right-align)."""
    return all(v is None or isinstance(v, (int, float)) for v in values)


#: Row labels longer than this are cut (with an ellipsis) in terminal tables.
LABEL_WIDTH = 20


def _label(value: Any) -> str:
    text = printable(value)
    return text if len(text) <= LABEL_WIDTH else text[: LABEL_WIDTH - 1] + "…"


def plain_table(frame: pd.DataFrame, percent: Sequence[str] = (), title: str | None = None) -> str:
    """Aligned plain text: text columns left, numbers right; row labels cut to 20 characters."""
    header = [printable(frame.index.name or "")] + [printable(c) for c in frame.columns]
    rows = [
        [_label(index)] + [table_cell(v, c, percent) for c, v in row.items()]
        for index, row in frame.iterrows()
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    out = [_title(title)] if title else []
    out += [line(header), line(["-" * w for w in widths]), *map(line, rows)]
    return "\n".join(out) + "\n"


def _title(title: str) -> str:
    """A title's lines, each free of control characters."""
    return "\n".join(printable(line) for line in title.split("\n"))


#: Text columns whose longest cell is longer than this and holds a space wrap at spaces on a
#: terminal (basket names, descriptions, lists of symbols); every other column is kept whole.
WRAP_LONGER_THAN = 16
#: Width when standard output has no size and ``COLUMNS`` is not set.
DEFAULT_WIDTH = 100


def terminal_width() -> int:
    """The terminal's width in columns: ``COLUMNS`` if set, else the size of standard output
    (:func:`shutil.get_terminal_size`), else :data:`DEFAULT_WIDTH`."""
    import shutil

    return shutil.get_terminal_size(fallback=(DEFAULT_WIDTH, 24)).columns


@dataclass(frozen=True)
class _Column:
    """A terminal column: its header, cells, the narrowest width that cuts nothing, and whether
    it wraps at spaces (text) or stays on one line (numbers, dates, windows, symbols)."""

    header: str
    cells: list[str]
    values: list[Any]
    numeric: bool
    wraps: bool

    @property
    def min_width(self) -> int:
        texts = [self.header, *self.cells]
        if self.wraps:
            return max(len(word) for text in texts for word in text.split() or [""])
        return max(len(text) for text in texts)


def _columns(frame: pd.DataFrame, percent: Sequence[str]) -> list[_Column]:
    """The row labels, then each column of ``frame``, as terminal columns."""
    labels = [printable(v) for v in frame.index]
    columns = [
        _Column(printable(frame.index.name or ""), labels, list(frame.index), False, _wraps(labels))
    ]
    for name in frame.columns:
        values = list(frame[name])
        cells = [table_cell(v, name, percent) for v in values]
        numeric = _numeric(values)
        columns.append(
            _Column(printable(name), cells, values, numeric, not numeric and _wraps(cells))
        )
    return columns


def _wraps(cells: Sequence[str]) -> bool:
    return any(len(c) > WRAP_LONGER_THAN and " " in c.strip() for c in cells)


def _table_width(columns: Sequence[_Column]) -> int:
    """Width of a rich table with the default box: one space of padding each side of every
    cell and one rule between and around the columns."""
    return sum(c.min_width + 2 for c in columns) + len(columns) + 1


def _folds(columns: list[_Column], width: int) -> list[list[_Column]]:
    """The label column with as many of the others as fit ``width``, block after block (one
    block when the whole table fits; a column wider than the terminal gets a block alone)."""
    label, rest = columns[0], columns[1:]
    blocks: list[list[_Column]] = [[label]]
    for column in rest:
        if len(blocks[-1]) > 1 and _table_width([*blocks[-1], column]) > width:
            blocks.append([label])
        blocks[-1].append(column)
    return blocks


def rich_table(
    frame: pd.DataFrame,
    percent: Sequence[str] = (),
    title: str | None = None,
    width: int | None = None,
) -> str:
    """The table drawn by ``rich`` for a terminal ``width`` columns wide (default: the real
    terminal's, :func:`terminal_width`), negative numbers in red, every cell printed as text
    (never as markup).

    Nothing is cut: numbers, dates, windows and symbols stay whole on one line; long text
    (basket names, descriptions) wraps at spaces; when the table is still too wide it is
    folded into blocks of columns, each repeating the row labels.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    width = width or terminal_width()
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=True)
    for number, block in enumerate(_folds(_columns(frame, percent), width)):
        heading = Text(_title(title)) if title and number == 0 else None
        table = Table(title=heading, title_justify="left", header_style="bold")
        for column in block:
            table.add_column(
                Text(column.header),
                justify="right" if column.numeric else "left",
                no_wrap=not column.wraps,
                overflow="fold",
                min_width=column.min_width,
            )
        for row in range(len(frame)):
            table.add_row(*(_text_cell(Text, column, row) for column in block))
        console.print(table)
    return buffer.getvalue()


def _text_cell(text_class, column: _Column, row: int):
    value = column.values[row]
    negative = column.numeric and isinstance(value, float) and value < 0
    return text_class(column.cells[row], style="red" if negative else "")


def render(
    frame: pd.DataFrame,
    fmt: str,
    *,
    records: list[dict[str, Any]] | None = None,
    percent: Sequence[str] = (),
    title: str | None = None,
    terminal: bool = False,
) -> str:
    """``frame`` in one of :data:`FORMATS`.

    ``records`` is what ``json`` prints (defaults to the frame's rows); ``terminal`` picks the
    rich rendering for ``table``.
    """
    if fmt == "csv":
        return spreadsheet_frame(frame).to_csv(float_format="%.10g")
    if fmt == "json":
        from engine.jsonable import json_ready

        rows = records if records is not None else frame.reset_index().to_dict(orient="records")
        return json.dumps(json_ready(rows), indent=2) + "\n"
    if fmt == "markdown":
        return (f"**{_title(title)}**\n\n" if title else "") + markdown_table(frame, percent)
    if terminal:
        return rich_table(frame, percent, title)
    return plain_table(frame, percent, title)


def markdown_table(frame: pd.DataFrame, percent: Sequence[str] = (), digits: int = 2) -> str:
    """A GitHub-flavoured Markdown table; columns in ``percent`` shown as percentages, numeric
    columns right-aligned (``---:``), p-values below 0.001 as ``<0.001``."""
    header = [_md(frame.index.name or "")] + [_md(c) for c in frame.columns]
    rules = ["---"] + ["---:" if _numeric(frame[c]) else "---" for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rules) + "|"]
    for index, row in frame.iterrows():
        cells = [_md(index)] + [_md(table_cell(v, c, percent, digits)) for c, v in row.items()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _md(value: Any) -> str:
    """A Markdown table cell: one line, ``|`` escaped so it cannot split the cell."""
    return printable(value).replace("|", "\\|")


PERCENT_COLUMNS = (
    "total_return",
    "annualized_return",
    "volatility",
    "max_drawdown",
    "alpha",
    "tracking_error",
    "benchmark_return",
    "excess_return",
    "local_return",
    "excess_return_local",
    "alpha_local",
    "pool_return",
    "excess_return_pool",
    "alpha_pool",
    "excess_mean_daily",
    "excess_ci_low",
    "excess_ci_high",
    "return_without_top",
    "return_worst_leave_one_out",
)


def fitted_table(frame: pd.DataFrame, title: str | None = None, width: int | None = None) -> str:
    """An already formatted text table (every cell a string) drawn by ``rich`` to fit
    ``width`` (default: the terminal's): columns of numbers never wrap nor shrink, text
    columns (the index and the first ``object`` columns whose cells are not numbers) fold
    onto more lines.  Cells are plain text, never markup."""
    import shutil

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def numeric(column: str) -> bool:
        cells = [c for c in frame[column] if c]
        return bool(cells) and all(_looks_numeric(c) for c in cells)

    table = Table(title=Text(title) if title else None, title_justify="left",
                  header_style="bold")
    table.add_column(str(frame.index.name or ""), overflow="fold", ratio=2)
    for column in frame.columns:
        if numeric(column):
            table.add_column(str(column), justify="right", no_wrap=True,
                             min_width=max(len(str(column)), *(len(c) for c in frame[column])))
        else:
            table.add_column(str(column), overflow="fold", ratio=2)
    for index, row in frame.iterrows():
        table.add_row(Text(printable(index)), *(Text(printable(c)) for c in row))
    buffer = io.StringIO()
    columns = width or shutil.get_terminal_size((100, 24)).columns
    Console(file=buffer, width=columns, force_terminal=True).print(table)
    return buffer.getvalue()


def _looks_numeric(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True
