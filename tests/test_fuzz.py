"""Property and fuzz tests.

* Mutated basket and study files (character and byte edits, deleted, repeated and swapped lines,
  swapped keys, values replaced by random YAML of any type) never end in a traceback: loading
  gives a valid basket or study, or a :class:`~engine.errors.ConfigError` naming the file on one
  line.  A thousand go straight through :func:`engine.config.validate.validate_file`, a smaller
  sample through ``basket validate``.
* Backtests of generated prices (random walks on real NASDAQ sessions) keep the invariants of a
  basket: the invested weights sum to one after every rebalance (less than the fee rate short
  of one with fees: see the test), a one-stock basket is the stock, an
  equal-weight basket of identical stocks is the stock, and with no fees and no rebalancing the
  basket is the weighted buy-and-hold of its stocks.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import sessions
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from engine.config.baskets import BASKET_KEYS, CONSTITUENT_KEYS, Basket, Constituent
from engine.config.studies import EVENT_STUDY_KEYS, STUDY_KEYS, Study
from engine.config.validate import validate_file
from engine.data.csvfolder import CsvFolderSource
from engine.errors import BasketError, ConfigError
from engine.pipeline.runs import run

# -- mutated files --------------------------------------------------------------------------------

SEEDS = (
    """name: Chips
weighting: custom
rebalance: monthly
constituents:
  - symbol: 0981.HK
    weight: 0.6
    reason: foundry
  - symbol: 688256.SS
    weight: 0.4
    exchange: XSHG
    currency: CNY
""",
    """name: Pair
normalize: true
constituents:
  - {symbol: NVDA, name: Nvidia}
  - {symbol: amd}
""",
    """name: S
benchmark: ^IXIC
start: 2024-12-31
end: 2025-02-28
fees: 0.001
events:
  - date: 2025-01-20
    name: R1
event_study:
  estimation: [-250, -30]
  windows: [[-1, 1], [0, 5]]
  markets: {XSHG: 000300.SS, XNAS: ^IXIC}
listings:
  FOO.L: {exchange: XNYS, currency: USD}
