"""The universe price source: long-format parquet/CSV files, symbols table, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT, sessions

from engine.data.sources import FirstOfSources, open_source
from engine.data.universe import SURVIVORSHIP_NOTE, UniverseSource
from engine.errors import OptionError, PriceFileError

SHARED_UNIVERSE = PROJECT.parent / "shared" / "data" / "universe"


def long_rows(symbols: dict[str, list[float]], dates: list[str]) -> pd.DataFrame:
    rows = [
        {"symbol": s, "date": d, "close": c, "adj_close": c, "volume": 1000.0}
        for s, closes in symbols.items()
        for d, c in zip(dates, closes, strict=False)
    ]
    return pd.DataFrame(rows)


def write_universe(folder: Path, frame: pd.DataFrame, kind: str = "parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"prices.{kind}"
    if kind == "parquet":
        frame = frame.assign(date=pd.to_datetime(frame["date"]).dt.date)
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


DATES = ["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07"]


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_fetch_reads_only_the_symbols_asked_for(tmp_path, kind):
    frame = long_rows({"AAA": [1, 2, 3, 4], "BBB": [5, 6, 7, 8], "0700.HK": [9, 9, 9, 9]}, DATES)
    path = write_universe(tmp_path / "u", frame, kind)
    source = UniverseSource(path)
    histories, problems = source.fetch(["BBB", "ZZZ"])
    assert list(histories) == ["BBB"]
    assert problems == {"ZZZ": f"not in {path.name}"}
    history = histories["BBB"]
    assert list(history.frame.index.strftime("%Y-%m-%d")) == DATES
    np.testing.assert_array_equal(history.closes().to_numpy(), [5, 6, 7, 8])
    assert history.frame["volume"].tolist() == [1000.0] * 4
    assert source.notes == [SURVIVORSHIP_NOTE]


def test_matrix_has_every_symbol_with_nan_where_a_bar_is_missing(tmp_path):
    frame = long_rows({"AAA": [1, 2, 3, 4], "BBB": [5, 6]}, DATES)
    matrix = UniverseSource(write_universe(tmp_path / "u", frame)).matrix(
        pd.Timestamp(DATES[1]), pd.Timestamp(DATES[3])
    )
    assert matrix.symbols == ["AAA", "BBB"]
    assert list(matrix.dates.strftime("%Y-%m-%d")) == DATES[1:]
    np.testing.assert_array_equal(matrix.closes, [[2, 6], [3, np.nan], [4, np.nan]])


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: pd.concat([f, f.iloc[[1]]]).sort_values(["symbol", "date"], kind="stable"),
         "symbol AAA: date 2025-01-03 appears more than once"),
        (lambda f: f.iloc[[1, 0, 2, 3, 4, 5, 6, 7]],
         r"symbol AAA: dates are not ascending \(2025-01-02 follows 2025-01-03\)"),
        (lambda f: f.iloc[[0, 1, 4, 5, 2, 3, 6, 7]], "the rows of symbol AAA are not together"),
        (lambda f: f.drop(columns=["close", "adj_close"]), r"missing column\(s\) close"),
        (lambda f: f.drop(columns=["symbol"]), r"missing column\(s\) symbol"),
        (lambda f: f.assign(close=f["close"].where(f.index != 5, -1.0),
                            adj_close=f["adj_close"].where(f.index != 5, -1.0)),
         "symbol BBB: close on 2025-01-03 is -1, not > 0"),
    ],
    ids=["duplicate", "unsorted", "interleaved", "no-close", "no-symbol", "negative"],
)
def test_bad_universe_files_name_the_file_symbol_and_date(tmp_path, kind, change, message):
    frame = long_rows({"AAA": [1, 2, 3, 4], "BBB": [5, 6, 7, 8]}, DATES).reset_index(drop=True)
    path = write_universe(tmp_path / "u", change(frame), kind)
    with pytest.raises(PriceFileError, match=message) as raised:
        UniverseSource(path).fetch(["AAA", "BBB"])
    assert str(path) in str(raised.value)


def test_missing_universe_file_and_symbols_table_are_option_errors(tmp_path):
    with pytest.raises(OptionError, match="--universe: universe file .* does not exist"):
        UniverseSource(tmp_path / "nothing.parquet")
    path = write_universe(tmp_path / "u", long_rows({"AAA": [1, 2]}, DATES))
    with pytest.raises(OptionError, match="--symbols: symbols table .* does not exist"):
        UniverseSource(path, tmp_path / "none.csv")


def test_symbols_table_beside_the_file_is_read_and_checked(tmp_path):
    path = write_universe(tmp_path / "u", long_rows({"AAA": [1, 2]}, DATES))
    (tmp_path / "u" / "symbols.csv").write_text("symbol,market,industry\nAAA,US,Tech\n")
    table = UniverseSource(path).symbols_table()
    assert table.loc["AAA", "industry"] == "Tech" and table.loc["AAA", "board"] == ""
    (tmp_path / "u" / "symbols.csv").write_text("symbol,market\nAAA,US\nAAA,US\n")
    with pytest.raises(PriceFileError, match="symbol AAA appears more than once"):
        UniverseSource(path).symbols_table()


def test_prices_first_then_the_universe(tmp_path, price_folder):
    folder, write = price_folder
    write("AAA", DATES, [10, 11, 12, 13])
    path = write_universe(tmp_path / "u", long_rows({"AAA": [1, 2, 3, 4], "BBB": [5, 6, 7, 8]},
                                                    DATES))
    source = open_source(folder, universe=path)
    assert isinstance(source, FirstOfSources)
    histories, problems = source.fetch(["AAA", "BBB", "CCC"])
    assert histories["AAA"].closes().iloc[0] == 10  # from the folder, not the universe
    assert histories["BBB"].closes().iloc[0] == 5
    assert problems == {"CCC": "no file CCC.csv; not in prices.parquet"}
    assert isinstance(open_source(path), UniverseSource)


def test_basket_run_reads_prices_from_a_universe_file(tmp_path, cli):
    days = sessions("XNAS", "2025-01-02", "2025-01-31")
    rng = np.random.default_rng(1)
    closes = {s: list(100 * np.cumprod(1 + rng.normal(0, 0.01, len(days))))
              for s in ("AAA", "BBB", "^IXIC")}
    path = write_universe(tmp_path / "u", long_rows(closes, days))
    (tmp_path / "b.yaml").write_text("name: Two\nconstituents: [{symbol: AAA}, {symbol: BBB}]\n")
    result = cli("run", tmp_path / "b.yaml", "--prices", path, "--start", days[0], "--end",
                 days[-1], "--benchmark", "^IXIC", "--no-events", "--format", "json", "--out",
                 tmp_path / "results")
    assert result.exit_code == 0, result.output
    assert "survivorship" in result.stderr
    # 10 bp fees on top: AAA is bought for half the cash, BBB with what is left, 0.4995 / 1.001.
    growth = {s: closes[s][-1] / closes[s][0] for s in ("AAA", "BBB")}
    expected = 0.5 * growth["AAA"] + 0.4995 / 1.001 * growth["BBB"] - 1
    row = json.loads(result.stdout)[0]
    assert row["total_return"] == pytest.approx(expected, rel=1e-9)


def test_the_real_universe_reads_whole():
    path = SHARED_UNIVERSE / "prices.parquet"
    if not path.is_file():
        pytest.skip(f"shared universe not found at {path}")
    source = UniverseSource(path)
    matrix = source.matrix(pd.Timestamp("2021-01-01"), pd.Timestamp("2026-12-31"))
    assert len(matrix.symbols) == 4268  # SOURCES.md: 4,268 symbols, 4,719,047 rows
    assert np.isfinite(matrix.closes).sum() == 4_719_047
    assert source.symbols_table().loc["0700.HK", "market"] == "HK"
