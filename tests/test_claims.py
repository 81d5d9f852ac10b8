"""`basket claims`: the claims schema, windows, measured figures, verdicts, as-of inference.

Generated prices are step functions whose returns are written down by hand: AAA is 100 up to
2024-12-31, 120 from 2025-01-02, 151 on 2025-02-14 and 160 from 2025-02-18, so "since
January" measured as of 2025-02-14 is 151 / 100 - 1 = +51 % exactly, and +20 % a day earlier.
"""

from __future__ import annotations

import fcntl
import io
import json
import math
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pandas as pd
import pytest
from conftest import read_pty
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analysis.claims import CLOSE, FAILS, HOLDS, UNCHECKED, judge, listing_path
from engine.calendars import all_sessions
from engine.config.claims import CLOSE_FACTOR, load_claims, parse_figure
from engine.config.validate import discover_baskets
from engine.data.csvfolder import CsvFolderSource
from engine.errors import ConfigError
from engine.pipeline.claims import check_claims
from engine.symbols import listing_of
from tests.conftest import PROJECT, only_run, run_folders, sessions, write_yaml

US_DAYS = sessions("XNAS", "2022-12-01", "2025-03-31")
HK_DAYS = sessions("XHKG", "2024-11-01", "2025-03-31")


def steps(days: list[str], levels: dict[str, float]) -> list[float]:
    """The level of the last key on or before each day."""
    keys = sorted(levels)
    out = []
    for day in days:
        past = [k for k in keys if k <= day]
        out.append(levels[past[-1]] if past else levels[keys[0]])
    return out


@pytest.fixture
def prices(price_folder):
    folder, write = price_folder
    late = [d for d in US_DAYS if d >= "2024-11-01"]
    write(
        "AAA",
        late,
        steps(late, {"2024-11-01": 100, "2025-01-02": 120, "2025-02-14": 151, "2025-02-18": 160}),
    )
    write("BBB", late, steps(late, {"2024-11-01": 50, "2025-01-02": 55, "2025-02-14": 76.5}))
    write("^IXIC", late, steps(late, {"2024-11-01": 1000, "2025-02-14": 1100}))
    # Tripled since 2023 (a total return of 2), and doubled.
    write("TTT", US_DAYS, steps(US_DAYS, {"2022-12-01": 10, "2025-02-14": 30}))
    write("DBL", US_DAYS, steps(US_DAYS, {"2022-12-01": 10, "2025-02-14": 20}))
    gap = [d for d in late if d != "2025-02-14"]
    write("GAP", gap, steps(gap, {"2024-11-01": 10, "2025-02-13": 11}))
    write("0001.HK", HK_DAYS, steps(HK_DAYS, {"2024-11-01": 10, "2025-02-14": 12}))
    weekdays = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2024-11-01", "2025-03-31")]
    write("HKD=X", weekdays, steps(weekdays, {"2024-11-01": 7.80, "2025-01-02": 7.70}))
    return folder


CLAIMS_HEAD = "source: {title: Test report, published: 2025-02-19}\nasof: 2025-02-15\nclaims:\n"


def claims_file(tmp_path: Path, body: str, head: str = CLAIMS_HEAD) -> Path:
    return write_yaml(tmp_path / "claims" / "c.yaml", head + body)


def check(tmp_path, prices, body, **options):
    claims = load_claims(claims_file(tmp_path, body))
    return check_claims(claims, CsvFolderSource(prices), **options)


def only(run, symbol=None):
    rows = [r.to_dict() for r in run.rows if symbol is None or r.subject == symbol]
    assert len(rows) == 1, rows
    return rows[0]


# --------------------------------------------------------------------------- schema


def test_the_issue_form_loads_with_its_defaults(tmp_path):
    path = claims_file(
        tmp_path,
        "",
        head="""source: {title: "CITIC Securities on DeepSeek", published: 2025-02-18}
asof: 2025-02-14
claims:
  - text: "Alibaba rose 51% since January"
    symbols: [9988.HK, BABA]
    since: 2025-01-01
    printed: 0.51
  - text: "Nvidia has risen 8.5 times since 2023"
    symbols: [NVDA]
    since: 2023-01-01
    until: 2025-02-14
    printed: 8.5
""",
    )
    claims = load_claims(path)
    first, second = claims.claims
    assert claims.asof.isoformat() == "2025-02-14" and claims.published.isoformat() == "2025-02-18"
    assert first.symbols == ("9988.HK", "BABA") and first.until is None
    assert (first.figure.value, first.figure.tolerance) == (0.51, 0.005)
    assert first.close_band() == pytest.approx(CLOSE_FACTOR * 0.005)
    assert second.times and second.figure.tolerance == pytest.approx(0.05)
    assert not first.times


def test_asof_defaults_to_the_publication_date(tmp_path):
    path = claims_file(
        tmp_path,
        "  - {text: t, symbols: AAA, since: 2025-01-01, printed: 0.5}\n",
        head="source: {title: T, published: 2025-02-18}\nclaims:\n",
    )
    assert load_claims(path).asof.isoformat() == "2025-02-18"


