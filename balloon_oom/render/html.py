"""A self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched).

For attaching to a support case: the verdict and its reasons, the memory
picture of each OOM as a stacked SVG bar, and the same tables as the
terminal report.
"""

from __future__ import annotations

import html
from typing import Dict, List

from ..model import Analysis
from .table import PICTURE_PARTS, mib, when_collected

#: Colour of each memory-picture part.
COLOURS = {
    "balloon": "#d62728", "anon": "#1f77b4", "file": "#2ca02c", "slab": "#9467bd",
    "kernel": "#8c564b", "free": "#c7c7c7", "reserved": "#7f7f7f", "unaccounted": "#ff7f0e",
}

_CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.verdict { font-size: 1.3em; font-weight: bold; padding: .4em .8em; display: inline-block; }
.contributed { background: #fbe3e3; } .not-contributed { background: #e3f4e3; }
.undetermined, .no-oom { background: #eee; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; font-size: .9em; }
th { background: #f4f4f4; }
code, pre { font-size: .85em; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.legend span { display: inline-block; margin-right: 1em; font-size: .85em; }
.swatch { display: inline-block; width: .9em; height: .9em; vertical-align: middle;
          margin-right: .3em; }
"""


def _e(value: object) -> str:
    return html.escape("-" if value is None else str(value))


def svg_bar(picture: Dict[str, int], width: int = 720, height: int = 36) -> str:
    """A stacked horizontal bar; each part has a <title> with its size."""
    total = sum(picture.values())
    if total <= 0:
        return ""
    parts: List[str] = []
    x = 0.0
    for key, _, label in PICTURE_PARTS:
        value = picture.get(key, 0)
        if value <= 0:
            continue
        w = value * width / total
        parts.append(f'<rect class="part-{key}" x="{x:.2f}" y="0" width="{w:.2f}" '
                     f'height="{height}" fill="{COLOURS[key]}"><title>{_e(label)}: '
                     f'{_e(mib(value))}</title></rect>')
        x += w
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img">' + "".join(parts) + "</svg>")


def _table(headers: List[str], rows: List[List[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(analysis: Analysis) -> str:
    verdict = analysis.verdict or "-"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>balloon-oom: {_e(verdict)} - {_e(analysis.source.path)}</title>",
           f"<style>{_CSS}</style></head><body>",
           "<h1>Did the memory balloon take the memory this guest ran out of?</h1>",
           f'<div class="verdict {_e(verdict)}">{_e(verdict)}</div>',
           f"<p>Source: {_e(analysis.source.kind.value)} <code>{_e(analysis.source.path)}</code>"
           f"; kernel {_e(analysis.kernel.release)}; hypervisor {_e(analysis.hypervisor.name)}"
           f"; collected {_e(analysis.collected_at)}</p>"]
    for i, (ev, v) in enumerate(zip(analysis.oom_events, analysis.verdicts), 1):
        when = ev.wallclock or (f"{ev.monotonic:.3f} s after boot" if ev.monotonic else "?")
        out.append(f"<h2>OOM #{i}: {_e(v.verdict)} ({_e(v.confidence)} confidence)</h2>")
        victim = f"{ev.victim.comm} ({ev.victim.pid})" if ev.victim else "-"
        out.append(f"<p>{_e(when)}; trigger {_e(ev.trigger_comm)}; constraint "
                   f"{_e(ev.constraint)}; killed {_e(victim)}; balloon at OOM "
                   f"{'at most ' if v.balloon_upper_bound else ''}"
                   f"{_e(mib(v.balloon_bytes_at_oom))} ({_e(v.balloon_basis)})</p>")
        out.append("<ul>" + "".join(f"<li>{_e(r)}</li>" for r in v.reasons) + "</ul>")
        if v.picture:
            out.append(f'<div class="picture" id="picture-{i}">{svg_bar(v.picture)}</div>')
            out.append('<div class="legend">' + "".join(
                f'<span><span class="swatch" style="background:{COLOURS[k]}"></span>'
                f"{_e(label)} {_e(mib(v.picture.get(k, 0)))}</span>"
                for k, _, label in PICTURE_PARTS if v.picture.get(k)) + "</div>")
        if v.arithmetic:
            out.append("<pre>" + _e("\n".join(v.arithmetic)) + "</pre>")
        if ev.evidence:
            out.append("<pre>" + _e("\n".join(str(e) for e in ev.evidence)) + "</pre>")
    if not analysis.oom_events:
        out.append("<p>No OOM events in the kernel logs found.</p>")
    out.append("<h2>Balloons</h2>")
    rows = [[b.driver.value, b.device, mib(b.inflated_bytes), mib(b.target_bytes),
             b.accounting.value, b.deflate_on_oom, b.accounting_basis]
            for b in analysis.balloons]
    out.append(_table(["driver", "device", "inflated", "target", "accounting",
                       "deflate-on-OOM", "why this accounting"], rows)
               if rows else "<p>No balloon driver found.</p>")
    mem = analysis.memory
    out.append(f"<h2>Memory ({_e(when_collected(analysis))})</h2>")
    out.append(_table(["figure", "value"], [
        ["MemTotal", f"{mem.mem_total_kb} kB" if mem.mem_total_kb is not None else None],
        ["MemFree", f"{mem.mem_free_kb} kB" if mem.mem_free_kb is not None else None],
        ["MemAvailable",
         f"{mem.mem_available_kb} kB" if mem.mem_available_kb is not None else None],
        ["Balloon (meminfo)", f"{mem.balloon_kb} kB" if mem.balloon_kb is not None else None],
        ["balloon_inflate", mem.balloon_inflate], ["balloon_deflate", mem.balloon_deflate],
        ["nr_balloon_pages", mem.nr_balloon_pages]]))
    if analysis.warnings:
        out.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{_e(w)}</li>"
                                                    for w in analysis.warnings) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
