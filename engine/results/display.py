"""Tables for people and for programs: terminal, CSV, JSON and Markdown renderings.

On a terminal a table is drawn with ``rich`` (aligned, percentages as percentages, negative
numbers in red); when standard output is not a terminal it is plain aligned text, so that pipes
and files get no escape codes.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
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


#: Row labels longer than this are cut (with an ellipsis) in terminal tables.
LABEL_WIDTH = 20


def _label(value: Any) -> str:
    text = printable(value)
    return text if len(text) <= LABEL_WIDTH else text[: LABEL_WIDTH - 1] + "…"


def plain_table(frame: pd.DataFrame, percent: Sequence[str] = (), title: str | None = None) -> str:
    """Aligned plain text: text columns left, numbers right; row labels cut to 20 characters."""
    header = [printable(frame.index.name or "")] + [printable(c) for c in frame.columns]
    rows = [
        [_label(index)] + [format_cell(v, c in percent) for c, v in row.items()]
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


def rich_table(frame: pd.DataFrame, percent: Sequence[str] = (), title: str | None = None) -> str:
    """The table drawn by ``rich`` for a terminal, negative numbers in red.  Every name is a
    ``Text``, never markup: ``[/red]`` or ``[link=...]`` in a basket name is printed as is."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(_title(title)) if title else None, title_justify="left",
                  header_style="bold")
    table.add_column(Text(printable(frame.index.name or "")), no_wrap=True, max_width=LABEL_WIDTH)
    for column in frame.columns:
        table.add_column(Text(printable(column)), justify="right", no_wrap=True)
    for index, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            negative = isinstance(value, float) and value < 0
            cells.append(Text(format_cell(value, column in percent), "red" if negative else ""))
        table.add_row(Text(printable(index)), *cells)
    buffer = io.StringIO()
    Console(file=buffer, width=100, force_terminal=True).print(table)
    return buffer.getvalue()


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
    """A GitHub-flavoured Markdown table; columns in ``percent`` shown as percentages."""
    header = [_md(frame.index.name or "")] + [_md(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, row in frame.iterrows():
        cells = [_md(index)] + [_md(format_cell(v, c in percent, digits)) for c, v in row.items()]
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
    "excess_mean_daily",
    "excess_ci_low",
    "excess_ci_high",
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
