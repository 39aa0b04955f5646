# SPDX-License-Identifier: GPL-2.0-or-later
"""The balloon's size at an OOM, as an interval ``[lower, upper]`` with its basis.

Every source gives bounds (bytes; upper ``None`` = unbounded), on the whole
balloon or on one accounting part:

- **total**: a vmcore taken at this OOM; Virtuozzo's printed ``Balloon
  InflatedTotal:/InflatedFree:``; the v6.15+ per-node ``Balloon:`` field
  (NR_BALLOON_PAGES, Linux kernel commit 835de37603ef ("meminfo: add a per
  node counter for balloon drivers") (in v6.15)), only a lower bound with a
  VMware balloon (its 2 MiB pages are not counted) or s390 CMM (not counted).
- **memtotal-reduced part** (drivers calling ``adjust_managed_page_count``):
  ``pages reserved`` = sum(present - managed) since Linux kernel commit
  c78e93630d15 (in v3.14); minus the event's own boot baseline, with error
  bars for gigantic boot hugepages (``gather_bootmem_prealloc()`` adds them to
  managed with no ``Freeing`` line), Hyper-V hot-add tails
  (``pages_added - pages_onlined`` stay present but unmanaged), virtio-mem;
  and the continuity of managed memory: ``pages RAM - pages reserved`` at the
  OOM against MemTotal at collection, plus the balloon at collection.
- **counted-as-used part**: the unaccounted gap of the report, an upper bound
  only (it also holds free-page-hint blocks, zram, vmalloc and percpu).

Parts add up; totals intersect the sum.  Sources that do not overlap are a
contradiction: the interval becomes their hull and the confidence low.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ..model import Accounting, Analysis, Balloon, Confidence, Driver, OomEvent, SizeBound
from .thresholds import MIB, Thresholds

Interval = Tuple[int, Optional[int]]


def mib(n: Optional[int]) -> str:
    if n is None:
        return "unbounded"
    return f"{n / MIB:.1f} MiB"


def show(lo: int, hi: Optional[int]) -> str:
    if hi is not None and lo == hi:
        return mib(lo)
    return f"[{mib(lo)}, {mib(hi)}]"


@dataclass
class SizeEstimate:
    lower: int
    upper: Optional[int]
    basis: str
    confidence: Confidence
    sources: List[SizeBound] = field(default_factory=list)
    arithmetic: List[str] = field(default_factory=list)
    contradictions: List[str] = field(default_factory=list)
    caveats: List[str] = field(default_factory=list)
    #: The balloon as collected (bytes), a cross-check, never a bound.
    collected: Optional[int] = None
    #: Any source bounded the size at the OOM (else only collection is known).
    bounded: bool = False

    #: Width up to which the interval is shown as one number.
    exact_width: int = 0

    @property
    def point(self) -> Optional[int]:
        """One number for tables: the upper bound of an upper-bound-only interval, the
        lower bound of a narrow one (width <= ``exact_width``), else None."""
        if self.upper_only:
            return self.upper
        if self.upper is not None and self.upper - self.lower <= self.exact_width:
            return self.lower
        return None

    @property
    def upper_only(self) -> bool:
        return self.lower == 0 and self.upper is not None and self.upper > 0


def page_size(analysis: Analysis) -> int:
    return analysis.memory.page_size or 4096


def collected_size(analysis: Analysis, balloons: Optional[List[Balloon]] = None) -> Optional[int]:
    known = [b.inflated_bytes for b in (analysis.balloons if balloons is None else balloons)
             if b.inflated_bytes is not None]
    return sum(known) if known else None


def accounting_mode(analysis: Analysis) -> str:
    """``reduced`` | ``used`` | ``mixed`` | ``unknown`` (no balloon found, or one unknown)."""
    modes = {b.accounting for b in analysis.balloons}
    if not modes or Accounting.UNKNOWN in modes:
        return "unknown"
    if modes == {Accounting.MEMTOTAL_REDUCED}:
        return "reduced"
    if modes == {Accounting.COUNTED_AS_USED}:
        return "used"
    return "mixed"


def old_show_mem(ev: OomEvent) -> bool:
    """The pre-3.14 show_mem counted PageReserved pages (and prints ``pages shared``)."""
    return ev.pages_shared is not None or ev.pages_non_shared is not None


def intersect(bounds: List[Interval], tol: int) -> Tuple[Interval, bool]:
    """Intersection of intervals (within ``tol``), or their hull and False when disjoint."""
    lo = max(b[0] for b in bounds)
    his = [b[1] for b in bounds if b[1] is not None]
    hi = min(his) if his else None
    if hi is None or lo <= hi:
        return (lo, hi), True
    if lo - hi <= tol:
        return (hi, lo), True
    hull_hi = None if any(b[1] is None for b in bounds) else max(his)
    return (min(b[0] for b in bounds), hull_hi), False


def _has_virtio_mem(analysis: Analysis) -> bool:
    return any(s.kind.startswith("virtio_mem") for s in analysis.signatures)


def _gigantic_bytes(ev: OomEvent) -> int:
    """Hugetlb pages of 1 GiB or more in the report (allocated from memblock at boot)."""
    return sum(h.get("hugepages_total", 0) * h.get("hugepages_size_kb", 0) * 1024
               for h in ev.hugetlb if h.get("hugepages_size_kb", 0) >= 1024 * 1024)


def _hv_tail_bytes(analysis: Analysis) -> int:
    tail = 0
    for b in analysis.balloons:
        if b.driver == Driver.HYPERV:
            added, onlined = b.details.get("pages_added"), b.details.get("pages_onlined")
            if isinstance(added, int) and isinstance(onlined, int) and added > onlined:
                tail += (added - onlined) * 4096
    return tail


def _totalram_is_managed(analysis: Analysis, th: Thresholds, arith: List[str]) -> bool:
    """MemTotal equals the zones' managed pages at collection: the reducing drivers here
    adjust managed pages (``adjust_managed_page_count``), not only ``totalram_pages``.

    Without that proof a MemTotal-reducing balloon may sit in the unaccounted gap instead
    of ``pages reserved`` (virtio <= 3.10 did ``totalram_pages--`` only; pseries CMM did
    until v5.5), so the gap stays an upper bound on it.
    """
    mem = analysis.memory
    managed = [z.managed_pages for z in mem.zones]
    if mem.mem_total_kb is None or not managed or any(m is None for m in managed):
        arith.append("no zoneinfo to show that MemTotal is the zones' managed pages: a "
                     "MemTotal-reducing balloon may also be in the unaccounted gap")
        return False
    total = sum(managed) * page_size(analysis)
    if abs(total - mem.mem_total_kb * 1024) <= th.agree_bytes:
        return True
    arith.append(f"MemTotal {mem.mem_total_kb} kB differs from the zones' managed pages "
                 f"({mib(total)}): a driver decrements totalram only")
    return False


def reserved_delta(ev: OomEvent, analysis: Analysis, th: Thresholds,
                   arith: List[str]) -> Optional[SizeBound]:
    """``pages reserved`` at the OOM minus this event's own boot baseline, with error bars."""
    bm = ev.boot_memory
    if bm is None and ev.current_boot is True:
        bm = analysis.memory.boot  # the current boot's line, from another log
    if bm is None or bm.reserved_kb is None or ev.pages_reserved is None:
        return None
    page = page_size(analysis)
    baseline = bm.baseline_reserved_kb // (page // 1024)
    delta = (ev.pages_reserved - baseline) * page
    where = f" [{bm.evidence.source}:{bm.evidence.line}]" if bm.evidence else ""
    arith.append(f"boot baseline{where}: {bm.reserved_kb}K reserved - {bm.freed_later_kb}K freed "
                 f"later ({len(bm.freed_evidence)} Freeing lines) = "
                 f"{bm.baseline_reserved_kb}K = {baseline} pages")
    arith.append(f"pages reserved at the OOM {ev.pages_reserved} - {baseline} = "
                 f"{ev.pages_reserved - baseline} pages = {mib(delta)}")
    gig = _gigantic_bytes(ev)
    if delta + gig < -th.agree_bytes:
        arith.append("negative: the baseline does not fit this report (deferred page init, memory "
                     "offlined, crashkernel shrunk); not used")
        return None
    lo, hi = max(delta, 0), max(delta + gig, 0)
    bars: List[str] = []
    if gig:
        bars.append(f"+{mib(gig)}: gigantic hugepages in the report; boot-time ones are reserved "
                    "in the Memory: line and join managed memory with no Freeing line "
                    "(gather_bootmem_prealloc())")
    tail = _hv_tail_bytes(analysis)
    if tail:
        lo = max(lo - tail, 0)
        bars.append(f"-{mib(tail)}: Hyper-V hot-add tail (pages_added - pages_onlined at "
                    "collection) is present but never managed")
    if _has_virtio_mem(analysis):
        lo = 0
        bars.append("lower bound 0: virtio-mem keeps unplugged parts of online blocks present "
                    "but unmanaged, in pages reserved too")
    if any(b.driver == Driver.XEN for b in analysis.balloons):
        bars.append("Xen: never-populated PFNs (PoD, memory < maxmem) are ballooned at boot and "
                    "counted here, though the host never took them")
    for bar in bars:
        arith.append(f"  error bar {bar}")
    return SizeBound("pages reserved at the OOM minus the boot baseline", lo, hi,
                     part="memtotal-reduced", error_bars=bars)


