# SPDX-License-Identifier: GPL-2.0-or-later
"""The rules: one verdict per OOM event, and the report's verdict.

In order: a memcg OOM is ``not-contributed`` (balloon OOM notifiers never run
for memcg OOMs; the cgroup hit its own limit); a balloon frame in the call
trace is ``contributed``; a vmcore at the OOM showing a non-empty
deflate-on-OOM balloon is a finding (``contributed``).  Otherwise the size
interval (:mod:`.size`) meets the criterion (:mod:`.criterion`):

- ``contributed``: the lower bound is material and covers the shortfall
  (but-for holds); where the report has no zone lines, materiality alone
  decides (the pre-v2 rule) and the reasons say so;
- ``not-contributed``: the balloon was empty, or even its upper bound is not
  material, or but-for fails (eligible zones above their watermarks, or the
  balloon could not have covered the shortfall);
- ``undetermined``: the interval straddles a bar, or nothing bounds it.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Tuple

from ..model import (Accounting, Analysis, Confidence, Driver, EventVerdict, OomEvent,
                     Verdict)
from ..sosrun import COLLECT_INSTRUCTION
from .criterion import but_for, materiality
from .size import SizeEstimate, estimate, mib, page_size, show
from .thresholds import Thresholds

#: Report verdict = the strongest event verdict, in this order.
STRENGTH = {Verdict.CONTRIBUTED: 4, Verdict.UNDETERMINED: 3, Verdict.NO_LOG: 2,
            Verdict.NOT_CONTRIBUTED: 1}

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

_ORDER = {Confidence.HIGH: 2, Confidence.MEDIUM: 1, Confidence.LOW: 0}


def _weakest(*confs: Confidence) -> Confidence:
    return min(confs, key=lambda c: _ORDER[c])


def _guest_bytes(ev: OomEvent, analysis: Analysis) -> Tuple[Optional[int], str]:
    page = page_size(analysis)
    if ev.pages_ram is not None:
        ram = ev.pages_ram * page
        pool = sum(h.get("hugepages_total", 0) * h.get("hugepages_size_kb", 0) * 1024
                   for h in ev.hugetlb)
        if 0 < pool < ram:
            # The OOM killer runs for page allocations, which never take pages
            # of the hugetlb pool (a hugetlb fault that finds no free huge page
            # gets SIGBUS, not the OOM killer: hugetlb_no_page() ->
            # alloc_hugetlb_folio() -> ERR_PTR(-ENOSPC) -> vmf_error() ->
            # VM_FAULT_SIGBUS), so the pool is not memory the failing
            # allocation could have had: it leaves the materiality share.
            return ram - pool, (f"pages RAM {ev.pages_ram} x {page} - hugetlb pool {mib(pool)} "
                                "(the Node hugepages_total lines: not usable by the failing "
                                "allocation)")
        return ram, f"pages RAM {ev.pages_ram} x {page}"
    mem = analysis.memory
    boot = ev.boot_memory or mem.boot
    if boot is not None:
        return boot.total_kb * 1024, f"boot Memory: total {boot.total_kb}K"
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


def _notifier_note(ev: OomEvent, analysis: Analysis) -> Optional[str]:
    """What the deflate-on-OOM notifier implies for this event, if one may be registered.

    ``out_of_memory()`` calls the notifier chain for every OOM but a memcg
    one, before ``constrained_alloc()`` (so cpuset and mempolicy OOMs too),
    and returns without killing when it freed anything - except for sysrq-f
    OOMs, where newer kernels ignore what it freed (``freed > 0 &&
    !is_sysrq_oom(oc)``).  virtio registers it only with DEFLATE_ON_OOM, and
    not at all on 4.19-5.6 (Linux kernel commit 71994620bb25
    ("virtio_balloon: replace oom notifier with shrinker") (in v4.19), undone
    in v5.7); s390 CMM (since the notifier's introduction, Linux kernel commit
    8bc719d3cab8 ("[PATCH] out of memory notifier") (in v2.6.18)) and pseries
    CMM always register it.
    """
    if ev.constraint == "memcg":
        return None
    drivers = []
    for b in analysis.balloons:
        if b.driver == Driver.VIRTIO and b.deflate_on_oom:
            drivers.append("virtio_balloon with DEFLATE_ON_OOM (a notifier on 4.0-4.18 and "
                           "5.7+; a shrinker that deflates during reclaim on 4.19-5.6)")
        elif b.driver in (Driver.S390_CMM, Driver.PSERIES_CMM):
            drivers.append(f"{b.driver.value} (always a notifier)")
    if not drivers:
        return None
    if ev.order == -1:
        return ("sysrq-f OOM (order=-1): the deflate-on-OOM notifier ran but newer kernels ignore "
                "what it freed, so the kill says nothing about the balloon's size: "
                + "; ".join(drivers))
    return ("deflate-on-OOM: " + "; ".join(drivers) + ". Where a notifier is registered, a "
            "printed kill means the notifier freed nothing at that moment (out_of_memory() returns "
            "without killing when it frees anything)")


def _signature_reasons(analysis: Analysis) -> List[str]:
    out = []
    kinds: Dict[str, int] = {}
    for sig in analysis.signatures:
        kinds[sig.kind] = kinds.get(sig.kind, 0) + 1
    for kind, count in sorted(kinds.items()):
        example = next(s for s in analysis.signatures if s.kind == kind)
        out.append(f"balloon message in the log ({count}x): {example.message} "
                   f"[{example.evidence.source}:{example.evidence.line}]")
    return out


def _reserved_signature(ev: OomEvent, analysis: Analysis, th: Thresholds) -> Optional[str]:
    known = {b.accounting for b in analysis.balloons}
    if (known and Accounting.UNKNOWN not in known) or not ev.pages_ram or ev.pages_reserved is None:
        return None
    share = ev.pages_reserved / ev.pages_ram
    if share < th.reserved_signature_fraction:
        return None
    return (f"pages reserved {ev.pages_reserved} is {share:.0%} of pages RAM {ev.pages_ram}: the "
            "signature of a MemTotal-reducing balloon (virtio without DEFLATE_ON_OOM, Hyper-V "
            "5.11+, Xen) or of a large crashkernel/firmware reservation; the unaccounted gap "
            "bounds only balloons counted as used")


def _picture(ev: OomEvent, analysis: Analysis, balloon: Optional[int],
             accounting_reduced: bool) -> Dict[str, int]:
    """Where the guest's memory went at the OOM, in bytes (sums to pages RAM)."""
    if ev.pages_ram is None or ev.pages_reserved is None or "free" not in ev.mem_info:
        return {}
    page = page_size(analysis)
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


