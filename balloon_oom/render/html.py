"""A self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched).

For attaching to a support case: the answer first, what to do, then each OOM's
memory picture (a stacked SVG bar with percentages and the total), the events, the
timeline, the balloons and memory figures with units; the accounting explained in
plain words, with the kernel detail (arithmetic, evidence lines) folded in
``<details>``.  The header names the guest, the tool version and when the page
was generated.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Dict, List, Optional, Sequence

from .. import __version__
from ..answer import accounting_plain, no_events_line
from ..model import Analysis
from .table import PICTURE_PARTS, ago, event_at, mib, timeline_rows, when_collected

#: Colour of each memory-picture part.
COLOURS = {
    "balloon": "#d62728", "anon": "#1f77b4", "file": "#2ca02c", "slab": "#9467bd",
    "kernel": "#8c564b", "free": "#c7c7c7", "reserved": "#7f7f7f", "unaccounted": "#ff7f0e",
}

CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.meta { color: #555; font-size: .85em; margin: 0 0 1em; }
.answer { border-left: .4em solid #999; background: #f7f7f7; padding: .8em 1em;
          font-size: 1.05em; line-height: 1.45; }
.answer.contributed { border-color: #b22222; } .answer.not-contributed { border-color: #228b22; }
.verdict { font-size: 1.2em; font-weight: bold; padding: .3em .7em; display: inline-block;
           margin-bottom: .5em; }
.contributed .verdict, .verdict.contributed { background: #fbe3e3; }
.not-contributed .verdict, .verdict.not-contributed { background: #e3f4e3; }
.undetermined .verdict, .no-oom .verdict, .no-log .verdict,
.verdict.undetermined, .verdict.no-oom, .verdict.no-log { background: #eee; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; font-size: .9em;
         vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
th { background: #f4f4f4; }
code, pre { font-size: .85em; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #fafafa; padding: .5em; }
.legend span.item { display: inline-block; margin-right: 1.2em; font-size: .85em; }
.swatch { display: inline-block; width: .9em; height: .9em; vertical-align: middle;
          margin-right: .3em; }
.bar text { font-size: 12px; fill: #fff; font-family: sans-serif; }
table.timeline td:nth-child(-n+2) { white-space: nowrap; }
details { margin: .5em 0; } summary { cursor: pointer; color: #333; }
.recs li { margin-bottom: .3em; } .finding { color: #555; font-size: .9em; }
"""


def _e(value: object) -> str:
    return html.escape("-" if value is None else str(value))


def yes_no(value: Optional[bool]) -> str:
    return "-" if value is None else ("yes" if value else "no")


def pct(part: int, total: int) -> str:
    """``50.0 %`` (one decimal).

    >>> pct(1, 3)
    '33.3 %'
    """
    return f"{100 * part / total:.1f} %" if total else "-"


