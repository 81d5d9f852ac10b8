"""Many tests, said so: the hypothesis tests an event study reports are counted and each
p-value gets its Holm and Benjamini-Hochberg adjusted values beside it.

The family is every test the study reports: baskets x events x windows x statistics (the
cross-sectional t, Patell, BMP, Kolari-Pynnönen, rank, sign and portfolio tests), each finite
p-value one test.  Holm controls the chance of any false rejection in the family whatever the
dependence between the tests; Benjamini-Hochberg the expected share of false rejections among
the rejections.  The headline tests are those robust to the cross-correlation of stocks that
share an event date: Kolari-Pynnönen and the rank test.

May use :mod:`engine.analysis.inference` and the ground floor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.analysis.inference import bh_adjusted, holm_adjusted

#: Every p-value column of the summary, one statistic each.
PVALUE_COLUMNS = (
    "p_cross_sectional",
    "p_patell",
    "p_bmp",
    "p_kolari_pynnonen",
    "p_rank",
    "p_sign",
    "p_portfolio",
)
#: The tests to read first: robust to cross-correlated abnormal returns.
HEADLINE_PVALUES = ("p_kolari_pynnonen", "p_rank")
#: Significance level of the summary line.
LEVEL = 0.05


def adjusted_columns() -> list[str]:
    """The columns :func:`with_adjusted_pvalues` adds, in order: ``n_tests``, then ``p_X_holm``
    and ``p_X_bh`` for every p-value column."""
    return ["n_tests", *(f"{c}_{m}" for c in PVALUE_COLUMNS for m in ("holm", "bh"))]


def with_adjusted_pvalues(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with ``n_tests`` (the size of the family, the same on every row) and each
    p-value's Holm and Benjamini-Hochberg adjustment over the whole family
    (:func:`engine.analysis.inference.holm_adjusted`, :func:`~.bh_adjusted`); a NaN p-value
    is not a test and stays NaN."""
    present = [c for c in PVALUE_COLUMNS if c in summary.columns]
    frame = summary.copy()
    family = frame[present].to_numpy(dtype=float)
    holm = holm_adjusted(family.ravel()).reshape(family.shape)
    bh = bh_adjusted(family.ravel()).reshape(family.shape)
    frame["n_tests"] = int(np.isfinite(family).sum())
    for k, column in enumerate(present):
        frame[f"{column}_holm"] = holm[:, k]
        frame[f"{column}_bh"] = bh[:, k]
    return frame


def significance_line(summary: pd.DataFrame, level: float = LEVEL) -> str:
    """``k of N tests significant at 5 % after BH (j after Holm, i before adjusting);
    Kolari-Pynnönen: ...`` for a summary with adjusted p-values."""
    if "n_tests" not in summary.columns or summary.empty:
        return "no test to count"
    n_tests = int(summary["n_tests"].iloc[0])

    def below(columns: list[str]) -> int:
        values = summary[columns].to_numpy(dtype=float)
        return int((values < level).sum())

    present = [c for c in PVALUE_COLUMNS if c in summary.columns]
    counts = (below([f"{c}_bh" for c in present]), below([f"{c}_holm" for c in present]),
              below(present))
    headline = "; ".join(
        f"{name}: {below([f'{c}_bh'])} of {int(summary[c].notna().sum())} after BH "
        f"({below([c])} before)"
        for c, name in zip(HEADLINE_PVALUES, ("Kolari-Pynnönen", "rank test"), strict=True)
    )
    return (
        f"{counts[0]} of {n_tests} tests significant at {level:.0%} after Benjamini-Hochberg "
        f"({counts[1]} after Holm, {counts[2]} before adjusting); {headline}"
    )
