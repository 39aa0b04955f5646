# SPDX-License-Identifier: GPL-2.0-or-later
"""The sources that bound the balloon at an OOM, each a :class:`~balloon_oom.model.SizeBound`
with its arithmetic and error bars (see :mod:`.size` for how they combine)."""

from __future__ import annotations

from typing import List, Optional, Tuple

from ..model import Accounting, Analysis, Balloon, Driver, OomEvent, SizeBound
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


def totalram_is_managed(analysis: Analysis, th: Thresholds, arith: List[str]) -> bool:
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


#: The Mem-Info counters (pages) and the group of the memory picture each one
#: belongs to, in the order the gap's arithmetic names them (``unstable``: NFS
#: pages written but not committed, page cache until v4.8).
MEM_INFO_GROUPS = (
    ("free", "free"), ("free_pcp", "free"),
    ("active_anon", "anon"), ("inactive_anon", "anon"), ("isolated_anon", "anon"),
    ("active_file", "file"), ("inactive_file", "file"), ("isolated_file", "file"),
    ("unevictable", "anon"),
    ("slab_reclaimable", "slab"), ("slab_unreclaimable", "slab"),
    ("pagetables", "kernel"), ("sec_pagetables", "kernel"), ("bounce", "kernel"),
    ("kernel_misc_reclaimable", "kernel"), ("unstable", "file"),
)


def mem_info_parts(ev: OomEvent, page: int) -> List[Tuple[str, str, int]]:
    """What the OOM report accounts for, as ``(counter, group, pages)``, zero counters left out.

    The one grouping behind both the unaccounted gap and the memory picture:
    the Mem-Info counters of :data:`MEM_INFO_GROUPS`, then the kernel stacks
    (the Node lines' ``kernel_stack``, else the zone lines') and the hugetlb
    pool, both in the ``kernel`` group.
    """
    page_kb = page // 1024
    mi = ev.mem_info
    parts = [(k, group, mi[k]) for k, group in MEM_INFO_GROUPS if mi.get(k)]
    stack_kb = sum(n.values_kb.get("kernel_stack", 0) for n in ev.nodes)
    if not stack_kb:
        stack_kb = sum(z.values_kb.get("kernel_stack", 0) for z in ev.zones)
    if stack_kb:
        parts.append(("kernel_stack", "kernel", stack_kb // page_kb))
    huge_kb = sum(h.get("hugepages_total", 0) * h.get("hugepages_size_kb", 0) for h in ev.hugetlb)
    if huge_kb:
        parts.append(("hugetlb", "kernel", huge_kb // page_kb))
    return parts


def unaccounted_gap(ev: OomEvent, analysis: Analysis, arith: List[str],
                    part: str) -> Optional[SizeBound]:
    """``(pages RAM - pages reserved) - accounted``: an upper bound only."""
    if ev.pages_ram is None or ev.pages_reserved is None or "free" not in ev.mem_info:
        return None
    page = page_size(analysis)
    parts = mem_info_parts(ev, page)
    accounted = sum(v for _, _, v in parts)
    managed = ev.pages_ram - ev.pages_reserved
    gap = max(managed - accounted, 0)
    arith.append("accounted: " + " + ".join(f"{k} {v}" for k, _, v in parts)
                 + f" = {accounted} pages")
    arith.append(f"unaccounted = (pages RAM {ev.pages_ram} - pages reserved {ev.pages_reserved})"
                 f" - {accounted} = {gap} pages = {mib(gap * page)}: an upper bound only (it also "
                 "holds free-page-hint blocks, zram, vmalloc, percpu and driver pages)")
    return SizeBound("unaccounted gap of the OOM report (upper bound)", 0, gap * page, part=part)


def total_sources(ev: OomEvent, analysis: Analysis, last: bool,
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


def cmm_notifier(ev: OomEvent, analysis: Analysis, arith: List[str]) -> Optional[SizeBound]:
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
