"""Bad inputs and faults, one row each, through the ``basket`` command.

Every row starts from a small valid project (two stocks and ^IXIC on real NASDAQ sessions, one
basket, one study), changes one thing (a basket or study file, a price file, or the command
line), runs ``basket run`` (or ``basket event``, ``sweep``, ``claims``) and checks the exit code
and that the one-line message on stderr holds the fragment: the file, field, symbol or date at
fault.  A row may instead give a whole command line (:func:`command`: ``validate``, ``data
import|export|status|fetch``, ``report``, ``runs``, ``compare`` ...), files to plant in the
project (a FIFO or a folder too), commands to run first (an import, a run) and environment
variables.  No row may end in a traceback or an "internal error", and none may change what the
results folder holds.

What a row cannot express (a signal at a random moment, a symlink planted mid-run, ``/dev/full``,
two processes at once, files basket writes that must stay harmless) is a standalone test, listed
by name at the end of ``tests/ERRORS.md`` (:data:`STANDALONE`), so that file is the one index of
bad inputs.

``tests/ERRORS.md`` shows the same table with the full messages as printed; regenerate it with
``python tests/test_errors.py`` after changing the table (a test checks the two list the same
ids, exit codes and fragments).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import sessions

HERE = Path(__file__).resolve().parent
ERRORS_MD = HERE / "ERRORS.md"
DAYS = sessions("XNAS", "2024-01-02", "2025-03-31")
BASKET = "name: B\nconstituents:\n  - symbol: AAA\n  - symbol: BBB\n"
STUDY = "name: S\nbenchmark: ^IXIC\nstart: 2025-01-02\nend: 2025-03-31\n"
GOOD_ROWS = "\n".join(f"{d},{10 + i / 10:.2f}" for i, d in enumerate(DAYS[-5:]))


@dataclass(frozen=True)
class Input:
    """What a row changes in the valid project; ``{tmp}`` in args is the project folder."""

    basket: str | bytes | None = None
    study: str | None = None
    price: tuple[str, str | bytes] | None = None
    args: tuple[str, ...] = ()
    command: str = "run"
    claims: str | None = None
    #: A whole command line replacing ``command`` and its default arguments.
    argv: tuple[str, ...] | None = None
    #: Files planted (after ``before``) as (path under the project, content): text, bytes,
    #: :data:`FIFO`, :data:`FOLDER` or :data:`REMOVED`; ``results/*/`` in the path is the one run
    #: folder there.
    files: tuple[tuple[str, str | bytes], ...] = ()
    #: Command lines run first; each must succeed.
    before: tuple[tuple[str, ...], ...] = ()
    #: Environment variables of every command of the row.
    env: tuple[tuple[str, str], ...] = ()
    #: The command reports each bad file on a ``FAIL`` line (``validate``), not on one
    #: ``Error:`` line.
    fail_lines: bool = False

    def describe(self) -> str:
        if self.argv is not None:
            planted = "".join(
                f" with {name} `{_shown(text)}`" for name, text in self.files
            )
            first = "".join(f" after `basket {' '.join(line)}`" for line in self.before)
            env = "".join(f"`{key}={value}` " for key, value in self.env)
            return f"{env}`basket {' '.join(self.argv)}`{planted}{first}"
        if self.claims is not None:
            return f"claim `{_shown(self.claims.removeprefix(CLAIMS_HEAD))}`"
        if self.basket is not None:
            return f"basket file `{_shown(self.basket)}`"
        if self.study is not None:
            return f"study file `{_shown(self.study)}`"
        if self.price is not None:
            return f"price file {self.price[0]}.csv `{_shown(self.price[1])}`"
        return f"`basket {self.command} ... {' '.join(self.args)}`"


def _shown(text: str | bytes) -> str:
    shown = text.decode("latin-1") if isinstance(text, bytes) else text
    shown = shown.replace("\n", "⏎").replace("\x00", "\\x00").replace("|", "\\|")
    return shown if len(shown) <= 70 else shown[:67] + "..."


def basket(text: str | bytes) -> Input:
    return Input(basket=text)


def study(text: str) -> Input:
    return Input(study=text)


def price(symbol: str, text: str | bytes) -> Input:
    return Input(price=(symbol, text))


def run_args(*args: str) -> Input:
    return Input(args=args)


def event_args(*args: str) -> Input:
    return Input(args=("--market", "^IXIC", *args), command="event")


def universe(text: str) -> Input:
    """A long-format universe file ``U.csv`` (beside the CSV price files) used as --prices."""
    return Input(price=("U", text), args=("--prices", "{tmp}/prices/U.csv"))


def sweep_args(*args: str) -> Input:
    return Input(args=args, command="sweep")


def sweep_on_universe(*args: str) -> Input:
    """``basket sweep`` with ``args`` on a one-bar universe file ``U.csv`` (the options are
    checked before any draw)."""
    return Input(price=("U", "symbol,date,close\nAAA,2025-01-02,1\n"),
                 args=("--universe", "{tmp}/prices/U.csv", *args), command="sweep")


#: Contents of :attr:`Input.files` that make a FIFO or a folder instead of a file.
FIFO, FOLDER = "<a FIFO>", "<a folder>"
#: Contents of :attr:`Input.files` that remove the file instead.
REMOVED = "<removed>"


def command(*argv: str, files: dict[str, str | bytes] | None = None,
            before: tuple[tuple[str, ...], ...] = (), env: dict[str, str] | None = None) -> Input:
    """A whole command line (``{tmp}`` is the project folder) with files planted first."""
    return Input(argv=argv, files=tuple((files or {}).items()), before=before,
                 env=tuple((env or {}).items()))


def validate(*paths: str, files: dict[str, str | bytes] | None = None) -> Input:
    """``basket validate PATHS``: it prints one FAIL line per bad file on stderr."""
    return Input(argv=("validate", *paths), files=tuple((files or {}).items()), fail_lines=True)


def claims(body: str) -> Input:
    """A claims file (``basket claims c.yaml``) with ``body`` as its list of claims."""
    return Input(claims=CLAIMS_HEAD + body, command="claims")


CLAIMS_HEAD = "source: {title: R, published: 2025-03-31}\nclaims:\n"


def row(case_id: str, exit_code: int, given: Input, fragment: str):
    return pytest.param(given, fragment, exit_code, id=case_id)


PYTHON = "!!python/object/apply:os.system ['touch pwned']"
#: "Billion laughs": nine levels of nine aliases, 440 bytes that expand to 9**9 strings.
LAUGHS = "name: B\nconstituents:\n  - symbol: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
LAUGHS += "".join(f"  - symbol: &{q} [{', '.join(['*' + p] * 9)}]\n"
                  for p, q in zip("abcdefgh", "bcdefghi", strict=True))
#: The same bomb as a mapping (a study, a run folder's config.yaml).
LAUGHS_MAP = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{q}: &{q} [{', '.join(['*' + p] * 9)}]\n" for p, q in zip("abcdefgh", "bcdefghi", strict=True)
)
RUN = ("run", "{tmp}/b.yaml", "--study", "{tmp}/study.yaml", "--prices", "{tmp}/prices",
       "--out", "{tmp}/results")
IMPORT = ("data", "import", "{tmp}/prices")
SWEEP = ("sweep", "{tmp}/b.yaml", "--study", "{tmp}/study.yaml", "--prices", "{tmp}/prices",
         "--universe", "{tmp}/universe.csv", "--random", "5", "--no-events", "--out",
         "{tmp}/results")
REPORT_LATEST = ("report", "latest", "--out", "{tmp}/results")
#: A sweep folder's summary with a number column holding text.
SWEEP_SUMMARY_TEXT = ("basket,grid,statistic,value,random_mean,random_p05,random_p50,random_p95,"
                      "percentile,p_value,n_random,matched_on,seed\n"
                      "B,,total_return,high,0,0,0,0,50,0.5,5,market,0\n")
ONE_BAR = "date,close\n2025-01-02,1\n"
OFFLINE_RUN = ("run", "{tmp}/b.yaml", "--study", "{tmp}/study.yaml", "--offline", "--out",
               "{tmp}/results")
#: A bar stamped with a UTC offset, for a symbol whose exchange basket does not know.
OFFSET_BAR = f"date,close\n{DAYS[-3]}T00:00:00+09:00,1\n"
NO_ZONE = (": row 2: date '2025-03-27T00:00:00+09:00' has a UTC offset, but the time zone of "
           "1234.XX's exchange is unknown")
HOLDING_1234 = BASKET.replace("BBB", "1234.XX\n    exchange: XNAS\n    currency: USD")
W = "name: B\nconstituents:\n  - symbol: AAA\n    weight: {}\n  - symbol: BBB\n    weight: {}\n"
S = "name: S\nbenchmark: ^IXIC\nstart: {}\nend: {}\n"

# fmt: off
CASES = [
    # id                        exit  input (what changes in the valid project)
    #     expected fragment of the one-line message on stderr
    # -- basket and study files (YAML) --------------------------------------------------------
    row("empty-file",               2, basket(""),
        "b.yaml: file is empty"),
    row("not-yaml",                 2, basket("name: [B\nconstituents: []\n"),
        "b.yaml:2: not valid YAML: expected ',' or ']'"),
    row("not-a-mapping",            2, basket("- AAA\n- BBB\n"),
        "b.yaml: expected a mapping of keys, got a list"),
    row("duplicate-key",            2, basket("name: B\nname: C\n" + BASKET[8:]),
        "b.yaml:2: duplicate key 'name' (first on line 1)"),
    row("unknown-key",              2, basket(BASKET.replace("constituents", "constituens")),
        "field 'constituens': unknown key 'constituens' (hint: did you mean 'constituents'?)"),
    row("wrong-type-list",          2, basket("name: B\nconstituents: AAA\n"),
        "b.yaml:2, field 'constituents': must be a list, got text"),
    row("wrong-type-text",          2, basket(BASKET.replace("name: B", "name: [B]")),
        "b.yaml:1, field 'name': must be text, got a list"),
    row("wrong-type-number",        2, basket(W.format("half", 0.5)),
        "b.yaml:4, field 'constituents[0].weight': must be a number, got text 'half'"),
    row("wrong-type-item",          2, basket("name: B\nconstituents:\n  - AAA\n"),
        "b.yaml:2, field 'constituents[0]': expected a mapping of keys, got text"),
    row("bad-tagged-value",         2, basket(BASKET.replace("name: B", "name: !!int B")),
        "b.yaml:1, field 'name': 'B' is not a valid int"),
    row("unknown-weighting",        2, basket("weighting: equall\n" + BASKET),
        "field 'weighting': 'equall' is not one of equal, custom, inverse_vol, liquidity, file, "
        "market_cap, shares (hint: did you mean 'equal'?)"),
    row("market-cap-without-table", 2, basket("weighting: market_cap\n" + BASKET),
        "b.yaml:1, field 'weighting': market_cap needs 'table': a CSV date,symbol,market_cap "
        "(hint: the shared price data have no shares outstanding or market caps)"),
    row("weight-table-missing",     2, basket("weighting: file\ntable: w.csv\n" + BASKET),
        "w.csv: table file not found (hint: a path relative to the basket file)"),
    row("weight-table-is-a-fifo",   2, basket("weighting: file\ntable: fifo.yaml\n" + BASKET),
        "fifo.yaml: is a FIFO (named pipe), not a file"),
    row("weight-table-is-a-device", 2, basket("weighting: file\ntable: /dev/zero\n" + BASKET),
        "/dev/zero: is a device, not a file"),
    row("weight-table-row-twice",   2, Input(
        basket="weighting: file\ntable: w.csv\n" + BASKET,
        files=(("w.csv", "date,symbol,weight\n2025-01-02,AAA,0.5\n2025-01-02,BBB,0.5\n"
                         "2025-01-02,AAA,0.4\n"),)),
        "w.csv:4, field 'symbol': AAA on 2025-01-02 is also on line 2"),
    row("weight-table-not-a-table", 2, Input(
        basket="weighting: file\ntable: w.csv\n" + BASKET,
        files=(("w.csv", "root:x:0:0:" + "secret" * 50 + "\n"),)),
        "w.csv:1: header is 'root:x:0:0:secretsecretsecretsecretsecretsecretsecretsec... (hint"),
    row("lookback-too-long",        2, basket("weighting: inverse_vol\nlookback: 400\n" + BASKET),
        "AAA (inverse_vol weighting needs 401 bars before 2025-01-02, the data have 252)"),
    row("cap-infeasible",           2, basket("caps: {single: 0.4}\n" + BASKET),
        "field 'caps.single': a cap of 0.4 cannot hold 2 issuer(s) (they weigh at most 0.8)"),
    row("cap-unknown-key",          2, basket("caps: {singel: 0.4}\n" + BASKET),
        "field 'caps.singel': unknown key 'singel' (hint: did you mean 'single'?)"),
    row("top-cap-infeasible",       2, basket("caps: {top: [1, 0.4]}\n" + BASKET),
        "field 'caps.top': the 1 largest of 2 issuer(s) cannot weigh at most 0.4"),
    row("review-month-13",          2, basket("reviews: [13]\n" + BASKET),
        "field 'reviews': 13 is not a month number 1..12 (hint: e.g. [6, 12])"),
    row("until-before-from",        2,
        basket(BASKET + "    from: 2025-02-01\n    until: 2025-01-01\n"),
        "field 'constituents[1].until': 2025-01-01 is not after from 2025-02-01"),
    row("costs-not-market",         2, basket("costs: markets\n" + BASKET),
        "field 'costs': 'markets' is neither 'market' nor a proportional fee"),
    row("commission-without-rate",  2, basket("commission: {minimum: 5}\n" + BASKET),
        "field 'commission.rate': is required (hint: e.g. {rate: 0.00025, minimum: 5})"),
    row("capital-negative",         2, basket("capital: -1000\n" + BASKET),
        "field 'capital': must be > 0, got -1000"),
    row("lot-not-whole",            2, basket(BASKET + "    lot: 2.5\n"),
        "field 'constituents[1].lot': 2.5 is not a whole number of shares >= 1"),
    row("capital-option-negative",  2, run_args("--capital", "-5"),
        "--capital: -5 is not a positive amount"),
    row("no-member-at-purchase",    2,
        basket(BASKET.replace("AAA", "AAA\n    from: 2025-02-01") + "    from: 2025-02-01\n"),
        "basket 'B' has no member on 2025-01-02 (hint: check the constituents' from/until dates)"),
    row("unknown-rebalancing",      2, basket("rebalance: weekly\n" + BASKET),
        "field 'rebalance': 'weekly' is not one of none, monthly, quarterly"),
    row("negative-weight",          2, basket(W.format(-0.5, 1.5)),
        "b.yaml:4, field 'constituents[0].weight': must be > 0, got -0.5"),
    row("nan-weight",               2, basket(W.format(".nan", 1)),
        "b.yaml:4, field 'constituents[0].weight': must be a finite number, got nan"),
    row("weights-sum-not-1",        2, basket(W.format(0.5, 0.4)),
        "field 'constituents': custom weights sum to 0.9, not 1"),
    row("duplicate-symbol",         2, basket(BASKET.replace("BBB", "aaa")),
        "b.yaml:4, field 'constituents[1].symbol': duplicate symbol AAA (first at line 3)"),
    row("symbol-with-space",        2, basket(BASKET.replace("BBB", "BB B")),
        "field 'constituents[1].symbol': symbol 'BB B': contains spaces"),
    row("symbol-unknown-suffix",    2, basket(BASKET.replace("BBB", "1234.XX")),
        "symbol '1234.XX': has no known exchange"),
    row("symbol-is-a-number",       2, basket(BASKET.replace("BBB", "700")),
        "symbol '700': must be text, got the int 700 (hint: YAML reads unquoted digits"),
    row("defined-not-a-date",       2, basket("defined: February 2025\n" + BASKET),
        "b.yaml:1, field 'defined': 'February 2025' is not an ISO date (YYYY-MM-DD)"),
    row("python-object-refused",    2, basket(f"{PYTHON}\n"),
        "b.yaml:1: tag not allowed"),
    row("python-object-in-value",   2, basket(f"name: {PYTHON}\n"),
        "b.yaml:1: tag not allowed"),
    row("control-character",        2, basket("name: B\x00\n"),
        "b.yaml:1: not valid YAML: character #x0000 is not allowed"),
    row("not-utf8",                 2, basket("name: Bé\n".encode("latin-1")),
        "b.yaml: is not UTF-8 text"),
    row("yaml-alias-bomb",          2, basket(LAUGHS),
        "b.yaml:8: the YAML expands to more than 200,000 values or 4,000,000 characters"),
    row("yaml-alias-loop",          2, basket("name: &n [*n]\nconstituents: [{symbol: AAA}]\n"),
        "b.yaml:1: an alias refers to the value that contains it"),
    row("yaml-value-too-long",      2, basket(BASKET.replace("name: B", "name: " + "B" * 20_000)),
        "b.yaml:1: a value of 20,000 characters is longer than the limit of 10,000"),
    row("yaml-file-too-large",      2, basket(BASKET + "# padding\n" * 110_000),
        "b.yaml: is larger than the limit of 1 MB"),
    row("symbol-yaml-word-on",      2, basket(BASKET.replace("BBB", "ON")),
        "must be text, got the bool True (hint: YAML reads the unquoted word ON as true: "
        "quote it, e.g. symbol: 'ON')"),
    row("symbol-yaml-word-null",    2, basket(BASKET.replace("BBB", "NULL")),
        "field 'constituents[1].symbol': is required (hint: YAML reads the unquoted word NULL "
        "as nothing"),
    row("name-yaml-word-yes",       2, basket(BASKET.replace("name: B", "name: YES")),
        "field 'name': must be text, got a boolean (hint: YAML reads the unquoted word YES"),
    row("study-is-a-fifo",          2, run_args("--study", "{tmp}/fifo.yaml"),
        "fifo.yaml: is a FIFO (named pipe), not a file"),
    row("study-is-a-device",        2, run_args("--study", "/dev/zero"),
        "/dev/zero: is a device, not a file"),
    row("study-as-basket",          2, basket(STUDY),
        "b.yaml: is a study file, not a basket"),
    row("date-not-iso-yaml",        2, study(S.format("2025/01/02", "2025-03-31")),
        "study.yaml:3, field 'start': '2025/01/02' is not an ISO date (YYYY-MM-DD)"),
    row("date-impossible-yaml",     2, study(S.format("2025-02-30", "2025-03-31")),
        "study.yaml:3, field 'start': '2025-02-30' is not a valid date"),
    row("date-out-of-range",        2, study(S.format("0001-01-01", "2025-03-31")),
        "study.yaml:3, field 'start': 0001-01-01 is outside the dates the engine handles"),
    row("start-before-calendars",   2, study(S.format("1999-12-31", "2025-03-31")),
        "study.yaml:3, field 'start': 1999-12-31 is before 2000-01-01, the earliest date the "
        "exchange calendars cover (hint: give a date on or after 2000-01-01)"),
    row("start-after-end-yaml",     2, study(S.format("2025-03-03", "2025-02-03")),
        "study.yaml:4, field 'end': 2025-02-03 is before start 2025-03-03"),
    row("benchmark-and-benchmarks", 2, study(STUDY + "benchmarks: [^IXIC, QQQ]\n"),
        "study.yaml:5, field 'benchmarks': is given together with 'benchmark'"),
    row("benchmarks-twice",         2,
        study(STUDY.replace("benchmark: ^IXIC", "benchmarks: [^IXIC, ^ixic]")),
        "study.yaml:2, field 'benchmarks[1]': ^IXIC is listed twice"),
    row("benchmarks-no-data",       2,
        study(STUDY.replace("benchmark: ^IXIC", "benchmarks: [^IXIC, QQQ]")),
        "no usable prices for 1 symbol in CSV folder {tmp}/prices: QQQ (no file QQQ.csv)"),
    row("benchmarks-empty",         2, study(STUDY.replace("benchmark: ^IXIC", "benchmarks: []")),
        "study.yaml:2, field 'benchmarks': is empty"),
    row("study-file-missing",       2, run_args("--study", "{tmp}/nope.yaml"),
        "nope.yaml: file not found"),
    # -- command line ---------------------------------------------------------------------------
    row("start-after-end-cli",      2, run_args("--start", "2025-03-03", "--end", "2025-02-03"),
        "--start: 2025-03-03 is after the end 2025-02-03"),
    row("start-before-calendars-cli", 2, run_args("--start", "1995-06-30"),
        "--start: 1995-06-30 is before 2000-01-01, the earliest date the exchange calendars "
        "cover (hint: give a date on or after 2000-01-01)"),
    row("date-not-iso-cli",         2, run_args("--start", "2025/01/02"),
        "Invalid value for '--start': '2025/01/02' is not an ISO date (YYYY-MM-DD)"),
    row("date-not-iso-event-cli",   2, event_args("--event", "20250106"),
        "Invalid value for '--event': '20250106' is not an ISO date (YYYY-MM-DD)"),
    row("no-session-in-period",     2, run_args("--start", "2025-01-04", "--end", "2025-01-05"),
        "no trading session between 2025-01-04 and 2025-01-05"),
    row("fees-out-of-range",        2, run_args("--fees", "0.5"),
        "--fees: 0.5 is not in [0, 0.1)"),
    row("currency-unknown",         2, run_args("--currency", "XYZ"),
        "--currency: no FX series known for XYZ"),
    row("benchmark-malformed",      2, run_args("--benchmark", "A A"),
        "--benchmark: symbol 'A A': contains spaces"),
    row("window-reversed",          2, event_args("--event", "2025-01-06", "--window", "5:1"),
        "--window: 5:1 ends before it starts"),
    row("window-too-far",           2, event_args("--event", "2025-01-06", "--estimation=-9999:-3"),
        "--estimation: -9999:-3 reaches more than 5000 sessions from day 0"),
    row("event-twice-cli",          2, event_args("--event", "2025-01-06", "--event",
                                                  "2025-01-06"),
        "--event: 2025-01-06 is given twice"),
    row("window-twice-cli",         2, event_args("--event", "2025-01-06", "--window", "0:5",
                                                  "--window", "0:5"),
        "--window: 0:5 is given twice"),
    row("event-twice-yaml",         2, study(STUDY + "events:\n  - {date: 2025-01-20, name: R1}\n"
                                             "  - {date: 2025-01-20, name: R1 again}\n"),
        "field 'events[1].date': 2025-01-20 is also events[0]"),
    row("window-twice-yaml",        2, study(STUDY + "events: [{date: 2025-01-20}]\n"
                                             "event_study: {windows: [[0, 5], [-1, 1], [0, 5]]}\n"),
        "window [0, 5] is given twice"),
    # -- dates against the data -------------------------------------------------------------------
    row("event-outside-data",       2, event_args("--event", "2025-06-02"),
        "event 2025-06-02 is after the last price or before the first of ^IXIC (2024-01-02.."),
    row("window-longer-than-data",  2, event_args("--event", "2025-03-03", "--window", "0:60"),
        "event 2025-03-03: the windows [0, 60] run past the price data of AAA (last price"),
    row("end-beyond-calendar",      2, run_args("--end", "2030-12-31"),
        "AAA (last bar 2025-03-31 is before the end 2030-12-31 (the XNAS calendar knows "
        "sessions up to 20"),
    row("benchmark-no-data",        2, price("^IXIC", "date,close\n2024-01-02,1\n2024-06-28,2\n"),
        "^IXIC (no bar in the 31 days up to the start 2025-01-02 (last before it 2024-06-28))"),
    row("symbol-without-data",      2, basket(BASKET.replace("BBB", "ZZZ")),
        "ZZZ (no file ZZZ.csv)"),
    # -- price files -----------------------------------------------------------------------------
    row("price-missing-column",     2, price("AAA", "date,open\n2025-01-02,1\n"),
        "AAA.csv: missing column(s) close; found date, open"),
    row("price-unparsable-date",    2, price("AAA", "date,close\n2025-01-02,1\n2025-13-03,2\n"),
        "AAA.csv: row 3: date '2025-13-03' is not an ISO date (YYYY-MM-DD)"),
    row("price-unsorted-dates",     2, price("AAA", "date,close\n2025-01-03,1\n2025-01-02,2\n"),
        "AAA.csv: dates are not ascending: 2025-01-02 follows 2025-01-03"),
    row("price-duplicate-dates",    2, price("AAA", "date,close\n2025-01-02,1\n2025-01-02,2\n"),
        "AAA.csv: date 2025-01-02 appears more than once"),
    row("price-not-a-number",       2, price("AAA", "date,close\n2025-01-02,abc\n"),
        "AAA.csv: row 2: close 'abc' is not a number"),
    row("price-negative",           2, price("AAA", "date,close\n2025-01-02,-1\n"),
        "AAA.csv: row 2: close on 2025-01-02 is -1, not > 0"),
    row("price-infinite",           2, price("AAA", f"date,close\n{GOOD_ROWS}\n2025-04-01,inf\n"),
        "AAA.csv: row 7: close on 2025-04-01 is inf, not a finite number"),
    row("price-below-range",        2, price("AAA", f"date,close\n{GOOD_ROWS}\n2025-04-01,1e-13\n"),
        "AAA.csv: row 7: close on 2025-04-01 is 1e-13, outside the prices basket accepts "
        "(1e-08..1e+12)"),
    row("price-above-range",        2, price("AAA", "date,close\n"
                                             + GOOD_ROWS.replace(",10.20", ",1e300")),
        "AAA.csv: row 4: close on 2025-03-27 is 1e+300, outside the prices basket accepts"),
    row("weights-sum-overflows",    2, basket("name: B\nconstituents:\n"
                                              "  - {symbol: AAA, weight: 1e308}\n"
                                              "  - {symbol: BBB, weight: 1e308}\n"),
        "b.yaml:2, field 'constituents': custom weights sum to inf, not 1"),
    row("price-empty-file",         2, price("AAA", ""),
        "AAA.csv: file is empty"),
    row("price-not-utf8",           2, price("AAA", "date,close,né\n".encode("latin-1")),
        "AAA.csv: is not UTF-8 text"),
    row("price-row-too-long",       2, price("AAA", "date,close\n2025-01-02,1,5\n"),
        "AAA.csv: a row has more fields than the header"),
    row("price-column-twice",       2, price("AAA", "date,Close,close\n2025-01-02,1,2\n"),
        "AAA.csv: column close appears more than once in the header"),
    row("price-file-is-a-folder",   2, Input(basket=BASKET.replace("BBB", "AMD"),
                                             files=(("prices/AMD.csv", FOLDER),)),
        "prices/AMD.csv: is a folder, not a file"),
    row("price-file-is-a-fifo",     2, Input(basket=BASKET.replace("BBB", "AMD"),
                                             files=(("prices/AMD.csv", FIFO),)),
        "prices/AMD.csv: is a FIFO (named pipe), not a file"),
    row("price-file-too-large",     2, Input(env=(("BASKET_MAX_PRICE_FILE_MB", "0.00002"),)),
        "prices/AAA.csv: is larger than the limit of 20 bytes (hint: raise "
        "$BASKET_MAX_PRICE_FILE_MB (in MB) if the file is right)"),
    row("price-file-limit-not-a-number", 2, Input(env=(("BASKET_MAX_PRICE_FILE_MB", "lots"),)),
        "$BASKET_MAX_PRICE_FILE_MB: 'lots' is not a positive number of MB"),
    # -- universe files (--prices FILE, --universe FILE) -----------------------------------------
    row("universe-missing",         2, run_args("--universe", "{tmp}/nope.parquet"),
        "--universe: universe file {tmp}/nope.parquet does not exist or is not a file"),
    row("universe-missing-column",  2, universe("symbol,day,close\nAAA,2025-01-02,1\n"),
        "U.csv: missing column(s) date; found symbol, day, close"),
    row("universe-duplicate-row",   2, universe("symbol,date,close\nAAA,2025-01-02,1\n"
                                                "AAA,2025-01-02,2\n"),
        "U.csv: symbol AAA: date 2025-01-02 appears more than once"),
    row("universe-unsorted",        2, universe("symbol,date,close\nAAA,2025-01-03,1\n"
                                                "AAA,2025-01-02,2\n"),
        "U.csv: symbol AAA: dates are not ascending (2025-01-02 follows 2025-01-03)"),
    row("universe-interleaved",     2, universe("symbol,date,close\nAAA,2025-01-02,1\n"
                                                "BBB,2025-01-02,2\nAAA,2025-01-03,1\n"),
        "U.csv: the rows of symbol AAA are not together"),
    row("run-random-without-universe", 2, run_args("--random", "10"),
        "--random/--seed: random baskets are drawn from a universe"),
    row("run-negative-trials",      2, run_args("--trials", "-1"),
        "Invalid value for '--trials': -1 is not in the range x>=0"),
    row("universe-not-a-number",    2, universe("symbol,date,close\nAAA,2025-01-02,abc\n"),
        "U.csv: symbol AAA: close 'abc' on 2025-01-02 is not a number"),
    row("universe-below-range",     2, universe("symbol,date,close\nAAA,2025-01-02,1e-13\n"),
        "U.csv: symbol AAA: close on 2025-01-02 is 1e-13, outside the prices basket accepts"),
    row("sweep-without-universe",   2, sweep_args("--random", "10"),
        "--universe: a sweep draws its random baskets from a universe file"),
    row("sweep-unknown-match",      2, sweep_on_universe("--match", "colour"),
        "--match: 'colour' is not one of industry, liquidity, listed, board"),
    row("sweep-random-beyond-cap",  2, sweep_args("--random", "1000000000"),
        "Invalid value for '--random': 1000000000 is not in the range 1<=x<=1000000"),
    row("sweep-grid-empty-period",  2, sweep_on_universe("--grid", "end=2024-12-02,2025-03-31"),
        "--grid: at end=2024-12-02: --start: 2025-01-02 is after the end 2024-12-02"),
    row("sweep-grid-before-calendars", 2, sweep_args("--grid", "start=1999-01-04,2025-01-02"),
        "--grid: start 1999-01-04 is before 2000-01-01, the earliest date the exchange "
        "calendars cover (hint: give a date on or after 2000-01-01)"),
    row("sweep-grid-unknown-key",   2, sweep_args("--grid", "speed=1,2"),
        "--grid: 'speed=1,2' is not KEY=V1,V2 with KEY one of rebalance, fees, start, end"),
    # -- claims files (basket claims) -----------------------------------------------------------
    row("claim-figure-unparsable",  2, claims("  - {text: t, symbols: AAA, since: 2025-01-02, "
                                              "printed: fifty}\n"),
        "c.yaml:3, field 'claims[0].printed': 'fifty' is not a figure"),
    row("claim-symbol-malformed",   2, claims("  - {text: t, symbols: 'A A', since: 2025-01-02, "
                                              "printed: 0.1}\n"),
        "c.yaml:3, field 'claims[0].symbols': symbol 'A A': contains spaces or is empty"),
    row("claim-since-after-asof",   2, claims("  - {text: t, symbols: AAA, since: 2025-04-01, "
                                              "printed: 0.1}\n"),
        "c.yaml:3, field 'claims[0].since': since 2025-04-01 is after the as-of date 2025-03-31"),
    row("claim-loss-beyond-all",    2, claims("  - {text: t, symbols: AAA, since: 2025-01-02, "
                                              "printed: -5}\n"),
        "c.yaml:3, field 'claims[0].printed': '-5' is a loss of more than everything"),
    row("claim-negative-multiple",  2, claims("  - {text: t, symbols: AAA, since: 2025-01-02, "
                                              "printed: -2 times}\n"),
        "'-2 times' is a loss of more than everything (a negative multiple)"),
    row("claim-without-figure",     2, claims("  - {text: t, symbols: AAA, since: 2025-01-02}\n"),
        "c.yaml:3, field 'claims[0].printed': is required"),
    # -- time zones: the same decision for --prices and data import -----------------------------
    row("prices-offset-unknown-zone", 2,
        Input(basket=HOLDING_1234, price=("1234.XX", OFFSET_BAR)), "prices/1234.XX.csv" + NO_ZONE),
    row("import-offset-unknown-zone", 2,
        command(*IMPORT[:2], "{tmp}/in", files={"in/1234.XX.csv": OFFSET_BAR}),
        "in/1234.XX.csv" + NO_ZONE),
    # -- validate -------------------------------------------------------------------------------
    row("validate-device",          2, validate("/dev/zero"),
        "FAIL /dev/zero: is a device, not a file"),
    row("validate-fifo",            2, validate("{tmp}/fifo.yaml"),
        "FAIL {tmp}/fifo.yaml: is a FIFO (named pipe), not a file"),
    row("validate-folder",          2, command("validate", "{tmp}/prices"),
        "Invalid value for 'FILES...': File '{tmp}/prices' is a directory"),
    row("validate-alias-bomb",      2, validate("{tmp}/bomb.yaml", files={"bomb.yaml": LAUGHS}),
        "FAIL {tmp}/bomb.yaml:8: the YAML expands to more than 200,000 values"),
    row("study-alias-bomb",         2, study(LAUGHS_MAP),
        "study.yaml:6: the YAML expands to more than 200,000 values"),
    # -- the price cache (data ..., runs from the cache) ------------------------------------------
    row("import-nvda-and-NVDA",     2, command(*IMPORT[:2], "{tmp}/in", files={
        "in/NVDA.csv": ONE_BAR, "in/nvda.csv": ONE_BAR}),
        "in: NVDA.csv and nvda.csv both hold NVDA (hint: keep one of the files)"),
    row("import-700-and-0700",      2, command(*IMPORT[:2], "{tmp}/in", files={
        "in/0700.HK.csv": ONE_BAR, "in/700.HK.csv": ONE_BAR}),
        "in: 0700.HK.csv and 700.HK.csv both hold 0700.HK"),
    row("import-_IXIC-and-^IXIC",   2, command(*IMPORT[:2], "{tmp}/in", files={
        "in/_IXIC.csv": ONE_BAR, "in/^IXIC.csv": ONE_BAR}),
        "in: ^IXIC.csv and _IXIC.csv both hold ^IXIC"),
    row("export-over-own-files",    2, command("data", "export", "{tmp}/out", before=(IMPORT,),
                                               files={"out/AAA.csv": "my own notes\n"}),
        "export: {tmp}/out holds AAA.csv, not written by an export (hint: pass --force"),
    row("export-under-a-file",      1, command("data", "export", "{tmp}/a_file/sub"),
        "export folder {tmp}/a_file/sub cannot be written (Not a directory)"),
    row("cache-env-is-a-file",      2, command("data", "status",
                                               env={"BASKET_CACHE": "{tmp}/a_file"}),
        "$BASKET_CACHE: the price cache {tmp}/a_file is a file, not a folder"),
    row("cache-env-is-a-file-fetch", 2, command("data", "fetch", "NVDA",
                                                env={"BASKET_CACHE": "{tmp}/a_file"}),
        "$BASKET_CACHE: the price cache {tmp}/a_file is a file, not a folder"),
    row("cache-option-is-a-file",   2, command("data", "--cache", "{tmp}/a_file", "status"),
        "Invalid value for '--cache': Directory '{tmp}/a_file' is a file"),
    row("cache-metadata-list",      2, command(*OFFLINE_RUN, before=(IMPORT,),
                                               files={"cache/prices/AAA.json": "[]"}),
        "cache entry for AAA is corrupted (unreadable metadata: metadata is list, not a JSON "
        "object)"),
    row("cache-metadata-null",      2, command(*OFFLINE_RUN, before=(IMPORT,),
                                               files={"cache/prices/AAA.json": "null"}),
        "cache entry for AAA is corrupted (unreadable metadata: metadata is NoneType"),
    row("cache-metadata-deep",      2, command(*OFFLINE_RUN, before=(IMPORT,), files={
        "cache/prices/AAA.json": "[" * 100_000 + "]" * 100_000}),
        "cache entry for AAA is corrupted (unreadable metadata"),
    row("cache-data-altered",       2, command(*OFFLINE_RUN, before=(IMPORT,),
                                               files={"cache/prices/AAA.parquet": "PAR1"}),
        "cache entry for AAA is corrupted (checksum mismatch, 4 bytes"),
    # -- run folders read back (report, runs, compare) ---------------------------------------------
    row("report-foreign-folder",    1, command("report", "{tmp}/theirs", files={
        "theirs/manifest.json": "{}", "theirs/report.html": "their page"}),
        "was not written by basket"),
    row("runs-config-bomb",         0, command("runs", "--out", "{tmp}/results", before=(RUN,),
                                               files={"results/*/config.yaml": LAUGHS_MAP}),
        "config.yaml cannot be read (the YAML expands to more than 200,000"),
    row("runs-manifest-deep",       0, command("runs", "--out", "{tmp}/results", before=(RUN,),
                                               files={"results/*/manifest.json":
                                                      "[" * 200_000 + "]" * 200_000}),
        "manifest.json"),
    row("report-latest-too-far",    2, command("report", "latest~3", "--out", "{tmp}/results",
                                               before=(RUN,)),
        "RUN: 'latest~3': {tmp}/results holds 1 run(s)"),
    row("report-no-run",            2, command("report", "nope", "--out", "{tmp}/results"),
        "run 'nope' not found"),
    row("report-sweep-nulls-missing", 1, command(*REPORT_LATEST, before=(SWEEP,),
                                                 files={"results/*/nulls.parquet": REMOVED}),
        "nulls.parquet is missing (or a link out of the folder) (hint: it was not written by "
        "basket, or was edited; run the sweep again (same --seed, same draws))"),
    row("report-sweep-nulls-not-parquet", 1, command(*REPORT_LATEST, before=(SWEEP,), files={
        "results/*/nulls.parquet": "basket,grid,statistic,draw,value\n"}),
        "nulls.parquet cannot be read (not a parquet table"),
    row("report-sweep-summary-missing", 1, command(*REPORT_LATEST, before=(SWEEP,),
                                                   files={"results/*/summary.csv": REMOVED}),
        "summary.csv is missing (or a link out of the folder)"),
    row("report-sweep-summary-columns", 1, command(*REPORT_LATEST, before=(SWEEP,), files={
        "results/*/summary.csv": "basket,grid,statistic,value\nB,,total_return,0.1\n"}),
        "summary.csv has no column random_mean, random_p05, random_p50, random_p95, percentile, "
        "p_value, n_random, matched_on, seed"),
    row("report-sweep-summary-text", 1, command(*REPORT_LATEST, before=(SWEEP,), files={
        "results/*/summary.csv": SWEEP_SUMMARY_TEXT}),
        "summary.csv: column value holds text, not numbers"),
    row("report-sweep-config-missing", 1, command(*REPORT_LATEST, before=(SWEEP,),
                                                  files={"results/*/config.yaml": REMOVED}),
        "config.yaml is missing (or a link out of the folder)"),
    row("report-sweep-config-not-yaml", 1, command(*REPORT_LATEST, before=(SWEEP,),
                                                   files={"results/*/config.yaml": "study: [1\n"}),
        "config.yaml:2: not valid YAML"),
    row("report-sweep-config-no-study", 1, command(*REPORT_LATEST, before=(SWEEP,),
                                                   files={"results/*/config.yaml": "study: S\n"}),
        "config.yaml has no 'study' mapping"),
    # -- folders ----------------------------------------------------------------------------------
    row("price-folder-missing",     2, run_args("--prices", "{tmp}/nowhere"),
        "--prices: price folder {tmp}/nowhere does not exist or is not a folder"),
    row("results-unwritable",       1, run_args("--out", "{tmp}/a_file/sub"),
        "results folder {tmp}/a_file/sub cannot be written (Not a directory)"),
    row("results-dangling-symlink", 1, run_args("--out", "{tmp}/dangling"),
        "results folder {tmp}/dangling cannot be written ({tmp}/dangling is a symlink to the "
        "missing {tmp}/nowhere)"),
]
# fmt: on


#: Cases of #10's list that a row cannot express (signals at a random moment, links planted in a
#: run folder, /dev/full, two processes at once, what basket writes, values that must be
#: accepted), by test (``file::name``): listed at the end of ERRORS.md, so that file is the one
#: index of bad inputs; a test checks that each still exists.
STANDALONE = {
    "test_faults.py::test_sigterm_and_sighup_at_a_random_moment_leave_a_complete_folder_or_none":
        "SIGTERM or SIGHUP at a random moment of a run: a complete run folder or none",
    "test_faults.py::test_sigint_at_any_moment_of_the_write_leaves_a_complete_folder_or_none":
        "Ctrl-C at any moment of the write: a complete run folder or none",
    "test_faults.py::test_a_staging_folder_of_a_killed_run_is_removed_by_runs_and_the_next_run":
        "a `.partial` folder left by a killed run is removed by `runs` and the next run",
    "test_faults.py::test_a_temporary_file_of_a_killed_import_is_removed_by_data_status_and_imports":
        "a cache `.tmp` left by a killed import is removed by `data status` and imports",
    "test_faults.py::test_two_runs_at_once_write_two_complete_folders":
        "two runs at once: two complete folders",
    "test_faults.py::test_an_interrupted_download_leaves_the_cache_consistent":
        "a download interrupted mid-write leaves the cache consistent",
    "test_hostile.py::test_report_replaces_a_planted_symlink_and_never_writes_its_target":
        "a symlink planted at `report.html` or `.report.html.tmp` is replaced, never followed",
    "test_hostile.py::test_report_never_embeds_a_file_linked_from_outside":
        "a run folder's file linked from outside is never embedded by `report`",
    "test_sweep.py::test_a_sweep_folder_with_random_values_out_of_shape_is_refused":
        "a sweep folder's `nulls.parquet` without a column, with a draw twice or not as text: "
        "`report` names the file, report.html kept",
    "test_run_nulls.py::test_a_malformed_nulls_file_is_a_data_note_and_no_histogram":
        "a malformed `nulls.parquet` (not parquet, a column missing or of text, a draw twice): "
        "`report` writes the page without histograms and names the problem in its data notes",
    "test_hostile.py::test_no_csv_cell_is_a_spreadsheet_formula":
        "names such as `=HYPERLINK(...)` or `=cmd|' /C calc'!A0`: no CSV cell is a formula",
    "test_hostile.py::test_csv_output_escapes_formulas_too":
        "the same names in `--format csv`",
    "test_hostile.py::test_terminal_table_prints_names_as_text_without_escapes":
        "escape sequences and rich markup (`[/red]`, `[link=...]`) in names on a terminal",
    "test_hostile.py::test_summary_md_keeps_one_row_per_basket":
        "`|` or a newline in a name keeps summary.md one row per basket",
    "test_hostile.py::test_one_bad_metadata_file_is_reported_and_the_rest_listed":
        "cache metadata `[]`, `null`, a bad date, another symbol: `data status` lists it corrupt",
    "test_hostile.py::test_one_malformed_manifest_is_listed_broken_and_the_others_listed":
        "a run manifest with `period: \"x\"`, `baskets: 5` ...: `runs` lists it broken",
    "test_hostile.py::test_fuzzed_run_folders_never_give_an_internal_error":
        "fuzzed run folders (manifest, config): no internal error",
    "test_hostile.py::test_fuzzed_cache_metadata_never_gives_an_internal_error":
        "fuzzed cache metadata: no internal error",
    "test_hostile.py::test_run_folders_follow_the_umask":
        "run folders get the permissions of the umask, not 0700",
    "test_hostile.py::test_standard_output_on_a_full_device_is_one_line_and_exit_1":
        "standard output on a full device (`/dev/full`): one line, exit 1",
    "test_hostile.py::test_exponent_numbers_are_numbers":
        "`fees: 1e-3` and `weight: 5e-1` are numbers",
    "test_hostile.py::test_prices_reads_yfinance_adj_close_header":
        "a price file's `Adj Close` header is the adjusted close",
    "test_hostile.py::test_running_out_of_memory_is_one_line_and_exit_1":
        "running out of memory: one line, exit 1, never an internal error",
    "test_hostile.py::test_huge_custom_weights_are_normalised_without_overflow":
        "custom weights of 1e308 with `normalize`",
    "test_cli_event.py::test_a_pre_event_only_window_is_accepted":
        "a pre-event-only window (`--window -5:-1`) is accepted",
    "test_yahoo.py::test_missing_network_fails_in_about_ten_seconds_with_waiting_lines":
        "offline with no cache: a clear error in about 10 s, with a line while waiting",
    "test_yahoo.py::test_black_hole_network_gives_up_at_the_overall_deadline":
        "a network that drops packets: a clear error at the 30 s deadline",
    "test_yahoo.py::test_a_cache_holding_the_whole_listing_never_fetches_an_earlier_start":
        "a cache holding a symbol's whole listed history never triggers a fetch",
    "test_price_values.py::test_yahoo_download_with_the_value_is_a_problem_and_nothing_is_cached":
        "a Yahoo download holding a price outside 1e-8..1e12: a problem, nothing cached",
    "test_price_values.py::test_cache_on_read_refuses_the_value_as_a_corrupted_entry":
        "a cache entry holding such a price is corrupted",
    "test_price_values.py::test_universe_file_refuses_the_value_naming_file_and_symbol":
        "a universe parquet or long CSV holding such a price",
    "test_bar_dates.py::test_prices_folder_and_data_import_read_the_same_file_to_the_same_bars":
        "dates with a UTC offset: `--prices` and `data import` read the same bars",
    "test_errors.py::test_data_export_keeps_files_it_did_not_write_unless_forced":
        "`data export` keeps the user's files (content checked) unless `--force`",
}


def test_every_standalone_case_names_a_test_that_exists():
    for key in STANDALONE:
        file, name = key.split("::")
        assert f"def {name}(" in (HERE / file).read_text(encoding="utf-8"), key


def closes(days: list[str], start: float, drift: float) -> list[float]:
    steps = np.arange(len(days))
    return list(np.round(start * (1 + drift) ** steps * (1 + 0.02 * np.sin(steps / 3)), 4))


#: The long-format universe ``universe.csv`` of the project (for ``basket sweep``): the two
#: stocks, four more, and ^IXIC.
UNIVERSE = (("AAA", 10.0, 0.001), ("BBB", 20.0, -0.0005), ("CCC", 15.0, 0.0008),
            ("DDD", 30.0, 0.0002), ("EEE", 12.0, -0.0002), ("FFF", 8.0, 0.0012),
            ("^IXIC", 100, 0.0))


def make_project(root: Path) -> dict[str, Path]:
    """The valid project every row starts from."""
    prices = root / "prices"
    prices.mkdir(parents=True)
    for stem, start, drift in (("AAA", 10.0, 0.001), ("BBB", 20.0, -0.0005), ("_IXIC", 100, 0.0)):
        frame = pd.DataFrame({"date": DAYS, "close": closes(DAYS, start, drift)})
        frame.to_csv(prices / f"{stem}.csv", index=False)
    universe = [pd.DataFrame({"symbol": symbol, "date": DAYS,
                              "close": closes(DAYS, start, drift)})
                for symbol, start, drift in UNIVERSE]
    pd.concat(universe).to_csv(root / "universe.csv", index=False)
    (root / "b.yaml").write_text(BASKET, encoding="utf-8")
    (root / "study.yaml").write_text(STUDY, encoding="utf-8")
    (root / "a_file").write_text("not a folder\n", encoding="utf-8")
    os.symlink(root / "nowhere", root / "dangling")
    os.mkfifo(root / "fifo.yaml")  # opened for reading with no writer, it would block forever
    return {"prices": prices, "basket": root / "b.yaml", "study": root / "study.yaml"}


def invoke(root: Path, given: Input):
    """Apply ``given`` to a fresh project in ``root`` and run the command: click's Result, and
    what the project folder held just before (:func:`_listing`).

    The price cache is ``root/cache`` unless the row sets ``BASKET_CACHE``."""
    from cli import main

    project = make_project(root)
    if given.basket is not None:
        data = given.basket.encode() if isinstance(given.basket, str) else given.basket
        project["basket"].write_bytes(data)
    if given.study is not None:
        project["study"].write_text(given.study, encoding="utf-8")
    if given.price is not None:
        symbol, text = given.price
        data = text.encode() if isinstance(text, str) else text
        (project["prices"] / f"{symbol.replace('^', '_')}.csv").write_bytes(data)
    if given.claims is not None:
        (root / "c.yaml").write_text(given.claims, encoding="utf-8")
    env = {"BASKET_CACHE": str(root / "cache")}
    env.update({key: _expanded(value, root) for key, value in given.env})
    runner = CliRunner(env=env)
    for line in given.before:
        done = runner.invoke(main, [_expanded(a, root) for a in line], catch_exceptions=False)
        assert done.exit_code == 0, (line, done.output)
    for name, content in given.files:
        _plant(root, name, content)
    before = _listing(root)
    if given.argv is not None:
        return runner.invoke(main, [_expanded(a, root) for a in given.argv]), before
    subject = [str(root / "c.yaml")] if given.claims is not None else [
        str(project["basket"]), "--study", str(project["study"])
    ]
    base = [
        given.command,
        *subject,
        "--prices",
        str(project["prices"]),
        "--out",
        str(root / "results"),
    ]
    args = base + [_expanded(a, root) for a in given.args]
    return runner.invoke(main, args), before


def _expanded(text: str, root: Path) -> str:
    return text.replace("{tmp}", str(root))


def _plant(root: Path, name: str, content: str | bytes) -> None:
    """Write one file of a row (``*`` in ``name`` matches the one existing entry there)."""
    if "/*/" in name:  # the one run folder of a results folder, say
        head, tail = name.split("/*/")
        (match,) = [p for p in (root / head).iterdir()
                    if p.is_dir() and not p.name.startswith(".") and p.name != "assets"]
        path = match / tail
    else:
        path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if content == FIFO:
        os.mkfifo(path)
    elif content == FOLDER:
        path.mkdir()
    elif content == REMOVED:
        path.unlink()
    else:
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def _listing(root: Path) -> dict[str, str]:
    """Every entry under ``root``: a file's SHA-256, else its kind (a FIFO is never opened).
    What a refused command must leave as it was (a cache's ``.lock`` aside)."""
    found = {}
    for path in root.rglob("*"):
        if path.name == ".lock":
            continue
        kind = "link" if path.is_symlink() else "folder" if path.is_dir() else "other"
        if kind == "other" and path.is_file():
            kind = hashlib.sha256(path.read_bytes()).hexdigest()
        found[str(path.relative_to(root))] = kind
    return found


@pytest.mark.parametrize("given, fragment, exit_code", CASES)
def test_bad_input_gives_one_clear_line(tmp_path, monkeypatch, given, fragment, exit_code):
    monkeypatch.chdir(tmp_path)
    result, before = invoke(tmp_path, given)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "internal error" not in result.stderr
    assert result.exit_code == exit_code, result.output
    assert fragment.replace("{tmp}", str(tmp_path)) in result.stderr, result.output
    assert not (tmp_path / "pwned").exists()  # !!python tags construct nothing
    assert _listing(tmp_path) == before  # nothing half-written, replaced or imported
    if exit_code == 0:  # a warning: the command went on with what it could use
        return
    assert result.stdout == ""
    first = "FAIL " if given.fail_lines else "Error:"
    errors = [line for line in result.stderr.splitlines() if line.startswith(first)]
    assert len(errors) == 1, result.stderr


def test_data_export_keeps_files_it_did_not_write_unless_forced(cli, tmp_path):
    cache = tmp_path / "cache"
    source = tmp_path / "in"
    source.mkdir()
    (source / "NVDA.csv").write_text("date,close\n2025-01-02,1.5\n")
    assert cli("data", "--cache", cache, "import", source).exit_code == 0
    out = tmp_path / "out"
    out.mkdir()
    (out / "NVDA.csv").write_text("my own notes\n")
    result = cli("data", "--cache", cache, "export", out)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"Error: export: {out} holds NVDA.csv, not written by an export "
        "(hint: pass --force to overwrite them, or export into another folder)\n"
    )
    assert (out / "NVDA.csv").read_text() == "my own notes\n"
    assert cli("data", "--cache", cache, "export", out, "--force").exit_code == 0
    assert (out / "NVDA.csv").read_text().startswith("date,open,high,low,close")
    # a second export overwrites what the first wrote without --force
    assert cli("data", "--cache", cache, "export", out).exit_code == 0


