"""``basket data fetch|status|import|export`` through click's CliRunner, with the fake Yahoo HTTP
layer (no network), and the data-quality notes and ``--strict`` of ``basket run``/``event``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import PROJECT, flat_history, only_run, write_yaml
from conftest_yahoo import NOW, fake_yahoo  # noqa: F401
from yahoo_fake import FakeYahoo

from engine.data.cache import PriceCache
from engine.data.csvfolder import CsvFolderSource
from engine.data.flags import flag_notes, flag_summary
from engine.data.prices import PriceHistory
from engine.data.quality import quality_flags
from engine.data.store import resolve_symbols
from engine.data.yahoo import YahooSource
from engine.errors import OptionError, SymbolError
from engine.pipeline.prices import study_symbols

STUDY = PROJECT / "baskets" / "studies" / "deepseek.yaml"
#: A small basket on three exchanges, and what a run of it under the DeepSeek study needs.
TRIO = ["0700.HK", "688981.SS", "NVDA"]
TRIO_NEEDS = [*TRIO, "^IXIC", "CNY=X", "HKD=X", "000300.SS", "^HSI"]
STATUS_KEYS = {
    "symbol", "state", "first_date", "last_date", "rows", "stale", "last_session", "calendar",
    "currency", "source", "fetched_at", "adjustment", "message", "flags",
}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache named by $BASKET_CACHE, as a user would set it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("BASKET_CACHE", str(folder))
    return folder


@pytest.fixture
def yahoo(
    fake_yahoo: FakeYahoo, cache_dir: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> FakeYahoo:
    """Every YahooSource the CLI builds talks to the fake Yahoo, at the tests' fixed clock."""
    original = YahooSource.__init__

    def init(self: YahooSource, cache: Any = None, **options: Any) -> None:
        options["session"] = options.get("session") or fake_yahoo.session()
        options.setdefault("now", lambda: NOW)
        options.setdefault("sleep", lambda seconds: None)
        options.setdefault("progress", False)
        original(self, cache, **options)

    monkeypatch.setattr(YahooSource, "__init__", init)
    return fake_yahoo


@pytest.fixture
def trio(tmp_path: Path, shared_prices: Path) -> dict[str, Path]:
    """A basket of TRIO, and a CSV folder with exactly the files its run needs."""
    folder = tmp_path / "trio-prices"
    folder.mkdir()
    for symbol in TRIO_NEEDS:
        name = f"{symbol.replace('^', '_').replace('=', '_')}.csv"
        shutil.copy(shared_prices / name, folder / name)
    shutil.copy(shared_prices / "SOURCES.md", folder / "SOURCES.md")
    lines = "".join(f"  - symbol: '{s}'\n" for s in TRIO)
    basket = write_yaml(tmp_path / "trio.yaml", f"name: Trio\nconstituents:\n{lines}")
    return {"prices": folder, "basket": basket}


def fetch_json(cli, *args: Any) -> tuple[Any, list[dict[str, Any]]]:
    result = cli("data", "fetch", *args, "--format", "json")
    rows = json.loads(result.stdout) if result.stdout.strip() else []
    return result, rows


# -- fetch -----------------------------------------------------------------------------------


def test_fetch_of_a_basket_brings_everything_its_run_needs(cli, yahoo, cache_dir, trio):
    result, rows = fetch_json(cli, "--basket", trio["basket"], "--study", STUDY)
    assert result.exit_code == 0, result.output
    assert [r["symbol"] for r in rows] == TRIO_NEEDS
    assert {r["action"] for r in rows} == {"fetched"}
    for row in rows:
        assert row["rows"] > 200  # the estimation window reaches back into early 2024
        assert row["first_date"] <= "2024-02-01" and row["last_date"] == "2025-02-28"
    assert {p.name for p in (cache_dir / "prices").glob("*.json")} == {
        f"{s.replace('^', '_').replace('=', '_')}.json" for s in TRIO_NEEDS
    }
    assert "8 symbols: 8 fetched, 0 updated, 0 cached, 0 failed; Yahoo Finance" in result.stderr
    calls = len(yahoo.history_calls())

    again, rows = fetch_json(cli, "--basket", trio["basket"], "--study", STUDY)
    assert again.exit_code == 0, again.output
    assert {r["action"] for r in rows} == {"cached"}
    assert len(yahoo.history_calls()) == calls  # nothing downloaded twice


