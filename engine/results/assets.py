"""Shared offline assets of the reports: plotly.js written once per results folder.

A report references ``../assets/plotly-<version>.min.js`` (the results folder's ``assets/``
folder, next to the run folders), copied from the installed ``plotly`` package the first time
a report needs it, atomically, under a versioned name: a report stays a few hundred kB instead
of 5 MB, and every report of a results folder shares one copy.  A page that is sent on its own
(``--self-contained``) embeds plotly.js instead.  When the asset cannot be loaded (the report
was moved without its results folder) the page says so in visible text instead of drawing
nothing.

Imports plotly only when an asset is written or embedded.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import ResultsError
from engine.files import atomic_write

#: The folder of shared assets inside a results folder (never a run folder).
ASSETS = "assets"

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


def plotly_name() -> str:
    """The asset's file name, with the bundled plotly.js version, e.g. ``plotly-3.1.0.min.js``."""
    from plotly.offline import get_plotlyjs_version

    return f"plotly-{get_plotlyjs_version()}.min.js"


def write_plotly_asset(results: Path) -> Path:
    """``results/assets/plotly-<version>.min.js``, written (atomically) unless a complete copy
    is already there; returns its path."""
    from plotly.offline import get_plotlyjs

    code = get_plotlyjs().encode("utf-8")
    path = results / ASSETS / plotly_name()
    try:
        if path.is_file() and path.stat().st_size == len(code):
            return path
        atomic_write(path, code)
    except OSError as error:
        raise ResultsError(f"cannot write {path} ({error.strerror})") from None
    return path


def plotly_script(folder: Path, self_contained: bool = False) -> str:
    """The ``<script>`` that loads plotly.js into the report of the run folder ``folder``:
    plotly.js inline when ``self_contained``, else a relative reference to the shared asset
    of the results folder holding ``folder`` (written if needed), followed by the visible
    notice shown when that asset does not load.  Placed at the end of the body, before the
    charts' loader, so the tables show before plotly.js is parsed."""
    if self_contained:
        from plotly.offline import get_plotlyjs

        return f"<script>{get_plotlyjs()}</script>\n"
    asset = write_plotly_asset(Path(folder).parent)
    reference = f"../{ASSETS}/{asset.name}"
    return f'<script src="{reference}"></script>\n' + MISSING_NOTICE.format(asset=reference)
