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
  c78e93630d15 ("mm: do not walk all of system memory during show_mem") (in
  v3.14); minus the event's own boot baseline, with error
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
from typing import Dict, List, Optional

from ..model import Analysis, Confidence, OomEvent, SizeBound
from .sources import (Interval, accounting_mode, cmm_notifier, collected_size, continuity,
                      intersect, mem_info_parts, mib, old_show_mem, page_size, reserved_delta, show,
                      total_sources, totalram_is_managed, unaccounted_gap)
from .thresholds import Thresholds
from ..drivers.virtio_mem import bound_at_oom as virtio_mem_bound

__all__ = ["SizeEstimate", "estimate", "mib", "page_size", "picture", "show"]


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


def estimate(ev: OomEvent, analysis: Analysis, last: bool, th: Thresholds) -> SizeEstimate:
    """The balloon's size at ``ev`` as an interval, with the arithmetic."""
    arith: List[str] = []
    mode = accounting_mode(analysis)
    old = old_show_mem(ev)
    page = page_size(analysis)
    totals = total_sources(ev, analysis, last, arith)
    notifier = cmm_notifier(ev, analysis, arith)
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
                # commit 997e120843e8 ("virtio_balloon: do not change memory amount visible
                # via /proc/meminfo") (in v4.3) made it conditional): pages reserved grew.
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
        if mode == "reduced" and totalram_is_managed(analysis, th, arith):
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
    # virtio-mem: unplugged memory is neither in the printed Balloon: (NR_BALLOON_PAGES)
    # nor (whole removed blocks) in pages reserved: its bound adds to the balloon's.
    vmem = virtio_mem_bound(ev, analysis, arith)
    if vmem is not None:
        sources.append(vmem)
    for s in totals:
        caveats += s.error_bars

    bounds = [parts_bound] + [(s.lower_bytes, s.upper_bytes) for s in totals]
    (lo, hi), ok = intersect(bounds, th.agree_bytes)
    if not ok:
        contradictions.append("the printed/vmcore size and the report's accounting disagree: "
                              + "; ".join(show(b[0], b[1]) for b in bounds))
    bounded = bool(totals) or parts_bound != (0, None)
    if vmem is not None:
        lo, hi = lo + vmem.lower_bytes, (None if hi is None or vmem.upper_bytes is None
                                         else hi + vmem.upper_bytes)
        bounded = True

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


def picture(ev: OomEvent, analysis: Analysis, balloon: Optional[int],
            accounting_reduced: bool) -> Dict[str, int]:
    """Where the guest's memory went at the OOM, in bytes (sums to pages RAM).

    The groups of :func:`~.sources.mem_info_parts`; the rest of managed memory
    is unaccounted, and the balloon comes out of it (counted as used) or out of
    ``pages reserved`` (MemTotal-reducing).
    """
    if ev.pages_ram is None or ev.pages_reserved is None or "free" not in ev.mem_info:
        return {}
    page = page_size(analysis)
    pic = dict.fromkeys(("anon", "file", "slab", "kernel", "free"), 0)
    for _, group, pages in mem_info_parts(ev, page):
        pic[group] += pages * page
    managed = (ev.pages_ram - ev.pages_reserved) * page
    unaccounted = max(managed - sum(pic.values()), 0)
    reserved = ev.pages_reserved * page
    b = balloon or 0
    if accounting_reduced:
        b = min(b, reserved)
        reserved -= b
    else:
        b = min(b, unaccounted)
        unaccounted -= b
    pic["balloon"] = b
    pic["reserved"] = reserved
    pic["unaccounted"] = unaccounted
    return {k: pic[k] for k in ("balloon", "anon", "file", "slab", "kernel", "free",
                                "reserved", "unaccounted")}
