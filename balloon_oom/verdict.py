"""Did the balloon take the memory the guest ran out of?  A pure function of the model.

For every OOM event: how big the balloon was at that moment (best evidence
first), then the rules.  Nothing here reads files or prints; every number
comes with the arithmetic that produced it (``--explain``).

Balloon size at the OOM, best evidence first:

1. a vmcore taken at that OOM (``panic_on_oom``);
2. what the kernel printed with the report (Virtuozzo ``Balloon
   InflatedTotal:``, the v6.15+ per-node ``Balloon:``);
3. derived from the report: for MemTotal-reducing balloons, ``pages
   reserved`` minus the boot baseline (boot ``Memory: … reserved`` minus the
   later ``Freeing … memory`` lines); for counted-as-used balloons, the
   unaccounted gap bounds it from above;
4. the balloon as collected, with the time between the OOM and the collection.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .model import Accounting, Analysis, Balloon, Driver, EventVerdict, OomEvent

CONTRIBUTED = "contributed"
NOT_CONTRIBUTED = "not-contributed"
UNDETERMINED = "undetermined"
NO_OOM = "no-oom"

#: Report verdict = the strongest event verdict, in this order.
_STRENGTH = {CONTRIBUTED: 3, UNDETERMINED: 2, NOT_CONTRIBUTED: 1}

#: Call-trace frames of a balloon allocating memory: an OOM raised by these
#: was the balloon inflating.
BALLOON_FRAMES = (
    "fill_balloon",               # virtio_balloon
    "balloon_page_alloc",         # mm/balloon_compaction.c
    "balloon_page_enqueue",
    "virtballoon_",               # virtio_balloon work functions
    "update_balloon_size_func",
    "vmballoon_work",             # vmw_balloon
    "vmballoon_inflate",
    "vmballoon_alloc_page_list",
    "balloon_up",                 # hv_balloon
    "alloc_balloon_pages",
    "decrease_reservation",       # xen balloon
    "balloon_process",
    "cmm_alloc_pages",            # s390/pseries CMM
)

_MIB = 1024 * 1024

#: Kernel memory an OOM report's Mem-Info does not show (vmalloc, percpu,
#: driver pages...): the unaccounted gap of a real 512 MiB 6.1 guest with an
#: empty balloon was 2283-2284 pages (8.9 MiB).  Below this a gap says nothing.
GAP_NOISE_BYTES = 16 * _MIB


@dataclass(frozen=True)
class Thresholds:
    """When is a balloon big enough to have contributed?

    ``fraction``: of the guest's memory including the balloon (``pages RAM``).
    ``victim_rss``: also contributed when the balloon held more than the
    victim's RSS (giving it back would have avoided this kill).
    """

    fraction: float = 0.10
    victim_rss: bool = True


def _mib(n: Optional[int]) -> str:
    if n is None:
        return "unknown"
    return f"{n / _MIB:.1f} MiB"


@dataclass
class _Size:
    bytes: Optional[int]
    basis: str
    confidence: str
    arithmetic: List[str]
    #: For counted-as-used: only an upper bound is known.
    upper_bound: bool = False


def _page_size(analysis: Analysis) -> int:
    return analysis.memory.page_size or 4096


def _collected_size(analysis: Analysis) -> Optional[int]:
    known = [b.inflated_bytes for b in analysis.balloons if b.inflated_bytes is not None]
    return sum(known) if known else None


def _accountings(analysis: Analysis) -> set:
    return {b.accounting for b in analysis.balloons}


def _accounted_pages(ev: OomEvent, page_kb: int) -> Tuple[Optional[int], List[str]]:
    """Pages the Mem-Info summary accounts for (everything but the balloon)."""
    mi = ev.mem_info
    if "free" not in mi:
        return None, []
    keys = ("free", "free_pcp", "active_anon", "inactive_anon", "isolated_anon",
            "active_file", "inactive_file", "isolated_file", "unevictable",
            "slab_reclaimable", "slab_unreclaimable", "pagetables", "sec_pagetables",
            "bounce", "kernel_misc_reclaimable", "unstable")
    parts = [(k, mi[k]) for k in keys if mi.get(k)]
    stack_kb = sum(n.values_kb.get("kernel_stack", 0) for n in ev.nodes)
    if stack_kb:
        parts.append(("kernel_stack", stack_kb // page_kb))
    huge_kb = sum(h.get("hugepages_total", 0) * h.get("hugepages_size_kb", 0)
                  for h in ev.hugetlb)
    if huge_kb:
        parts.append(("hugetlb", huge_kb // page_kb))
    total = sum(v for _, v in parts)
    text = " + ".join(f"{k} {v}" for k, v in parts) + f" = {total} pages"
    return total, [text]


def _reserved_delta(ev: OomEvent, analysis: Analysis) -> Optional[_Size]:
    """``pages reserved`` at the OOM minus the boot baseline (MemTotal-reducing balloons)."""
    boot = analysis.memory.boot
    if boot is None or boot.reserved_kb is None or ev.pages_reserved is None \
            or ev.current_boot is False:
        return None
    page = _page_size(analysis)
    page_kb = page // 1024
    baseline_pages = boot.baseline_reserved_kb // page_kb
    delta = ev.pages_reserved - baseline_pages
    arith = [
        f"boot baseline: {boot.reserved_kb}K reserved at boot - {boot.freed_later_kb}K freed "
        f"later (Freeing … memory lines) = {boot.baseline_reserved_kb}K = {baseline_pages} pages",
        f"pages reserved at the OOM {ev.pages_reserved} - baseline {baseline_pages} = "
        f"{delta} pages x {page} = {delta * page} bytes ({_mib(delta * page)})",
    ]
    if delta < 0:
        arith.append("negative: the baseline does not fit this report (another boot, deferred "
                     "page init, or memory offlined); not used")
        return _Size(None, "pages reserved vs boot baseline (inconsistent)", "low", arith)
    return _Size(delta * page, "pages reserved at the OOM minus the boot baseline", "high", arith)


def _unaccounted_gap(ev: OomEvent, analysis: Analysis) -> Optional[_Size]:
    """``(pages RAM - reserved) - accounted``: an upper bound for a counted-as-used balloon."""
    if ev.pages_ram is None or ev.pages_reserved is None:
        return None
    page = _page_size(analysis)
    accounted, arith = _accounted_pages(ev, page // 1024)
    if accounted is None:
        return None
    managed = ev.pages_ram - ev.pages_reserved
    gap = max(managed - accounted, 0)
    arith = [f"accounted: {arith[0]}",
             f"managed = pages RAM {ev.pages_ram} - pages reserved {ev.pages_reserved} = "
             f"{managed} pages",
             f"unaccounted = {managed} - {accounted} = {gap} pages = {gap * page} bytes "
             f"({_mib(gap * page)}); a counted-as-used balloon is inside this, with vmalloc, "
             f"percpu and driver pages"]
    return _Size(gap * page, "unaccounted gap of the OOM report (upper bound)", "medium",
                 arith, upper_bound=True)


def _printed_size(ev: OomEvent) -> Optional[_Size]:
    if ev.vz_balloon_inflated_total_kb is not None or ev.vz_balloon_inflated_free_kb is not None:
        total = (ev.vz_balloon_inflated_total_kb or 0) + (ev.vz_balloon_inflated_free_kb or 0)
        return _Size(total * 1024, "printed with the OOM report (Balloon InflatedTotal/"
                     "InflatedFree)", "high",
                     [f"InflatedTotal {ev.vz_balloon_inflated_total_kb}kB + InflatedFree "
                      f"{ev.vz_balloon_inflated_free_kb}kB = {total}kB"])
    node_kb = ev.node_balloon_kb
    if node_kb is not None:
        return _Size(node_kb * 1024, "printed with the OOM report (per-node Balloon:, v6.15+)",
                     "high", [f"sum of the per-node Balloon: fields = {node_kb}kB"])
    return None


def _vmcore_size(ev: OomEvent, analysis: Analysis, last: bool) -> Optional[_Size]:
    vm = analysis.vmcore
    if vm is None or not vm.taken_at_oom or not last:
        return None
    size = _collected_size(analysis)
    if size is None:
        return None
    return _Size(size, "vmcore taken at this OOM (panic_on_oom)", "high",
                 [f"balloons in the vmcore: {', '.join(_describe(b) for b in analysis.balloons)}"])


def _describe(b: Balloon) -> str:
    dev = f" {b.device}" if b.device else ""
    return f"{b.driver.value}{dev} {_mib(b.inflated_bytes)}"


def _collection_size(ev: OomEvent, analysis: Analysis) -> Optional[_Size]:
    size = _collected_size(analysis)
    if size is None:
        return None
    when = analysis.source.kind.value
    arith = [f"balloon as collected ({when}): "
             + ", ".join(_describe(b) for b in analysis.balloons)]
    if ev.current_boot and analysis.uptime_seconds is not None and ev.monotonic is not None \
            and analysis.uptime_seconds >= ev.monotonic:
        gap = analysis.uptime_seconds - ev.monotonic
        arith.append(f"collected {gap:.0f} s after the OOM (uptime {analysis.uptime_seconds:.0f} s"
                     f" - OOM at {ev.monotonic:.0f} s), same boot")
        conf = "medium"
    elif ev.current_boot:
        arith.append("collected later in the same boot")
        conf = "medium"
    else:
        arith.append("the OOM may be from another boot than the collection: low confidence")
        conf = "low"
    return _Size(size, "balloon state at collection time", conf, arith)


def balloon_at_oom(ev: OomEvent, analysis: Analysis, last: bool) -> Optional[_Size]:
    """The best estimate of the balloon's size at ``ev``, or None."""
    for found in (_vmcore_size(ev, analysis, last), _printed_size(ev)):
        if found is not None:
            return found
    accountings = _accountings(analysis)
    collected = _collection_size(ev, analysis)
    if Accounting.UNKNOWN in accountings and Accounting.MEMTOTAL_REDUCED not in accountings:
        # How the driver accounts is not known: pages reserved growing since boot
        # is what a MemTotal-reducing balloon does, and nothing else routinely does.
        delta = _reserved_delta(ev, analysis)
        if delta is not None and delta.bytes is not None and delta.bytes > GAP_NOISE_BYTES:
            delta.confidence = "medium"
            delta.arithmetic.append(
                "the balloon's accounting is unknown; pages reserved grew by "
                f"{_mib(delta.bytes)} since boot, which is what a MemTotal-reducing balloon "
                "does: taken as the balloon's size")
            return delta
    if Accounting.MEMTOTAL_REDUCED in accountings:
        delta = _reserved_delta(ev, analysis)
        if delta is not None and delta.bytes is not None:
            if collected is not None and collected.bytes is not None:
                delta.arithmetic.append(
                    f"cross-check: {collected.basis} = {_mib(collected.bytes)}")
            return delta
    if accountings & {Accounting.COUNTED_AS_USED, Accounting.UNKNOWN} or not analysis.balloons:
        gap = _unaccounted_gap(ev, analysis)
        if gap is not None and gap.bytes is not None:
            if gap.bytes <= GAP_NOISE_BYTES:
                gap.arithmetic.append(
                    f"{_mib(gap.bytes)} is within the normal unaccounted kernel memory "
                    f"(<= {_mib(GAP_NOISE_BYTES)}): no counted-as-used balloon of any size "
                    "that matters was held")
                return gap
            if collected is not None and collected.bytes is not None and analysis.balloons:
                est = min(gap.bytes, collected.bytes)
                gap.arithmetic.append(
                    f"estimate: min(unaccounted {_mib(gap.bytes)}, {collected.basis} "
                    f"{_mib(collected.bytes)}) = {_mib(est)}")
                return _Size(est, "unaccounted gap, bounded by the balloon as collected",
                             "medium", gap.arithmetic + collected.arithmetic, upper_bound=False)
            if analysis.balloons:
                return gap
    return collected