@pytest.mark.parametrize(
    ("written", "value", "tolerance", "times"),
    [
        ("0.51", 0.51, 0.005, False),
        ("51%", 0.51, 0.005, False),
        ("+51 %", 0.51, 0.005, False),
        ("1.00", 1.0, 0.005, False),
        ("1.0", 1.0, 0.05, False),
        ("100%", 1.0, 0.005, False),
        ("12.25%", 0.1225, 0.00005, False),
        ("-1", -1.0, 0.5, False),  # everything lost: the lowest total return
        ("-0.3", -0.3, 0.05, False),
        ("8.5", 8.5, 0.05, False),
        ("8.5 times", 8.5, 0.05, True),
        ("47.4x", 47.4, 0.05, True),
    ],
)
def test_the_precision_is_half_a_unit_of_the_last_written_digit(written, value, tolerance, times):
    figure = parse_figure(written, written, ValueError)
    assert figure.value == pytest.approx(value)
    assert figure.tolerance == pytest.approx(tolerance)
    assert figure.times is times


@settings(derandomize=True, max_examples=200)
@given(st.integers(-(10**6), 10**6), st.integers(0, 5))
def test_precision_property(units, decimals):
    text = f"{max(units / 10**decimals, -1):.{decimals}f}"  # no total return is below -1
    figure = parse_figure(text, text, ValueError)
    assert figure.tolerance == pytest.approx(0.5 * 10.0**-decimals)
    assert figure.value == pytest.approx(float(text))


