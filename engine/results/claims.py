"""A claims check for people and programs: the verdict text, flat tables, and its run folder.

The terminal text (:func:`claims_text`) is one block per claim: the claim as quoted and its
verdict, the printed figure with the band it holds in, then one line per listing (dates used,
currency, measured figure, difference, verdict; ``*`` marks the listing the figure matches).
Its lines are at most :data:`LINE_WIDTH` characters, whatever the terminal, so no number is
ever cut; only the quoted text and the reasons wrap.

A claims run folder holds::

    claims.csv  claims.md  claims.json   one row per claim and listing (see CLAIM_COLUMNS)
    paths.csv                            the price path of every row (claim, symbol, date, value)
    asof.csv                             the score per candidate date (with --infer-asof)
    config.yaml                          the claims as read
    manifest.json                        kind "claims", the as-of date, data, versions
    report.html                          each claim beside its price path, the as-of score
"""

from __future__ import annotations

import datetime as dt
import json
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from engine.analysis.claims import CLOSE, FAILS, HOLDS, UNCHECKED, VERDICTS
from engine.jsonable import json_ready
from engine.results.display import markdown_table
from engine.results.runfolder import (
    WRITER,
    Filler,
    FolderKind,
    package_versions,
    write_config_and_manifest,
    write_text_synced,
)
from engine.text import spreadsheet_frame

#: The columns of the flat table (csv, markdown) and the keys every JSON object has first.
CLAIM_COLUMNS = (
    "claim",
    "symbol",
    "start",
    "end",
    "currency",
    "printed",
    "measured",
    "difference",
    "verdict",
    "matches",
    "claim_verdict",
    "as_multiple",
    "as_multiple_verdict",
    "null_percentile",
    "null_p_value",
    "reason",
)
LINE_WIDTH = 78


def _digits(tolerance: float | None, percent: bool) -> int:
    """Decimals that show one digit more than the printed figure has."""
    if not tolerance:
        return 1 if percent else 2
    unit = 2 * tolerance * (100 if percent else 1)
    return max(0, round(-math.log10(unit))) + 1


def figure_text(
    value: float | None, row: dict[str, Any], *, extra: int = 1, unit: bool = True
) -> str:
    """A return as the claim reads it, with ``extra`` decimals more than the printed figure:
    ``+49.8%``, or ``8.51 times`` for "risen N times"."""
    if value is None:
        return ""
    if row["times"]:
        digits = _digits(row["tolerance"], False) - 1 + extra
        return f"{value:.{digits}f}" + (" times" if unit else "")
    return f"{value:+.{_digits(row['tolerance'], True) - 1 + extra}%}"


def difference_text(row: dict[str, Any]) -> str:
    """The difference from the printed figure: percentage points, or times."""
    value = row["difference"]
    if value is None:
        return ""
    if row["times"]:
        return f"{value:+.{_digits(row['tolerance'], False)}f}"
    return f"{100 * value:+.{_digits(row['tolerance'], True)}f} pt"


def printed_text(row: dict[str, Any]) -> str:
    """What the claim asserts: the printed figure and its bands, or the bounds."""
    close = row["close"]
    if row["printed"] is not None:
        low, high = row["printed"] - row["tolerance"], row["printed"] + row["tolerance"]
        shown = figure_text(row["printed"], row, extra=0)
        holds = f"{figure_text(low, row, unit=False)}..{figure_text(high, row)}"
        band = difference_text({**row, "difference": close}).lstrip("+")
        return f"printed {shown} (holds {holds}, close within {band})"
    parts = []
    if row["at_least"] is not None:
        parts.append(f">= {figure_text(row['at_least'], row)}")
    if row["at_most"] is not None:
        parts.append(f"<= {figure_text(row['at_most'], row)}")
    what = f"excess over {row['outperformed']} " if row["outperformed"] else ""
    close_text = f", close within {100 * close:.1f} pt" if close else ""
    return f"claimed: {what}{' and '.join(parts)}{close_text}"


def claims_text(
    records: Sequence[dict[str, Any]], title: str, width: int = 80, notes: Sequence[str] = ()
) -> str:
    """The verdicts as terminal text (see the module docstring); ``width`` wraps the quoted
    claims and the reasons, never the figures."""
    width = max(width, 60)
    lines = textwrap.wrap(title, width) + [""]
    by_claim: dict[int, list[dict[str, Any]]] = {}
    for row in records:
        by_claim.setdefault(row["claim_index"], []).append(row)
    symbol_width = max((len(_subject(r)) for r in records), default=6)
    for index, rows in by_claim.items():
        first = rows[0]
        heading = f"{index + 1}. {first['claim']}"
        verdict = first["claim_verdict"].upper()
        wrapped = textwrap.wrap(heading, width - len(verdict) - 2, subsequent_indent="   ")
        lines.append(wrapped[0].ljust(width - len(verdict)) + verdict)
        lines += wrapped[1:]
        lines.append(f"   {printed_text(first)}")
        if first["basket"]:
            lines.append(f"   basket {first['symbol']} ({first['basket']}), bought and held")
        if first["outperformed"]:
            lines.append(f"   measured: the return minus that of {first['outperformed']}")
        for row in rows:
            mark = "*" if row["matches"] and len(rows) > 1 else " "
            subject = _subject(row).ljust(symbol_width)
            if row["verdict"] == UNCHECKED:
                lines.append(f" {mark} {subject}  cannot be checked")
                lines += textwrap.wrap(
                    row["reason"], width, initial_indent="     ", subsequent_indent="     "
                )
                continue
            dates = f"{row['start']}..{row['end']}"
            lines.append(
                f" {mark} {subject}  {row['currency']:<3}  {dates}  "
                f"{figure_text(row['measured'], row):>12}  {difference_text(row):>9}  "
                f"{row['verdict']}"
            )
            if row["null_percentile"] is not None:
                null = (
                    f"against {row['null_n']} random baskets matched on "
                    f"{row['null_matched_on']}: percentile {row['null_percentile']:.1f}, "
                    f"p = {row['null_p_value']:.3f}, random median "
                    f"{figure_text(row['null_median'], row)}"
                )
                lines += textwrap.wrap(
                    null, width, initial_indent="     ", subsequent_indent="     "
                )
            if row["as_multiple"] is not None:
                lines.append(
                    f"     read as a price multiple: {row['as_multiple']:.2f}x, "
                    f"{row['as_multiple_verdict']}"
                )
        lines.append("")
    if any(r["matches"] and len(by_claim[r["claim_index"]]) > 1 for r in records):
        lines.append("* the listing the printed figure matches")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def _subject(row: dict[str, Any]) -> str:
    return "basket" if row["basket"] else str(row["symbol"])