def _guest_bytes(ev: OomEvent, analysis: Analysis) -> Tuple[Optional[int], str]:
    page = _page_size(analysis)
    if ev.pages_ram is not None:
        return ev.pages_ram * page, f"pages RAM {ev.pages_ram} x {page}"
    mem = analysis.memory
    if mem.boot is not None:
        return mem.boot.total_kb * 1024, f"boot Memory: total {mem.boot.total_kb}K"
    if mem.mem_total_kb is not None:
        extra = sum(b.inflated_bytes or 0 for b in analysis.balloons
                    if b.accounting == Accounting.MEMTOTAL_REDUCED)
        return mem.mem_total_kb * 1024 + extra, "MemTotal + MemTotal-reducing balloons"
    return None, "unknown"


def _has_balloon_frame(ev: OomEvent) -> Optional[str]:
    for frame in ev.call_trace:
        name = frame.strip().lstrip("?").strip().split("+", 1)[0]
        if any(name.startswith(sig) for sig in BALLOON_FRAMES):
            return name
    return None


def _deflate_on_oom_note(ev: OomEvent, analysis: Analysis) -> Optional[str]:
    virtio = [b for b in analysis.balloons
              if b.driver == Driver.VIRTIO and b.deflate_on_oom]
    if not virtio or ev.constraint not in ("global", None):
        return None
    return ("DEFLATE_ON_OOM was negotiated: on kernels that deflate from the OOM notifier "
            "(4.0-4.18 and 5.7+) a printed global OOM kill means the notifier freed nothing at "
            "that moment, i.e. the balloon was already empty (on 4.19-5.6 a shrinker deflates it "
            "during reclaim, before any OOM)")


