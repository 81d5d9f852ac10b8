"""The HTML reports: one page per run folder, readable offline, every text escaped.

Offers :func:`write_report` / :func:`build_report` (the run report of ``basket run`` and
``basket event``), and the building blocks the tests and other reports use.  Rooms:

- ``page``: escaping, cells and tables, sections, the page skeleton and style, the charts'
  container and loader;
- ``charts``: the run report's plotly figures (equity, relative, drawdown, CAR, attribution);
- ``heat``: tables with coloured cells (monthly returns, correlation and overlap of baskets);
- ``run``: the run report's page and its summary, equity, drawdown and attribution sections;
- ``events``: the event-study section (CAR paths, tables led by the robust tests);
- ``provenance``: data notes and settings (run and claims reports);
- ``nulls``: the histogram of matched random baskets (run and sweep reports);
- ``claims``: the claims report; ``sweep``: the sweep report.

Importing it imports pandas and yaml but neither vectorbt nor plotly's Python figure classes
(plotly.js is read from the package only when a report is written).
"""

from engine.results.report.page import REPORT, html_table, p_text
from engine.results.report.provenance import notes_table
from engine.results.report.run import build_report, write_report

__all__ = ["REPORT", "build_report", "html_table", "notes_table", "p_text", "write_report"]
