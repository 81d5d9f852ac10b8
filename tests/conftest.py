"""Shared fixtures: the real price folder, small generated price folders, the CLI runner."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import settings

from engine.data.prices import PriceHistory
from engine.symbols import file_stem

PROJECT = Path(__file__).resolve().parents[1]
SHARED_PRICES = Path(
    os.environ.get("BASKET_SHARED_PRICES", PROJECT.parent / "shared" / "data" / "prices")
)

# Property tests are deterministic unless asked otherwise: the "ci" profile derandomizes
# hypothesis (examples follow from each test's code, no example database) and sets no deadline
# (a loaded machine makes any example slow), so a run cannot flip;
# HYPOTHESIS_PROFILE=explore draws fresh examples (with --hypothesis-seed=N to replay one).
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Compiled vectorbt kernels are cached across test runs on this machine.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "basket" / "numba"))


@pytest.fixture(scope="session")
def shared_prices() -> Path:
    """The real daily prices of ``shared/data/prices``; tests using it skip when it is absent."""
    if not (SHARED_PRICES / "NVDA.csv").is_file():
        pytest.skip(f"shared price data not found at {SHARED_PRICES}")
    return SHARED_PRICES


PriceWriter = Callable[..., Path]


@pytest.fixture
def price_folder(tmp_path: Path) -> tuple[Path, PriceWriter]:
    """An empty CSV price folder and a function writing one symbol's closes into it."""
    folder = tmp_path / "prices"
    folder.mkdir()

    def write(symbol: str, dates: Sequence[str], closes: Sequence[float], **columns) -> Path:
        frame = pd.DataFrame({"date": list(dates), "close": list(closes), **columns})
        path = folder / f"{file_stem(symbol)}.csv"
        frame.to_csv(path, index=False)
        return path

    return folder, write


def sessions(calendar: str, start: str, end: str) -> list[str]:
    """ISO dates of a real exchange calendar's sessions, for generated prices."""
    from engine.calendars import sessions as calendar_sessions

    return [
        d.strftime("%Y-%m-%d")
        for d in calendar_sessions(calendar, pd.Timestamp(start), pd.Timestamp(end))
    ]


def flat_history(
    symbol: str, closes, dates, volume: float = 100.0, origin: str = "test"
) -> PriceHistory:
    """A :class:`PriceHistory` with open = high = low = close = adj_close = ``closes`` on
    ``dates`` and a constant volume."""
    from engine.data.prices import PriceHistory

    values = np.asarray(closes, dtype=float)
    frame = pd.DataFrame(
        {c: values for c in ("open", "high", "low", "close", "adj_close")}
        | {"volume": np.full(len(values), volume)},
        index=pd.DatetimeIndex(dates[: len(values)], name="date"),
    )
    return PriceHistory(symbol, frame, origin)


def weekdays(start: str, end: str) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.bdate_range(start, end)]


def invoke(*args: object, env: dict[str, str] | None = None):
    """Invoke the ``basket`` command in-process with ``args`` (any values, as text); returns
    click's Result."""
    from cli import main

    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=True)


@pytest.fixture
def cli() -> Callable[..., object]:
    """:func:`invoke`, as a fixture."""
    return invoke


def report_figures(page: str) -> list[dict]:
    """The figures a report page describes (its ``basket-figures`` JSON)."""
    found = re.search(r'<script type="application/json" id="basket-figures">(.*?)</script>',
                      page, re.S)
    assert found, "no figures in the page"
    return json.loads(found.group(1))


