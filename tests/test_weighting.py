"""Weighting schemes, caps and point-in-time membership, against hand computations."""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import pandas as pd
import pytest
from conftest import flat_history, weekdays
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config.baskets import Basket, Caps, Constituent, basket_from_mapping
from engine.config.studies import Study
from engine.config.weights import WEIGHTINGS, WeightTable
from engine.data.csvfolder import CsvFolderSource
from engine.data.prices import PriceSet
from engine.errors import ConfigError, MissingDataError
from engine.market.panel import Panel
from engine.pipeline.runs import run
from engine.portfolio.caps import TOLERANCE, cap_weights, clip_proportionally, largest_sum
from engine.portfolio.targets import basket_targets, review_sessions
from engine.portfolio.weighting import RULES, Weighing, scheme_weights

# ---------------------------------------------------------------- caps: hand-computed fixed points


def test_single_cap_redistributes_in_proportion_until_none_exceeds_it():
    # 0.4 > 0.35 is cut to 0.35; its 0.05 goes to the others in proportion: each * 0.65 / 0.6.
    np.testing.assert_allclose(
        cap_weights([0.4, 0.3, 0.2, 0.1], single=0.35),
        [0.35, 0.3 * 0.65 / 0.6, 0.2 * 0.65 / 0.6, 0.1 * 0.65 / 0.6],
        rtol=1e-12,
    )


def test_single_cap_takes_a_second_round_when_the_redistribution_overflows():
    # Round 1: 0.4 -> 0.3, the rest * 0.7/0.6 makes 0.3 -> 0.35 > 0.3.  Round 2: both at 0.3,
    # the remaining 0.4 shared by 0.2 and 0.1 in proportion: 0.2667, 0.1333.
    np.testing.assert_allclose(
        cap_weights([0.4, 0.3, 0.2, 0.1], single=0.3), [0.3, 0.3, 0.8 / 3, 0.4 / 3], rtol=1e-12
    )


def test_top_cap_lowers_the_common_level_until_the_largest_weigh_at_most_it():
    # Top two at most 0.6: the common level L = 0.3 holds both largest (2L = 0.6), the rest
    # scaled by 0.4/0.3: 0.2667, 0.1333.  Check of the fixed point: 0.2667 < L.
    np.testing.assert_allclose(
        cap_weights([0.4, 0.3, 0.2, 0.1], top=(2, 0.6)), [0.3, 0.3, 0.8 / 3, 0.4 / 3], rtol=1e-9
    )


def test_top_cap_with_a_single_cap_kweb_style():
    # 10/40 on 0.3, 0.2, 0.1, 0.1, 0.1 and fifteen of 0.2/15.  Single cap: the five largest at
    # 0.1, the fifteen share 0.5 (1/30 each); the top five then weigh 0.5 > 0.4, so the common
    # level drops to L = 0.4/5 = 0.08 and the fifteen share 0.6: 0.04 each (< L: a fixed point).
    raw = [0.3, 0.2, 0.1, 0.1, 0.1] + [0.2 / 15] * 15
    capped = cap_weights(raw, single=0.10, top=(5, 0.40))
    np.testing.assert_allclose(capped, [0.08] * 5 + [0.04] * 15, rtol=1e-9)


def test_issuers_share_one_cap_and_keep_their_split():
    # BABA and 9988.HK (one issuer, 0.2 + 0.2) against two names of 0.3: the issuer's 0.4 is
    # cut to 0.35, the others get 0.325 each; the issuer's lines split 0.175 / 0.175.
    capped = cap_weights(
        [0.2, 0.2, 0.3, 0.3], single=0.35, issuers=["Alibaba", "Alibaba", "Tencent", "Baidu"]
    )
    np.testing.assert_allclose(capped, [0.175, 0.175, 0.325, 0.325], rtol=1e-12)


def test_infeasible_single_cap_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"caps.single 0.2 cannot hold 4 issuer\(s\)") as caught:
        cap_weights([0.25] * 4, single=0.2, where="k.yaml")
    assert "at least 0.25" in caught.value.one_line()


