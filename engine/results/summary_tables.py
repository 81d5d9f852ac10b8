"""The run's summary as people read it: narrow tables instead of one too wide to see.

* **performance** against the primary benchmark (the classic columns);
* **against the markets**: excess over the primary benchmark and over the basket's local blend
  of its markets' indices, same-day, Dimson and local betas, local alpha; then one small table
  per further benchmark of the study (``benchmarks:``): its return, the basket's excess, beta
  and alpha against it;
* **is it real?**: the Newey-West t and p of the mean daily excess return, the bootstrap 95 %
  interval of the total excess return, the Sharpe ratio's standard error, PSR, DSR, and whether
  the constituents were chosen after the period began;
* **against the matched pool of the universe** (a run with ``--universe``): the equal-weight
  pool of the basket's markets, the basket's excess, beta and alpha against it;
* **robustness**: the return without the top contributor and the worst leave-one-out return,
  and with a universe the total return's percentile and p-value among matched random baskets.

Annualised columns over a period shorter than a year get a ``*`` and a footnote; the JSON and
CSV keep the plain keys and numbers.  Used by the CLI, ``summary.md`` and the report.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import pandas as pd

from engine.analysis.events.multiple import significance_line
from engine.analysis.metrics import VERSUS, figure_of, versus_key
from engine.results.display import PERCENT_COLUMNS, render

PERFORMANCE = {
    "total_return": "Total",
    "annualized_return": "Ann.",
    "volatility": "Vol",
    "sharpe": "Sharpe",
    "max_drawdown": "MaxDD",
    "beta": "Beta",
    "alpha": "Alpha",
    "tracking_error": "TE",
    "information_ratio": "IR",
    "excess_return": "Excess",
}
MARKETS = {
    "excess_return": "Excess",
    "local_return": "Local",
    "excess_return_local": "Ex.local",
    "beta": "Beta",
    "beta_dimson": "Dimson",
    "beta_local": "B.local",
    "alpha_local": "A.local",
}
UNCERTAINTY = {
    "t_excess_hac": "t HAC",
    "p_excess_hac": "p HAC",
    "excess_ci_low": "CI lo",
    "excess_ci_high": "CI hi",
    "sharpe_se": "SR se",
    "psr": "PSR",
    "dsr": "DSR",
    "selected_after": "Chosen",
}
POOL = {
    "pool_return": "Pool",
    "excess_return_pool": "Excess",
    "beta_pool": "Beta",
    "alpha_pool": "Alpha",
}
ROBUSTNESS = {
    "total_return": "Total",
    "return_without_top": "w/o top",
    "top_contributor": "Top",
    "return_worst_leave_one_out": "w/o worst",
    "worst_leave_one_out": "Worst",
    "null_percentile": "Pctile",
    "null_p_value": "p null",
}
#: Columns shown only when some basket has them (a run with a universe).
UNIVERSE_ONLY = ("pool_return", "excess_return_pool", "beta_pool", "alpha_pool",
                 "null_percentile", "null_p_value")
#: Columns that scale a period's figure to a year.
ANNUALISED = (
    "annualized_return", "volatility", "sharpe", "alpha", "tracking_error",
    "information_ratio", "alpha_local", "alpha_pool", "sharpe_se",
)
#: Periods shorter than this many calendar days get their annualised columns marked.
YEAR_DAYS = 365
MARK = "*"
#: Footnotes under terminal tables are wrapped to this width.
NOTE_WIDTH = 80


@dataclass
class SummaryTable:
    """One table to print: a title, its frame (columns renamed for people), the renamed
    percentage columns and the footnotes that go under it."""

    title: str
    frame: pd.DataFrame
    percent: list[str]
    footnotes: list[str] = field(default_factory=list)


def short_period(days: int) -> bool:
    """Whether annualised figures over ``days`` calendar days need a mark (under a year)."""
    return days < YEAR_DAYS


def annualised_note(days: int) -> str:
    """The footnote of marked columns."""
    return f"Marked {MARK}: annualised from {days} calendar days (less than a year); read with care"


#: The headers of the figures against a further benchmark (:data:`VERSUS`).
VERSUS_NAMES = {"benchmark_return": "Bench", "excess_return": "Excess", "beta": "Beta",
                "alpha": "Alpha"}


def further_benchmarks(summary: pd.DataFrame) -> list[str]:
    """The further benchmarks a summary has figures against, in their order (from its
    ``excess_return_vs_SYMBOL`` columns)."""
    prefix = versus_key("excess_return", "")
    return [c[len(prefix):] for c in summary.columns if c.startswith(prefix)]


def _table(
    summary: pd.DataFrame, columns: dict[str, str], title: str, days: int
) -> SummaryTable:
    """The ``columns`` (key -> header) of ``summary`` present in it; the figure a key holds
    (:func:`engine.analysis.metrics.figure_of`) decides its percent format and annualised
    mark."""
    marked = short_period(days)
    names = {
        key: name + (MARK if marked and figure_of(key) in ANNUALISED else "")
        for key, name in columns.items()
        if key in summary.columns
        and (key not in UNIVERSE_ONLY or summary[key].notna().any())
    }
    frame = summary[list(names)].rename(columns=names)
    percent = [names[key] for key in names if figure_of(key) in PERCENT_COLUMNS]
    annualised = {figure_of(key) for key in names} & set(ANNUALISED)
    notes = [annualised_note(days)] if marked and annualised else []
    return SummaryTable(title, frame, percent, notes)


def versus_table(summary: pd.DataFrame, benchmark: str, days: int) -> SummaryTable:
    """The basket rows' figures against one further benchmark (its own row left out: it has
    none)."""
    columns = {versus_key(figure, benchmark): VERSUS_NAMES[figure] for figure in VERSUS}
    rows = summary[summary[list(columns)].notna().any(axis=1)]
    return _table(rows, columns, f"against the markets: {benchmark}", days)


def hindsight_note(summary: pd.DataFrame, what: str = "the period began") -> str | None:
    """``Chosen: constituents picked after the period began, on: 2025-02-18 Report
    headliners; ...`` for the baskets (the index) whose ``selected_after`` is set, grouped by
    that date; None if none."""
    if "selected_after" not in summary.columns:
        return None
    picked = summary["selected_after"].dropna()
    picked = picked[~picked.index.duplicated()]
    if picked.empty:
        return None
    groups = picked.groupby(picked.astype(str), sort=True)
    parts = [f"{date} {', '.join(map(str, names.index))}" for date, names in groups]
    return f"Chosen: constituents picked after {what}, on: " + "; ".join(parts)


def event_notes(summary: pd.DataFrame) -> list[str]:
    """The lines under an event table: how many of its tests are significant after the
    multiple-test adjustments, and which baskets were chosen after an event they are tested
    on.  ``summary``: the event study's summary (a ``basket`` column)."""
    notes = [significance_line(summary)]
    hindsight = hindsight_note(summary.set_index("basket"), "an event they are tested on")
    return notes + ([hindsight] if hindsight else [])


