"""The terminal report (tabulate): verdict first, then events, balloons, memory.

``explain=True`` adds the evidence behind every value and the arithmetic
behind every derived number.
"""

from __future__ import annotations

import textwrap
from typing import Dict, List, Optional

from ..answer import no_events_line
from ..model import Analysis, Balloon, OomEvent, TimelineEntry

_MIB = 1024 * 1024


def tabulate(*args, **kwargs) -> str:
    """``tabulate.tabulate``, imported on first use: JSON output, and the HTML and
    Markdown pages that share this module's helpers, never pay for its import."""
    from tabulate import tabulate as _tabulate

    return _tabulate(*args, **kwargs)

#: Memory-picture categories: (key, bar character, label).
PICTURE_PARTS = (
    ("balloon", "B", "balloon"),
    ("anon", "a", "anon"),
    ("file", "f", "file cache"),
    ("slab", "s", "slab"),
    ("kernel", "k", "kernel (page tables, stacks, hugetlb)"),
    ("free", ".", "free"),
    ("reserved", "r", "reserved (not managed)"),
    ("unaccounted", "?", "unaccounted"),
)


def when_collected(analysis: Analysis) -> str:
    """What "now" means for this source's figures."""
    return {"vmcore": "when the vmcore was taken", "live": "now"}.get(
        analysis.source.kind.value, "at collection")


def mib(n: Optional[int]) -> str:
    if n is None:
        return "-"
    return f"{n / _MIB:,.1f} MiB"


def _kb(n: Optional[int]) -> str:
    return "-" if n is None else f"{n:,} kB"


def bar(picture: Dict[str, int], width: int = 60) -> str:
    """A stacked bar of ``width`` characters, largest remainders rounding.

    >>> bar({"balloon": 50, "anon": 30, "free": 20}, width=10)
    'BBBBBaaa..'
    """
    total = sum(picture.values())
    if total <= 0:
        return ""
    exact = [(k, picture.get(k, 0) * width / total) for k, _, _ in PICTURE_PARTS]
    cells = {k: int(v) for k, v in exact}
    short = width - sum(cells.values())
    for k, v in sorted(exact, key=lambda kv: kv[1] - int(kv[1]), reverse=True)[:short]:
        cells[k] += 1
    chars = {k: c for k, c, _ in PICTURE_PARTS}
    return "".join(chars[k] * cells[k] for k, _, _ in PICTURE_PARTS)


def event_at(analysis: Analysis, number: int) -> Optional[TimelineEntry]:
    """The timeline entry of OOM event ``number`` (1-based)."""
    for e in analysis.timeline:
        if e.kind == "oom" and e.oom == number:
            return e
    return None


def _event_when(ev: OomEvent, entry: Optional[TimelineEntry] = None) -> str:
    parts = []
    if entry is not None and entry.at:
        parts.append(entry.at)
    elif ev.wallclock:
        parts.append(ev.wallclock)
    if ev.monotonic is not None:
        parts.append(f"{ev.monotonic:.3f}s")
    return " / ".join(parts) or "-"


def ago(seconds: Optional[float]) -> str:
    """``1 s before collection``; ``-`` when unknown."""
    from ..answer import duration

    if seconds is None:
        return "-"
    if seconds < 0:
        return f"{duration(-seconds)} after the collection started"
    return f"{duration(seconds)} before collection"


def timeline_rows(analysis: Analysis) -> List[List[str]]:
    """When, how long before collection, what, and how the date was obtained."""
    return [[e.at or (f"{e.stamp} (year unknown)" if e.stamp and "year is unknown"
                      in (e.at_basis or "") else "unknown"),
             ago(e.before_collection_seconds) if e.before_collection_seconds else
             ("at collection" if e.before_collection_seconds == 0 else "-"),
             e.kind, e.text, e.at_basis or "-"] for e in analysis.timeline]