def test_printed_precision_is_read_from_the_file_not_the_float(tmp_path):
    path = claims_file(tmp_path, "  - {text: t, symbols: AAA, since: 2025-01-01, printed: 1.00}\n")
    assert load_claims(path).claims[0].figure.tolerance == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, printed: fifty}\n",
            "c.yaml:4, field 'claims[0].printed': 'fifty' is not a figure",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, printed: [1]}\n",
            "field 'claims[0].printed': a list is not a figure",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01}\n",
            "field 'claims[0].printed': is required",
        ),
        ("  - {text: t, symbols: AAA, printed: 0.5}\n", "field 'claims[0].since': is required"),
        (
            "  - {text: t, symbols: 'A A', since: 2025-01-01, printed: 0.5}\n",
            "field 'claims[0].symbols': symbol 'A A': contains spaces",
        ),
        (
            "  - {text: t, symbols: 1234.XX, since: 2025-01-01, printed: 0.5}\n",
            "symbol '1234.XX': has no known exchange",
        ),
        (
            "  - {text: t, symbols: [AAA, aaa], since: 2025-01-01, printed: 0.5}\n",
            "field 'claims[0].symbols': lists AAA twice",
        ),
        (
            "  - {text: t, symbols: [], since: 2025-01-01, printed: 0.5}\n",
            "field 'claims[0].symbols': is empty",
        ),
        (
            "  - {text: t, since: 2025-01-01, printed: 0.5}\n",
            "give either 'symbols' (listings of one company) or 'basket'",
        ),
        (
            "  - {text: t, symbols: AAA, basket: b.yaml, since: 2025-01-01, printed: 0.5}\n",
            "or 'basket' (a basket file), not both",
        ),
        (
            "  - {text: t, basket: nope.yaml, since: 2025-01-01, printed: 0.5}\n",
            "field 'claims[0].basket': basket file",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, until: 2024-12-01, printed: 0.5}\n",
            "field 'claims[0].until': 2024-12-01 is before since 2025-01-01",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-03-01, printed: 0.5}\n",
            "field 'claims[0].since': since 2025-03-01 is after the as-of date 2025-02-15",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025/01/01, printed: 0.5}\n",
            "'2025/01/01' is not an ISO date",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, printed: 0.5, at_least: 0.1}\n",
            "field 'claims[0].at_least': cannot be given with 'printed'",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, at_least: 0.5, at_most: 0.1}\n",
            "field 'claims[0].at_most': 0.1 is below at_least 0.5",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, at_least: 0.5, tolerance: 0.1}\n",
            "field 'claims[0].tolerance': needs a 'printed' figure",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, printed: 0.5, tolerance: -0.1}\n",
            "field 'claims[0].tolerance': must be >= 0",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, printed: 0.5, close: 0.001}\n",
            "field 'claims[0].close': 0.001 is narrower than the tolerance 0.05",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, printed: 0.5, currency: EUR}\n",
            "field 'claims[0].currency': 'EUR' is not one of USD, CNY, HKD",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, printed: 0.5, outperformed: AAA}\n",
            "field 'claims[0].outperformed': AAA is also one of the claim's symbols",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, printed: 0.5, sinse: 2025-01-01}\n",
            "unknown key 'sinse' (hint: did you mean 'since'?)",
        ),
        ("", "field 'claims': is required"),
        ("  - just text\n", "field 'claims[0]': expected a mapping of keys, got text"),
    ],
)
def test_every_bad_claim_is_one_clear_error(tmp_path, body, fragment):
    with pytest.raises(ConfigError) as caught:
        load_claims(claims_file(tmp_path, body))
    assert fragment in caught.value.one_line()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "file is empty"),
        ("claims: []\n", "field 'source': is required"),
        (
            "source: {title: T}\n"
            "claims: [{text: t, symbols: AAA, since: 2025-01-01, printed: 1}]\n",
            "field 'asof': is required when the source has no 'published' date",
        ),
        (
            "source: {title: T, published: 2025-02-01}\nasof: 2025-02-05\nclaims: []\n",
            "field 'asof': 2025-02-05 is after the publication date 2025-02-01",
        ),
        ("source: {title: T, published: 2025-02-01}\nclaims: []\n", "field 'claims': is empty"),
    ],
)
def test_every_bad_claims_file_is_one_clear_error(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as caught:
        load_claims(write_yaml(tmp_path / "c.yaml", text))
    assert fragment in caught.value.one_line()


def test_validate_knows_claims_files(cli):
    result = cli("validate", CITIC, PROJECT / "baskets" / "aidc.yaml")
    assert result.exit_code == 0, result.output
    assert f"ok   {CITIC}: claims 'CITIC Securities: DeepSeek" in result.stdout
    assert "aidc.yaml: basket 'AI data centres'" in result.stdout


def test_basket_discovery_does_not_take_claims_files():
    found = discover_baskets(PROJECT / "baskets")
    assert found and all(path.parent.name == "baskets" for path in found)
    assert (PROJECT / "baskets" / "claims" / "citic-2025-02.yaml").is_file()


# --------------------------------------------------------------------------- windows


def test_since_starts_at_the_last_close_strictly_before_on_the_listings_exchange(prices):
    path = listing_path(
        _price_set(prices, ["0001.HK"]),
        "0001.HK",
        listing_of("0001.HK"),
        None,
        (pd.Timestamp("2024-11-01"), pd.Timestamp("2025-03-31")),
    )
    # Hong Kong was closed 2025-01-29..31 (Lunar New Year): since 2025-02-01 starts at the
    # close of 2025-01-28; a since date on a session starts the session before.
    assert path.window(pd.Timestamp("2025-02-01").date(), pd.Timestamp("2025-02-16").date()) == (
        pd.Timestamp("2025-01-28"),
        pd.Timestamp("2025-02-14"),
    )
    assert path.window(pd.Timestamp("2025-01-02").date(), pd.Timestamp("2025-01-02").date()) == (
        pd.Timestamp("2024-12-31"),
        pd.Timestamp("2025-01-02"),
    )


def _price_set(folder, symbols):
    from engine.data.prices import PriceSet

    histories, problems = CsvFolderSource(folder).fetch([*symbols, "HKD=X"])
    return PriceSet(histories, "test", skipped=problems)


def test_a_closure_the_data_show_is_no_session(tmp_path, price_folder):
    folder, write = price_folder
    # No Hong Kong symbol has a bar on 2025-01-02 (a typhoon day, say): since 2025-01-03 then
    # starts at the 2024-12-31 close, not at a carried 2025-01-02 price.
    closed = [d for d in HK_DAYS if d != "2025-01-02"]
    write("0001.HK", closed, steps(closed, {"2024-11-01": 10, "2025-02-14": 12}))
    write("0002.HK", closed, steps(closed, {"2024-11-01": 20, "2025-02-14": 30}))
    run = check(
        tmp_path,
        folder,
        "  - {text: t, symbols: [0001.HK, 0002.HK], since: 2025-01-03, printed: 0.5}\n",
    )
    rows = {r.subject: r.to_dict() for r in run.rows}
    assert rows["0002.HK"]["start"] == "2024-12-31" and rows["0002.HK"]["verdict"] == HOLDS
    assert any("XHKG: closed on 2025-01-02" in note for note in run.notes)


def test_the_end_is_the_last_session_on_or_before_the_asof_date_on_each_exchange():
    days = all_sessions("XNAS")
    # 2025-02-15 is a Saturday and 2025-02-17 Presidents' Day.
    assert days[days <= pd.Timestamp("2025-02-17")][-1] == pd.Timestamp("2025-02-14")


# --------------------------------------------------------------------------- verdicts


def test_verdict_holds_close_and_does_not_hold(tmp_path, prices):
    run = check(
        tmp_path,
        prices,
        """\
  - {text: "AAA rose 51%", symbols: AAA, since: 2025-01-01, printed: 0.51}
  - {text: "AAA rose 53%", symbols: AAA, since: 2025-01-01, printed: 0.53}
  - {text: "AAA rose 60%", symbols: AAA, since: 2025-01-01, printed: 0.60}
""",
    )
    rows = [r.to_dict() for r in run.rows]
    assert [r["verdict"] for r in rows] == [HOLDS, CLOSE, FAILS]
    first = rows[0]
    assert (first["start"], first["end"], first["currency"]) == ("2024-12-31", "2025-02-14", "USD")
    assert first["measured"] == pytest.approx(151 / 100 - 1)
    assert rows[1]["difference"] == pytest.approx(0.51 - 0.53)
    assert rows[2]["difference"] == pytest.approx(0.51 - 0.60)


@settings(derandomize=True, max_examples=200)
@given(st.floats(-0.999, 0.999), st.integers(0, 3))
def test_within_the_printed_precision_always_holds(u, decimals):
    from engine.config.claims import Claim

    tolerance = 0.5 * 10.0**-decimals
    figure = parse_figure(f"{1.25:.{decimals}f}", None, ValueError)
    claim = Claim("t", pd.Timestamp("2025-01-01").date(), figure=figure)
    verdict, difference = judge(claim, figure.value + u * tolerance)
    assert verdict == HOLDS and abs(difference) <= tolerance + 1e-9
    beyond = figure.value + (1 + abs(u)) * CLOSE_FACTOR * tolerance * 1.01
    assert judge(claim, beyond)[0] == FAILS


def test_several_listings_name_the_one_the_figure_matches(tmp_path, prices):
    run = check(
        tmp_path, prices, "  - {text: t, symbols: [AAA, BBB], since: 2025-01-01, printed: 0.53}\n"
    )
    by_symbol = {r.subject: r.to_dict() for r in run.rows}
    assert by_symbol["BBB"]["measured"] == pytest.approx(76.5 / 50 - 1)
    assert by_symbol["BBB"]["verdict"] == HOLDS and by_symbol["BBB"]["matches"]
    assert by_symbol["AAA"]["verdict"] == CLOSE and not by_symbol["AAA"]["matches"]
    assert {r["claim_verdict"] for r in by_symbol.values()} == {HOLDS}


def test_listing_currency_unless_the_claim_names_one(tmp_path, prices):
    run = check(
        tmp_path,
        prices,
        """\
  - {text: local, symbols: 0001.HK, since: 2025-01-01, printed: 0.20}
  - {text: dollars, symbols: 0001.HK, since: 2025-01-01, printed: 0.216, currency: USD}
""",
    )
    local, dollars = (r.to_dict() for r in run.rows)
    assert local["currency"] == "HKD" and local["measured"] == pytest.approx(12 / 10 - 1)
    # HKD 10 at 7.80 HKD per USD on 2024-12-31, HKD 12 at 7.70 on 2025-02-14.
    assert dollars["currency"] == "USD"
    assert dollars["measured"] == pytest.approx((12 / 7.70) / (10 / 7.80) - 1)
    assert dollars["verdict"] == HOLDS


def test_risen_n_times_is_a_total_return_and_the_price_multiple_reading_is_shown(tmp_path, prices):
    run = check(
        tmp_path,
        prices,
        """\
  - {text: "TTT has risen 2 times", symbols: TTT, since: 2023-01-01, printed: 2.0 times}
  - {text: "DBL has risen 2 times", symbols: DBL, since: 2023-01-01, printed: 2.0 times}
""",
    )
    tripled, doubled = (r.to_dict() for r in run.rows)
    assert tripled["start"] == "2022-12-30" and tripled["measured"] == pytest.approx(2.0)
    assert (tripled["verdict"], tripled["as_multiple"], tripled["as_multiple_verdict"]) == (
        HOLDS,
        pytest.approx(3.0),
        FAILS,
    )
    assert (doubled["verdict"], doubled["as_multiple_verdict"]) == (FAILS, HOLDS)


def test_outperformed_is_the_excess_return(tmp_path, prices):
    run = check(
        tmp_path,
        prices,
        """\
  - {text: "BBB outperformed AAA", symbols: BBB, outperformed: AAA, since: 2025-01-01}
  - {text: "AAA outperformed BBB", symbols: AAA, outperformed: BBB, since: 2025-01-01}
  - {text: "BBB beat AAA by 2 points", symbols: BBB, outperformed: AAA, since: 2025-01-01,
     printed: 0.02}
""",
    )
    bbb, aaa, margin = (r.to_dict() for r in run.rows)
    assert bbb["measured"] == pytest.approx((76.5 / 50 - 1) - (151 / 100 - 1))
    assert bbb["against_return"] == pytest.approx(0.51) and bbb["verdict"] == HOLDS
    assert aaa["verdict"] == FAILS and margin["verdict"] == HOLDS


def test_bounds(tmp_path, prices):
    run = check(
        tmp_path,
        prices,
        """\
  - {text: "rose", symbols: AAA, since: 2025-01-01, at_least: 0}
  - {text: "rose over 60%", symbols: AAA, since: 2025-01-01, at_least: 0.60, close: 0.1}
  - {text: "rose over 70%", symbols: AAA, since: 2025-01-01, at_least: 0.70}
  - {text: "fell", symbols: AAA, since: 2025-01-01, at_most: 0}
""",
    )
    assert [r.verdict for r in run.rows] == [HOLDS, CLOSE, FAILS, FAILS]
    assert run.rows[1].difference == pytest.approx(0.51 - 0.60)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("  - {text: t, symbols: ZZZ, since: 2025-01-01, printed: 0.5}\n", "ZZZ: no file ZZZ.csv"),
        (
            "  - {text: t, symbols: AAA, since: 2024-01-01, printed: 0.5}\n",
            "AAA: its data start 2024-11-01, after the start 2023-12-29 (XNAS session)",
        ),
        (
            # AAA trades on 2025-02-14: GAP's missing bar is a suspension, not a closure.
            "  - {text: t, symbols: GAP, since: 2025-01-01, printed: 0.5}\n"
            "  - {text: u, symbols: AAA, since: 2025-01-01, printed: 0.5}\n",
            "GAP: no close on 2025-02-14, the end (XNAS session)",
        ),
        (
            "  - {text: t, symbols: AAA, since: 2025-01-01, until: 2025-06-30, printed: 0.5}\n",
            "AAA: its data end 2025-03-31, before the end 2025-06-30 (XNAS session)",
        ),
        (
            "  - {text: t, symbols: AAA, outperformed: ZZZ, since: 2025-01-01}\n",
            "ZZZ: no file ZZZ.csv",
        ),
    ],
)
def test_cannot_be_checked_says_why(tmp_path, prices, body, reason):
    row = check(tmp_path, prices, body).rows[0].to_dict()
    assert row["verdict"] == UNCHECKED and row["claim_verdict"] == UNCHECKED
    assert row["reason"] == reason and row["measured"] is None