def test_a_fetched_basket_then_runs_offline(cli, yahoo, trio, tmp_path):
    assert cli("data", "fetch", "--basket", trio["basket"], "--study", STUDY).exit_code == 0
    yahoo.unreachable = True
    result = cli("run", trio["basket"], "--study", STUDY, "--offline", "--out", tmp_path / "out",
                 "--format", "json", "--no-events")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["basket"] == "Trio"


def test_fetch_failures_exit_1_naming_every_failed_symbol(cli, yahoo, shared_prices):
    yahoo.unknown |= {"ZZZZ", "YYYY"}
    result, rows = fetch_json(cli, "NVDA", "ZZZZ", "YYYY", "--start", "2024-01-02")
    assert result.exit_code == 1
    assert [(r["symbol"], r["action"]) for r in rows] == [
        ("NVDA", "fetched"), ("ZZZZ", "failed"), ("YYYY", "failed")
    ]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "could not fetch 2 symbols" in errors[0]
    assert "YYYY (" in errors[0] and "ZZZZ (" in errors[0]


def test_fetch_offline_reports_what_the_cache_lacks(cli, yahoo):
    result, rows = fetch_json(cli, "NVDA", "--offline")
    assert result.exit_code == 1
    assert rows[0]["action"] == "failed" and "not in cache (offline)" in rows[0]["message"]
    assert yahoo.calls == []


def test_fetch_notes_rewritten_symbols(cli, yahoo, shared_prices):
    result, rows = fetch_json(cli, "700.hk", "688981.SH", "--start", "2025-01-02")
    assert result.exit_code == 0, result.output
    assert [r["symbol"] for r in rows] == ["0700.HK", "688981.SS"]
    assert "note: symbol '700.hk' read as '0700.HK'" in result.stderr
    assert "note: symbol '688981.SH' read as '688981.SS'" in result.stderr
    assert [c.chart_symbol for c in yahoo.history_calls()] == ["0700.HK", "688981.SS"]


def test_a_symbol_without_a_known_exchange_is_refused(cli, yahoo):
    result = cli("data", "fetch", "SAP.DE", "NVDA")
    assert result.exit_code == 2
    assert "symbol 'SAP.DE': has no known exchange" in result.stderr
    assert "--exchange" in result.stderr
    assert yahoo.calls == []  # refused before asking anything


def test_an_explicit_exchange_makes_any_symbol_fetchable(cli, yahoo):
    yahoo.frames["SAP.DE"] = pd.DataFrame(
        {"open": [1.0, 1.1], "high": [1.0, 1.1], "low": [1.0, 1.1], "close": [1.0, 1.1],
         "adj_close": [1.0, 1.1], "volume": [10, 10]},
        index=pd.DatetimeIndex(["2025-01-02", "2025-01-03"], name="date"),
    )
    result, rows = fetch_json(cli, "SAP.DE", "--exchange", "XNYS", "--start", "2025-01-02",
                              "--end", "2025-01-03")
    assert result.exit_code == 0, result.output
    assert rows[0]["symbol"] == "SAP.DE" and rows[0]["action"] == "fetched"
    assert "pass --exchange" not in result.stderr


def test_resolve_symbols_in_python():
    found = resolve_symbols(["00700.HK", "nvda", "CNY=X", "0700.HK"])
    assert found.symbols == ["0700.HK", "NVDA", "CNY=X"]
    assert found.notes == ["symbol '00700.HK' read as '0700.HK'", "symbol 'nvda' read as 'NVDA'"]
    with pytest.raises(SymbolError, match=r"'FOO.L'.*also BAR.PA"):
        resolve_symbols(["FOO.L", "BAR.PA"])
    explicit = resolve_symbols(["FOO.L"], exchange="xnys", currency="gbp")
    assert explicit.listings["FOO.L"].calendar == "XNYS"
    assert explicit.listings["FOO.L"].currency == "GBP"
    with pytest.raises(OptionError, match="--exchange"):
        resolve_symbols(["FOO.L"], exchange="XLON")
    with pytest.raises(OptionError, match="needs --exchange"):
        resolve_symbols(["FOO.L"], currency="GBP")