def write_yaml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_table(path: Path, frame: pd.DataFrame) -> Path:
    """``frame`` as a parquet file or a CSV file (by ``path``'s suffix), without its index."""
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def read_pty(leader: int) -> bytes:
    """Everything a child wrote to the pseudo-terminal whose leader end is ``leader``, until it
    closes its side (Linux then raises EIO on the leader)."""
    import os

    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def run_in_pty(args: list[str], columns: int, cwd) -> str:
    """Standard output of ``python args`` run under a pseudo-terminal ``columns`` wide (its
    window size set, ``COLUMNS`` too), standard error discarded."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns)}
    process = subprocess.Popen([sys.executable, *args], stdout=follower, stdin=follower,
                               stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    os.close(follower)
    output = read_pty(leader)
    process.wait(timeout=300)
    os.close(leader)
    return output.decode("utf-8", "replace")


def run_folders(out: Path) -> list[Path]:
    """The run folders written under ``out``, by name: not the reports' shared ``assets``
    folder, not a hidden folder."""
    return sorted(p for p in Path(out).iterdir()
                  if p.is_dir() and p.name != "assets" and not p.name.startswith("."))


def only_run(out: Path) -> Path:
    """The one run folder under ``out``."""
    (folder,) = run_folders(out)
    return folder


def make_sine_project(root: Path) -> dict[str, Path]:
    """Generated prices for AAA, BBB and ^IXIC on the NASDAQ sessions 2024-12-02..2025-03-31
    (smooth sine waves), one basket of AAA and BBB, one study (2025-01-02..03-31)."""
    days = sessions("XNAS", "2024-12-02", "2025-03-31")
    prices = root / "prices"
    prices.mkdir(parents=True)
    steps = np.arange(len(days))
    for stem, level in (("AAA", 10.0), ("BBB", 20.0), ("_IXIC", 100.0)):
        closes = np.round(level * (1 + 0.05 * np.sin(steps / (3 + level / 10))), 4)
        pd.DataFrame({"date": days, "close": closes}).to_csv(prices / f"{stem}.csv", index=False)
    basket = write_yaml(root / "b.yaml", "name: B\nconstituents: [{symbol: AAA}, {symbol: BBB}]\n")
    study = write_yaml(root / "study.yaml",
                       "name: S\nbenchmark: ^IXIC\nstart: 2025-01-02\nend: 2025-03-31\n")
    return {"prices": prices, "basket": basket, "study": study}


def raw_closes(folder: Path, stem: str) -> pd.Series:
    """``STEM.csv``'s adjusted closes (else closes) read with the csv module, by date: an
    independent route to the numbers, not the engine's reader."""
    import csv

    with open(folder / f"{stem}.csv", newline="") as handle:
        rows = {r["date"]: float(r["adj_close"] or r["close"]) for r in csv.DictReader(handle)}
    series = pd.Series(rows)
    series.index = pd.DatetimeIndex(series.index)
    return series.sort_index()


US = [f"U{i:02d}" for i in range(24)]
HK = [f"{1000 + i:04d}.HK" for i in range(12)]
INDUSTRY = {s: ("tech" if i < 12 else "banks") for i, s in enumerate(US)} | {
    s: ("property" if i < 6 else "utilities") for i, s in enumerate(HK)
}
SMALL_UNIVERSE_STUDY = """name: Small
benchmark: ^IXIC
start: 2025-01-02
end: 2025-02-28
currency: USD
fees: 0.001
events:
  - {date: 2025-01-27, name: sell-off}
event_study:
  model: market
  estimation: [-200, -30]
  windows: [[-1, 1], [0, 5]]
  min_estimation: 100
  markets: {XHKG: ^HSI, XNAS: ^IXIC}
"""


def _walks(rng: np.random.Generator, symbols: Sequence[str], days: Sequence[str],
           market: np.ndarray) -> np.ndarray:
    """Prices with a common market factor, so the market model has something to fit."""
    betas = rng.uniform(0.5, 1.5, len(symbols))
    noise = rng.normal(0, 0.015, (len(days), len(symbols)))
    returns = betas * market[:, None] + noise
    return 20 * np.exp(np.cumsum(returns, axis=0))


def make_small_universe(root: Path) -> dict[str, Path]:
    """A small generated universe (24 US stocks, 12 Hong Kong ones with volume, a common market
    factor per market, 2024-01-02..2025-03-31) as ``universe/prices.parquet`` with its
    symbols table (market, industry), a price folder of ^IXIC, ^HSI and HKD=X (7.8 on every
    weekday), and a study of 2025-01-02..02-28 in USD with fees 0.001 and one event."""
    rng = np.random.default_rng(12)
    rows = []
    prices = root / "prices"
    prices.mkdir()
    markets = (("XNAS", US, "^IXIC", None), ("XHKG", HK, "^HSI", "HKD=X"))
    for calendar, symbols, index, fx in markets:
        days = sessions(calendar, "2024-01-02", "2025-03-31")
        market = rng.normal(0.0003, 0.01, len(days))
        closes = _walks(rng, symbols, days, market)
        for j, symbol in enumerate(symbols):
            volume = 1e6 * (j + 1) if calendar == "XHKG" else np.nan
            rows += [{"symbol": symbol, "date": d, "close": c, "adj_close": c, "volume": volume}
                     for d, c in zip(days, closes[:, j], strict=True)]
        index_closes = 1000 * np.exp(np.cumsum(market))
        pd.DataFrame({"date": days, "close": index_closes}).to_csv(
            prices / f"{index.replace('^', '_')}.csv", index=False)
        if fx:
            weekdays = pd.bdate_range("2024-01-01", "2025-03-31").strftime("%Y-%m-%d")
            pd.DataFrame({"date": weekdays, "close": 7.8}).to_csv(prices / "HKD_X.csv",
                                                                   index=False)
    frame = pd.DataFrame(rows).sort_values(["symbol", "date"], kind="stable")
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    universe = root / "universe"
    universe.mkdir()
    frame.to_parquet(universe / "prices.parquet", index=False)
    pd.DataFrame({
        "symbol": US + HK,
        "market": ["US"] * len(US) + ["HK"] * len(HK),
        "industry": [INDUSTRY[s] for s in US + HK],
    }).to_csv(universe / "symbols.csv", index=False)
    study = write_yaml(root / "study.yaml", SMALL_UNIVERSE_STUDY)
    return {"root": root, "prices": prices, "universe": universe / "prices.parquet",
            "study": study}


