"""The run report (``basket run`` and ``basket event``): the page and its run sections.

Sections, top to bottom:

1. **Summary**: the run's summary table (percentages as percentages, negatives in red);
   with ``--universe``, **Random baskets**: per basket, the histogram of the matched random
   baskets' total returns it is ranked against, its own marked
   (:mod:`engine.results.report.nulls`);
2. **Equity**: every basket and the benchmark rebased to 100 at the starting cash, the study's
   event dates marked by vertical lines with their names, and each basket relative to the
   benchmark;
3. **Drawdowns**: the fall from the running peak of each curve (the peak starts at the cash)
   and the deepest drawdown periods;
4. **Event study** (when the run has one): :mod:`engine.results.report.events`;
5. **Attribution**: per basket, a bar chart of the constituents' contributions to the total
   return, and the full table (weights, local and report-currency returns);
6. **Data notes** and 7. **Settings**: :mod:`engine.results.report.provenance`.

The page is built from a :class:`engine.results.reader.Run` (so ``basket report`` can rebuild
it for an old run) and loads plotly.js from the results folder's shared offline asset
(:mod:`engine.results.assets`), or embeds it (``--self-contained``): no CDN, no network.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from engine.analysis.drawdowns import drawdown_periods
from engine.analysis.rolling import ROLLING_BETA_SESSIONS, monthly_returns, rolling_beta
from engine.errors import ResultsError
from engine.results.assets import plotly_script
from engine.results.nulls import RUN_STATISTIC
from engine.results.reader import Run, load_run, memory_run
from engine.results.report.charts import (
    attribution_chart,
    drawdown_chart,
    equity_chart,
    leave_one_out_chart,
    relative_chart,
    rolling_beta_chart,
    without_chart,
)
from engine.results.report.events import events_section, study_events
from engine.results.report.heat import correlation_table, monthly_table, overlap_table
from engine.results.report.nulls import null_histogram
from engine.results.report.page import (
    Charts,
    colors,
    document,
    esc,
    html_table,
    isnan,
    note,
    number,
    section,
    write_page,
)
from engine.results.report.provenance import notes_section, settings_section
from engine.results.runfolder import MANIFEST, WRITER, RunContents
from engine.results.runs_display import value_text
from engine.results.summary_tables import YEAR_DAYS, summary_tables, themes_note

ATTRIBUTION_PERCENT = ("weight", "local_return", "return", "contribution", "return_without")
#: A run longer than this many calendar days gets the long-run charts (rolling beta, monthly
#: returns, a log scale).
LONG_RUN_DAYS = 183
#: Summary columns whose negative values are not bad news (not red): drawdowns, betas.
NEUTRAL_HEADERS = ("MaxDD", "Beta", "Dimson", "B.local")
NULL_COLUMNS = {"total_return": "Total", "null_percentile": "Percentile",
                "null_p_value": "p", "n_random": "Random baskets"}
#: Baskets beyond this many get no attribution chart (their rows stay in the table).
MAX_ATTRIBUTION_CHARTS = 24


def write_report(
    folder: str | Path, self_contained: bool = False, contents: RunContents | None = None
) -> Path:
    """Write ``report.html`` into the run folder; returns its path.  The page is rendered
    from ``contents`` (what was just written there, held in memory: :func:`memory_run`), or
    else from the files already in the folder (:func:`load_run`): one renderer, two sources.
    plotly.js is the results folder's shared asset, or embedded when ``self_contained``.
    Only a folder whose manifest says basket wrote it (``written_by``, see
    :data:`engine.results.runfolder.WRITER`) is rewritten: ``report`` never replaces a
    ``report.html`` in a folder someone else made."""
    folder = Path(folder)
    run = load_run(folder) if contents is None else memory_run(folder, contents)
    if run.manifest.get("written_by") != WRITER["written_by"]:
        raise ResultsError(
            f"{folder} was not written by basket: its {MANIFEST} does not say "
            f"\"written_by\": \"basket\"; report.html left alone",
            "runs made before run_folder_format 1 have no report to rewrite: run them again",
        )
    return write_page(folder, build_report(run, plotly_script(folder, self_contained)))


#: Drawdown periods listed per basket in the report, deepest first.
DRAWDOWN_PERIODS_SHOWN = 3


def drawdown_table(equity: pd.DataFrame) -> str:
    """The deepest drawdown periods of every curve (:func:`drawdown_periods`, the peak
    starting at the cash): start, trough, recovery, depth and length in sessions."""
    rows = []
    for name in equity.columns:
        periods = drawdown_periods(equity[name].dropna(), initial=1.0)
        for period in periods.head(DRAWDOWN_PERIODS_SHOWN).itertuples():
            rows.append({
                "basket": name, "start": str(period.start)[:10],
                "trough": str(period.trough)[:10],
                "recovery": "not recovered" if pd.isna(period.recovery)
                else str(period.recovery)[:10],
                "depth": period.depth, "length": int(period.length),
            })
    if not rows:
        return note("No curve fell below its running peak.")
    frame = pd.DataFrame(rows).set_index("basket").rename_axis("Basket")
    headers = {"start": "Start", "trough": "Trough", "recovery": "Recovery", "depth": "Depth",
               "length": "Sessions"}
    return html_table(frame, percent=["depth"], headers=headers, neutral=["depth"]) + (
        f'<p class="caption">The {DRAWDOWN_PERIODS_SHOWN} deepest drawdown periods of each '
        "curve: from the last session at the peak (the starting cash counts as one) to the "
        "first session back at it; sessions from start to recovery, or to the last session "
        "when not recovered.</p>"
    )


def summary_section(run: Run) -> str:
    """The run's summary as its four tables (:mod:`engine.results.summary_tables`): the
    performance, against the markets, and the uncertainty, with their footnotes."""
    if run.summary.empty:
        return section("summary", "Summary", note("summary.csv is not in this run folder."))
    frame = run.summary.copy()
    frame.index.name = "Basket"
    labels = run.summary_labels()  # the numbers are read already; names and dates here
    for column in labels.columns:
        frame[column] = labels[column].reindex(frame.index)
    days = YEAR_DAYS  # a period the manifest does not give is not marked short
    if run.period:
        first, last = run.period.split("..")
        days = (pd.Timestamp(last) - pd.Timestamp(first)).days
    parts = []
    for table in summary_tables(frame, days):
        parts.append(f"<h3>{esc(table.title[:1].upper() + table.title[1:])}</h3>")
        parts.append(html_table(
            table.frame, percent=table.percent, row_class={run.benchmark: "benchmark"},
            css="summary", neutral=[c for c in table.frame.columns
                                    if str(c).startswith(NEUTRAL_HEADERS)],
        ))
        parts += [f'<p class="caption">{esc(text)}</p>' for text in table.footnotes]
    caption = (
        "<p class=\"caption\">Returns in the report currency; annualised figures use 252 "
        "sessions (volatility, Sharpe, tracking error, information ratio) and 365.25 days "
        "(annualised return). Alpha and beta are against the benchmark, risk-free rate 0.</p>"
    )
    return section("summary", "Summary", "".join(parts) + caption + null_table(run))


def equity_sections(run: Run, charts: Charts, palette: dict[str, str]) -> str:
    equity = run.table("equity.csv", index_col=0)
    if equity is None or equity.empty:
        empty = note("equity.csv is not in this run folder.")
        return section("equity", "Equity", empty) + section("drawdowns", "Drawdowns", empty)
    equity = equity.apply(pd.to_numeric, errors="coerce")
    events = study_events(run)
    listed = "; ".join(f"{d} {n}".strip() for d, n in events)
    long_run = is_long(run)
    caption = "<p class=\"caption\">Baskets and the benchmark (dashed), daily closes on the " \
        "union of the exchanges' sessions." + (
            f" Dotted lines: events ({esc(listed)})." if events else "") + (
            " Linear or log scale: the buttons above the chart." if long_run else "") + \
        " Click a legend entry to show that curve alone, again to show them all.</p>"
    curves = equity_chart(charts, equity, run.benchmark, run.manifest.get("currency"), events,
                          palette, log_toggle=long_run) + caption
    benchmarked = run.benchmark in equity.columns and len(equity.columns) > 1
    if benchmarked:
        curves += relative_chart(charts, equity, run.benchmark, events, palette)
    if long_run and benchmarked:
        betas = rolling_beta(equity, run.benchmark, ROLLING_BETA_SESSIONS)
        if betas.notna().any().any():
            curves += rolling_beta_chart(charts, betas, run.benchmark, ROLLING_BETA_SESSIONS,
                                         events, palette) + (
                f'<p class="caption">Slope of each basket\'s daily returns on the benchmark\'s '
                f"over the last {ROLLING_BETA_SESSIONS} sessions of the union calendar (a "
                "closed market counts as a zero return): the summary's beta, through time.</p>")
    if long_run:
        curves += monthly_table(monthly_returns(equity)) + (
            '<p class="caption">Each calendar month\'s return: the last value of the month '
            "over the last of the month before (the first month from the start).</p>")
    drawdowns = drawdown_chart(charts, equity, run.benchmark, events, palette) + drawdown_table(
        equity)
    return section("equity", "Equity", curves) + section("drawdowns", "Drawdowns", drawdowns)


def is_long(run: Run) -> bool:
    """Whether the run's period is longer than :data:`LONG_RUN_DAYS` calendar days."""
    if not run.period:
        return False
    first, last = run.period.split("..")
    return (pd.Timestamp(last) - pd.Timestamp(first)).days > LONG_RUN_DAYS