def test_study_symbols_lists_benchmark_fx_and_market_indices():
    from engine.config.baskets import load_basket
    from engine.config.studies import load_study

    needs = study_symbols([load_basket(PROJECT / "baskets" / "report_headliners.yaml")],
                          load_study(STUDY))
    # Hong Kong stocks only: the benchmark, HKD=X and the Hang Seng, no CNY=X nor CSI 300
    assert needs.symbols[-3:] == ["^IXIC", "HKD=X", "^HSI"]
    assert "CNY=X" not in needs.symbols
    assert needs.start is not None and needs.start < pd.Timestamp("2024-03-01")
    assert needs.end == pd.Timestamp("2025-02-28")


# -- import, status, export ------------------------------------------------------------------


def test_import_status_json_and_flags_of_the_shared_data(cli, cache_dir, trio):
    folder = trio["prices"]
    imported = cli("data", "import", folder)
    assert imported.exit_code == 0, imported.output
    assert "imported 0700.HK: " in imported.stdout
    assert f"{len(TRIO_NEEDS)} imported into {cache_dir / 'prices'}, 0 refused" in imported.stderr

    result = cli("data", "status", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert sorted(r["symbol"] for r in rows) == sorted(TRIO_NEEDS)
    assert all(set(r) >= STATUS_KEYS for r in rows)
    hk = next(r for r in rows if r["symbol"] == "0700.HK")
    assert hk["state"] in ("fresh", "stale") and hk["stale"] is (hk["state"] == "stale")
    assert hk["calendar"] == "XHKG" and hk["currency"] == "HKD"
    assert hk["source"].startswith("import:") and hk["first_date"] == "2019-01-02"
    kinds = {(f["kind"], f["first"]) for f in hk["flags"]}
    assert ("placeholder_bar", "2024-12-24") in kinds
    # Hong Kong's typhoon day: no cached Hong Kong symbol (0700.HK, ^HSI) has a bar, so it is a
    # closure, not a missing bar of 0700.HK.
    assert not any(kind == "missing_sessions" and first == "2023-09-01" for kind, first in kinds)
    flag = next(f for f in hk["flags"] if f["first"] == "2024-12-24")
    assert set(flag) == {"kind", "severity", "first", "last", "dates", "message"}
    assert flag["severity"] == "warning" and flag["dates"] == ["2024-12-24"]

    table = cli("data", "status", "0700.hk")
    assert table.exit_code == 0
    assert "placeholder_bar x" in table.stdout and "import" in table.stdout
    assert "note: symbol '0700.hk' read as '0700.HK'" in table.stderr
    for fmt, marker in (("csv", "symbol,state,first"), ("markdown", "| 0700.HK |")):
        assert marker in cli("data", "status", "0700.HK", "--format", fmt).stdout


def test_status_strict_fails_on_warnings_only(cli, cache_dir, trio):
    assert cli("data", "import", trio["prices"]).exit_code == 0
    strict = cli("data", "status", "--strict", "--format", "json")
    assert strict.exit_code == 2
    assert json.loads(strict.stdout)  # the report is printed before failing
    (line,) = [x for x in strict.stderr.splitlines() if x.startswith("Error:")]
    assert "data-quality check failed" in line and "0700.HK: " in line
    clean = cli("data", "status", "NVDA", "--strict")
    assert clean.exit_code == 0, clean.output


def test_status_of_a_symbol_not_cached_and_of_an_empty_cache(cli, cache_dir):
    empty = cli("data", "status")
    assert empty.exit_code == 0 and "is empty" in empty.stderr
    missing = cli("data", "status", "NVDA", "--format", "json")
    assert json.loads(missing.stdout)[0]["state"] == "missing"


def test_the_cache_option_names_the_folder(cli, cache_dir, trio, tmp_path):
    other = tmp_path / "other-cache"
    assert cli("data", "--cache", other, "import", trio["prices"]).exit_code == 0
    assert (other / "prices" / "NVDA.json").is_file()
    assert not cache_dir.exists()
    rows = json.loads(cli("data", "--cache", other, "status", "--format", "json").stdout)
    assert len(rows) == len(TRIO_NEEDS)


def test_import_refuses_bad_files_and_reads_yfinance_exports(cli, cache_dir, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "NVDA.csv").write_text("date,close\n2025-01-02,138.31\n2025-01-03,144.47\n")
    (folder / "BAD.csv").write_text("date,close\n2025-01-02,abc\n")
    (folder / "pair.csv").write_text(
        "Price,Close,Close,Volume,Volume\n"
        "Ticker,0700.HK,9988.HK,0700.HK,9988.HK\n"
        "Date,,,,\n"
        "2025-01-02,400.0,80.0,100,200\n"
        "2025-01-03,404.0,81.0,100,200\n"
    )
    result = cli("data", "import", folder)
    assert result.exit_code == 2
    assert sorted(line.split(":")[0] for line in result.stdout.splitlines()) == [
        "imported 0700.HK", "imported 9988.HK", "imported NVDA"
    ]
    assert "refused BAD.csv: " in result.stderr and "'abc' is not a number" in result.stderr
    assert result.stderr.count("Error:") == 1 and "refused BAD.csv" in result.stderr
    cache = PriceCache(cache_dir)
    assert cache.read("9988.HK").frame["close"].tolist() == [80.0, 81.0]


def test_export_round_trips_and_reads_back_as_a_price_folder(cli, cache_dir, trio, tmp_path):
    assert cli("data", "import", trio["prices"]).exit_code == 0
    result = cli("data", "export", tmp_path / "exported")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(TRIO_NEEDS)
    original, exported = CsvFolderSource(trio["prices"]), CsvFolderSource(tmp_path / "exported")
    for symbol in TRIO_NEEDS:
        assert exported.read(symbol).fingerprint() == original.read(symbol).fingerprint()
    meta = json.loads((tmp_path / "exported" / "SOURCES.json").read_text())
    assert {m["symbol"] for m in meta} == set(TRIO_NEEDS)
    # and back in: the same bars
    again = cli("data", "--cache", tmp_path / "again", "import", tmp_path / "exported")
    assert again.exit_code == 0, again.output
    back = PriceCache(tmp_path / "again").read("0700.HK")
    assert back.fingerprint() == original.read("0700.HK").fingerprint()


# -- corrupted cache entries -----------------------------------------------------------------


def corrupt(cache_dir: Path, stem: str) -> None:
    path = cache_dir / "prices" / f"{stem}.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupted_entry_shows_as_corrupt_and_is_never_exported(cli, cache_dir, trio,
                                                                  tmp_path):
    assert cli("data", "import", trio["prices"]).exit_code == 0
    corrupt(cache_dir, "NVDA")
    result = cli("data", "status", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["symbol"]: r for r in json.loads(result.stdout)}
    assert rows["NVDA"]["state"] == "corrupt" and rows["NVDA"]["rows"] is None
    assert "checksum mismatch" in rows["NVDA"]["message"]
    assert [(f["kind"], f["severity"]) for f in rows["NVDA"]["flags"]] == [
        ("corrupt_cache", "error")
    ]
    assert rows["0700.HK"]["state"] != "corrupt"
    strict = cli("data", "status", "NVDA", "--strict")
    assert strict.exit_code == 2 and "corrupt_cache" in strict.stderr

    exported = cli("data", "export", tmp_path / "out")
    assert exported.exit_code == 1
    assert "left out NVDA: cache entry for NVDA is corrupted" in exported.stderr
    assert not (tmp_path / "out" / "NVDA.csv").exists()
    assert (tmp_path / "out" / "0700.HK.csv").exists()


