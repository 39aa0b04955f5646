# SPDX-License-Identifier: GPL-2.0-or-later
"""``--format markdown``: the answer, ready to paste into a ticket.

The answer paragraph, what to do, the OOM events table, the memory picture of each OOM
as a table with percentages, the timeline, and the key evidence lines.
"""

from __future__ import annotations

from typing import List, Sequence

from .. import __version__
from ..answer import no_events_line
from ..model import Analysis
from .table import PICTURE_PARTS, ago, event_at, mib, timeline_rows, when_collected

#: Evidence lines shown per OOM event (the whole list is in the JSON).
EVIDENCE_LINES = 6


def _cell(value: object) -> str:
    text = "-" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
             right: Sequence[int] = ()) -> str:
    """A GitHub-flavoured Markdown table (``right``: right-aligned column indexes).

    >>> print(md_table(["a", "b"], [[1, "x|y"]], right=[0]))
    | a | b |
    | ---: | --- |
    | 1 | x\\|y |
    """
    out = ["| " + " | ".join(_cell(h) for h in headers) + " |",
           "| " + " | ".join("---:" if i in right else "---" for i in range(len(headers))) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def md_inline(text: str, code: Sequence[str] = ()) -> str:
    """Prose for Markdown: each string of ``code`` in backticks, other markup escaped.

    >>> print(md_inline("set <memballoon/> or a_b", ["<memballoon/>"]))
    set `<memballoon/>` or a\\_b
    """
    import re

    spans = [c for c in code if c and c in text]
    if not spans:
        return re.sub(r"([\\`*_<\[\]|])", r"\\\1", text)
    pattern = "(" + "|".join(re.escape(c) for c in sorted(spans, key=len, reverse=True)) + ")"
    parts = re.split(pattern, text)
    return "".join(f"`{p}`" if p in spans else md_inline(p) for p in parts)


def _yes_no(value) -> str:
    return "-" if value is None else ("yes" if value else "no")


def render(analysis: Analysis) -> str:
    a = analysis
    out: List[str] = [f"## balloon-oom: {a.verdict or '-'}"
                      + (f" ({a.hostname})" if a.hostname else ""), ""]
    settings = [r.setting for r in a.recommendations]
    out += [md_inline(a.summary or "", settings), ""]
    if a.recommendations:
        out.append("**What to do**")
        out.append("")
        out += [f"- {md_inline(r.action, settings)} (finding: {md_inline(r.finding)})"
                for r in a.recommendations]
        out.append("")
    facts = [f"source: {a.source.kind.value} `{a.source.path}`",
             f"kernel {a.kernel.release or '?'}", f"hypervisor {a.hypervisor.name or '?'}",
             f"collected {a.clock.collected_at or '?'}",
             f"times in {a.clock.zone} ({a.clock.zone_basis})"]
    out += ["; ".join(facts), ""]
    if a.oom_events:
        out.append("### OOM events")
        out.append("")
        rows = []
        for i, (ev, v) in enumerate(zip(a.oom_events, a.verdicts), 1):
            entry = event_at(a, i)
            victim = (f"{ev.victim.comm} ({ev.victim.pid})"
                      + (f", RSS {mib(ev.victim.rss_kb * 1024)}" if ev.victim.rss_kb is not None
                         else "")) if ev.victim else "-"
            rows.append([i, (entry.at if entry and entry.at else
                             (ev.wallclock or (f"{ev.monotonic:.3f} s after boot"
                                               if ev.monotonic is not None else "-"))),
                         ago(entry.before_collection_seconds) if entry else "-",
                         ev.trigger_comm, ev.constraint, victim,
                         ("at most " if v.balloon_upper_bound else "")
                         + mib(v.balloon_bytes_at_oom), v.verdict, v.confidence])
        out.append(md_table(["#", "when", "", "trigger", "constraint", "killed",
                             "balloon at OOM", "verdict", "confidence"], rows, right=[0]))
        out.append("")
        for i, (ev, v) in enumerate(zip(a.oom_events, a.verdicts), 1):
            if v.picture:
                total = sum(v.picture.values())
                out.append(f"### Memory at OOM #{i} (total {mib(total)})")
                out.append("")
                out.append(md_table(
                    ["part", "size", "share"],
                    [[label, mib(v.picture[k]), f"{100 * v.picture[k] / total:.1f} %"]
                     for k, _, label in PICTURE_PARTS if v.picture.get(k)]
                    + [["**total**", f"**{mib(total)}**", "**100.0 %**"]], right=[1, 2]))
                out.append("")
    else:
        out += [no_events_line(a), ""]
    if a.timeline:
        out.append("### Timeline")
        out.append("")
        out.append(md_table(["when", "", "what", "detail"], [r[:4] for r in timeline_rows(a)]))
        out.append("")
    if a.balloons:
        out.append(f"### Balloons ({when_collected(a)})")
        out.append("")
        out.append(md_table(["driver", "device", "inflated", "target", "accounting",
                             "deflate-on-OOM"],
                            [[b.driver.value, b.device, mib(b.inflated_bytes),
                              mib(b.target_bytes), b.accounting.value,
                              _yes_no(b.deflate_on_oom)] for b in a.balloons],
                            right=[2, 3]))
        out.append("")
    evidence: List[str] = []
    for i, (ev, v) in enumerate(zip(a.oom_events, a.verdicts), 1):
        evidence += [f"OOM #{i}: {e}" for e in ev.evidence[:EVIDENCE_LINES]]
        evidence += [f"OOM #{i}: {line}" for line in v.arithmetic]
    for b in a.balloons:
        evidence += [f"{b.driver.value}: {e}" for e in b.evidence[:3]]
    if evidence:
        out += ["### Key evidence", "", "```"] + [e.replace("```", "'''") for e in evidence]
        out += ["```", ""]
    if a.warnings:
        out += ["### Warnings", ""] + [f"- {w}" for w in a.warnings] + [""]
    out.append(f"_balloon-oom {__version__}_")
    return "\n".join(out) + "\n"
