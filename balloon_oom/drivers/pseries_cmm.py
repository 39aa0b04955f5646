# SPDX-License-Identifier: GPL-2.0-or-later
"""pseries Collaborative Memory Manager (arch/powerpc/platforms/pseries/cmm.c): cmm0's sysfs files."""

from __future__ import annotations

from collections import OrderedDict
from typing import List, Optional

from ..model import Accounting, Balloon, Driver, Evidence
from ..parsers import parse_or_warn
from ..parsers.cmm import parse_cmm_value
from .common import B_MEMINFO, B_NR_BALLOON, DriverSpec, ReportContext, counters, set_size

PSERIES_DIR = "sys/devices/system/cmm/cmm0"

#: The one answer (report builder, vmcore reader, README): loaned pages always leave
#: totalram, so MemTotal shrinks; zone managed (and an OOM report's ``pages reserved``)
#: shrinks too only since David Hildenbrand's 2019 cmm series (Linux kernel commit
#: fe030c9b85e6 ("powerpc/pseries/cmm: Implement balloon compaction") (in v5.5) and the
#: adjust_managed_page_count() patch before it); the verdict checks MemTotal against the
#: zones' managed pages instead of trusting a version.
PSERIES_ACCOUNTING_BASIS = (
    "pseries CMM (arch/powerpc/platforms/pseries/cmm.c) takes loaned pages out of totalram, so "
    "MemTotal shrinks (memtotal-reduced); kernels before the 2019 balloon-compaction series "
    "leave zone managed alone, so pages reserved does not show them there"
)
ACCOUNTING = PSERIES_ACCOUNTING_BASIS + (
    " (Linux kernel commit fe030c9b85e6 (\"powerpc/pseries/cmm: Implement balloon compaction\") (in v5.5))"
)

def from_report(ctx: ReportContext) -> List[Balloon]:
    """The pseries CMM balloon, from /sys/devices/system/cmm/cmm0."""
    files, memory, warnings = ctx.files, ctx.memory, ctx.warnings
    vals = {}
    for leaf in ("loaned_kb", "loaned_target_kb", "oom_freed_kb"):
        v = parse_or_warn(files.get(f"{PSERIES_DIR}/{leaf}"), parse_cmm_value, warnings)
        if v is not None:
            vals[leaf] = v
    if not vals:
        return []
    b = Balloon(driver=Driver.PSERIES_CMM, device="cmm0")
    alternatives: "OrderedDict[str, Optional[int]]" = OrderedDict()
    if "loaned_kb" in vals:
        alternatives["cmm0 loaned_kb"] = vals["loaned_kb"].value * 1024
        b.evidence.append(vals["loaned_kb"].evidence)
    counts = counters(memory)
    for basis in (B_MEMINFO, B_NR_BALLOON):
        if counts[basis] is not None:
            alternatives[basis] = counts[basis]
    if "loaned_target_kb" in vals:
        b.target_bytes = vals["loaned_target_kb"].value * 1024
        b.evidence.append(vals["loaned_target_kb"].evidence)
    if "oom_freed_kb" in vals:
        b.details["oom_freed_kb"] = vals["oom_freed_kb"].value
    set_size(b, alternatives, memory)
    b.accounting = Accounting.MEMTOTAL_REDUCED
    b.accounting_basis = PSERIES_ACCOUNTING_BASIS
    return [b]


def from_vmcore(snap) -> List[Balloon]:
    """``loaned_pages`` from the drgn snapshot."""
    p = snap.pseries_cmm
    if p is None:
        return []
    return [Balloon(
        driver=Driver.PSERIES_CMM,
        inflated_bytes=p.loaned_pages * snap.memory.page_size,
        accounting=Accounting.MEMTOTAL_REDUCED,
        accounting_basis=PSERIES_ACCOUNTING_BASIS,
        details={"inflated_basis": "loaned_pages", "loaned_pages": p.loaned_pages,
                 "loaned_pages_target": p.loaned_pages_target},
        evidence=[Evidence("vmcore", field="loaned_pages", text=str(p.loaned_pages))],
    )]


SPEC = DriverSpec(
    driver=Driver.PSERIES_CMM,
    modules=("cmm",),
    report_paths=(PSERIES_DIR + "/*",),
    live_paths=("/" + PSERIES_DIR + "/*",),
    hypervisor="PowerVM",
    host_hint="PowerVM",
    label="pseries CMM balloon",
    # cmm_alloc_pages() hands its pages to balloon_page_enqueue() since fe030c9b85e6.
    frames=("cmm_alloc_pages", "balloon_page_enqueue"),
    signatures=(),
    accounting=ACCOUNTING,
    from_report=from_report,
    from_vmcore=from_vmcore,
    advice=("host", "CMM (cooperative memory management) target",
            "lower the pages the hypervisor takes through CMM (the z/VM or PowerVM "
            "memory policy for this guest)"),
)