def test_infeasible_top_cap_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"the 5 largest of 12 issuer\(s\) cannot weigh at most"):
        cap_weights([1 / 12] * 12, single=0.10, top=(5, 0.40))


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.001, 1.0), min_size=2, max_size=30),
    st.floats(0.02, 1.0),
    st.integers(1, 6),
    st.floats(0.05, 1.0),
)
def test_capped_weights_sum_to_one_stay_under_the_caps_and_keep_their_order(
    raw, single, count, top_cap
):
    weights = np.array(raw) / sum(raw)
    n = len(weights)
    feasible = n * single >= 1 - TOLERANCE and min(count, n) / n <= top_cap + TOLERANCE
    if not feasible:
        with pytest.raises(ConfigError):
            cap_weights(weights, single=single, top=(count, top_cap))
        return
    capped = cap_weights(weights, single=single, top=(count, top_cap))
    assert capped.sum() == pytest.approx(1.0, abs=1e-12)
    assert capped.max() <= single * (1 + 1e-9)
    assert largest_sum(capped, count) <= top_cap * (1 + 1e-9)
    order = np.argsort(weights, kind="stable")
    assert np.all(np.diff(capped[order]) >= -1e-12)  # a larger weight never ends smaller


def test_clip_proportionally_is_the_identity_under_the_cap():
    weights = np.array([0.5, 0.3, 0.2])
    np.testing.assert_allclose(clip_proportionally(weights, 0.5), weights, rtol=0)


# ---------------------------------------------------------------- weighting rules

DAYS = weekdays("2024-12-02", "2025-01-31")


def _panel(prices: dict[str, list[float]], days, fx: dict[str, float] | None = None) -> Panel:
    index = pd.DatetimeIndex(days[: len(next(iter(prices.values())))])
    local = pd.DataFrame(prices, index=index)
    factor = pd.Series({s: (fx or {}).get(s, 1.0) for s in prices})
    return Panel(
        prices=local * factor,
        local=local,
        open=pd.DataFrame(True, index=index, columns=list(prices)),
        listings={},
        currency="USD",
    )


def _weighing(basket: Basket, histories, day: str, panel: Panel | None = None) -> Weighing:
    prices = PriceSet({h.symbol: h for h in histories}, "test prices")
    if panel is None:
        closes = {h.symbol: h.frame["close"].tolist() for h in histories}
        panel = _panel(closes, DAYS)
    return Weighing(basket, basket.symbols, pd.Timestamp(day), panel, prices)


def _basket(weighting: str, symbols, **changes) -> Basket:
    return Basket(
        name="b",
        constituents=tuple(Constituent(s, 1 / len(symbols)) for s in symbols),
        weighting=weighting,
        **changes,
    )


def test_every_weighting_a_basket_file_accepts_has_a_rule():
    assert set(WEIGHTINGS) == set(RULES)


def test_inverse_vol_weights_by_one_over_the_sample_deviation_before_the_rebalance():
    a = [10, 11, 10, 11, 10, 99]  # the 99 is on the rebalance day: not looked at
    b = [20, 20.4, 20, 20.4, 20, 20]
    histories = [flat_history("AAA", a, DAYS), flat_history("BBB", b, DAYS)]
    w = _weighing(_basket("inverse_vol", ["AAA", "BBB"], lookback=4), histories, DAYS[5])
    sigma_a = statistics.stdev([0.1, -1 / 11, 0.1, -1 / 11])
    sigma_b = statistics.stdev([0.02, -0.4 / 20.4, 0.02, -0.4 / 20.4])
    expected = np.array([1 / sigma_a, 1 / sigma_b])
    np.testing.assert_allclose(scheme_weights(w), expected / expected.sum(), rtol=1e-12)


def test_inverse_vol_without_enough_history_names_the_symbol_and_the_count():
    histories = [flat_history("AAA", [10, 11, 12], DAYS), flat_history("BBB", [1, 2, 3], DAYS)]
    w = _weighing(_basket("inverse_vol", ["AAA", "BBB"], lookback=5), histories, DAYS[2])
    with pytest.raises(MissingDataError, match=r"AAA \(inverse_vol weighting needs 6 bars before"):
        scheme_weights(w)