def _bar_text(mat) -> str:
    """Which arm set the materiality bar."""
    if mat.kill_freed_bytes is not None and mat.bar_bytes == mat.kill_freed_bytes \
            and mat.bar_bytes < (mat.share_bar_bytes or 0):
        return "what the kill freed"
    return f"{mat.fraction:.0%} of the guest's memory"


def _clear(value: int, bar: int, th: Thresholds, above: bool) -> bool:
    if above:
        return value >= bar * th.clear_factor
    return value * th.clear_factor <= bar


def judge_event(ev: OomEvent, analysis: Analysis, thresholds: Thresholds,
                last: bool = False) -> EventVerdict:
    """The verdict on one OOM event."""
    th = thresholds
    page = page_size(analysis)
    reasons: List[str] = []
    est: SizeEstimate = estimate(ev, analysis, last, th)
    arithmetic = list(est.arithmetic)
    reduced = any(b.accounting == Accounting.MEMTOTAL_REDUCED for b in analysis.balloons)
    point = est.point if est.bounded else None
    picture = _picture(ev, analysis, None if est.upper_only else point, reduced)
    state = {"bf": None, "mat": None, "criterion": None}

    def verdict(v: Verdict, conf: Confidence) -> EventVerdict:
        return EventVerdict(
            v, conf, point, est.basis, est.upper_only, reasons, arithmetic, picture,
            balloon_lower_bytes=est.lower if est.bounded else None,
            balloon_upper_bytes=est.upper if est.bounded else None,
            size_sources=est.sources, contradictions=est.contradictions,
            but_for=state["bf"], materiality=state["mat"], criterion=state["criterion"])

    size_text = f"{show(est.lower, est.upper)} ({est.basis})"
    if ev.constraint == "memcg":
        state["criterion"] = "memcg OOM"
        limit = ""
        if ev.memcg_limit_kb is not None:
            limit = (f" (usage {ev.memcg_usage_kb}kB, limit {ev.memcg_limit_kb}kB, "
                     f"failcnt {ev.memcg_failcnt})")
        reasons.append(f"memcg OOM: cgroup {ev.memcg or '?'} hit its memory limit{limit}; the "
                       "guest as a whole still had memory, and balloon OOM notifiers never run "
                       "for memcg OOMs")
        if est.bounded and est.upper != 0:
            reasons.append(f"the balloon held {size_text}, which does not enter into a cgroup "
                           "limit")
        return verdict(Verdict.NOT_CONTRIBUTED, Confidence.HIGH)

    frame = _has_balloon_frame(ev)
    if frame:
        state["criterion"] = "balloon frame in the call trace"
        reasons.append(f"the allocation that ran out was the balloon inflating: {frame}() is in "
                       "the call trace")
        return verdict(Verdict.CONTRIBUTED, Confidence.HIGH)

    note = _notifier_note(ev, analysis)
    reasons.extend(_signature_reasons(analysis))
    signature = _reserved_signature(ev, analysis, th)
    if ev.constraint in ("cpuset", "mempolicy"):
        reasons.append(f"{ev.constraint}-constrained OOM: only some NUMA nodes were allowed; the "
                       "balloon matters only for the memory on those nodes")
    for c in est.contradictions:
        reasons.append(f"contradiction: {c}")
    if note:
        reasons.append(note)

    vm = analysis.vmcore
    if (note and ev.order != -1 and vm is not None and vm.taken_at_oom and last
            and est.lower > 0 and any(s.basis.startswith("vmcore") for s in est.sources)):
        state["criterion"] = "vmcore finding"
        reasons.insert(0, f"finding: the vmcore shows a deflate-on-OOM balloon of "
                          f"{mib(est.lower)} at a global OOM; the notifier did not give it back")
        return verdict(Verdict.CONTRIBUTED, Confidence.HIGH)

    if est.bounded and est.upper == 0:
        state["criterion"] = "empty balloon"
        reasons.insert(0, f"the balloon was empty at the OOM ({est.basis})")
        return verdict(Verdict.NOT_CONTRIBUTED, est.confidence)

    guest, guest_basis = _guest_bytes(ev, analysis)
    bf = but_for(ev, est, th, page)
    mat = materiality(ev, est, th, guest, guest_basis, page)
    state["bf"], state["mat"] = bf, mat
    arithmetic.append("but-for:")
    arithmetic.extend(f"  {a}" for a in bf.arithmetic)
    arithmetic.append("materiality:")
    arithmetic.extend(f"  {a}" for a in mat.arithmetic)
    zones = bf.status != "unknown" or bool(ev.zones)
    state["criterion"] = "but-for+materiality" if zones else (
        "materiality only (no zone lines: the pre-v2 rule)")

    if bf.status == "fails":
        conf = Confidence.HIGH if not est.contradictions else Confidence.MEDIUM
        if bf.shortfall_bytes:
            conf = _weakest(conf, est.confidence if est.upper is not None else Confidence.LOW)
        reasons.insert(0, "but-for fails: " + bf.arithmetic[-1]
                       + f"; the balloon held {size_text}")
        return verdict(Verdict.NOT_CONTRIBUTED, conf)

    if mat.status == "not-material":
        conf = est.confidence
        if est.upper is not None and not _clear(est.upper, mat.bar_bytes, th, above=False):
            conf = _weakest(conf, Confidence.MEDIUM)
        if est.upper is not None and est.upper <= th.gap_noise_bytes and not est.contradictions:
            conf = Confidence.HIGH if not est.caveats else Confidence.MEDIUM
        held = (f"only {mib(est.upper)}" if est.lower == est.upper
                else f"at most {mib(est.upper)}")
        reasons.insert(0, f"the balloon held {held} at the OOM ({est.basis}), below the "
                          f"materiality bar {mib(mat.bar_bytes)} ({_bar_text(mat)})")
        return verdict(Verdict.NOT_CONTRIBUTED, conf)

    if mat.status == "material" and (bf.status == "holds" or not zones):
        conf = est.confidence
        if not _clear(est.lower, mat.bar_bytes, th, above=True):
            conf = _weakest(conf, Confidence.MEDIUM)
        why = f"at least {mib(est.lower)} at the OOM ({est.basis}), >= the materiality bar " \
              f"{mib(mat.bar_bytes)} ({_bar_text(mat)})"
        if bf.status == "holds":
            why += f", and it covers the shortfall ({mib(bf.shortfall_bytes)}) on " \
                   f"{', '.join(bf.eligible_zones)}"
        else:
            why += "; the report has no zone lines, so but-for was not evaluated (the pre-v2 " \
                   "rule: materiality alone)"
            conf = _weakest(conf, Confidence.MEDIUM) if est.caveats else conf
        reasons.insert(0, f"the balloon held {why}")
        return verdict(Verdict.CONTRIBUTED, conf)

    missing = []
    if not est.bounded:
        text = ("nothing bounds the balloon at the OOM: no vmcore, no Balloon: line in the "
                "report, no boot Memory: line of this boot to compare pages reserved with, no "
                "MemTotal of the same boot, no Mem-Info")
        if not analysis.balloons:
            text += ("; no balloon driver files were found either. Collect with the balloon sos "
                     f"plugin ({COLLECT_INSTRUCTION}) with debugfs mounted "
                     "(`mount -t debugfs none /sys/kernel/debug`)")
        missing.append(text)
        if est.collected is not None:
            missing.append(f"the balloon as collected was {mib(est.collected)}, which says "
                           "nothing about the moment of the OOM")
    else:
        missing.append(f"the balloon held {size_text}: the interval straddles the materiality "
                       f"bar {mib(mat.bar_bytes)}" if mat.status == "straddles" else
                       f"the balloon held {size_text}; but-for is {bf.status}")
    if signature:
        missing.append(signature)
    reasons[0:0] = missing
    return verdict(Verdict.UNDETERMINED, Confidence.LOW)


def decide(analysis: Analysis, thresholds: Thresholds) -> Tuple[List[EventVerdict], Verdict]:
    """Verdicts for every event, and the report's verdict.

    The strongest event verdict; with no event, ``no-oom`` when a kernel log
    was read and ``no-log`` when none was.
    """
    events = analysis.oom_events
    verdicts = [judge_event(ev, analysis, thresholds, last=(i == len(events) - 1))
                for i, ev in enumerate(events)]
    if not verdicts:
        return verdicts, Verdict.NO_OOM if analysis.kernel_logs else Verdict.NO_LOG
    return verdicts, max((Verdict(v.verdict) for v in verdicts), key=lambda v: STRENGTH[v])


def judge(analysis: Analysis, thresholds: Thresholds) -> Analysis:
    """A copy of ``analysis`` with its verdicts filled in."""
    verdicts, overall = decide(analysis, thresholds)
    return dataclasses.replace(analysis, verdicts=verdicts, verdict=overall)
