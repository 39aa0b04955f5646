# SPDX-License-Identifier: GPL-2.0-or-later
"""The fleet dashboard: ``--html DIR`` over many reports writes ``DIR/index.html``.

Verdicts by count, the balloon at OOM per report as a bar chart, and one row per
report linked to that report's own page beside it (:func:`page_name`).  Built from
the fleet's JSON results (one small row each, so memory stays flat), self-contained
like the report page (inline CSS and SVG, no scripts).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from .. import __version__
from .html import CSS, _e, table
from .table import mib

__all__ = ["DashboardRow", "VERDICT_COLOURS", "dashboard_row", "page_name", "render"]

VERDICT_COLOURS = {"contributed": "#d62728", "not-contributed": "#2ca02c",
                   "undetermined": "#999999", "no-log": "#b0b0b0", "no-oom": "#c7c7c7",
                   "error": "#444444"}
_ORDER = ("contributed", "undetermined", "no-log", "not-contributed", "no-oom", "error")


def page_name(index: int, path: str) -> str:
    """The file name of report ``index``'s page (input order, 1-based).

    >>> page_name(3, "/cases/sosreport-db1-2024.tar.xz")
    '003-sosreport-db1-2024.tar.xz.html'
    """
    base = path.rstrip("/").rsplit("/", 1)[-1] or "report"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:80]
    return f"{index:03d}-{slug}.html"


@dataclass
class DashboardRow:
    """What the dashboard shows of one report."""

    path: str
    page: Optional[str]
    verdict: str
    hostname: Optional[str] = None
    oom_events: int = 0
    balloon_at_oom_bytes: Optional[int] = None
    drivers: str = ""
    first_oom_at: Optional[str] = None
    error: Optional[str] = None


def dashboard_row(index: int, result: Dict[str, Any], with_page: bool = True) -> DashboardRow:
    """The row of one fleet result (a JSON document or an error result)."""
    path = (result.get("source") or {}).get("path", "?")
    if "error" in result:
        return DashboardRow(path=path, page=None, verdict="error", error=result["error"])
    events = result.get("oom_events") or []
    sizes = [e.get("balloon_bytes_at_oom") for e in events
             if isinstance(e.get("balloon_bytes_at_oom"), int)]
    ooms = [e.get("at") for e in result.get("timeline") or [] if e.get("kind") == "oom"]
    return DashboardRow(
        path=path, page=page_name(index, path) if with_page else None,
        verdict=result.get("verdict") or "undetermined", hostname=result.get("hostname"),
        oom_events=len(events), balloon_at_oom_bytes=max(sizes) if sizes else None,
        drivers=", ".join(sorted({b.get("driver") for b in result.get("balloons") or []
                                  if b.get("driver")})) or "none",
        first_oom_at=next((a for a in ooms if a), None))


def _counts_svg(counts: Counter, width: int = 600, height: int = 28) -> str:
    total = sum(counts.values())
    if not total:
        return ""
    x, parts = 0.0, []
    for v in _ORDER:
        n = counts.get(v, 0)
        if not n:
            continue
        w = n * width / total
        parts.append(f'<rect class="verdict-{v}" x="{x:.2f}" y="0" width="{w:.2f}" '
                     f'height="{height}" fill="{VERDICT_COLOURS[v]}"><title>{v}: {n}</title>'
                     "</rect>")
        x += w
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img">' + "".join(parts) + "</svg>")


def balloon_chart(rows: Sequence[DashboardRow], width: int = 720, bar: int = 18) -> str:
    """One horizontal bar per report with an OOM: the balloon at OOM (MiB), by verdict colour."""
    shown = [r for r in rows if r.oom_events]
    if not shown:
        return "<p>No report has an OOM event.</p>"
    label_w, value_w = 260, 90
    plot = width - label_w - value_w
    top = max((r.balloon_at_oom_bytes or 0) for r in shown) or 1
    height = len(shown) * (bar + 6) + 4
    parts = []
    for i, r in enumerate(shown):
        y = 2 + i * (bar + 6)
        size = r.balloon_at_oom_bytes
        w = 0 if size is None else max(1.0, size * plot / top) if size else 0
        name = (r.hostname or r.path.rstrip("/").rsplit("/", 1)[-1])[:38]
        parts.append(f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end" '
                     f'font-size="12">{_e(name)}</text>')
        parts.append(f'<rect class="balloon-{r.verdict}" x="{label_w}" y="{y}" width="{w:.2f}" '
                     f'height="{bar}" fill="{VERDICT_COLOURS.get(r.verdict, "#999")}">'
                     f"<title>{_e(r.path)}: {_e(mib(size))} ({_e(r.verdict)})</title></rect>")
        parts.append(f'<text x="{label_w + w + 4:.2f}" y="{y + bar - 5}" font-size="12">'
                     f"{_e(mib(size) if size is not None else 'unknown')}</text>")
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img">'
            + "".join(parts) + "</svg>")


def render(rows: Sequence[DashboardRow], generated: Optional[str] = None) -> str:
    generated = generated or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    counts = Counter(r.verdict for r in rows)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>balloon-oom: {len(rows)} reports</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>Did the memory balloon take the memory these guests ran out of? "
           f"({len(rows)} reports)</h1>",
           f'<p class="meta">balloon-oom {_e(__version__)} &middot; page generated '
           f"{_e(generated)}</p>",
           "<h2>Verdicts</h2>",
           table(["verdict", "reports", "share"],
                 [[f'<span class="swatch" style="background:{VERDICT_COLOURS[v]}"></span>'
                   f"{_e(v)}", counts[v], f"{100 * counts[v] / len(rows):.0f} %"]
                  for v in _ORDER if counts.get(v)], numeric=[1, 2], raw=[0], cls="verdicts"),
           f'<div class="counts">{_counts_svg(counts)}</div>',
           "<h2>Balloon at the OOM, per report</h2>",
           "<p>The largest balloon at any OOM of the report (MiB), coloured by the report's "
           "verdict.</p>",
           balloon_chart(rows),
           "<h2>Reports</h2>"]
    body = []
    for r in rows:
        link = (f'<a href="{_e(r.page)}">{_e(r.path)}</a>' if r.page else _e(r.path))
        body.append([link, _e(r.hostname), _e(r.verdict), _e(r.oom_events if r.verdict != "error"
                                                            else "-"),
                     _e(mib(r.balloon_at_oom_bytes)), _e(r.first_oom_at), _e(r.drivers),
                     _e(r.error)])
    out.append(table(["report", "host", "verdict", "OOM events", "balloon at OOM",
                      "first OOM", "drivers", "error"], body, numeric=[3, 4],
                     raw=list(range(8)), cls="reports"))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_page(directory: str, name: str, page: str) -> None:
    with open(f"{directory}/{name}", "w", encoding="utf-8") as f:
        f.write(page)


def rows_summary(rows: List[DashboardRow]) -> str:
    """``3 reports: 1 contributed, 2 no-oom`` (for the stderr line)."""
    counts = Counter(r.verdict for r in rows)
    return f"{len(rows)} reports: " + ", ".join(f"{counts[v]} {v}" for v in _ORDER if counts[v])