def claims_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The flat table: one row per claim and listing, the columns of :data:`CLAIM_COLUMNS`,
    indexed by the claim's number."""
    frame = pd.DataFrame(list(records), columns=["claim_index", *CLAIM_COLUMNS])
    frame.insert(0, "n", frame.pop("claim_index") + 1)
    return frame.set_index("n")


def score_text(scores: pd.DataFrame, inferred: str, tied: Sequence[str]) -> str:
    """The per-date score of ``--infer-asof`` as plain lines, then the date named."""
    header = f"{'date':<10}  {'hold':>4}  {'close':>5}  {'fail':>4}  {'n/a':>3}  claims holding"
    lines = ["as-of inference: claims without their own 'until', per candidate date", header]
    for row in scores.to_dict(orient="records"):
        mark = "  <- as of" if row["date"] == inferred else ""
        lines.append(
            f"{row['date']:<10}  {row[HOLDS]:>4}  {row[CLOSE]:>5}  {row[FAILS]:>4}  "
            f"{row[UNCHECKED]:>3}  {row['claims_holding']}{mark}".rstrip()
        )
    others = [d for d in tied if d != inferred]
    also = f" (as good: {', '.join(others)})" if others else ""
    lines.append(f"price date inferred: {inferred}{also}")
    return "\n".join(lines) + "\n"


def paths_frame(run: Any) -> pd.DataFrame:
    """The price path behind every measured row, from a month before its start to its end:
    claim number, symbol, date, value and the value rebased to the start (``growth``)."""
    frames = []
    for row in run.rows:
        path = run.paths.get((row.index, row.subject))
        if row.start is None or not hasattr(path, "values"):
            continue
        values = path.values
        shown = values[
            (values.index >= row.start - pd.Timedelta(days=31)) & (values.index <= row.end)
        ]
        frames.append(
            pd.DataFrame(
                {
                    "n": row.index + 1,
                    "symbol": row.subject,
                    "date": shown.index.date,
                    "value": shown.to_numpy(),
                    "growth": (shown / values[row.start] - 1.0).to_numpy(),
                }
            )
        )
    columns = ["n", "symbol", "date", "value", "growth"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _claims_filler(run: Any, run_id: str, argv: Sequence[str] | None) -> Filler:
    """The tables of a :class:`engine.pipeline.claims.ClaimsRun` (see the module docstring)."""
    claims = run.claims
    records = run.records()

    def fill(folder: Path) -> None:
        frame = claims_frame(records)
        spreadsheet_frame(frame).to_csv(folder / "claims.csv", float_format="%.10g")
        write_text_synced(folder / "claims.md", markdown_table(frame))
        write_text_synced(folder / "claims.json", json.dumps(json_ready(records), indent=2) + "\n")
        spreadsheet_frame(paths_frame(run)).to_csv(
            folder / "paths.csv", index=False, float_format="%.10g"
        )
        if run.scores is not None:
            spreadsheet_frame(run.scores).to_csv(folder / "asof.csv", index=False)
        manifest = {
            **WRITER,
            "run_id": run_id,
            "kind": "claims",
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "command": list(argv) if argv is not None else None,
            "versions": package_versions(),
            "title": claims.title,
            "published": claims.published,
            "asof": run.asof,
            "asof_in_file": claims.asof,
            "asof_inferred": run.inferred,
            "asof_tied": run.tied,
            "data_source": run.prices.source,
            "fingerprints": run.prices.fingerprints(),
            "verdicts": {
                v: sum(r["claim_verdict"] == v for r in _firsts(records)) for v in VERDICTS
            },
            "notes": run.notes,
            "data_flags": [flag.record() for flag in run.prices.flags],
        }
        write_config_and_manifest(folder, {"claims": claims.to_dict()}, manifest)

    return fill


def _claims_folder_name(run: Any) -> str:
    return f"claims {Path(run.claims.path).stem if run.claims.path else 'claims'}"


#: A claims check's run folder (``basket claims``): named after its claims file.
CLAIMS_FOLDER = FolderKind(_claims_folder_name, _claims_filler)


def _firsts(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per claim."""
    seen: dict[int, dict[str, Any]] = {}
    for row in records:
        seen.setdefault(row["claim_index"], row)
    return list(seen.values())