def test_a_lone_symbol_without_a_bar_reads_as_a_closure_and_says_so(tmp_path, prices):
    # Closures are detected from the data (engine.market.sessions): with GAP the only symbol
    # of its exchange, its missing 2025-02-14 bar is a closure and the end the session before.
    run = check(tmp_path, prices, "  - {text: t, symbols: GAP, since: 2025-01-01, printed: 0.1}\n")
    row = only(run)
    assert (row["end"], row["verdict"]) == ("2025-02-13", HOLDS)
    assert any("XNAS: closed on 2025-02-14" in note for note in run.notes)


def test_one_listing_without_data_does_not_stop_the_others(tmp_path, prices):
    run = check(
        tmp_path, prices, "  - {text: t, symbols: [ZZZ, AAA], since: 2025-01-01, printed: 0.51}\n"
    )
    rows = {r.subject: r for r in run.rows}
    assert rows["ZZZ"].verdict == UNCHECKED and rows["AAA"].matches
    assert rows["AAA"].claim_verdict == HOLDS and not run.unchecked()


def test_a_basket_claim_is_judged_on_the_baskets_return(tmp_path, prices):
    write_yaml(
        tmp_path / "claims" / "b.yaml",
        "name: Two\nconstituents:\n  - symbol: AAA\n  - symbol: BBB\n",
    )
    run = check(
        tmp_path, prices, "  - {text: t, basket: b.yaml, since: 2025-01-01, at_least: 0.5}\n"
    )
    row = only(run)
    # Equal weights bought at the 2024-12-31 closes and held: (1.51 + 1.53) / 2 - 1.
    assert row["symbol"] == "Two" and row["start"] == "2024-12-31" and row["end"] == "2025-02-14"
    assert row["measured"] == pytest.approx((151 / 100 + 76.5 / 50) / 2 - 1, abs=1e-9)
    assert row["verdict"] == HOLDS