def summary_tables(summary: pd.DataFrame, days: int) -> list[SummaryTable]:
    """The tables of a run's summary (index: basket; the summary's keys as columns),
    ``days`` the calendar days of the period."""
    performance = _table(summary, PERFORMANCE, "performance", days)
    markets = _table(summary, MARKETS, "against the primary benchmark and the local markets", days)
    markets.footnotes.append(
        "Local: each basket's blend of its markets' indices (the study's event_study.markets), "
        "weighted by its market mix, in the report currency; Dimson: beta on the benchmark's "
        "previous, same and next session, summed"
    )
    versus = [versus_table(summary, other, days) for other in further_benchmarks(summary)]
    if versus:
        versus[-1].footnotes.append(
            "Against each further benchmark of the study: its return and the basket's excess, "
            "beta and alpha, on the sessions of the basket's exchanges and that benchmark's"
        )
    pool = _table(summary[summary["pool_return"].notna()] if "pool_return" in summary else
                  summary, POOL, "against the matched pool of the universe", days)
    pools = [pool] if len(pool.frame.columns) else []
    if pools:
        pool.footnotes.append(
            "Pool: every universe stock of the basket's markets (its own included), equal "
            "weights within each market, weighted by the basket's market mix, traded on the "
            "basket's schedule with its fees, in the report currency"
        )
    uncertainty = _table(summary, UNCERTAINTY, "is it real?", days)
    if "Chosen" in uncertainty.frame.columns:
        uncertainty.frame["Chosen"] = uncertainty.frame["Chosen"].map(
            lambda v: "after" if isinstance(v, str) and v else ""
        )
    uncertainty.footnotes.append(
        "t/p HAC: Newey-West test of the mean daily excess return over the primary benchmark; "
        "CI: stationary-bootstrap 95 % interval of the total excess return; SR se: Mertens "
        "standard error of the Sharpe ratio; PSR: P(true Sharpe > 0); DSR: the same deflated "
        f"for {trials_text(summary)}"
    )
    hindsight = hindsight_note(summary)
    if hindsight:
        uncertainty.footnotes.append(hindsight)
    robustness = _table(summary, ROBUSTNESS, "robustness: one stock at a time", days)
    robustness.footnotes.append(
        "w/o top: the basket's return without its top contributor (weights renormalised, "
        "same schedule and fees); w/o worst: the lowest return leaving one stock out, and "
        "which stock"
    )
    if "Pctile" in robustness.frame.columns:
        robustness.footnotes.append(
            f"Pctile, p null: the total return's percentile among {null_count(summary)} random "
            "baskets of the universe matched on its market mix (same weights, schedule and "
            "fees), and the empirical p-value (1 + #random >= basket) / (1 + N)"
        )
    return [performance, markets, *versus, *pools, uncertainty, robustness]