def test_a_run_offline_on_a_corrupted_entry_is_a_clear_error(cli, cache_dir, trio, tmp_path):
    assert cli("data", "import", trio["prices"]).exit_code == 0
    corrupt(cache_dir, "NVDA")
    result = cli("run", trio["basket"], "--study", STUDY, "--offline", "--out", tmp_path / "out",
                 "--no-events")
    assert result.exit_code == 2
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("Error:")]
    assert "NVDA (cache entry for NVDA is corrupted" in line and "cannot refetch" in line
    assert not (tmp_path / "out").exists()


def test_a_run_refetches_a_corrupted_entry_and_says_so(cli, yahoo, cache_dir, trio, tmp_path):
    assert cli("data", "import", trio["prices"]).exit_code == 0
    corrupt(cache_dir, "NVDA")
    result = cli("run", trio["basket"], "--study", STUDY, "--out", tmp_path / "out",
                 "--no-events", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "note: cache entry for NVDA is corrupted" in result.stderr
    assert "CacheWarning" not in result.stderr  # said once, as a note
    assert [c.chart_symbol for c in yahoo.history_calls()] == ["NVDA"]
    status = json.loads(cli("data", "status", "NVDA", "--format", "json").stdout)
    assert status[0]["state"] != "corrupt" and status[0]["source"] == "yahoo"


# -- runs: offline equals --prices, notes, --strict --------------------------------------------


def test_run_offline_from_the_imported_folder_equals_run_with_prices(cli, cache_dir, trio,
                                                                     tmp_path):
    assert cli("data", "import", trio["prices"]).exit_code == 0
    common = [trio["basket"], "--study", STUDY, "--format", "json"]
    with_prices = cli("run", *common, "--prices", trio["prices"], "--out", tmp_path / "a")
    offline = cli("run", *common, "--offline", "--out", tmp_path / "b")
    assert with_prices.exit_code == 0, with_prices.output
    assert offline.exit_code == 0, offline.output
    assert json.loads(offline.stdout) == json.loads(with_prices.stdout)
    events = [
        pd.read_csv(only_run(tmp_path / d) / "events" / "summary.csv") for d in "ab"
    ]
    pd.testing.assert_frame_equal(events[0], events[1])
    notes = [
        json.loads((only_run(tmp_path / d) / "manifest.json").read_text())["notes"]
        for d in "ab"
    ]
    assert notes[0] == notes[1]


def test_run_notes_summarise_flags_on_the_terminal_and_keep_details(cli, trio, tmp_path):
    result = cli("run", trio["basket"], "--study", STUDY, "--prices", trio["prices"],
                 "--out", tmp_path / "out", "--no-events")
    assert result.exit_code == 0, result.output
    notes = [x for x in result.stderr.splitlines() if "data check" in x]
    assert notes == [
        "note: data check placeholder_bar (warning): 3 flags on 1 symbol (0700.HK); details "
        "in manifest.json and `basket data status`"
    ]
    manifest = json.loads((only_run(tmp_path / "out") / "manifest.json").read_text())
    assert (
        "0700.HK: data check placeholder_bar (warning), 3 flags on 2024-12-24, "
        "2024-12-31, 2025-01-28; first: placeholder bar (volume missing, no open, no high, "
        "no low): close 416.365 kept; lower-quality price"
    ) in manifest["notes"]


def test_run_strict_fails_without_writing_a_run_folder(cli, trio, tmp_path):
    result = cli("run", trio["basket"], "--study", STUDY, "--prices", trio["prices"],
                 "--out", tmp_path / "out", "--no-events", "--strict")
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: data-quality check failed with 3 flags: 0700.HK: 3 "
                           "placeholder_bar (first 2024-12-24)")
    assert not (tmp_path / "out").exists()