def together_section(run: Run) -> str:
    """How the baskets relate: the correlation of their daily returns and the symbols they
    hold in common, as tables with coloured cells (:mod:`engine.results.report.heat`), with
    the effective number of independent themes."""
    correlation = run.table("correlation.csv", index_col=0)
    overlap = run.table("overlap.csv", index_col=0)
    parts = []
    if correlation is not None and not correlation.empty:
        correlation = correlation.apply(pd.to_numeric, errors="coerce")
        parts.append(f"<div>{correlation_table(correlation)}</div>")
    if overlap is not None and not overlap.empty:
        overlap = overlap.apply(pd.to_numeric, errors="coerce")
        parts.append(f"<div>{overlap_table(overlap)}</div>")
    if not parts:
        return section("together", "Baskets together",
                       note("correlation.csv and overlap.csv are not in this run folder."))
    body = f'<div class="tables">{"".join(parts)}</div>'
    effective = number(run.manifest.get("effective_themes"))
    if not math.isnan(effective):
        themes = themes_note(effective, len(run.manifest.get("baskets") or []))
        body += f'<p class="caption">{esc(themes)}.</p>'
    return section("together", "Baskets together", body)


def null_table(run: Run) -> str:
    """The baskets' total returns against matched random baskets (``basket run
    --universe``: percentile and p-value), when the run has them."""
    columns = [c for c in NULL_COLUMNS if c in run.summary.columns]
    if "null_percentile" not in columns or not run.summary["null_percentile"].notna().any():
        return ""
    frame = run.summary.loc[run.summary["null_percentile"].notna(), columns].copy()
    frame.index.name = "Basket"
    return (
        "<h3>Against matched random baskets</h3>"
        + html_table(frame, percent=["total_return"], headers=NULL_COLUMNS,
                     digits={"null_percentile": 1, "null_p_value": 3})
        + '<p class="caption">Percentile of the basket\'s total return among random baskets of '
        "the universe with its number of names and market mix (same weights, schedule, fees); "
        "p: (1 + random baskets at or above it) / (1 + random baskets).</p>"
    )