# --------------------------------------------------------------------------- as-of inference


def test_infer_asof_names_the_one_date_on_which_the_claims_hold(tmp_path, prices):
    run = check(
        tmp_path,
        prices,
        """\
  - {text: a, symbols: AAA, since: 2025-01-01, printed: 0.51}
  - {text: b, symbols: BBB, since: 2025-01-01, printed: 0.53}
  - {text: fixed, symbols: AAA, since: 2025-01-01, until: 2025-01-31, printed: 0.2}
""",
        infer=True,
    )
    assert run.inferred == "2025-02-14" and run.tied == ["2025-02-14"]
    assert run.asof.isoformat() == "2025-02-14"
    scores = run.scores.set_index("date")
    assert scores.index[-1] == "2025-02-19" and "2025-02-17" not in scores.index  # Presidents' Day
    assert scores.loc["2025-02-14", HOLDS] == 2 and scores.loc["2025-02-13", HOLDS] == 0
    assert scores.loc["2025-02-14", "claims_holding"] == "1 2"
    # The claim with its own 'until' does not depend on the as-of date and is not scored.
    assert (scores[[HOLDS, CLOSE, FAILS, UNCHECKED]].sum(axis=1) == 2).all()


def test_an_asof_before_the_window_cannot_be_checked(tmp_path, prices):
    run = check(
        tmp_path,
        prices,
        "  - {text: a, symbols: AAA, since: 2025-01-01, printed: 0.51}\n",
        asof=pd.Timestamp("2024-12-31").date(),
    )
    assert only(run)["reason"] == (
        "no XNAS session from 2025-01-01 to 2024-12-31 (the window ends before it starts)"
    )


def test_an_explicit_asof_wins_over_the_inferred_one(tmp_path, prices):
    run = check(
        tmp_path,
        prices,
        "  - {text: a, symbols: AAA, since: 2025-01-01, printed: 0.51}\n",
        infer=True,
        asof=pd.Timestamp("2025-02-13").date(),
    )
    assert run.inferred == "2025-02-14" and run.asof.isoformat() == "2025-02-13"
    assert only(run)["measured"] == pytest.approx(0.20)


# --------------------------------------------------------------------------- CLI


def test_cli_table_and_results_folder(cli, tmp_path, prices):
    path = claims_file(
        tmp_path,
        """\
  - {text: "AAA and BBB rose 53%", symbols: [AAA, BBB], since: 2025-01-01, printed: 0.53}
  - {text: "TTT has risen 2 times", symbols: TTT, since: 2023-01-01, printed: 2.0}
""",
    )
    result = cli("claims", path, "--prices", prices, "--out", tmp_path / "out", "--infer-asof")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "1. AAA and BBB rose 53%" in out and "HOLDS" in out
    bbb = next(line for line in out.splitlines() if line.startswith(" * BBB"))
    assert bbb.split() == [
        "*",
        "BBB",
        "USD",
        "2024-12-31..2025-02-14",
        "+53.0%",
        "+0.0",
        "pt",
        "holds",
    ]
    assert "read as a price multiple: 3.00x, does not hold" in out
    assert "price date inferred: 2025-02-14" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    folder = Path(result.stderr.strip().split("results: ")[-1])
    for name in (
        "claims.csv",
        "claims.md",
        "claims.json",
        "paths.csv",
        "asof.csv",
        "config.yaml",
        "manifest.json",
    ):
        assert (folder / name).is_file(), name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "claims" and manifest["asof_inferred"] == "2025-02-14"
    assert manifest["verdicts"] == {
        "holds": 2,
        "close": 0,
        "does not hold": 0,
        "cannot be checked": 0,
    }
    paths = pd.read_csv(folder / "paths.csv")
    end = paths[(paths.symbol == "BBB") & (paths.date == "2025-02-14")]
    assert end["growth"].iloc[0] == pytest.approx(0.53)