def _signature_reasons(ev: OomEvent, analysis: Analysis) -> List[str]:
    out = []
    kinds: Dict[str, int] = {}
    for sig in analysis.signatures:
        kinds[sig.kind] = kinds.get(sig.kind, 0) + 1
    for kind, count in sorted(kinds.items()):
        example = next(s for s in analysis.signatures if s.kind == kind)
        out.append(f"balloon message in the log ({count}x): {example.message} "
                   f"[{example.evidence.source}:{example.evidence.line}]")
    return out


def _picture(ev: OomEvent, analysis: Analysis, balloon: Optional[int],
             accounting_reduced: bool) -> Dict[str, int]:
    """Where the guest's memory went at the OOM, in bytes (sums to pages RAM)."""
    if ev.pages_ram is None or ev.pages_reserved is None or "free" not in ev.mem_info:
        return {}
    page = _page_size(analysis)
    mi = ev.mem_info
    stack = sum(n.values_kb.get("kernel_stack", 0) for n in ev.nodes) * 1024
    huge = sum(h.get("hugepages_total", 0) * h.get("hugepages_size_kb", 0)
               for h in ev.hugetlb) * 1024
    pic = {
        "anon": (mi.get("active_anon", 0) + mi.get("inactive_anon", 0)
                 + mi.get("isolated_anon", 0) + mi.get("unevictable", 0)) * page,
        "file": (mi.get("active_file", 0) + mi.get("inactive_file", 0)
                 + mi.get("isolated_file", 0)) * page,
        "slab": (mi.get("slab_reclaimable", 0) + mi.get("slab_unreclaimable", 0)) * page,
        "kernel": (mi.get("pagetables", 0) + mi.get("sec_pagetables", 0) + mi.get("bounce", 0)
                   + mi.get("kernel_misc_reclaimable", 0)) * page + stack + huge,
        "free": (mi.get("free", 0) + mi.get("free_pcp", 0)) * page,
    }
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