def nulls_section(run: Run, charts: Charts) -> str:
    """Per basket ranked against matched random baskets (``basket run --universe``), the
    histogram of their total returns with the basket's marked (:func:`null_histogram`);
    empty for a run without them."""
    totals = run.nulls()
    if not totals or run.summary.empty:
        return ""
    charts_html = []
    for basket, values in totals.items():
        if basket not in run.summary.index:
            continue
        figures = run.summary.loc[basket]
        row = {"basket": basket, "grid": "", "statistic": RUN_STATISTIC,
               "value": number(figures.get(RUN_STATISTIC)),
               "percentile": number(figures.get("null_percentile")),
               "p_value": number(figures.get("null_p_value"))}
        charts_html.append(null_histogram(charts, row, values, marked="basket"))
    if not any(charts_html):
        return ""
    return section("nulls", "Random baskets", (
        f'<div class="grid">{"".join(charts_html)}</div>'
        '<p class="caption">Total returns of the matched random baskets each basket is ranked '
        "against (the universe's stocks, its number of names and market mix, same weights, "
        "schedule and fees), in equal bins; the red line is the basket's own total return.</p>"
    ))


def attribution_section(run: Run, charts: Charts) -> str:
    attribution = run.table("attribution.csv")
    if attribution is None or attribution.empty or "contribution" not in attribution:
        return section("attribution", "Attribution",
                        note("attribution.csv is not in this run folder."))
    parts = ['<div class="grid">']
    groups = list(attribution.groupby("basket", sort=False))
    for basket, rows in groups[:MAX_ATTRIBUTION_CHARTS]:
        total = run.summary["total_return"].get(basket, math.nan) if not run.summary.empty \
            else math.nan
        parts.append(attribution_chart(charts, rows, str(basket), number(total)))
        if "return_without" in rows and rows["return_without"].notna().any():
            parts.append(without_chart(charts, rows, str(basket), number(total)))
    parts.append("</div>")
    if len(groups) > MAX_ATTRIBUTION_CHARTS:
        parts.append(note(f"Charts for the first {MAX_ATTRIBUTION_CHARTS} of {len(groups)} "
                           "baskets; the table below has them all."))
    table = attribution.reset_index(drop=True)
    parts.append(
        "<details><summary>Constituents: weights, returns, contributions</summary>"
        + html_table(table, percent=ATTRIBUTION_PERCENT, index=False, css="attribution")
        + "</details>"
    )
    parts.append("<p class=\"caption\">Contribution: the constituent's share of the basket's "
                 "total return (percentage points, report currency); return in the report "
                 "currency, local_return in the listing's currency; beside each basket, its "
                 "return without each stock (return_without: simulated again without it, the "
                 "other weights renormalised, same schedule and fees).</p>")
    labels = run.summary_labels()
    robust = [c for c in ("total_return", "return_without_top", "top_contributor",
                          "return_worst_leave_one_out", "worst_leave_one_out")
              if c in run.summary.columns or c in labels.columns]
    if len(robust) == 5:
        rows = run.summary[["total_return", "return_without_top",
                            "return_worst_leave_one_out"]].join(
            labels[["top_contributor", "worst_leave_one_out"]])
        rows = rows[rows["return_without_top"].notna()]
        if not rows.empty:
            parts.append(leave_one_out_chart(charts, rows) + (
                '<p class="caption">Each basket simulated again without one constituent at a '
                "time (weights renormalised, same schedule and fees): without its top "
                "contributor, and the lowest of those returns (hover for the stock).</p>"))
    return section("attribution", "Attribution", "".join(parts))


