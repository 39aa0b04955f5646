# SPDX-License-Identifier: GPL-2.0-or-later
"""The Xen balloon: xen_memory0's sysfs files or /proc/xen/balloon."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import List, Optional

from ..model import Accounting, Balloon, Driver, Evidence
from ..parsers import parse_or_warn
from ..parsers.xen import parse_proc_xen_balloon, parse_xen_value
from .common import B_MEMINFO, DriverSpec, LogSignature, ReportContext, counters, set_size

XEN_DIR = "sys/devices/system/xen_memory/xen_memory0"
XEN_PROC = "proc/xen/balloon"

ACCOUNTING = (
    "the Xen balloon's decrease_reservation() calls adjust_managed_page_count(-1) for every page it gives "
    "back, so MemTotal shrinks (Linux kernel commit 709613ad2b3c (\"xen/balloon: Only mark a page as "
    "managed when it is released\") (in v4.9))"
)

_XEN_FILES = (
    "target_kb", "target", "info/current_kb", "info/low_kb", "info/high_kb",
    "schedule_delay", "max_schedule_delay", "retry_count", "max_retry_count", "scrub_pages",
)


def from_report(ctx: ReportContext) -> List[Balloon]:
    """The Xen balloon, from xen_memory0's sysfs files or /proc/xen/balloon."""
    files, memory, warnings = ctx.files, ctx.memory, ctx.warnings
    values = {}
    for f in files.glob(XEN_DIR + "/*"):
        rel = f.path[len(XEN_DIR) + 1 :]
        if rel in _XEN_FILES:
            v = parse_or_warn(f, parse_xen_value, warnings)
            if v is not None:
                values[rel] = v
    proc = parse_or_warn(files.get(XEN_PROC), parse_proc_xen_balloon, warnings)
    if not values and proc is None:
        return []
    b = Balloon(driver=Driver.XEN, device="xen_memory0" if values else "proc/xen/balloon")
    alternatives: "OrderedDict[str, Optional[int]]" = OrderedDict()
    if "info/low_kb" in values or "info/high_kb" in values:
        low = values.get("info/low_kb")
        high = values.get("info/high_kb")
        alternatives["xen low_kb + high_kb"] = ((low.value if low else 0) + (high.value if high else 0)) * 1024
        b.evidence.extend(v.evidence for v in (low, high) if v is not None)
    elif proc is not None and proc.ballooned_kb is not None:
        alternatives["/proc/xen/balloon low + high"] = proc.ballooned_kb * 1024
        b.evidence.extend(proc.evidence[k] for k in ("low_kb", "high_kb") if k in proc.evidence)
    # Xen's target is the guest's *allocation* the host wants, not a balloon size:
    # the balloon must hold what it holds now plus (current - target).
    guest_target_kb = None
    if "target_kb" in values:
        guest_target_kb = values["target_kb"].value
        b.evidence.append(values["target_kb"].evidence)
    elif "target" in values:
        guest_target_kb = values["target"].value // 1024
        b.evidence.append(values["target"].evidence)
    elif proc is not None and proc.target_kb is not None:
        guest_target_kb = proc.target_kb
        b.evidence.append(proc.evidence["target_kb"])
    current = values.get("info/current_kb")
    current_kb = current.value if current is not None else (
        proc.current_kb if proc is not None else None)
    if current is not None:
        b.evidence.append(current.evidence)
    if current_kb is not None:
        b.details["current_kb"] = current_kb
    if guest_target_kb is not None:
        b.details["target_guest_kb"] = guest_target_kb
    for k, v in values.items():
        if k not in ("target_kb", "target", "info/current_kb", "info/low_kb", "info/high_kb"):
            b.details[k] = v.value
    counts = counters(memory)
    if counts[B_MEMINFO] is not None:
        alternatives[B_MEMINFO] = counts[B_MEMINFO]
    b.details["caveat"] = (
        "at boot balloon_add_regions() puts never-populated extra PFNs into the balloon, so low_kb + high_kb "
        "can be non-zero without any host request"
    )
    set_size(b, alternatives, memory)
    if guest_target_kb is not None and current_kb is not None and b.inflated_bytes is not None:
        b.target_bytes = max(b.inflated_bytes + (current_kb - guest_target_kb) * 1024, 0)
        b.details["target_basis"] = ("balloon now + (info/current_kb - target_kb) = "
                                     f"{b.inflated_bytes} + ({current_kb} - {guest_target_kb}) x 1024")
    b.accounting = Accounting.MEMTOTAL_REDUCED
    b.accounting_basis = (
        "the Xen balloon's decrease_reservation() calls adjust_managed_page_count(-1) for every page it gives back"
    )
    return [b]


def from_vmcore(snap) -> List[Balloon]:
    """``balloon_stats`` from the drgn snapshot, when the guest runs on Xen."""
    x = snap.xen
    if x is None or not x.current_pages:
        return []
    return [Balloon(
        driver=Driver.XEN,
        inflated_bytes=x.ballooned_pages * snap.memory.page_size,
        accounting=Accounting.MEMTOTAL_REDUCED,
        accounting_basis="xen balloon's decrease_reservation() calls "
                         "adjust_managed_page_count(-1)",
        details={"inflated_basis": "balloon_stats", "current_pages": x.current_pages,
                 "target_pages": x.target_pages, "balloon_low": x.balloon_low,
                 "balloon_high": x.balloon_high},
        evidence=[Evidence("vmcore", field="balloon_stats.balloon_low+balloon_high",
                           text=str(x.ballooned_pages))],
    )]


SPEC = DriverSpec(
    driver=Driver.XEN,
    modules=("xen_balloon",),
    report_paths=(XEN_DIR + "/*", XEN_PROC),
    live_paths=("/" + XEN_DIR + "/*", "/" + XEN_DIR + "/info/*", "/" + XEN_PROC),
    hypervisor="Xen",
    host_hint="Xen",
    label="Xen balloon",
    frames=("decrease_reservation", "balloon_process"),
    signatures=(LogSignature("xen_balloon", re.compile(r"^xen:balloon: "), b"xen:balloon: "),),
    accounting=ACCOUNTING,
    from_report=from_report,
    from_vmcore=from_vmcore,
    advice=("xen", "memory / maxmem",
            "raise the Xen domain's memory target (memory= in the xl config, xl mem-set) "
            "toward maxmem"),
)