def continuity(ev: OomEvent, analysis: Analysis, th: Thresholds,
               arith: List[str]) -> Optional[SizeBound]:
    """Managed memory at the OOM against MemTotal at collection (same boot)."""
    mem = analysis.memory
    if (ev.current_boot is not True or mem.mem_total_kb is None or ev.pages_ram is None
            or ev.pages_reserved is None or analysis.source.kind.value == "vmcore"):
        return None
    reducing = [b for b in analysis.balloons if b.accounting == Accounting.MEMTOTAL_REDUCED]
    if not reducing or any(b.inflated_bytes is None for b in reducing):
        return None
    if _has_virtio_mem(analysis):
        arith.append("continuity not used: virtio-mem changes MemTotal by plugging memory")
        return None
    page = page_size(analysis)
    managed = (ev.pages_ram - ev.pages_reserved) * page
    now = collected_size(analysis, reducing) or 0
    grew = mem.mem_total_kb * 1024 - managed
    size = now + grew
    arith.append(f"continuity: managed at the OOM (pages RAM {ev.pages_ram} - pages reserved "
                 f"{ev.pages_reserved}) = {mib(managed)}; MemTotal at collection "
                 f"{mem.mem_total_kb} kB = {mib(mem.mem_total_kb * 1024)}; balloon at "
                 f"collection {mib(now)} + MemTotal growth since the OOM {mib(grew)} = {mib(size)}")
    if size < -th.agree_bytes:
        arith.append("  negative: memory was hot-removed or the collection is of another boot; "
                     "not used")
        return None
    lo = hi = max(size, 0)
    bars = []
    if any(b.driver == Driver.HYPERV for b in reducing):
        lo = 0
        bars.append("lower bound 0: Hyper-V hot-add after the OOM would also raise MemTotal")
        arith.append(f"  error bar {bars[-1]}")
    return SizeBound("managed memory at the OOM vs MemTotal and the balloon at collection",
                     lo, hi, part="memtotal-reduced", error_bars=bars)


