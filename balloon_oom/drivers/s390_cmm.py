# SPDX-License-Identifier: GPL-2.0-or-later
"""s390 Collaborative Memory Management (arch/s390/mm/cmm.c): /proc/sys/vm/cmm_*."""

from __future__ import annotations

from typing import List

from ..model import Accounting, Balloon, Driver, Evidence
from ..parsers import parse_or_warn
from ..parsers.cmm import parse_cmm_timeout, parse_cmm_value
from .common import DriverSpec, ReportContext

S390_CMM = ("proc/sys/vm/cmm_pages", "proc/sys/vm/cmm_timed_pages")
S390_TIMEOUT = "proc/sys/vm/cmm_timeout"

ACCOUNTING = "s390 CMM (arch/s390/mm/cmm.c) never adjusts managed pages, so its pages count as used"

def from_report(ctx: ReportContext) -> List[Balloon]:
    """The s390 CMM balloon, from /proc/sys/vm/cmm_*."""
    files, memory, warnings = ctx.files, ctx.memory, ctx.warnings
    pages = {p: parse_or_warn(files.get(p), parse_cmm_value, warnings) for p in S390_CMM}
    if all(v is None for v in pages.values()):
        return []
    b = Balloon(driver=Driver.S390_CMM, device="cmm")
    total = sum(v.value for v in pages.values() if v is not None)
    b.details["inflated_bytes_by_basis"] = {"cmm_pages + cmm_timed_pages": total * memory.page_size}
    b.details["inflated_basis"] = "cmm_pages + cmm_timed_pages"
    b.inflated_bytes = total * memory.page_size
    b.evidence.extend(v.evidence for v in pages.values() if v is not None)
    timeout = parse_or_warn(files.get(S390_TIMEOUT), parse_cmm_timeout, warnings)
    if timeout is not None:
        b.details["cmm_timeout"] = {"pages": timeout.pages, "seconds": timeout.seconds}
    b.accounting = Accounting.COUNTED_AS_USED
    b.accounting_basis = ACCOUNTING
    return [b]


def from_vmcore(snap) -> List[Balloon]:
    """``cmm_pages`` and ``cmm_timed_pages`` from the drgn snapshot."""
    c = snap.s390_cmm
    if c is None:
        return []
    return [Balloon(
        driver=Driver.S390_CMM,
        inflated_bytes=(c.cmm_pages + c.cmm_timed_pages) * 4096,
        accounting=Accounting.COUNTED_AS_USED,
        accounting_basis="s390 cmm does not call adjust_managed_page_count()",
        details={"inflated_basis": "cmm_pages", "cmm_pages": c.cmm_pages,
                 "cmm_timed_pages": c.cmm_timed_pages},
        evidence=[Evidence("vmcore", field="cmm_pages", text=str(c.cmm_pages))],
    )]


SPEC = DriverSpec(
    driver=Driver.S390_CMM,
    modules=("cmm",),
    report_paths=("proc/sys/vm/cmm_*",),
    live_paths=("/proc/sys/vm/cmm_*",),
    hypervisor=None,
    host_hint="s390 (z/VM or KVM)",
    label="s390 CMM balloon",
    frames=("cmm_alloc_pages",),
    signatures=(),
    accounting=ACCOUNTING,
    from_report=from_report,
    from_vmcore=from_vmcore,
    debuginfo_module="cmm",
    advice=("host", "CMM (cooperative memory management) target",
            "lower the pages the hypervisor takes through CMM (the z/VM or PowerVM "
            "memory policy for this guest)"),
)
