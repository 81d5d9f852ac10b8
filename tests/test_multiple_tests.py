"""Many tests, said so: the event study's family of tests counted and adjusted (checked against
statsmodels' multipletests), the summary line, and the hindsight date on event rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT
from statsmodels.stats.multitest import multipletests

from engine.analysis.events.multiple import (
    PVALUE_COLUMNS,
    adjusted_columns,
    significance_line,
    with_adjusted_pvalues,
)


def _summary() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        rng.uniform(0, 0.2, size=(6, len(PVALUE_COLUMNS))) ** 2, columns=list(PVALUE_COLUMNS)
    )
    frame.insert(0, "basket", ["A", "A", "B", "B", "C", "C"])
    frame.loc[[1, 4], "p_portfolio"] = np.nan  # no portfolio test on those rows
    return frame


def test_adjusted_pvalues_are_multipletests_over_every_test_of_the_study():
    summary = _summary()
    adjusted = with_adjusted_pvalues(summary)
    assert list(adjusted.columns) == [*summary.columns, *adjusted_columns()]
    family = summary[list(PVALUE_COLUMNS)].to_numpy().ravel()
    finite = np.isfinite(family)
    assert (adjusted["n_tests"] == finite.sum()).all() and finite.sum() == 6 * 7 - 2
    holm = np.full(family.shape, np.nan)
    bh = np.full(family.shape, np.nan)
    holm[finite] = multipletests(family[finite], method="holm")[1]
    bh[finite] = multipletests(family[finite], method="fdr_bh")[1]
    got_holm = adjusted[[f"{c}_holm" for c in PVALUE_COLUMNS]].to_numpy().ravel()
    got_bh = adjusted[[f"{c}_bh" for c in PVALUE_COLUMNS]].to_numpy().ravel()
    np.testing.assert_allclose(got_holm, holm)
    np.testing.assert_allclose(got_bh, bh)
    assert adjusted.loc[[1, 4], "p_portfolio_bh"].isna().all()
    # The raw p-values are untouched.
    pd.testing.assert_frame_equal(adjusted[summary.columns], summary)


def test_significance_line_counts_by_hand():
    summary = pd.DataFrame({"basket": ["A", "B"], **{c: [0.5, 0.5] for c in PVALUE_COLUMNS}})
    summary["p_kolari_pynnonen"] = [0.001, 0.04]
    summary["p_rank"] = [0.02, np.nan]
    line = significance_line(with_adjusted_pvalues(summary))
    # 13 tests; raw below 5 %: 0.001, 0.04, 0.02.  Holm: 0.001 * 13 = 0.013 only.  BH: sorted
    # 0.001, 0.02, 0.04 -> 0.013, 0.13, 0.173: one.
    assert line.startswith(
        "1 of 13 tests significant at 5% after Benjamini-Hochberg (1 after Holm, 3 before "
        "adjusting); Kolari-Pynnönen: 1 of 2 after BH (2 before); rank test: 0 of 1 after BH "
        "(1 before)"
    )


def test_no_test_no_count():
    empty = with_adjusted_pvalues(pd.DataFrame(columns=["basket", *PVALUE_COLUMNS]))
    assert empty.empty and significance_line(empty) == "no test to count"


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def event_json(shared_prices, tmp_path_factory):
    from click.testing import CliRunner

    from cli import main

    out = tmp_path_factory.mktemp("events")
    args = ["event", str(PROJECT / "baskets/report_headliners.yaml"),
            str(PROJECT / "baskets/domestic_chips.yaml"), "--study",
            str(PROJECT / "baskets/studies/deepseek.yaml"), "--prices", str(shared_prices),
            "--out", str(out), "--window", "0:5", "--window", "-5:10"]
    table = CliRunner().invoke(main, args)
    listed = CliRunner().invoke(main, [*args, "--format", "json"])
    assert table.exit_code == 0 and listed.exit_code == 0, table.output + listed.output
    return table.stdout, json.loads(listed.stdout)


def test_event_json_has_the_family_size_and_the_adjusted_kolari_pynnonen(event_json):
    _, rows = event_json
    n_tests = rows[0]["n_tests"]
    pvalues = [r[c] for r in rows for c in PVALUE_COLUMNS if r.get(c) is not None]
    assert all(r["n_tests"] == n_tests for r in rows) and n_tests == len(pvalues) == 56
    raw = [r["p_kolari_pynnonen"] for r in rows]
    assert all(r["p_kolari_pynnonen_holm"] >= r["p_kolari_pynnonen"] for r in rows)
    assert all(r["p_kolari_pynnonen_bh"] <= r["p_kolari_pynnonen_holm"] for r in rows)
    # The headliners' 14 % CAR over [-5, 10] around R1: p 0.02 alone, not after 56 tests.
    headline = next(r for r in rows if r["basket"] == "Report headliners"
                    and r["event"] == "2025-01-20" and r["window"] == [-5, 10])
    assert headline["p_kolari_pynnonen"] < 0.05 < headline["p_kolari_pynnonen_bh"]
    assert math.isfinite(sum(raw))
    # The report named its headliners on 2025-02-18, after both events.
    assert {r["selected_after"] for r in rows if r["basket"] == "Report headliners"} == {
        "2025-02-18"
    }


def test_event_table_leads_with_kolari_pynnonen_and_counts_the_tests(event_json):
    table, _ = event_json
    header = next(line for line in table.splitlines() if line.startswith("basket"))
    columns = header.split()
    assert columns.index("KP") < columns.index("rank")  # t KP, p KP, KP BH, z rank, ...
    assert "BMP" not in columns and "sign" not in columns  # in the detail (CSV, JSON)
    words = " ".join(table.split())  # footnotes are wrapped to 80 columns
    assert "tests significant at 5% after Benjamini-Hochberg" in words
    assert "2025-02-18 Report headliners" in words