def clock_line(analysis: Analysis) -> str:
    """``times in UTC (assumed: …)`` or ``times in Europe/Berlin (etc/localtime …)``."""
    c = analysis.clock
    return f"times in {c.zone} ({c.zone_basis})"


def _victim(ev: OomEvent) -> str:
    v = ev.victim
    if v is None:
        return "-" if ev.complete else "(report cut short)"
    rss = f", rss {mib(v.rss_kb * 1024)}" if v.rss_kb is not None else ""
    return f"{v.comm} ({v.pid}){rss}"


def _constraint(ev: OomEvent) -> str:
    c = ev.constraint or "?"
    if ev.memcg and c == "memcg":
        c += f" {ev.memcg}"
    return c


def _balloon_rows(balloons: List[Balloon]) -> List[List[str]]:
    rows = []
    for b in balloons:
        doo = "-" if b.deflate_on_oom is None else ("yes" if b.deflate_on_oom else "no")
        rows.append([b.driver.value, b.device or "-", mib(b.inflated_bytes),
                     mib(b.target_bytes), b.accounting.value, doo])
    return rows


def render(analysis: Analysis, explain: bool = False, color: bool = False) -> str:
    out: List[str] = []
    verdict = analysis.verdict or "-"
    out.append(f"VERDICT: {verdict}")
    if analysis.summary:
        out.extend(textwrap.wrap(analysis.summary, width=100))
        out.append("")
    src = analysis.source
    out.append(f"source: {src.kind.value} {src.path}")
    facts = [f"kernel {analysis.kernel.release or '?'}",
             f"hypervisor {analysis.hypervisor.name or '?'}"]
    if analysis.collected_at:
        facts.append(f"collected {analysis.collected_at}")
    if analysis.uptime_seconds is not None:
        facts.append(f"uptime {analysis.uptime_seconds:.0f} s")
    out.append(", ".join(facts))
    out.append(clock_line(analysis))
    for i, (ev, v) in enumerate(zip(analysis.oom_events, analysis.verdicts), 1):
        out.append(f"  OOM #{i}: {v.verdict} ({v.confidence} confidence)")
        for reason in v.reasons:
            out.append(f"    - {reason}")
    out.append("")

    if analysis.oom_events:
        rows = []
        for i, (ev, v) in enumerate(zip(analysis.oom_events, analysis.verdicts), 1):
            rows.append([i, _event_when(ev, event_at(analysis, i)), ev.trigger_comm or "-",
                         _constraint(ev),
                         ev.order if ev.order is not None else "-", _victim(ev),
                         ("<= " if v.balloon_upper_bound else "") + mib(v.balloon_bytes_at_oom),
                         v.verdict, v.confidence])
        out.append("OOM events")
        out.append(tabulate(rows, headers=["#", "when", "trigger", "constraint", "order",
                                           "killed", "balloon at OOM", "verdict",
                                           "confidence"]))
        out.append("")
        for i, (ev, v) in enumerate(zip(analysis.oom_events, analysis.verdicts), 1):
            if v.picture:
                out.append(f"Memory at OOM #{i}: [{bar(v.picture)}]")
                total = sum(v.picture.values())
                legend = [f"{c} {label} {mib(v.picture.get(k, 0))}"
                          for k, c, label in PICTURE_PARTS if v.picture.get(k)]
                out.append("  " + "; ".join(legend) + f" (total {mib(total)})")
            if explain:
                out.append(f"  evidence for OOM #{i}:")
                for e in ev.evidence:
                    out.append(f"    {e}")
                if v.balloon_basis:
                    bound = "at most " if v.balloon_upper_bound else ""
                    out.append(f"  balloon at OOM #{i}: {bound}{mib(v.balloon_bytes_at_oom)} "
                               f"from {v.balloon_basis}")
                if v.balloon_lower_bytes is not None:
                    hi = "unbounded" if v.balloon_upper_bytes is None else mib(
                        v.balloon_upper_bytes)
                    out.append(f"  interval at OOM #{i}: [{mib(v.balloon_lower_bytes)}, {hi}]")
                if v.criterion:
                    bf = v.but_for.status if v.but_for else "-"
                    mat = v.materiality.status if v.materiality else "-"
                    out.append(f"  criterion for OOM #{i}: {v.criterion} (but-for {bf}, "
                               f"materiality {mat})")
                for line in v.arithmetic:
                    out.append(f"    {line}")
        out.append("")
    else:
        out.append(no_events_line(analysis))
        out.append("")

    if analysis.timeline:
        out.append("Timeline")
        rows = timeline_rows(analysis)
        if not explain:
            rows = [r[:4] for r in rows]
        out.append(tabulate(rows, headers=["when", "", "what", "detail", "dated by"][:len(rows[0])],
                            disable_numparse=True))
        out.append("")

    out.append("Balloons")
    if analysis.balloons:
        out.append(tabulate(_balloon_rows(analysis.balloons),
                            headers=["driver", "device", "inflated", "target", "accounting",
                                     "deflate-on-OOM"]))
        if explain:
            for b in analysis.balloons:
                out.append(f"  {b.driver.value} {b.device or ''}: {b.accounting_basis}")
                if b.features:
                    out.append(f"    features: {', '.join(b.features)}")
                for e in b.evidence:
                    out.append(f"    {e}")
    else:
        out.append("  no balloon driver found")
    out.append("")

    mem = analysis.memory
    rows = [["MemTotal", _kb(mem.mem_total_kb)], ["MemFree", _kb(mem.mem_free_kb)],
            ["MemAvailable", _kb(mem.mem_available_kb)]]
    if mem.balloon_kb is not None:
        rows.append(["Balloon (meminfo)", _kb(mem.balloon_kb)])
    for name in ("balloon_inflate", "balloon_deflate", "balloon_migrate", "nr_balloon_pages"):
        val = getattr(mem, name)
        if val is not None:
            rows.append([name, f"{val:,} pages"])
    if mem.boot is not None:
        reserved = ("no reserved field" if mem.boot.reserved_kb is None
                    else f"{mem.boot.reserved_kb:,}K reserved")
        rows.append(["boot Memory:", f"{mem.boot.available_kb:,}K/{mem.boot.total_kb:,}K "
                                     f"available, {reserved}"])
    for z in mem.zones:
        if z.present_pages is not None and z.managed_pages is not None:
            rows.append([f"zone {z.node}/{z.zone} present-managed",
                         f"{z.present_pages - z.managed_pages:,} pages"])
    out.append(f"Memory ({when_collected(analysis)})")
    out.append(tabulate(rows, tablefmt="plain"))
    if explain:
        for key, e in mem.evidence.items():
            out.append(f"    {key}: {e}")
        if mem.boot is not None:
            if mem.boot.evidence:
                out.append(f"    boot: {mem.boot.evidence}")
            for e in mem.boot.freed_evidence:
                out.append(f"    freed later: {e}")
    out.append("")

    if analysis.disagreements:
        out.append("Sources disagree")
        for d in analysis.disagreements:
            vals = ", ".join(f"{k}={mib(v)}" for k, v in d.values.items())
            out.append(f"  {d.what}: {vals} ({d.note})")
        out.append("")
    if analysis.signatures and explain:
        out.append("Balloon messages in the kernel log")
        for s in analysis.signatures:
            out.append(f"  {s.kind}: {s.evidence}")
        out.append("")
    if analysis.vmcore is not None:
        vm = analysis.vmcore
        out.append(f"vmcore: panic={vm.panic_message or '-'}; taken at OOM: "
                   f"{'-' if vm.taken_at_oom is None else vm.taken_at_oom}")
        for m in vm.debuginfo_missing:
            out.append(f"  missing debuginfo: {m}")
        out.append("")
    for w in analysis.warnings:
        out.append(f"warning: {w}")
    return "\n".join(out).rstrip() + "\n"