def test_liquidity_is_the_median_traded_value_in_the_report_currency():
    a = flat_history("AAA", [10, 10, 10, 10], DAYS)
    a.frame["volume"] = [100, 300, 200, 7]  # traded values 1000, 3000, 2000: median 2000
    b = flat_history("BBB", [5, 5, 5, 5], DAYS)
    b.frame["volume"] = [100, 100, 100, 1]  # 500 HKD each; 1 USD = 8 HKD -> 62.5 USD
    panel = _panel({"AAA": [10] * 4, "BBB": [5] * 4}, DAYS, fx={"BBB": 1 / 8})
    w = _weighing(_basket("liquidity", ["AAA", "BBB"], lookback=3), [a, b], DAYS[3], panel)
    np.testing.assert_allclose(scheme_weights(w), [2000 / 2062.5, 62.5 / 2062.5], rtol=1e-12)


def _table(column: str, rows) -> WeightTable:
    return WeightTable("t.csv", column, tuple((dt.date.fromisoformat(d), s, v) for d, s, v in rows))


def test_file_weights_use_the_latest_snapshot_on_or_before_the_rebalance():
    table = _table(
        "weight",
        [
            ("2024-12-01", "AAA", 0.7),
            ("2024-12-01", "BBB", 0.3),
            ("2024-12-20", "AAA", 0.2),
            ("2024-12-20", "BBB", 0.6),
        ],
    )
    histories = [flat_history(s, [1] * 30, DAYS) for s in ("AAA", "BBB")]
    basket = _basket("file", ["AAA", "BBB"], table=table)
    early = _weighing(basket, histories, "2024-12-19")
    late = _weighing(basket, histories, "2024-12-20")
    np.testing.assert_allclose(scheme_weights(early), [0.7, 0.3])
    np.testing.assert_allclose(scheme_weights(late), [0.25, 0.75])  # 0.2, 0.6 renormalised


def test_shares_weighting_multiplies_shares_by_the_rebalance_close():
    table = _table(
        "shares",
        [("2024-01-01", "AAA", 1000), ("2024-01-01", "BBB", 500), ("2030-01-01", "BBB", 10**9)],
    )  # a future row is never seen
    histories = [flat_history("AAA", [10, 12], DAYS), flat_history("BBB", [40, 36], DAYS)]
    w = _weighing(_basket("shares", ["AAA", "BBB"], table=table), histories, DAYS[1])
    # 1000 * 12 = 12000 and 500 * 36 = 18000.
    np.testing.assert_allclose(scheme_weights(w), [0.4, 0.6], rtol=1e-12)


def test_market_cap_weighting_without_a_member_row_names_it():
    table = _table("market_cap", [("2024-01-01", "AAA", 5.0)])
    histories = [flat_history(s, [1, 1], DAYS) for s in ("AAA", "BBB")]
    w = _weighing(_basket("market_cap", ["AAA", "BBB"], table=table), histories, DAYS[1])
    with pytest.raises(ConfigError, match="t.csv: no market_cap for BBB on or before 2024-12-03"):
        scheme_weights(w)


# ---------------------------------------------------------------- basket files


def _mapping(tmp_path, **changes):
    data = {
        "name": "k",
        "constituents": [{"symbol": s} for s in ("9988.HK", "BABA", "0700.HK", "9888.HK")],
    }
    data.update(changes)
    return basket_from_mapping(data, str(tmp_path / "k.yaml"))


