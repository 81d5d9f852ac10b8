"""The engine's errors.

Every error a user can cause or meet is one of these classes.  Each message carries the
offending values (file, line, field, symbol, date) and, where there is one, a hint on how to fix
it, so that the CLI can print it on one line without a traceback.

Two families, which the CLI maps to exit codes:

* :class:`InputError` (exit 2): the user's input is wrong (a basket file, an option, a price
  file, a date outside the data).  Running again with the same input fails the same way.
* :class:`EngineFailure` (exit 1): the input is fine but something at run time failed (Yahoo
  unreachable, results folder not writable, an interrupted run).
"""

from __future__ import annotations

from pathlib import Path

from engine.text import printable


class BasketError(Exception):
    """Base class of every error the engine raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message and its hint as one line, as the CLI prints it."""
        text = " ".join(self.message.split())
        if self.hint:
            text += f" (hint: {' '.join(self.hint.split())})"
        return printable(text)


class InputError(BasketError):
    """Something the user gave us is wrong; exit code 2."""

    exit_code = 2


class EngineFailure(BasketError):
    """A run-time failure with valid input; exit code 1."""

    exit_code = 1


def _location(path: str | Path | None, line: int | None = None, field: str | None = None) -> str:
    parts = []
    if path is not None:
        parts.append(str(path) + (f":{line}" if line else ""))
    if field:
        parts.append(f"field '{field}'")
    return ", ".join(parts)


class ConfigError(InputError):
    """A basket or study file is malformed: names the file, the line and the field."""

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.field = field
        self.line = line
        where = _location(path, line, field)
        super().__init__(f"{where}: {message}" if where else message, hint)


class OptionError(InputError):
    """A command-line option or API argument has a bad value."""

    def __init__(self, option: str, message: str, hint: str | None = None) -> None:
        self.option = option
        super().__init__(f"{option}: {message}", hint)


class SymbolError(InputError):
    """A symbol cannot be mapped to an exchange, or is malformed."""

    def __init__(self, symbol: str, message: str, hint: str | None = None) -> None:
        self.symbol = symbol
        super().__init__(f"symbol '{symbol}': {message}", hint)


class PriceFileError(InputError):
    """A price file exists but cannot be used: names the file, the row and the column."""

    def __init__(self, path: str | Path, message: str, hint: str | None = None) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}", hint)


class MissingDataError(InputError):
    """Symbols with no usable prices: every one of them is listed in one error."""

    def __init__(self, problems: dict[str, str], source: str, hint: str | None = None) -> None:
        self.problems = dict(problems)
        self.source = source
        listed = "; ".join(f"{symbol} ({why})" for symbol, why in sorted(self.problems.items()))
        count = len(self.problems)
        noun = "symbol" if count == 1 else "symbols"
        super().__init__(f"no usable prices for {count} {noun} in {source}: {listed}", hint)


class UncheckedClaims(InputError):
    """Claims the data cannot check (``basket claims``): each claim with the first reason."""

    def __init__(self, reasons: dict[str, str]) -> None:
        self.reasons = dict(reasons)
        listed = "; ".join(f"'{claim}' ({why})" for claim, why in self.reasons.items())
        count = len(self.reasons)
        super().__init__(
            f"{count} claim{'' if count == 1 else 's'} cannot be checked: {listed}",
            "add the missing prices or correct the claims; the results folder has every verdict",
        )


class DateRangeError(InputError):
    """A date or window falls outside the data or the calendar."""


class SourceUnavailable(EngineFailure):
    """A price source (Yahoo) cannot be reached or keeps failing."""


class CacheError(EngineFailure):
    """The local price cache cannot be read or written."""


class ResultsError(EngineFailure):
    """A results folder cannot be written or read."""