def unaccounted_gap(ev: OomEvent, analysis: Analysis, arith: List[str],
                    part: str) -> Optional[SizeBound]:
    """``(pages RAM - pages reserved) - accounted``: an upper bound only."""
    if ev.pages_ram is None or ev.pages_reserved is None or "free" not in ev.mem_info:
        return None
    page = page_size(analysis)
    page_kb = page // 1024
    mi = ev.mem_info
    keys = ("free", "free_pcp", "active_anon", "inactive_anon", "isolated_anon",
            "active_file", "inactive_file", "isolated_file", "unevictable",
            "slab_reclaimable", "slab_unreclaimable", "pagetables", "sec_pagetables",
            "bounce", "kernel_misc_reclaimable", "unstable")
    parts = [(k, mi[k]) for k in keys if mi.get(k)]
    stack_kb = sum(n.values_kb.get("kernel_stack", 0) for n in ev.nodes)
    if not stack_kb:
        stack_kb = sum(z.values_kb.get("kernel_stack", 0) for z in ev.zones)
    if stack_kb:
        parts.append(("kernel_stack", stack_kb // page_kb))
    huge_kb = sum(h.get("hugepages_total", 0) * h.get("hugepages_size_kb", 0) for h in ev.hugetlb)
    if huge_kb:
        parts.append(("hugetlb", huge_kb // page_kb))
    accounted = sum(v for _, v in parts)
    managed = ev.pages_ram - ev.pages_reserved
    gap = max(managed - accounted, 0)
    arith.append("accounted: " + " + ".join(f"{k} {v}" for k, v in parts)
                 + f" = {accounted} pages")
    arith.append(f"unaccounted = (pages RAM {ev.pages_ram} - pages reserved {ev.pages_reserved})"
                 f" - {accounted} = {gap} pages = {mib(gap * page)}: an upper bound only (it also "
                 "holds free-page-hint blocks, zram, vmalloc, percpu and driver pages)")
    return SizeBound("unaccounted gap of the OOM report (upper bound)", 0, gap * page, part=part)


def _total_sources(ev: OomEvent, analysis: Analysis, last: bool,
                   arith: List[str]) -> List[SizeBound]:
    out = []
    vm = analysis.vmcore
    if vm is not None and vm.taken_at_oom and last:
        size = collected_size(analysis)
        if size is not None:
            arith.append("vmcore taken at this OOM: " + ", ".join(
                f"{b.driver.value} {mib(b.inflated_bytes)}" for b in analysis.balloons))
            out.append(SizeBound("vmcore taken at this OOM (panic_on_oom)", size, size))
    if ev.vz_balloon_inflated_total_kb is not None or ev.vz_balloon_inflated_free_kb is not None:
        total = (ev.vz_balloon_inflated_total_kb or 0) + (ev.vz_balloon_inflated_free_kb or 0)
        arith.append(f"printed: InflatedTotal {ev.vz_balloon_inflated_total_kb}kB + InflatedFree "
                     f"{ev.vz_balloon_inflated_free_kb}kB = {total}kB")
        out.append(SizeBound("printed with the OOM report (Balloon InflatedTotal/InflatedFree)",
                             total * 1024, total * 1024))
    node_kb = ev.node_balloon_kb
    if node_kb is not None:
        blind = [b.driver.value for b in analysis.balloons
                 if b.driver in (Driver.VMWARE, Driver.S390_CMM)]
        arith.append(f"printed: sum of the per-node Balloon: fields = {node_kb}kB")
        if blind:
            bar = (f"lower bound only: NR_BALLOON_PAGES does not count {', '.join(blind)} "
                   "(VMware 2 MiB pages, s390 CMM)")
            arith.append(f"  error bar {bar}")
            out.append(SizeBound("printed with the OOM report (per-node Balloon:, v6.15+)",
                                 node_kb * 1024, None, error_bars=[bar]))
        else:
            out.append(SizeBound("printed with the OOM report (per-node Balloon:, v6.15+)",
                                 node_kb * 1024, node_kb * 1024))
    inflate = analysis.memory.balloon_inflate
    if (inflate is not None and ev.current_boot is True and analysis.balloons
            and all(b.driver == Driver.VIRTIO for b in analysis.balloons)
            and analysis.source.kind.value != "vmcore"):
        page = page_size(analysis)
        arith.append(f"vmstat balloon_inflate {inflate} at collection: pages inflated since boot, "
                     f"so the balloon never held more than {mib(inflate * page)} in this boot")
        out.append(SizeBound("vmstat balloon_inflate since boot (upper bound)", 0,
                             inflate * page))
    return out


def _cmm_notifier(ev: OomEvent, analysis: Analysis, arith: List[str]) -> Optional[SizeBound]:
    """s390 and pseries CMM always register an OOM notifier: a printed kill
    (global, cpuset or mempolicy; not sysrq) means it freed nothing."""
    cmm = [b for b in analysis.balloons if b.driver in (Driver.S390_CMM, Driver.PSERIES_CMM)]
    if not cmm or ev.victim is None or ev.constraint == "memcg" or ev.order == -1:
        return None
    if len(cmm) != len(analysis.balloons):
        return None
    arith.append("CMM's OOM notifier (cmm_oom_notify(), registered unconditionally) runs before "
                 "every non-memcg kill; out_of_memory() returns without killing when it frees "
                 "anything: a printed kill means the CMM balloon was empty")
    return SizeBound("CMM OOM notifier freed nothing before the kill", 0, 0)


def estimate(ev: OomEvent, analysis: Analysis, last: bool, th: Thresholds) -> SizeEstimate:
    """The balloon's size at ``ev`` as an interval, with the arithmetic."""
    arith: List[str] = []
    mode = accounting_mode(analysis)
    old = old_show_mem(ev)
    page = page_size(analysis)
    totals = _total_sources(ev, analysis, last, arith)
    notifier = _cmm_notifier(ev, analysis, arith)
    if notifier is not None:
        totals.append(notifier)
    sources: List[SizeBound] = list(totals)
    contradictions: List[str] = []
    caveats: List[str] = []

    if old:
        arith.append("pre-3.14 show_mem (it prints pages shared/non-shared): pages reserved "
                     "counts PageReserved pages and never holds a balloon; every balloon is in "
                     "the unaccounted gap instead")
        gap = unaccounted_gap(ev, analysis, arith, "total")
        parts_bound: Interval = (0, gap.upper_bytes) if gap else (0, None)
        if gap:
            sources.append(gap)
    else:
        # The MemTotal-reducing part.
        if mode == "used":
            red: Interval = (0, 0)
            delta = reserved_delta(ev, analysis, th, arith)
            if delta is not None and delta.lower_bytes > th.gap_noise_bytes:
                # virtio 4.0-4.2 reduced managed memory even with DEFLATE_ON_OOM (Linux kernel
                # commit 997e120843e8 made it conditional in v4.3): pages reserved grew.
                red = (delta.lower_bytes, delta.upper_bytes)
                sources.append(delta)
                caveats.append(f"pages reserved grew by {mib(delta.lower_bytes)} since boot "
                               "although every balloon here is counted as used: taken as a "
                               "balloon in managed memory (virtio 4.0-4.2 with DEFLATE_ON_OOM)")
                arith.append(f"  {caveats[-1]}")
        else:
            red_sources = [s for s in (reserved_delta(ev, analysis, th, arith),
                                       continuity(ev, analysis, th, arith)) if s is not None]
            sources += red_sources
            if red_sources:
                red, ok = intersect([(s.lower_bytes, s.upper_bytes) for s in red_sources],
                                    th.agree_bytes)
                if not ok:
                    contradictions.append(
                        "the MemTotal-reducing part disagrees between sources: "
                        + "; ".join(f"{s.basis} {show(s.lower_bytes, s.upper_bytes)}"
                                    for s in red_sources))
            elif mode == "unknown" and ev.pages_reserved is not None:
                red = (0, ev.pages_reserved * page)
                arith.append(f"no boot baseline: a MemTotal-reducing balloon is at most all of "
                             f"pages reserved ({ev.pages_reserved} pages = "
                             f"{mib(ev.pages_reserved * page)})")
            else:
                red = (0, None)
            for s in red_sources:
                caveats += s.error_bars
            if mode == "unknown" and red[0] > th.gap_noise_bytes:
                caveats.append(f"the balloon's accounting is unknown; pages reserved grew by "
                               f"{mib(red[0])} since boot, which is what a MemTotal-reducing "
                               "balloon does: taken as the balloon")
                arith.append(f"  {caveats[-1]}")
        # The counted-as-used part.
        if mode == "reduced" and _totalram_is_managed(analysis, th, arith):
            used: Interval = (0, 0)
        elif mode == "reduced":
            gap = unaccounted_gap(ev, analysis, arith, "counted-as-used")
            used = (0, gap.upper_bytes) if gap else (0, None)
            if gap:
                sources.append(gap)
                if gap.upper_bytes > th.gap_noise_bytes:
                    caveats.append(
                        f"unaccounted gap {mib(gap.upper_bytes)}: a driver that only decrements "
                        "totalram (virtio <= 3.10 and RHEL 7.0-7.2, pseries CMM before v5.5) keeps "
                        "its pages there, out of pages reserved")
                    arith.append(f"  {caveats[-1]}")
        else:
            gap = unaccounted_gap(ev, analysis, arith, "counted-as-used")
            used = (0, gap.upper_bytes) if gap else (0, None)
            if gap:
                sources.append(gap)
        parts_bound = (red[0] + used[0],
                       None if red[1] is None or used[1] is None else red[1] + used[1])
    for s in totals:
        caveats += s.error_bars

    bounds = [parts_bound] + [(s.lower_bytes, s.upper_bytes) for s in totals]
    (lo, hi), ok = intersect(bounds, th.agree_bytes)
    if not ok:
        contradictions.append("the printed/vmcore size and the report's accounting disagree: "
                              + "; ".join(show(b[0], b[1]) for b in bounds))
    bounded = bool(totals) or parts_bound != (0, None)

    collected = collected_size(analysis)
    if collected is not None:
        kind = analysis.source.kind.value
        when = " (the OOM may be from another boot)"
        if ev.current_boot:
            when = ", later in the same boot"
            if analysis.uptime_seconds is not None and ev.monotonic is not None \
                    and analysis.uptime_seconds >= ev.monotonic:
                when = (f", collected {analysis.uptime_seconds - ev.monotonic:.0f} s after the "
                        f"OOM (uptime {analysis.uptime_seconds:.0f} s - OOM at "
                        f"{ev.monotonic:.0f} s), same boot")
        arith.append(f"cross-check: the balloon as collected ({kind}) = {mib(collected)}{when}")
        cont_used = any(s.basis.startswith("managed memory at the OOM") for s in sources)
        if (bounded and not cont_used and ev.current_boot
                and hi is not None and collected > hi + th.gap_noise_bytes):
            contradictions.append(
                f"the balloon as collected ({mib(collected)}) is above the interval at the OOM "
                f"{show(lo, hi)}: it grew after the OOM, or a bound is wrong (an unparsed boot "
                "line, a gigantic hugepage, a counter that missed it)")

    basis = _basis(sources, lo, hi, bounded, collected)
    conf = Confidence.HIGH
    if contradictions or hi is None or not bounded:
        conf = Confidence.LOW
    elif caveats:
        conf = Confidence.MEDIUM
    est = SizeEstimate(lo, hi, basis, conf, sources, arith, contradictions, caveats,
                       collected, bounded, th.gap_noise_bytes)
    arith.append(f"balloon at the OOM: {show(lo, hi)} ({basis}); confidence {conf.value}")
    return est


def _basis(sources: List[SizeBound], lo: int, hi: Optional[int], bounded: bool,
           collected: Optional[int]) -> str:
    if not bounded:
        if collected is not None:
            return (f"nothing bounds it at the OOM; the balloon as collected was {mib(collected)}, "
                    "which says nothing about the OOM (it may have been deflated or re-inflated "
                    "since)")
        return "nothing bounds it at the OOM"
    binding = [s.basis for s in sources
               if (hi is not None and s.upper_bytes == hi) or (lo > 0 and s.lower_bytes == lo)]
    names = binding or [s.basis for s in sources]
    seen: List[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    return "; ".join(seen)