def build_report(run: Run, plotly: str) -> str:
    """The whole page as a string (see the module docstring for its sections); ``plotly``
    is the element loading plotly.js (:func:`engine.results.assets.plotly_script`)."""
    m = run.manifest
    study = run.study
    title = str(study.get("name") or run.id)
    charts = Charts()
    names = list(run.summary.index)
    for extra in m.get("baskets") or []:
        if extra not in names:
            names.append(extra)
    palette = colors(names, run.benchmark)
    benchmark_total = (
        run.summary["total_return"].get(run.benchmark, math.nan)
        if run.benchmark and not run.summary.empty else math.nan
    )
    bench_text = "" if isnan(benchmark_total) else f" ({benchmark_total:+.2%})"
    backtest = m.get("kind", "run") != "event"
    nulls = nulls_section(run, charts) if backtest else ""
    sections = [
        summary_section(run) if backtest else "",
        nulls,
        equity_sections(run, charts, palette) if backtest else "",
        events_section(run, charts, palette),
        attribution_section(run, charts) if backtest else "",
        together_section(run) if backtest else "",
        notes_section(run),
        settings_section(run),
    ]
    links = [("summary", "Summary"), *([("nulls", "Random baskets")] if nulls else []),
             ("equity", "Equity"), ("drawdowns", "Drawdowns"),
             ("events", "Event study"), ("attribution", "Attribution"),
             ("together", "Baskets together"),
             ("notes", "Data notes"), ("settings", "Settings")]
    if not backtest:
        links = [link for link in links if link[0] in ("events", "notes", "settings")]
    fees = m.get("fees")
    subtitle = (
        f"{esc(run.period)} · {esc(m.get('currency'))} · vs {esc(run.benchmark)}"
        f"{esc(bench_text)} · fees {esc(value_text(fees))} · "
        f"{len(m.get('baskets') or [])} baskets"
        if backtest
        else f"event study of {len(m.get('baskets') or [])} baskets"
    )
    header = [subtitle, f"run {esc(run.id)} · written {esc(m.get('created_at'))}"]
    return document(title, run.id, header, "".join(sections), plotly + charts.script(),
                    nav=links)