def _markdown_rows(text: str) -> dict[str, tuple[int, str]]:
    """``id -> (exit code, message)`` of the table in ERRORS.md."""
    found = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0] != "id":
            found[cells[0].strip("`")] = (int(cells[2]), cells[3].replace("\\|", "|"))
    return found


def test_errors_md_lists_every_row_of_the_table():
    documented = _markdown_rows(ERRORS_MD.read_text(encoding="utf-8"))
    ids = [case.id for case in CASES]
    assert list(documented) == ids, "regenerate with: python tests/test_errors.py"
    for case in CASES:
        _, fragment, exit_code = case.values
        code, message = documented[case.id]
        assert code == exit_code, case.id
        assert fragment.replace("{tmp}", "<tmp>") in message, (case.id, message)


#: A run id as ``basket run`` names folders (``20250301-100002-s``).
RUN_ID = re.compile(r"\b\d{8}-\d{6}-[\w-]+")


def _message(stderr: str, fragment: str) -> str:
    """The line of stderr holding the row's fragment, else its ``Error:`` line."""
    lines = stderr.splitlines()
    return next((line for line in lines if fragment in line),
                next((line for line in lines if line.startswith("Error:")), ""))


def write_errors_md() -> None:
    """Run every row and write ERRORS.md with the messages as printed."""
    lines = [
        "# Errors: bad inputs and faults",
        "",
        "Generated by `python tests/test_errors.py` from the table in `tests/test_errors.py`;",
        "every row is a test (`pytest tests/test_errors.py`).  Each row starts from a valid",
        "project (`b.yaml` with AAA and BBB, `study.yaml` with ^IXIC over 2025-01-02..2025-03-31,",
        "a CSV price folder, a long-format universe `universe.csv` of AAA..FFF and ^IXIC),",
        "changes one thing and runs `basket run` (or `basket event`, or `basket claims c.yaml`",
        "for a claims file), or a whole command line after planting files (or removing them)",
        "and running commands first (an import, a run, a sweep); a refused command changes",
        "nothing in the project (results, cache, planted files).",
        "Exit code 2: the input is wrong; 1: a run-time failure; 0: a warning, the command goes",
        "on with the rest.  `<tmp>` is the project folder, `<run>` a run id.",
        "",
        "| id | input | exit | message (stderr) |",
        "|---|---|---|---|",
    ]
    for case in CASES:
        given, fragment, _ = case.values
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder).resolve()
            result, _ = invoke(root, given)
            message = _message(result.stderr, fragment.replace("{tmp}", str(root)))
            message = RUN_ID.sub("<run>", message.replace(str(root), "<tmp>"))
        message = message.replace("|", "\\|")
        described = given.describe().replace("{tmp}", "<tmp>")
        lines.append(f"| `{case.id}` | {described} | {result.exit_code} | {message} |")
    lines += [
        "",
        "## Cases a row cannot express",
        "",
        "Signals at a random moment, links planted in a run folder, `/dev/full`, two processes",
        "at once, what basket writes and values that must be accepted are standalone tests:",
        "",
        "| case | test |",
        "|---|---|",
    ]
    for key, case in STANDALONE.items():
        file, name = key.split("::")
        lines.append(f"| {case.replace('|', chr(92) + '|')} | `tests/{file}::{name}` |")
    ERRORS_MD.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(write_errors_md())