""",
)
SPECIAL = list(":-[]{}#&*!|>'\"%@`,?\t .0123456789^=\\~\n") + ["\x00", "\x85", "\ufeff", "é"]
TOKENS = [
    "null", "~", ".nan", ".inf", "-.inf", "2025-13-45", "2025-02-30", "1e999", "0x1F", "0o17",
    "9" * 30, "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!binary ", "!!set ", "!!map ",
    "!!python/object/apply:os.system ", "<<: ", "&a ", "*a", "- ", ": ", "? ", "---\n", "...",
    "weight: ", "symbol: ", "constituents:\n", "equal", "custom", "monthly", "0700.HK",
]
ALL_KEYS = sorted({*BASKET_KEYS, *CONSTITUENT_KEYS, *STUDY_KEYS, *EVENT_STUDY_KEYS, "date"})
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.dates()
    | st.sampled_from(["0700.HK", "NVDA", "^IXIC", "XSHG", "equal", "custom", "monthly", "market"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(ALL_KEYS) | st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def flow(value: object) -> str:
    """``value`` as one line of flow-style YAML."""
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, allow_unicode=True)
    return text.strip().removesuffix("...").strip().replace("\n", " ")


def random_value(rnd: random.Random, depth: int = 0) -> str:
    """A random YAML value in flow style: a token, a number, text, or a list or mapping of them."""
    kind = rnd.randrange(6 if depth < 2 else 4)
    if kind == 0:
        return rnd.choice(TOKENS).strip()
    if kind == 1:
        return repr(rnd.choice([0, 1, -1, 0.5, 1e308, -2**70, rnd.uniform(-2, 2)]))
    if kind == 2:
        return flow("".join(rnd.choice(SPECIAL) for _ in range(rnd.randrange(6))))
    if kind == 3:
        return rnd.choice(["0700.HK", "NVDA", "^IXIC", "XSHG", "equal", "market", "2025-01-20"])
    items = [random_value(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    if kind == 4:
        return "[" + ", ".join(items) + "]"
    return "{" + ", ".join(f"{rnd.choice(ALL_KEYS)}: {item}" for item in items) + "}"


def edit(text: str, rnd: random.Random) -> str:
    """``text`` after one random edit: a character or token inserted, replaced or deleted; a
    line dropped, repeated, swapped or re-indented; two keys swapped; a value replaced."""
    lines = text.split("\n")
    line = rnd.randrange(len(lines))
    where = rnd.randrange(len(text) + 1)
    piece = rnd.choice(TOKENS) if rnd.random() < 0.3 else rnd.choice(SPECIAL)
    if rnd.random() < 0.1:
        piece = chr(rnd.randrange(1, 0x3000))
    op = rnd.randrange(9)
    if op == 0:
        return text[:where] + piece + text[where:]
    if op == 1:
        return text[:where] + piece + text[where + 1 :]
    if op == 2:
        return text[:where] + text[where + rnd.randint(1, 30) :]
    if op == 3:
        del lines[line]
    elif op == 4:
        lines.insert(line, lines[line])
    elif op == 5:
        other = rnd.randrange(len(lines))
        lines[line], lines[other] = lines[other], lines[line]
    elif op == 6:
        keyed = [i for i, text_line in enumerate(lines) if ": " in text_line]
        if len(keyed) >= 2:
            a, b = rnd.sample(keyed, 2)
            (key_a, value_a), (key_b, value_b) = lines[a].split(": ", 1), lines[b].split(": ", 1)
            lines[a], lines[b] = f"{key_a}: {value_b}", f"{key_b}: {value_a}"
    elif op == 7:
        head, sep, _ = lines[line].partition(":")
        if sep:
            lines[line] = f"{head}: {random_value(rnd)}"
    else:
        lines[line] = lines[line][2:] if lines[line].startswith("  ") else "  " + lines[line]
    return "\n".join(lines)


@st.composite
def mutated_files(draw) -> bytes:
    """A valid seed file after one to four random edits, sometimes with a byte flipped too.

    Each edit is made by a ``random.Random`` seeded from one draw: hypothesis shrinks a failure
    to the fewest edits, and the generation stays cheap enough for a thousand files."""
    text = draw(st.sampled_from(SEEDS))
    for seed in draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4)):
        text = edit(text, random.Random(seed))
    data = bytearray(text.encode("utf-8"))
    if data and draw(st.integers(0, 4)) == 4:
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    note(repr(bytes(data)))
    return bytes(data)


@st.composite
def retyped_documents(draw) -> bytes:
    """A seed file with one to three values (anywhere: a key's, a list item's, a whole section)
    replaced by random YAML data of any type."""
    document = yaml.safe_load(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        node = document
        while True:
            key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
            child = node[key]
            if not (isinstance(child, dict | list) and child and draw(st.booleans())):
                break
            node = child
        node[key] = draw(VALUES)
    return yaml.safe_dump(document, allow_unicode=True).encode("utf-8")


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "basket.yaml"


def check_loads_or_fails_cleanly(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        kind, item = validate_file(path)
    except ConfigError as error:
        line = error.one_line()
        assert str(path) in line and "\n" not in line, line
        return
    except BasketError as error:  # pragma: no cover - the assertion explains
        raise AssertionError(f"not a ConfigError naming the file: {error!r}") from error
    if kind == "basket":
        weights = [c.weight for c in item.constituents]
        assert math.isclose(math.fsum(weights), 1.0, abs_tol=1e-6)
        assert all(math.isfinite(w) and w > 0 for w in weights)
        assert len(set(item.symbols)) == len(item.symbols)
    else:
        assert item.start is None or item.end is None or item.start <= item.end
        assert 0 <= item.fees < 0.1


def test_the_seeds_are_valid(fuzz_file):
    for seed in SEEDS:
        fuzz_file.write_text(seed, encoding="utf-8")
        validate_file(fuzz_file)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_files())
def test_mutated_files_load_or_fail_with_an_engine_error(fuzz_file, data):
    check_loads_or_fails_cleanly(fuzz_file, data)


@settings(max_examples=300, deadline=None)
@given(data=retyped_documents())
def test_retyped_documents_load_or_fail_with_an_engine_error(fuzz_file, data):
    check_loads_or_fails_cleanly(fuzz_file, data)


@settings(max_examples=60, deadline=None)
@given(data=mutated_files() | retyped_documents())
def test_validate_command_on_mutated_files(fuzz_file, data):
    from cli import main

    fuzz_file.write_bytes(data)
    result = CliRunner().invoke(main, ["validate", str(fuzz_file)], catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 0:
        assert result.stdout.startswith(f"ok   {fuzz_file}: ")
    else:
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"FAIL {fuzz_file}"), result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr


# -- invariants on generated prices ---------------------------------------------------------------

POOL = sessions("XNAS", "2024-01-02", "2024-12-31")
SYMBOLS = ["AAA", "BBB", "CCC", "DDD"]


@st.composite
def markets(draw, stocks: tuple[int, int] = (1, 4)):
    """Random-walk closes of up to four stocks and ^IXIC on every 2024 NASDAQ session, a study
    period inside them, target weights and a rebalancing schedule."""
    n = draw(st.integers(*stocks))
    first = draw(st.integers(0, len(POOL) - 3))
    last = draw(st.integers(first + 2, min(first + 130, len(POOL) - 1)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    volatility = draw(st.sampled_from([0.0, 0.01, 0.05, 0.2]))
    steps = rng.normal(0.0, volatility, (len(POOL), n + 1))
    closes = rng.uniform(1, 500, n + 1) * np.exp(np.cumsum(steps, axis=0))
    raw = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n)))
    columns = [*SYMBOLS[:n], "^IXIC"]
    return {
        "closes": pd.DataFrame(closes, index=pd.DatetimeIndex(POOL), columns=columns),
        "period": (POOL[first], POOL[last]),
        "weights": dict(zip(SYMBOLS[:n], raw / raw.sum(), strict=True)),
        "rebalance": draw(st.sampled_from(["none", "monthly", "quarterly"])),
    }


def backtest(market: dict, baskets: list[Basket], fees: float = 0.0, **closes: pd.Series):
    """Run ``baskets`` on the generated closes (plus ``closes`` under other symbols) written as a
    CSV price folder; the run's result and the closes over the study period."""
    frame = market["closes"].assign(**closes)
    first, last = market["period"]
    study = Study(
        benchmark="^IXIC",
        start=dt.date.fromisoformat(first),
        end=dt.date.fromisoformat(last),
        fees=fees,
    )
    with tempfile.TemporaryDirectory() as folder:
        for symbol in frame:
            stem = symbol.replace("^", "_")
            frame[symbol].rename("close").rename_axis("date").to_csv(Path(folder) / f"{stem}.csv")
        result = run(baskets, study, CsvFolderSource(folder))
    in_period = frame.loc[first:last]
    assert list(result.panel.sessions) == list(in_period.index)
    return result, in_period