def judge_event(ev: OomEvent, analysis: Analysis, thresholds: Thresholds,
                last: bool = False) -> EventVerdict:
    """The verdict on one OOM event."""
    reasons: List[str] = []
    size = balloon_at_oom(ev, analysis, last)
    size_bytes = size.bytes if size else None
    arithmetic = list(size.arithmetic) if size else []
    reduced = any(b.accounting == Accounting.MEMTOTAL_REDUCED for b in analysis.balloons)
    upper = bool(size and size.upper_bound)
    # An upper bound is not painted as balloon: it stays "unaccounted".
    picture = _picture(ev, analysis, None if upper else size_bytes, reduced)

    def verdict(v: str, conf: str) -> EventVerdict:
        return EventVerdict(v, conf, size_bytes, size.basis if size else None, upper,
                            reasons, arithmetic, picture)

    if ev.constraint == "memcg":
        limit = ""
        if ev.memcg_limit_kb is not None:
            limit = (f" (usage {ev.memcg_usage_kb}kB, limit {ev.memcg_limit_kb}kB, "
                     f"failcnt {ev.memcg_failcnt})")
        reasons.append(f"memcg OOM: cgroup {ev.memcg or '?'} hit its memory limit{limit}; the "
                       "guest as a whole still had memory, and balloon OOM notifiers never run "
                       "for memcg OOMs")
        if size_bytes:
            reasons.append(f"the balloon held {_mib(size_bytes)} ({size.basis}), which does not "
                           "enter into a cgroup limit")
        return verdict(NOT_CONTRIBUTED, "high")

    frame = _has_balloon_frame(ev)
    if frame:
        reasons.append(f"the allocation that ran out was the balloon inflating: {frame}() is in "
                       "the call trace")
        return verdict(CONTRIBUTED, "high")

    note = _deflate_on_oom_note(ev, analysis)
    reasons.extend(_signature_reasons(ev, analysis))

    if ev.constraint in ("cpuset", "mempolicy"):
        reasons.append(f"{ev.constraint}-constrained OOM: only some NUMA nodes were allowed; the "
                       "balloon matters only for the memory on those nodes")

    if size is None or size_bytes is None:
        missing = ("no balloon size for the moment of this OOM: no vmcore, no Balloon: line in "
                   "the report, no boot Memory: line to compare pages reserved with, and no "
                   "balloon state in the report")
        if not analysis.balloons:
            missing += ("; no balloon driver files were found either. Collect with the balloon "
                        "sos plugin (`balloon-oom sos report -o balloon`) with debugfs mounted "
                        "(`mount -t debugfs none /sys/kernel/debug`)")
        reasons.insert(0, missing)
        if note:
            reasons.append(note)
        return verdict(UNDETERMINED, "low")

    guest, guest_basis = _guest_bytes(ev, analysis)
    threshold = int(guest * thresholds.fraction) if guest else None
    victim_rss = ev.victim.rss_kb * 1024 if ev.victim and ev.victim.rss_kb is not None else None
    if threshold is not None:
        arithmetic.append(f"threshold = {thresholds.fraction:.0%} of guest memory "
                          f"({guest_basis} = {_mib(guest)}) = {_mib(threshold)}")
    if victim_rss is not None:
        arithmetic.append(f"victim RSS = anon+file+shmem = {_mib(victim_rss)}")

    if note:
        reasons.append(note)
        if analysis.vmcore is not None and analysis.vmcore.taken_at_oom and last \
                and size_bytes > 0:
            reasons.append(f"finding: the vmcore shows a deflate-on-OOM balloon of "
                           f"{_mib(size_bytes)} at a global OOM; the notifier did not give it "
                           "back")
            return verdict(CONTRIBUTED, "high")

    if size_bytes == 0:
        reasons.insert(0, f"the balloon was empty at the OOM ({size.basis})")
        return verdict(NOT_CONTRIBUTED, size.confidence)

    big_vs_guest = threshold is not None and size_bytes >= threshold
    big_vs_victim = (thresholds.victim_rss and victim_rss is not None
                     and size_bytes > victim_rss)
    if size.upper_bound:
        if not big_vs_guest and not big_vs_victim:
            reasons.insert(0, f"the balloon held at most {_mib(size_bytes)} at the OOM "
                              f"({size.basis}), below the threshold")
            return verdict(NOT_CONTRIBUTED, "medium")
        reasons.insert(0, f"up to {_mib(size_bytes)} was unaccounted at the OOM; a "
                          "counted-as-used balloon may hold some of it, but how much is not "
                          "known")
        return verdict(UNDETERMINED, "low")
    if big_vs_guest or big_vs_victim:
        why = []
        if big_vs_guest:
            why.append(f">= {thresholds.fraction:.0%} of the guest's memory ({_mib(guest)})")
        if big_vs_victim:
            why.append(f"more than the victim's RSS ({_mib(victim_rss)})")
        reasons.insert(0, f"the balloon held {_mib(size_bytes)} at the OOM ({size.basis}): "
                          + " and ".join(why))
        return verdict(CONTRIBUTED, size.confidence)
    reasons.insert(0, f"the balloon held only {_mib(size_bytes)} at the OOM ({size.basis}), "
                      f"below {thresholds.fraction:.0%} of the guest's memory"
                      + (f" and the victim's RSS ({_mib(victim_rss)})" if victim_rss else ""))
    return verdict(NOT_CONTRIBUTED, size.confidence)


def decide(analysis: Analysis, thresholds: Thresholds) -> Tuple[List[EventVerdict], str]:
    """Verdicts for every event, and the report's verdict (strongest event, or no-oom)."""
    events = analysis.oom_events
    verdicts = [judge_event(ev, analysis, thresholds, last=(i == len(events) - 1))
                for i, ev in enumerate(events)]
    if not verdicts:
        return verdicts, NO_OOM
    return verdicts, max((v.verdict for v in verdicts), key=lambda v: _STRENGTH[v])


def judge(analysis: Analysis, thresholds: Thresholds) -> Analysis:
    """A copy of ``analysis`` with its verdicts filled in."""
    verdicts, overall = decide(analysis, thresholds)
    return dataclasses.replace(analysis, verdicts=verdicts, verdict=overall)