def svg_bar(picture: Dict[str, int], width: int = 720, height: int = 36) -> str:
    """A stacked horizontal bar; each part has a <title> with its size and share, and parts
    wide enough carry their percentage as a label."""
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
                     f'{_e(mib(value))} ({pct(value, total)})</title></rect>')
        if w >= 44:
            parts.append(f'<text x="{x + w / 2:.2f}" y="{height / 2 + 4:.0f}" '
                         f'text-anchor="middle">{100 * value / total:.0f}%</text>')
        x += w
    return (f'<svg class="bar" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img">'
            + "".join(parts) + "</svg>")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = (),
          raw: Sequence[int] = (), cls: str = "") -> str:
    """An HTML table; ``numeric`` columns right-aligned, ``raw`` columns already HTML."""
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{_e(h)}</th>'
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(
        f'<td{" class=num" if i in numeric else ""}>{c if i in raw else _e(c)}</td>'
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><tr>{head}</tr>{body}</table>"


def _kb(n: Optional[int]) -> Optional[str]:
    return None if n is None else f"{n:,} kB ({mib(n * 1024)})"


def _pages(n: Optional[int], page_size: int) -> Optional[str]:
    return None if n is None else f"{n:,} pages ({mib(n * page_size)})"


def header(analysis: Analysis, generated: Optional[str] = None) -> str:
    """Hostname, source, tool version and generation time."""
    generated = generated or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    host = analysis.hostname or "host name not in the report"
    return (f'<p class="meta">guest <b>{_e(host)}</b> &middot; {_e(analysis.source.kind.value)} '
            f"<code>{_e(analysis.source.path)}</code> &middot; kernel "
            f"{_e(analysis.kernel.release)} &middot; hypervisor {_e(analysis.hypervisor.name)}"
            f"<br>collected {_e(analysis.clock.collected_at or 'at an unknown time')} &middot; "
            f"times in {_e(analysis.clock.zone)} ({_e(analysis.clock.zone_basis)})"
            f"<br>balloon-oom {_e(__version__)} &middot; page generated {_e(generated)}</p>")


def _picture(i: int, picture: Dict[str, int]) -> List[str]:
    total = sum(picture.values())
    out = [f'<div class="picture" id="picture-{i}">{svg_bar(picture)}</div>',
           '<div class="legend">' + "".join(
               f'<span class="item"><span class="swatch" style="background:{COLOURS[k]}">'
               f"</span>{_e(label)} {_e(mib(picture[k]))} ({pct(picture[k], total)})</span>"
               for k, _, label in PICTURE_PARTS if picture.get(k))
           + f'<span class="item"><b>total {_e(mib(total))}</b></span></div>']
    return out


def render(analysis: Analysis, generated: Optional[str] = None) -> str:
    a = analysis
    verdict = a.verdict or "-"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>balloon-oom: {_e(verdict)} - {_e(a.hostname or a.source.path)}</title>",
           f"<style>{CSS}</style></head><body>",
           "<h1>Did the memory balloon take the memory this guest ran out of?</h1>",
           header(a, generated),
           f'<div class="answer {_e(verdict)}" id="answer">'
           f'<div class="verdict {_e(verdict)}">{_e(verdict)}</div>'
           f"<p>{_e(a.summary)}</p></div>"]
    if a.recommendations:
        out.append("<h2>What to do</h2><ul class=recs>" + "".join(
            f"<li>{_e(r.action)} &mdash; <code>{_e(r.setting)}</code>"
            f'<br><span class="finding">because {_e(r.finding)}</span></li>'
            for r in a.recommendations) + "</ul>")
    plain = accounting_plain(a)
    for i, (ev, v) in enumerate(zip(a.oom_events, a.verdicts), 1):
        entry = event_at(a, i)
        when = (entry.at if entry and entry.at else ev.wallclock
                or (f"{ev.monotonic:.3f} s after boot" if ev.monotonic is not None else "unknown"))
        before = f" ({ago(entry.before_collection_seconds)})" if entry else ""
        out.append(f"<h2>OOM #{i}: {_e(v.verdict)} ({_e(v.confidence)} confidence)</h2>")
        victim = (f"{ev.victim.comm} (pid {ev.victim.pid}"
                  + (f", RSS {mib(ev.victim.rss_kb * 1024)})" if ev.victim.rss_kb is not None
                     else ")")) if ev.victim else "-"
        size = ("unknown" if v.balloon_bytes_at_oom is None else
                f"<b>{'at most ' if v.balloon_upper_bound else ''}"
                f"{_e(mib(v.balloon_bytes_at_oom))}</b> ({_e(v.balloon_basis)})")
        out.append(f"<p>{_e(when)}{_e(before)}; trigger {_e(ev.trigger_comm)}; constraint "
                   f"{_e(ev.constraint)}; killed {_e(victim)}; balloon at the OOM {size}</p>")
        out.append("<ul>" + "".join(f"<li>{_e(r)}</li>" for r in v.reasons) + "</ul>")
        if v.picture:
            out.append(f"<h3>Where the guest's memory was at OOM #{i}</h3>")
            out += _picture(i, v.picture)
        if plain:
            out.append("<p><b>How the balloon's size is worked out.</b> "
                       + " ".join(_e(p) for p in plain) + "</p>")
        if v.arithmetic or ev.evidence:
            out.append(f"<details><summary>Kernel detail: the arithmetic and the log lines "
                       f"behind OOM #{i}</summary>")
            if v.arithmetic:
                out.append("<pre>" + _e("\n".join(v.arithmetic)) + "</pre>")
            if ev.evidence:
                out.append("<pre>" + _e("\n".join(str(e) for e in ev.evidence)) + "</pre>")
            out.append("</details>")
    if not a.oom_events:
        out.append(f"<p>{_e(no_events_line(a))}</p>")
    if a.timeline:
        out.append("<h2>Timeline</h2>")
        out.append(table(["when", "", "what", "detail"], [r[:4] for r in timeline_rows(a)],
                         cls="timeline"))
    out.append(f"<h2>Balloons ({_e(when_collected(a))})</h2>")
    rows = [[b.driver.value, b.device, mib(b.inflated_bytes), mib(b.target_bytes),
             b.accounting.value, yes_no(b.deflate_on_oom)] for b in a.balloons]
    out.append(table(["driver", "device", "inflated", "target", "accounting",
                      "deflate-on-OOM"], rows, numeric=[2, 3])
               if rows else "<p>No balloon driver found.</p>")
    if a.balloons:
        out.append("<details><summary>Why each accounting mode, and the evidence</summary><ul>"
                   + "".join(f"<li>{_e(b.driver.value)} {_e(b.device or '')}: "
                             f"{_e(b.accounting_basis)}<pre>"
                             + _e("\n".join(str(e) for e in b.evidence)) + "</pre></li>"
                             for b in a.balloons) + "</ul></details>")
    mem = a.memory
    out.append(f"<h2>Memory ({_e(when_collected(a))})</h2>")
    out.append(table(["figure", "value"], [
        ["MemTotal", _kb(mem.mem_total_kb)], ["MemFree", _kb(mem.mem_free_kb)],
        ["MemAvailable", _kb(mem.mem_available_kb)],
        ["Balloon (meminfo)", _kb(mem.balloon_kb)],
        ["balloon_inflate (since boot)", _pages(mem.balloon_inflate, mem.page_size)],
        ["balloon_deflate (since boot)", _pages(mem.balloon_deflate, mem.page_size)],
        ["nr_balloon_pages", _pages(mem.nr_balloon_pages, mem.page_size)]], numeric=[1]))
    if a.warnings:
        out.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{_e(w)}</li>"
                                                    for w in a.warnings) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