def test_basket_file_keys_for_schemes_caps_reviews_and_membership(tmp_path):
    (tmp_path / "caps.csv").write_text("date,symbol,market_cap\n2024-01-02,BABA,200\n")
    basket = _mapping(
        tmp_path,
        weighting="market_cap",
        table="caps.csv",
        caps={"single": 0.4, "top": [2, 0.7]},
        reviews=[12, 6],
        constituents=[
            {"symbol": "9988.HK", "issuer": "Alibaba", "from": dt.date(2024, 6, 1)},
            {"symbol": "BABA", "issuer": "Alibaba", "until": "2025-06-01"},
            {"symbol": "0700.HK"},
            {"symbol": "9888.HK"},
        ],
    )
    assert basket.caps == Caps(0.4, (2, 0.7))
    assert basket.reviews == (6, 12)
    assert basket.table.rows == ((dt.date(2024, 1, 2), "BABA", 200.0),)
    assert basket.constituents[0].joins == dt.date(2024, 6, 1)
    assert basket.constituents[1].leaves == dt.date(2025, 6, 1)
    assert basket.to_dict()["caps"] == {"single": 0.4, "top": [2, 0.7]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"weighting": "market_cap"},
            "field 'weighting': market_cap needs 'table': a CSV date,symbol,",
        ),
        ({"weighting": "shares", "table": "nope.csv"}, "nope.csv: table file not found"),
        ({"lookback": 20}, "field 'lookback': is not used by weighting equal"),
        (
            {"weighting": "inverse_vol", "lookback": 1.5},
            "field 'lookback': 1.5 is not a whole number",
        ),
        ({"caps": {"single": 0.2}}, "field 'caps.single': a cap of 0.2 cannot hold 4 issuer"),
        ({"caps": {"single": 0}}, r"field 'caps.single': 0 is not a weight in \(0, 1\]"),
        ({"caps": {"top": [5, 0.4]}}, "field 'caps.top': the 5 largest of 4 issuer"),
        ({"caps": {"top": 0.4}}, r"field 'caps.top': 0.4 is not \[count, cap\]"),
        ({"caps": {"singel": 0.2}}, "did you mean 'single'"),
        ({"caps": {}}, "field 'caps': is empty"),
        ({"reviews": [13]}, "field 'reviews': 13 is not a month number 1..12"),
        ({"reviews": [6, 6]}, "field 'reviews': lists a month twice"),
        (
            {"constituents": [{"symbol": "BABA", "from": "2025-01-01", "until": "2024-01-01"}]},
            r"field 'constituents\[0\].until': 2024-01-01 is not after from 2025-01-01",
        ),
        (
            {"weighting": "inverse_vol", "constituents": [{"symbol": "BABA", "weight": 1}]},
            "weights are given but weighting is inverse_vol",
        ),
    ],
)
def test_bad_scheme_and_cap_keys_are_clear_errors(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        _mapping(tmp_path, **changes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,symbol\n", "w.csv:1: header is 'date,symbol'"),
        (
            "date,symbol,weight\n2024-01-02,TSLA,0.5\n",
            "w.csv:2, field 'symbol': TSLA is not a constituent",
        ),
        (
            "date,symbol,weight\n2024-13-02,BABA,0.5\n",
            "w.csv:2, field 'date': '2024-13-02' is not an ISO",
        ),
        ("date,symbol,weight\n2024-01-02,BABA,x\n", "w.csv:2, field 'weight': 'x' is not a number"),
        (
            "date,symbol,weight\n2024-01-02,BABA,-1\n",
            "w.csv:2, field 'weight': -1 must be a finite",
        ),
        ("date,symbol,weight\n2024-01-02,BABA\n", "w.csv:2: 2 cells, expected 3"),
        ("date,symbol,weight\n", "table has no rows"),
    ],
)
def test_bad_weight_tables_name_the_file_and_line(tmp_path, text, message):
    (tmp_path / "w.csv").write_text(text)
    with pytest.raises(ConfigError, match=message):
        _mapping(tmp_path, weighting="file", table="w.csv")


# ---------------------------------------------------------------- membership and reviews


def test_review_sessions_are_the_first_open_sessions_of_the_review_months():
    days = pd.DatetimeIndex(weekdays("2025-01-02", "2025-12-31"))
    all_open = pd.Series(True, index=days)
    all_open[pd.Timestamp("2025-06-02")] = False  # the first June session is a closure
    assert review_sessions(all_open, days[0], (6, 12)) == [
        pd.Timestamp("2025-06-03"),
        pd.Timestamp("2025-12-01"),
    ]