def custom(name: str, weights: dict[str, float], rebalance: str) -> Basket:
    members = tuple(Constituent(s, w) for s, w in weights.items())
    return Basket(name=name, constituents=members, weighting="custom", rebalance=rebalance)


PRICE_SETTINGS = settings(max_examples=25, deadline=None)


@PRICE_SETTINGS
@given(market=markets(), fees=st.sampled_from([0.0, 0.001]))
def test_weights_sum_to_one_after_every_rebalance(market, fees):
    """Without fees the basket is fully invested after the purchase and every rebalance.

    With fees ``f`` (vectorbt charges them on top of each trade) the invested fraction is in
    ``[1 - f, 1]``, not exactly 1: every order is sized against the value at that moment, which
    each earlier order's fee has lowered, so a rebalance leaves the assets traded first a hair
    above target; the next rebalance sells that hair, and the matching buys, below vectorbt's
    size tolerance, are not placed, so the proceeds stay in cash (``--hypothesis-seed=10``:
    flat prices, 10 bp, 0.9999996 invested on 2024-03-01).  That cash is a fraction of the fees
    paid, never more than ``f`` of the value.
    """
    basket = custom("b", market["weights"], market["rebalance"])
    result, _ = backtest(market, [basket], fees)
    holdings, equity = result.backtest.holdings["b"], result.backtest.equity["b"]
    target = pd.Series(market["weights"])
    for day in [result.backtest.bought["b"], *result.backtest.rebalances["b"]]:
        weights = holdings.loc[day] / equity.loc[day]
        assert 1.0 - fees - 1e-9 <= weights.sum() <= 1.0 + 1e-9, day
        # Fees are paid out of the trades, so a weight may miss its target by about the fee.
        np.testing.assert_allclose(weights[target.index], target, atol=2 * fees + 1e-9)


@PRICE_SETTINGS
@given(market=markets(stocks=(1, 1)), copies=st.integers(2, 4))
def test_a_basket_of_one_stock_or_of_identical_stocks_is_the_stock(market, copies):
    twins = {f"AA{chr(ord('A') + i)}": market["closes"]["AAA"] for i in range(1, copies)}
    baskets = [
        custom("one", {"AAA": 1.0}, market["rebalance"]),
        custom("twins", {s: 1 / copies for s in ["AAA", *twins]}, market["rebalance"]),
    ]
    result, closes = backtest(market, baskets, **twins)
    stock = closes["AAA"] / closes["AAA"].iloc[0]
    np.testing.assert_allclose(result.backtest.equity["one"], stock, rtol=1e-9)
    np.testing.assert_allclose(result.backtest.equity["twins"], stock, rtol=1e-9)


@PRICE_SETTINGS
@given(market=markets())
def test_no_fees_no_rebalancing_is_the_weighted_buy_and_hold(market):
    result, closes = backtest(market, [custom("hold", market["weights"], "none")])
    weights = pd.Series(market["weights"])
    growth = closes[weights.index] / closes[weights.index].iloc[0]
    expected = (growth * weights).sum(axis=1)
    np.testing.assert_allclose(result.backtest.equity["hold"], expected, rtol=1e-9)
    assert result.backtest.rebalances["hold"] == []