def test_cli_json_has_the_documented_keys(cli, tmp_path, prices):
    path = claims_file(
        tmp_path, "  - {text: t, symbols: [AAA, BBB], since: 2025-01-01, printed: 0.51}\n"
    )
    result = cli("claims", path, "--prices", prices, "--out", tmp_path / "out", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 2
    for key in ("claim", "symbol", "start", "end", "printed", "measured", "difference", "verdict"):
        assert all(key in row for row in rows), key
    assert rows[0]["measured"] == pytest.approx(0.51) and rows[0]["verdict"] == HOLDS


def test_cli_csv_cells_are_never_formulas(cli, tmp_path, prices):
    path = claims_file(
        tmp_path, "  - {text: '=HYPERLINK(1)', symbols: AAA, since: 2025-01-01, printed: '+51%'}\n"
    )
    result = cli("claims", path, "--prices", prices, "--out", tmp_path / "out", "--format", "csv")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert frame["claim"].iloc[0] == "'=HYPERLINK(1)"


def test_cli_exit_2_when_a_claim_cannot_be_checked_after_writing_every_verdict(
    cli, tmp_path, prices
):
    path = claims_file(
        tmp_path,
        """\
  - {text: "ZZZ rose", symbols: ZZZ, since: 2025-01-01, printed: 0.5}
  - {text: "AAA rose", symbols: AAA, since: 2025-01-01, printed: 0.51}
""",
    )
    result = cli("claims", path, "--prices", prices, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "ZZZ  cannot be checked" in result.stdout and "AAA  USD" in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: 1 claim cannot be checked: 'ZZZ rose' (ZZZ: no file ZZZ.csv)")
    assert len(run_folders(tmp_path / "out")) == 1


def test_cli_bad_claims_file_is_one_line_and_writes_nothing(cli, tmp_path, prices):
    path = claims_file(tmp_path, "  - {text: t, symbols: AAA, since: 2025-01-01, printed: fifty}\n")
    result = cli("claims", path, "--prices", prices, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {path}:4, field 'claims[0].printed': 'fifty' is not a figure (hint: write a "
        "decimal total return (0.51), a percentage ('51%') or a multiple ('8.5 times'))"
    )
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- the CITIC report

CITIC = PROJECT / "baskets" / "claims" / "citic-2025-02.yaml"
#: From the 2024-12-31 (or 2022-12-30) adj_close to 2025-02-14's in the CSV files, by hand
#: (awk on the files): each claim's listing -> total return.
CITIC_RETURNS = {
    "9988.HK": 123.838844 / 82.675652 - 1,
    "BABA": 121.540649 / 82.621918 - 1,
    "688981.SS": 99.08 / 94.62 - 1,
    "0981.HK": 45.549999 / 31.700001 - 1,
    "002594.SZ": 117.26 / 93.09 - 1,
    "1211.HK": 120.072762 / 87.895103 - 1,
    "1810.HK": 44.700001 / 34.650002 - 1,
    "^IXIC": 20026.769531 / 10466.480469 - 1,
    "^NDX": 22114.689453 / 10939.759766 - 1,
    "QQQ": 536.745911 / 262.204651 - 1,
    "NVDA": 138.812027 / 14.599386 - 1,
    "PLTR": 119.160004 / 6.42 - 1,
    "APP": 510.130005 / 10.53 - 1,
}
#: Claim -> (its verdict, the listing the printed figure matches).
CITIC_VERDICTS = {
    "Alibaba": (CLOSE, "9988.HK"),
    "SMIC": (CLOSE, "0981.HK"),
    "BYD": (HOLDS, "1211.HK"),
    "Xiaomi": (CLOSE, "1810.HK"),
    "NASDAQ": (CLOSE, "^NDX"),
    "Nvidia": (HOLDS, "NVDA"),
    "Palantir": (HOLDS, "PLTR"),
    "AppLovin": (HOLDS, "APP"),
    "AI data centres": (HOLDS, "AI data centres"),
}


def test_a_claims_check_resolves_each_listing_once(shared_prices, monkeypatch):
    """Resolve once, pass down: checking the CITIC claims (listings of one company, a basket
    claim run through engine.pipeline.runs.run, the as-of inference) derives every symbol's
    listing from its suffix at most once (engine.pipeline.claims.claims_listings), whichever
    claims stage uses it: the FX it needs, the sessions scored, closures, each listing's path,
    the basket's run."""
    import sys

    import engine.symbols

    claims = load_claims(CITIC)  # reading the file checks each symbol has a known exchange
    resolved: list[str] = []

    def counted(symbol):
        resolved.append(symbol)
        return listing_of(symbol)

    for module in [m for n, m in list(sys.modules.items()) if n.startswith("engine") and m]:
        if getattr(module, "listing_of", None) is listing_of:
            monkeypatch.setattr(module, "listing_of", counted)
    assert engine.symbols.listing_of is counted  # modules imported later take the counted one
    run = check_claims(claims, CsvFolderSource(shared_prices), infer=True)
    assert run.inferred == "2025-02-14" and any(r.claim.basket for r in run.rows)
    assert sorted(resolved) == sorted(set(resolved))  # none twice
    assert set(claims.symbols()) <= set(resolved)


def test_citic_claims_on_the_real_prices(shared_prices):
    run = check_claims(load_claims(CITIC), CsvFolderSource(shared_prices), infer=True)
    assert run.inferred == "2025-02-14" and run.tied == ["2025-02-14"]
    for row in run.rows:
        if row.subject in CITIC_RETURNS:
            assert row.measured == pytest.approx(CITIC_RETURNS[row.subject], abs=1e-6), row.subject
    verdicts = {r.claim.name: (r.claim_verdict, r.subject) for r in run.rows if r.matches}
    assert verdicts == CITIC_VERDICTS
    basket = next(r for r in run.rows if r.claim.basket)
    assert basket.measured > 0.10 and not math.isnan(basket.measured)
    assert not run.unchecked()


def test_citic_cli_names_the_price_date(cli, shared_prices, tmp_path):
    result = cli("claims", CITIC, "--prices", shared_prices, "--infer-asof", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "price date inferred: 2025-02-14" in result.stdout
    assert " * 0981.HK    HKD  2024-12-31..2025-02-14        +43.7%" in result.stdout


# --------------------------------------------------------------------------- report and terminal


def test_the_report_shows_every_claim_escaped_and_is_rebuilt_by_basket_report(
    cli, tmp_path, prices
):
    path = claims_file(
        tmp_path,
        """\
  - {text: "<b>AAA</b> rose 51%", symbols: [AAA, BBB], since: 2025-01-01, printed: 0.51}
  - {text: "TTT has risen 2 times", symbols: TTT, since: 2023-01-01, printed: 2.0}
  - {text: "ZZZ rose", symbols: ZZZ, since: 2025-01-01, at_least: 0}
""",
    )
    result = cli("claims", path, "--prices", prices, "--out", tmp_path / "out", "--infer-asof")
    assert result.exit_code == 2
    folder = only_run(tmp_path / "out")
    page = (folder / "report.html").read_text()
    assert "<b>AAA</b>" not in page and "&lt;b&gt;AAA&lt;/b&gt; rose 51%" in page
    assert 'data-chart="claim-1"' in page and 'data-chart="claim-2"' in page
    assert 'data-chart="claim-3"' not in page  # nothing measured, nothing to draw
    assert 'data-chart="asof"' in page and "ZZZ: no file ZZZ.csv" in page
    assert "read as a price multiple 3.00x, does not hold" in page
    (folder / "report.html").unlink()
    rebuilt = cli("report", folder.name, "--out", tmp_path / "out")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert (folder / "report.html").read_text().count('data-chart="claim-') == 2
    listed = cli("runs", "--out", tmp_path / "out")
    assert listed.exit_code == 0 and folder.name in listed.stdout
    assert "summary.csv is missing" not in listed.stderr


@pytest.mark.browser
def test_the_claims_report_renders_in_a_real_browser(cli, tmp_path, prices):
    from browser import draw_every_chart, open_page

    path = claims_file(
        tmp_path,
        """\
  - {text: "AAA rose 51%", symbols: [AAA, BBB], since: 2025-01-01, printed: 0.51}
  - {text: "Two rose", basket: b.yaml, since: 2025-01-01, at_least: 0.1}
""",
    )
    write_yaml(
        tmp_path / "claims" / "b.yaml",
        "name: Two\nconstituents:\n  - symbol: AAA\n  - symbol: BBB\n",
    )
    result = cli("claims", path, "--prices", prices, "--out", tmp_path / "out", "--infer-asof")
    assert result.exit_code == 0, result.output
    folder = only_run(tmp_path / "out")
    with open_page(folder / "report.html", screenshots=tmp_path) as opened:
        page = opened.page
        draw_every_chart(page)
        assert page.evaluate("Number(document.body.dataset.charts)") == 3
        lines = page.evaluate(
            "document.querySelectorAll('[data-chart=claim-1] .scatterlayer path.js-line').length"
        )
        assert lines == 2  # AAA and BBB
        shapes = page.evaluate(
            "document.querySelectorAll('[data-chart=claim-1] .shapelayer path').length"
        )
        assert shapes >= 3  # the window, the holds band, the printed figure
        opened.screenshot("claims-report.png")
        assert opened.errors == [] and opened.requests == []


@pytest.mark.parametrize("columns", [80, 100, 160])
def test_the_terminal_text_fits_and_never_cuts_a_number(tmp_path, prices, columns):
    path = claims_file(
        tmp_path,
        """\
  - text: "A long quoted claim that goes on and on about how AAA and BBB rose by 51 percent since
      the start of the year, to see it wrap at every width without touching the figures"
    symbols: [AAA, BBB]
    since: 2025-01-01
    printed: 0.51
  - {text: "TTT has risen 2 times", symbols: TTT, since: 2023-01-01, printed: 2.00}
  - {text: "ZZZ rose", symbols: ZZZ, since: 2025-01-01, at_least: 0}
""",
    )
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "claims",
            str(path),
            "--prices",
            str(prices),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=PROJECT,
        stdout=child,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(child)
    output = read_pty(parent)
    process.wait(timeout=120)
    os.close(parent)
    text = output.decode().replace("\r\n", "\n")
    lines = text.splitlines()
    assert process.returncode == 2
    assert max(len(line) for line in lines) <= columns
    aaa = next(line for line in lines if line.lstrip(" *").startswith("AAA "))
    assert aaa.split()[-4:] == ["+51.0%", "+0.0", "pt", "holds"]
    ttt = next(line for line in lines if line.lstrip(" *").startswith("TTT "))
    assert ttt.split()[-4:] == ["2.000", "times", "+0.000", "holds"]
    assert "read as a price multiple: 3.00x, does not hold" in text
    assert "ZZZ: no file ZZZ.csv" in text
    heading = [line for line in lines if line.startswith("1. A long quoted claim")]
    assert heading and heading[0].rstrip().endswith("HOLDS")


# --------------------------------------------------------------------------- matched null


def best_pair_claim(tmp_path: Path) -> tuple[Path, Path]:
    """A claims file whose one claim is on a basket of S8 and S9, and a universe file of ten US
    stocks S0..S9 where S<i> grows by i % over the claim's window."""
    days = [d for d in US_DAYS if d >= "2024-11-01"]
    rows = [
        {"symbol": f"S{i}", "date": pd.Timestamp(d).date(), "close": close, "adj_close": close}
        for i in range(10)
        for d, close in zip(
            days, steps(days, {"2024-11-01": 100.0, "2025-01-02": 100.0 + i}), strict=True
        )
    ]
    universe = tmp_path / "universe"
    universe.mkdir()
    pd.DataFrame(rows).to_parquet(universe / "prices.parquet", index=False)
    pd.DataFrame({"symbol": [f"S{i}" for i in range(10)], "market": "US"}).to_csv(
        universe / "symbols.csv", index=False
    )
    write_yaml(
        tmp_path / "claims" / "best.yaml",
        "name: Best\nconstituents:\n  - symbol: S8\n  - symbol: S9\n",
    )
    path = claims_file(
        tmp_path, "  - {text: best rose, basket: best.yaml, since: 2025-01-01, at_least: 0.05}\n"
    )
    return path, universe / "prices.parquet"


def test_a_basket_claim_is_ranked_against_matched_random_baskets(cli, tmp_path, prices):
    """Ten US stocks in a universe, S0..S9, where S<i> grows by i % over the window: a basket
    of the best two (S8, S9) beats every random pair of the other eight, so its percentile is
    100 and its p-value 1 / (N + 1) (North, Curtis & Sham)."""
    path, universe = best_pair_claim(tmp_path)
    args = ["claims", path, "--prices", prices, "--universe", universe]
    result = cli(*args, "--random", "50", "--out", tmp_path / "out", "--format", "json")
    assert result.exit_code == 0, result.output
    row = only_row(json.loads(result.stdout))
    assert row["measured"] == pytest.approx((1.08 + 1.09) / 2 - 1)
    assert (row["null_percentile"], row["null_n"]) == (100.0, 50)
    assert row["null_p_value"] == pytest.approx(1 / 51)
    assert row["verdict"] == HOLDS and "survivorship" in result.stderr
    table = cli(*args, "--random", "50", "--out", tmp_path / "out")
    assert "random baskets matched on market: percentile 100.0, p = 0.020" in table.stdout


def test_a_basket_claims_null_resolves_no_listing_again(tmp_path, prices, monkeypatch):
    """Resolve once, pass down: ranking a basket claim against matched random baskets runs a
    sweep of the basket with the claims' listings (engine.pipeline.claims.claims_listings), so
    the whole check resolves one set of listings, not one more for the sweep's run."""
    from engine.data.sources import open_source
    from engine.data.universe import UniverseSource
    from engine.market.listings import RunListings
    from engine.pipeline.draws import SweepOptions

    path, universe_file = best_pair_claim(tmp_path)
    resolved: list[list[str]] = []
    resolve = RunListings.resolve.__func__

    def counted(cls, symbols, explicit=None):
        resolved.append(list(symbols))
        return resolve(cls, resolved[-1], explicit)

    monkeypatch.setattr(RunListings, "resolve", classmethod(counted))
    universe = UniverseSource(universe_file)
    run = check_claims(load_claims(path), open_source(prices, universe=universe),
                       universe=universe, null=SweepOptions(n_random=20, verify=1))
    assert only_row(run.records())["null_n"] == 20  # ranked, through the sweep
    assert len(resolved) == 1, resolved
    assert {"S8", "S9", "^IXIC"} <= set(resolved[0])


def only_row(rows):
    assert len(rows) == 1, rows
    return rows[0]


def test_citic_basket_claim_against_the_shared_universe(shared_prices):
    from engine.data.sources import open_source
    from engine.data.universe import UniverseSource
    from engine.pipeline.draws import SweepOptions

    path = shared_prices.parent / "universe" / "prices.parquet"
    if not path.is_file():
        pytest.skip(f"shared universe not found at {path}")
    universe = UniverseSource(path)
    source = open_source(shared_prices, universe=universe)
    run = check_claims(
        load_claims(CITIC), source, universe=universe, null=SweepOptions(n_random=200, verify=1)
    )
    basket = next(r.to_dict() for r in run.rows if r.claim.basket)
    assert basket["null_n"] == 200 and basket["null_percentile"] > 95
    assert basket["null_median"] < basket["measured"]
