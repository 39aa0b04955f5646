# SPDX-License-Identifier: GPL-2.0-or-later
"""What the rules read besides the size: the guest's size, the deflate-on-OOM
notifier, the balloon messages of the log and the reserved-pages signature."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..model import Accounting, Analysis, Driver, OomEvent, Signature
from .size import mib, page_size
from .thresholds import Thresholds


def guest_bytes(ev: OomEvent, analysis: Analysis) -> Tuple[Optional[int], str]:
    """The guest's memory materiality's share arm is taken of, with its basis."""
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


def notifier_note(ev: OomEvent, analysis: Analysis) -> Optional[str]:
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


def relevant(sig: Signature, ev: OomEvent) -> bool:
    """Whether a balloon message bears on an OOM event: printed in the same boot, not after it.

    Same boot: in the event's own log, the same boot of that log; in another
    log, both known to be in the boot the report was collected in (or, where
    neither log places its boots, not known to differ).  Not after it: by the
    ``[seconds since boot]`` stamps where both have one; else, in the event's
    own log, by line; else (another log, no stamps) it is kept.
    """
    same_log = sig.evidence.source == ev.source
    if same_log:
        if sig.boot != ev.boot:
            return False
    elif sig.current_boot is not None or ev.current_boot is not None:
        if not (sig.current_boot and ev.current_boot):
            return False
    if sig.timestamp is not None and ev.monotonic is not None:
        return sig.timestamp <= ev.monotonic
    if same_log:
        return sig.evidence.line < ev.line
    return True


def signature_reasons(ev: OomEvent, analysis: Analysis) -> List[str]:
    """One reason per balloon message kind :func:`relevant` to ``ev``: its count and first
    example."""
    sigs = [s for s in analysis.signatures if relevant(s, ev)]
    out = []
    kinds: Dict[str, int] = {}
    for sig in sigs:
        kinds[sig.kind] = kinds.get(sig.kind, 0) + 1
    for kind, count in sorted(kinds.items()):
        example = next(s for s in sigs if s.kind == kind)
        out.append(f"balloon message in the log ({count}x): {example.message} "
                   f"[{example.evidence.source}:{example.evidence.line}]")
    return out


def reserved_signature(ev: OomEvent, analysis: Analysis, th: Thresholds) -> Optional[str]:
    """``pages reserved`` large enough to be a MemTotal-reducing balloon, when no driver says."""
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