def test_members_join_and_leave_at_the_first_review_on_or_after_their_dates():
    days = weekdays("2025-01-02", "2025-08-29")
    panel = _panel({s: [1.0] * len(days) for s in ("AAA", "BBB", "CCC")}, days)
    basket = Basket(
        name="b",
        constituents=(
            Constituent("AAA", 1 / 3),
            Constituent("BBB", 1 / 3, joins=dt.date(2025, 3, 15)),
            Constituent("CCC", 1 / 3, leaves=dt.date(2025, 6, 2)),
        ),
        reviews=(6,),
    )
    prices = PriceSet({}, "test")
    monthly = [pd.Timestamp(d) for d in ("2025-02-03", "2025-07-01")]
    targets = basket_targets(basket, panel, prices, pd.Timestamp(days[0]), monthly)
    # Trading: purchase, February rebalance, June review, July rebalance.  BBB's from 2025-03-15
    # and CCC's until 2025-06-02 both take effect at the June review (2025-06-02).
    assert list(targets.weights.index) == [
        pd.Timestamp(d) for d in ("2025-01-02", "2025-02-03", "2025-06-02", "2025-07-01")
    ]
    np.testing.assert_allclose(
        targets.weights.to_numpy(),
        [[0.5, 0, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0], [0.5, 0.5, 0]],
    )
    assert targets.notes == [
        "BBB joins on 2025-06-02 (from: 2025-03-15)",
        "CCC leaves on 2025-06-02 (until: 2025-06-02)",
    ]


def test_a_member_that_never_joins_is_noted_and_a_basket_without_members_refused():
    days = weekdays("2025-01-02", "2025-01-31")
    panel = _panel({"AAA": [1.0] * len(days), "BBB": [1.0] * len(days)}, days)
    basket = Basket(
        name="b",
        constituents=(Constituent("AAA", 0.5), Constituent("BBB", 0.5, joins=dt.date(2025, 3, 1))),
    )
    targets = basket_targets(basket, panel, PriceSet({}, "t"), pd.Timestamp(days[0]), [])
    assert targets.notes == ["BBB never joins: no rebalance on or after from: 2025-03-01"]
    late = Basket(name="late", constituents=(Constituent("AAA", 1, joins=dt.date(2025, 3, 1)),))
    with pytest.raises(ConfigError, match="basket 'late' has no member on 2025-01-02"):
        basket_targets(late, panel, PriceSet({}, "t"), pd.Timestamp(days[0]), [])


def test_a_run_rebalances_to_capped_weights_and_notes_joins(price_folder):
    folder, write = price_folder
    days = ["2025-01-30", "2025-01-31", "2025-02-03", "2025-02-04"]
    write("AAA", days, [10.0, 10.0, 10.0, 20.0])
    write("BBB", days, [10.0, 10.0, 10.0, 10.0])
    write("CCC", days, [10.0, 10.0, 10.0, 10.0])
    write("^IXIC", days, [100.0, 100.0, 100.0, 100.0])
    basket = Basket(
        name="capped",
        constituents=(
            Constituent("AAA", 0.6),
            Constituent("BBB", 0.4),
            Constituent("CCC", 0.5, joins=dt.date(2025, 2, 1)),
        ),
        weighting="custom",
        rebalance="monthly",
        caps=Caps(single=0.5),
    )
    study = Study(start=dt.date(2025, 1, 30), end=dt.date(2025, 2, 4))
    result = run([basket], study, CsvFolderSource(folder))
    # Purchase: AAA, BBB at 0.6/0.4 capped to 0.5/0.5 (CCC not yet a member).  CCC joins at the
    # 2025-02-03 rebalance: 0.6, 0.4, 0.5 renormalised to 0.4, 0.2667, 0.3333 (cap not binding).
    # AAA doubles on the last day: 0.4 * 2 + 0.2667 + 0.3333 = 1.4.
    np.testing.assert_allclose(result.backtest.equity["capped"], [1, 1, 1, 1.4], rtol=1e-12)
    assert result.baskets[0].weights == {"AAA": 0.5, "BBB": 0.5, "CCC": 0.0}
    np.testing.assert_allclose(
        result.backtest.targets["capped"].weights.loc["2025-02-03"], [0.4, 0.4 / 1.5, 0.5 / 1.5]
    )
    assert "capped: CCC joins on 2025-02-03 (from: 2025-02-01)" in result.notes
    weights = result.weights_frame()
    assert weights.columns.tolist() == ["basket", "date", "symbol", "weight"]
    assert weights[weights["date"] == "2025-01-30"]["weight"].tolist() == [0.5, 0.5, 0.0]
