"""Shared offline assets of the reports: a partial plotly.js bundle, one copy per results folder.

The reports draw with ``plotly.js-basic-dist-min`` (``static/``, its version, sha256 and
licence in ``static/SOURCES.md``): the trace types scatter, bar and pie only
(:data:`TRACE_TYPES`), 1.19 MB instead of the 4.8 MB full bundle plotly.py ships, so a page
parses it and draws in a fraction of the time (the reports' tables of numbers with coloured
cells, :mod:`engine.results.report.heat`, replace heatmaps).  A report references
``../assets/plotly-basic-<version>.min.js``
(the results folder's ``assets/`` folder, next to the run folders), copied from the package the
first time a report needs it, atomically, under its versioned name: every report of a results
folder shares one copy.  A page that is sent on its own (``--self-contained``) embeds the
bundle instead.  When the asset cannot be loaded (the report was moved without its results
folder) the page says so in visible text instead of drawing nothing.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import ResultsError
from engine.files import atomic_write

#: The folder of shared assets inside a results folder (never a run folder).
ASSETS = "assets"
#: The bundle shipped in ``static/`` (package data), named with its plotly.js version.
PLOTLY_FILE = "plotly-basic-4.1.1.min.js"
PLOTLY_PATH = Path(__file__).with_name("static") / PLOTLY_FILE
#: The trace types the bundle registers (``Plotly.PlotSchema.get().traces``); a figure of any
#: other type would be left undrawn by plotly.js, without an error.
TRACE_TYPES = frozenset({"bar", "pie", "scatter"})

MISSING_NOTICE = (
    '<p id="plotly-missing" hidden style="position: fixed; top: 0; left: 0; right: 0; '
    'z-index: 10; margin: 0; padding: 10px 16px; background: #fff3cd; color: #5c4400; '
    'border-bottom: 1px solid #e0c36c; font: 14px system-ui, sans-serif;">'
    "The charts cannot be drawn: {asset} was not found next to this report's run folder.  "
    "Rebuild the page with "
    "<code>basket report RUN --self-contained</code> to get one file that works anywhere.</p>\n"
    "<script>if (!window.Plotly) {{ document.getElementById('plotly-missing').hidden = false; "
    "window.Plotly = {{ newPlot: function () {{ return new Promise(function () {{}}); }} }}; "
    "}}</script>\n"
)


def plotly_code() -> bytes:
    """The bundle's bytes, from the installed package's ``static/`` folder."""
    try:
        return PLOTLY_PATH.read_bytes()
    except OSError as error:
        raise ResultsError(
            f"cannot read {PLOTLY_PATH} ({error.strerror})",
            "the basket installation is incomplete: reinstall it (pip install -e .)",
        ) from None


def write_plotly_asset(results: Path) -> Path:
    """``results/assets/<PLOTLY_FILE>``, written (atomically) unless a complete copy is
    already there; returns its path."""
    code = plotly_code()
    path = results / ASSETS / PLOTLY_FILE
    try:
        if path.is_file() and path.stat().st_size == len(code):
            return path
        atomic_write(path, code)
    except OSError as error:
        raise ResultsError(f"cannot write {path} ({error.strerror})") from None
    return path


def plotly_script(folder: Path, self_contained: bool = False) -> str:
    """The ``<script>`` that loads plotly.js into the report of the run folder ``folder``:
    the bundle inline when ``self_contained``, else a relative reference to the shared asset
    of the results folder holding ``folder`` (written if needed), followed by the visible
    notice shown when that asset does not load.  Placed at the end of the body, before the
    charts' loader, so the tables show before plotly.js is parsed."""
    if self_contained:
        return f"<script>{plotly_code().decode('utf-8')}</script>\n"
    asset = write_plotly_asset(Path(folder).parent)
    reference = f"../{ASSETS}/{asset.name}"
    return f'<script src="{reference}"></script>\n' + MISSING_NOTICE.format(asset=reference)