def trials_text(summary: pd.DataFrame) -> str:
    """``12 trials (the 7 baskets of the run and 5 more tried)``: the ``n_trials`` the deflated
    Sharpe ratios count, or the older wording for a summary without the column."""
    counts = summary["n_trials"].dropna() if "n_trials" in summary else pd.Series([], dtype=int)
    counts = counts[counts > 0].astype(int)
    if counts.empty:
        return "the number of baskets run"
    trials, baskets = int(counts.max()), len(counts)
    more = f" and {trials - baskets} more tried" if trials > baskets else ""
    run = "the basket" if baskets == 1 else f"the {baskets} baskets"
    return f"{trials} trial{'s' if trials > 1 else ''} ({run} of the run{more})"


def null_count(summary: pd.DataFrame) -> str:
    """How many random baskets the null percentiles used: ``1000``, or ``500-1000`` when some
    were left out (NaN statistics)."""
    counts = summary["n_random"][summary["null_percentile"].notna()].astype(int)
    low, high = int(counts.min()), int(counts.max())
    return f"{high:,}" if low == high else f"{low:,}-{high:,}"


def themes_note(effective: float, baskets: int) -> str:
    """How many independent themes the baskets make."""
    return (
        f"Effective number of independent themes: {effective:.1f} of {baskets} baskets "
        "(participation ratio of the eigenvalues of their daily-return correlation matrix; "
        "correlation.csv and overlap.csv in the run folder)"
    )


def render_summary(
    summary: pd.DataFrame, days: int, fmt: str, *, title: str | None = None,
    terminal: bool = False,
) -> str:
    """The tables as text (``table``) or Markdown (``markdown``), each with its title
    (the first one ``title`` when given), then their footnotes once each, wrapped to
    :data:`NOTE_WIDTH` columns in text."""
    tables = summary_tables(summary, days)
    parts = [
        render(table.frame, fmt, percent=table.percent, terminal=terminal,
               title=title if number == 0 and title else table.title)
        for number, table in enumerate(tables)
    ]
    notes = list(dict.fromkeys(note for table in tables for note in table.footnotes))
    return "\n".join(parts) + notes_text(notes, fmt)


def notes_text(notes: list[str], fmt: str) -> str:
    """Footnotes under a table: Markdown paragraphs, or lines wrapped to :data:`NOTE_WIDTH`
    columns (continuations indented) for a terminal or a pipe."""
    if fmt == "markdown":
        return "".join(f"\n{note}\n" for note in notes)
    wrapped = [textwrap.fill(note, NOTE_WIDTH, subsequent_indent="  ") for note in notes]
    return "".join(f"{note}\n" for note in wrapped)