def symbols_basket(root: Path, name: str, symbols: Sequence[str], extra: str = "") -> Path:
    """``root/NAME.yaml``: a basket of ``symbols`` at equal weights, ``extra`` lines (rules)
    before its constituents."""
    lines = "".join(f"  - {{symbol: '{s}'}}\n" for s in symbols)
    return write_yaml(root / f"{name}.yaml", f"name: {name}\n{extra}constituents:\n{lines}")


def small_universe_inputs(project: dict[str, Path], fees: float | None = None):
    """The universe, price source (the price folder, then the universe) and resolved study of
    :func:`make_small_universe`'s ``project``."""
    from engine.config.studies import load_study
    from engine.data.sources import open_source
    from engine.data.universe import UniverseSource
    from engine.pipeline.study import resolve_study

    universe = UniverseSource(project["universe"])
    source = open_source(project["prices"], universe=universe)
    return universe, source, resolve_study(load_study(project["study"]), fees=fees)


#: How closely two simulations of the same baskets must agree.
BACKTEST_TOLERANCE = 1e-12


def real_run(shared_prices: Path, study_file: str):
    """``basket run`` of the real baskets of ``baskets/`` under ``baskets/studies/STUDY_FILE``
    on the shared prices, as a Python call (its RunResult)."""
    from engine.config.baskets import load_basket
    from engine.config.studies import load_study
    from engine.data.csvfolder import CsvFolderSource
    from engine.pipeline.runs import run
    from engine.pipeline.study import resolve_study

    study = resolve_study(load_study(PROJECT / "baskets" / "studies" / study_file))
    baskets = [load_basket(path) for path in sorted((PROJECT / "baskets").glob("*.yaml"))]
    return run(baskets, study, CsvFolderSource(shared_prices), skip_missing=True)


def generated_baskets(panel, baskets, count: int, seed: int):
    """``count`` baskets of 2-12 random constituents of ``baskets`` with random weights."""
    from engine.config.baskets import Basket, Constituent

    rng = np.random.default_rng(seed)
    symbols = sorted({s for b in baskets for s in b.symbols} & set(panel.prices.columns))
    generated = []
    for number in range(count):
        chosen = rng.choice(symbols, size=int(rng.integers(2, 13)), replace=False)
        weights = rng.dirichlet(np.ones(len(chosen)))
        generated.append(
            Basket(
                name=f"generated {number}",
                constituents=tuple(
                    Constituent(str(s), float(w)) for s, w in zip(chosen, weights, strict=True)
                ),
                weighting="custom",
                rebalance=str(rng.choice(["none", "monthly", "quarterly"])),
            )
        )
    return generated


def assert_same_backtest(compiled, reference) -> None:
    """Equity, holdings, contributions and fees of two BacktestResults agree to 1e-12."""
    for name in ("equity", "holdings"):
        mine, theirs = getattr(compiled, name), getattr(reference, name)
        assert mine.index.equals(theirs.index) and mine.columns.equals(theirs.columns)
        np.testing.assert_allclose(mine, theirs, rtol=BACKTEST_TOLERANCE, atol=BACKTEST_TOLERANCE,
                                   err_msg=name)
    for name in ("contributions", "fees"):
        mine, theirs = getattr(compiled, name), getattr(reference, name)
        assert mine.index.equals(theirs.index)
        np.testing.assert_allclose(mine, theirs, rtol=BACKTEST_TOLERANCE, atol=BACKTEST_TOLERANCE,
                                   err_msg=name)
    assert compiled.rebalances == reference.rebalances