def test_run_strict_passes_on_clean_data(cli, trio, tmp_path):
    basket = write_yaml(tmp_path / "us.yaml", "name: US\nconstituents:\n  - symbol: NVDA\n")
    result = cli("run", basket, "--study", STUDY, "--prices", trio["prices"], "--out",
                 tmp_path / "out", "--no-events", "--strict", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "data check" not in result.stderr


def test_event_strict_fails_and_notes_otherwise(cli, trio, tmp_path):
    args = ["event", trio["basket"], "--study", STUDY, "--prices", trio["prices"],
            "--window", "0:1", "--event", "2025-01-27"]
    plain = cli(*args, "--out", tmp_path / "a")
    assert plain.exit_code == 0, plain.output
    assert (
        "note: data check placeholder_bar (warning): 3 flags on 1 symbol (0700.HK)"
        in plain.stderr
    )
    strict = cli(*args, "--out", tmp_path / "b", "--strict")
    assert strict.exit_code == 2 and "data-quality check failed" in strict.stderr
    assert not (tmp_path / "b").exists()


# -- the notes themselves ----------------------------------------------------------------------


def bars(symbol: str, closes: list[float], start: str = "2024-03-04") -> PriceHistory:
    from engine.calendars import sessions

    days = sessions("XNAS", pd.Timestamp(start), pd.Timestamp(start) + pd.Timedelta(days=60))
    return flat_history(symbol, closes, days)


def quality_notes(histories, **period):
    return flag_notes(quality_flags(histories, **period))


def test_quality_notes_group_by_symbol_and_kind_and_respect_the_period():
    stale = bars("NVDA", [10, 11, 11, 11, 11, 11, 11, 12, 13, 13, 13, 13, 13, 13, 14])
    notes = quality_notes({"NVDA": stale})
    assert notes == [
        "NVDA: data check stale_quotes (warning), 2 flags on 2024-03-06..2024-03-12, "
        "2024-03-15..2024-03-21; first: close unchanged at 11 for 5 sessions in a row (a quote "
        "that stopped updating?)"
    ]
    # restricted to the period after the first run: one flag left, said without "first:"
    later = quality_notes({"NVDA": stale}, start=pd.Timestamp("2024-03-13"))
    assert later == [
        "NVDA: data check stale_quotes (warning), 1 flag on 2024-03-15..2024-03-21; close "
        "unchanged at 13 for 5 sessions in a row (a quote that stopped updating?)"
    ]
    assert quality_notes({"NVDA": stale}, end=pd.Timestamp("2024-03-08")) == []
    assert flag_notes([]) == []


def test_flag_groups_name_the_symbols_flagged_alike_on_the_same_dates():
    from engine.data.flags import Flag, flag_groups

    def placeholder(symbol, day, close, severity="warning"):
        return Flag(symbol, "placeholder_bar", (pd.Timestamp(day),),
                    f"placeholder bar (volume missing): close {close} kept", severity)

    flags = [
        placeholder("0700.HK", "2024-12-24", 395), placeholder("0700.HK", "2024-12-31", 410),
        placeholder("9988.HK", "2024-12-24", 80.1), placeholder("9988.HK", "2024-12-31", 82),
        placeholder("0020.HK", "2024-12-24", 1.05),  # one date fewer: a group of its own
        Flag("NVDA", "stale_quotes", tuple(pd.bdate_range("2024-03-06", "2024-03-08")),
             "close unchanged at 11 for 3 sessions in a row"),
        placeholder("1810.HK", "2024-12-24", 17.3, "error"),  # worse: not with 0020.HK
    ]
    groups = flag_groups(flags)
    assert [(g.kind, g.severity, g.spans, g.symbols, g.message) for g in groups] == [
        ("placeholder_bar", "warning", ("2024-12-24", "2024-12-31"), ("0700.HK", "9988.HK"),
         "placeholder bar (volume missing)"),
        ("placeholder_bar", "warning", ("2024-12-24",), ("0020.HK",),
         "placeholder bar (volume missing): close 1.05 kept"),
        ("stale_quotes", "warning", ("2024-03-06..2024-03-08",), ("NVDA",),
         "close unchanged at 11 for 3 sessions in a row"),
        ("placeholder_bar", "error", ("2024-12-24",), ("1810.HK",),
         "placeholder bar (volume missing): close 17.3 kept"),
    ]
    # every date a run of flags covers, not only its ends (a purchase inside it matters)
    assert [str(d.date()) for d in groups[2].dates] == ["2024-03-06", "2024-03-07",
                                                        "2024-03-08"]
    assert flag_groups([]) == []


def test_shared_message_keeps_whole_clauses_only():
    from engine.data.flags import shared_message

    assert shared_message(["close 1 kept", "close 1 kept"]) == "close 1 kept"
    assert shared_message(["bar (no open): close 1", "bar (no open): close 2"]) == "bar (no open)"
    assert shared_message(["bar (no open): 1", "bar (no high): 1"]) == "bar"
    assert shared_message(["gap of 3 days", "gap of 4 days"]) == ""


def test_a_flag_record_round_trips_through_json():
    import json

    from engine.data.flags import Flag

    flag = Flag("0700.HK", "stale_quotes", (pd.Timestamp("2024-03-06"), pd.Timestamp("2024-03-07")),
                "close unchanged at 11", "info")
    record = json.loads(json.dumps(flag.record()))
    assert record == {"symbol": "0700.HK", "kind": "stale_quotes", "severity": "info",
                      "dates": ["2024-03-06", "2024-03-07"], "message": "close unchanged at 11"}
    assert Flag.from_record(record) == flag


def test_terminal_summary_has_one_line_per_kind_across_symbols():
    stale = [10, 11, 11, 11, 11, 11, 11, 12]
    flags = quality_flags({s: bars(s, stale) for s in ("AAA", "BBB", "CCC", "DDD", "EEE")})
    assert flag_summary(flags) == [
        "data check stale_quotes (warning): 5 flags on 5 symbols "
        "(AAA, BBB, CCC, DDD and 1 more)"
    ]
    assert flag_summary(flags[:1]) == ["data check stale_quotes (warning): 1 flag on 1 symbol "
                                       "(AAA)"]


def test_a_basket_listing_override_reaches_the_yahoo_source(cli, yahoo, shared_prices, tmp_path):
    """SAP.DE has no known exchange: the basket names one, and the run's Yahoo source checks
    Yahoo's metadata against it (a US-quoted stand-in here) instead of refusing the symbol."""
    nvda = pd.read_csv(shared_prices / "NVDA.csv", index_col="date", parse_dates=True)
    yahoo.frames["SAP.DE"] = nvda
    basket = write_yaml(
        tmp_path / "sap.yaml",
        "name: SAP\nconstituents:\n  - {symbol: SAP.DE, exchange: XNYS, currency: USD}\n",
    )
    result = cli("run", basket, "--study", STUDY, "--out", tmp_path / "out", "--no-events",
                 "--format", "json", "--fees", "0")
    assert result.exit_code == 0, result.output
    sap = json.loads(result.stdout)[0]
    assert sap["total_return"] == pytest.approx(
        nvda.loc["2025-02-28", "adj_close"] / nvda.loc["2024-12-31", "adj_close"] - 1, rel=1e-6
    )


def test_yahoo_metadata_is_checked_against_a_basket_listing_override(cli, yahoo, shared_prices,
                                                                      tmp_path):
    yahoo.frames["SAP.DE"] = pd.read_csv(shared_prices / "NVDA.csv", index_col="date",
                                         parse_dates=True)
    yahoo.meta_overrides["SAP.DE"] = {"currency": "EUR", "exchangeTimezoneName": "Europe/Berlin"}
    basket = write_yaml(
        tmp_path / "sap.yaml",
        "name: SAP\nconstituents:\n  - {symbol: SAP.DE, exchange: XNYS, currency: USD}\n",
    )
    result = cli("run", basket, "--study", STUDY, "--out", tmp_path / "out", "--no-events")
    assert result.exit_code == 2
    assert "SAP.DE (Yahoo's metadata says" in result.stderr
