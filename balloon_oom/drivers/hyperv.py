# SPDX-License-Identifier: GPL-2.0-or-later
"""hv_balloon: the hv-balloon debugfs file (v6.0+), else the module list and MemTotal."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import List, Optional

from ..model import Accounting, Balloon, Driver, Evidence
from ..parsers import parse_or_warn
from ..parsers.hv_balloon import parse_hv_balloon
from .common import (
    B_MEMINFO,
    B_NR_BALLOON,
    gap_tolerance_kb,
    DriverSpec,
    LogSignature,
    ReportContext,
    counters,
    gap_sentence,
    memtotal_gap_kb,
    set_size,
)

HV_DEBUGFS = "sys/kernel/debug/hv-balloon"

#: The change that made hv_balloon shrink MemTotal; the hv-balloon debugfs file came later, with
#: Linux kernel commit d180e0a1be6c ("Drivers: hv: Create debugfs file with hyper-v balloon usage
#: information") (in v6.0), so that file proves it.
V5_11 = ("Linux kernel commit d1df458cbfdb (\"hv_balloon: do adjust_managed_page_count() when "
         "ballooning/un-ballooning\") (in v5.11)")

ACCOUNTING = (f"hv_balloon calls adjust_managed_page_count(-1) per ballooned page since {V5_11}, so "
              "MemTotal shrinks; before it ballooned pages count as used")

def from_report(ctx: ReportContext) -> List[Balloon]:
    """The hv_balloon balloon, from its debugfs file or the module list."""
    files, memory, boot, warnings = ctx.files, ctx.memory, ctx.boot, ctx.warnings
    found = files.get(HV_DEBUGFS)
    hv = parse_or_warn(found, parse_hv_balloon, warnings)
    loaded = ctx.module_present("hv_balloon")
    if hv is None and not loaded:
        return []
    b = Balloon(driver=Driver.HYPERV)
    b.details["target"] = "not visible inside the guest (the host sends balloon requests, not a target)"
    alternatives: "OrderedDict[str, Optional[int]]" = OrderedDict()
    counts = counters(memory)
    if hv is not None:
        b.device = "hv-balloon"
        if hv.ballooned_bytes is not None:
            alternatives["hv-balloon pages_ballooned"] = hv.ballooned_bytes
        b.features = list(hv.capabilities)
        for key in ("pages_ballooned", "page_size", "state"):
            if key in hv.evidence:
                b.evidence.append(hv.evidence[key])
        b.details.update(
            host_version=hv.host_version,
            state=hv.state,
            state_name=hv.state_name,
            page_size=hv.page_size,
            pages_added=hv.pages_added,
            pages_onlined=hv.pages_onlined,
            total_pages_committed=hv.total_pages_committed,
            max_dynamic_page_count=hv.max_dynamic_page_count,
            spelling=hv.spelling,
        )
        if hv.vm_pages_committed is not None:
            b.details["vm_pages_committed"] = hv.vm_pages_committed
        for basis in (B_MEMINFO, B_NR_BALLOON):
            if counts[basis] is not None:
                alternatives[basis] = counts[basis]
        set_size(b, alternatives, memory)
        b.accounting = Accounting.MEMTOTAL_REDUCED
        b.accounting_basis = (
            f"{found.path} exists, and that debugfs file is only in v6.0+ kernels (Linux kernel commit d180e0a1be6c "
            "(\"Drivers: hv: Create debugfs file with hyper-v balloon usage information\") (in v6.0)), "
            f"which have {V5_11}, making hv_balloon call adjust_managed_page_count(-1)"
        )
        return [b]

    # Driver loaded, no debugfs file: find evidence for the accounting mode.
    b.device = None
    if counts[B_MEMINFO] is not None:
        alternatives[B_MEMINFO] = counts[B_MEMINFO]
        set_size(b, alternatives, memory)
        b.accounting = Accounting.MEMTOTAL_REDUCED
        ev = memory.evidence.get("balloon_kb")
        b.accounting_basis = (
            f"no hv-balloon debugfs file, but {ev.source if ev else 'proc/meminfo'} has a Balloon: row (v6.15+), "
            "a kernel with the v5.11 adjust_managed_page_count change"
        )
        return [b]
    set_size(b, alternatives, memory)
    gap = memtotal_gap_kb(memory, boot)
    if gap is not None and boot is not None:
        b.details["memtotal_gap_kb"] = gap
        if gap > gap_tolerance_kb():
            b.accounting = Accounting.MEMTOTAL_REDUCED
            b.accounting_basis = (
                f"no hv-balloon debugfs file; {gap_sentence(memory, boot, gap)}: pages were taken out of "
                "MemTotal, as hv_balloon does since v5.11"
            )
            return [b]
    b.accounting = Accounting.UNKNOWN
    b.accounting_basis = (
        "no hv-balloon debugfs file (v6.0+, needs debugfs mounted) and MemTotal shows no removed pages: "
        "either the balloon is empty or the kernel predates v5.11 (ballooned pages counted as used)"
    )
    return [b]


def from_vmcore(snap) -> List[Balloon]:
    """The ``struct hv_dynmem_device`` the drgn snapshot found, if any."""
    h = snap.hyperv
    if h is None:
        return []
    # hv_dynmem_device.max_dynamic_page_count came with the debugfs file (v6.0),
    # after the v5.11 adjust_managed_page_count() change: its presence proves the latter.
    proven = h.max_dynamic_page_count is not None
    return [Balloon(
        driver=Driver.HYPERV,
        inflated_bytes=h.num_pages_ballooned * 4096,
        accounting=Accounting.MEMTOTAL_REDUCED if proven else Accounting.UNKNOWN,
        accounting_basis=(
            "hv_dynmem_device has max_dynamic_page_count (added with the debugfs file, Linux kernel commit "
            "d180e0a1be6c (\"Drivers: hv: Create debugfs file with hyper-v balloon usage information\") (in v6.0)), "
            "so this driver has the v5.11 change that calls adjust_managed_page_count() "
            "per ballooned page: MemTotal is reduced"
            if proven else
            f"hv_balloon calls adjust_managed_page_count() only since {V5_11}; this "
            "struct predates the v6.0 max_dynamic_page_count member, so the vmcore alone "
            "cannot tell which side of v5.11 it is on"
        ),
        details={"inflated_basis": "hv_dynmem_device struct", "state": h.state_name,
                 "version": h.version, "num_pages_added": h.num_pages_added,
                 "num_pages_onlined": h.num_pages_onlined,
                 "max_dynamic_page_count": h.max_dynamic_page_count,
                 "total_pages_committed (recomputed)": h.total_pages_committed},
        evidence=[Evidence("vmcore", field="hv_dynmem_device.num_pages_ballooned",
                           text=str(h.num_pages_ballooned))],
    )]


SPEC = DriverSpec(
    driver=Driver.HYPERV,
    modules=("hv_balloon",),
    report_paths=(HV_DEBUGFS, "sys/module/hv_balloon/parameters/*"),
    live_paths=("/" + HV_DEBUGFS, "/sys/module/hv_balloon/parameters/*"),
    hypervisor="Microsoft Hyper-V",
    host_hint="Microsoft Hyper-V",
    label="Hyper-V balloon (hv_balloon)",
    frames=("balloon_up", "alloc_balloon_pages"),
    # The messages carry the "hv_balloon: " prefix (pr_fmt KBUILD_MODNAME) since v4.10.
    signatures=(
        LogSignature("hv_balloon.partial",
                     re.compile(r"hv_balloon: .*Balloon request will be partially fulfilled"), b"hv_balloon: "),
        LogSignature("hv_balloon.floor_reached", re.compile(r"hv_balloon: .*Balloon floor reached"),
                     b"hv_balloon: "),
        LogSignature("hv_balloon.hot_add_failed", re.compile(r"hv_balloon: .*Memory hot add failed"),
                     b"hv_balloon: "),
        LogSignature("hv_balloon.max_dynamic_memory",
                     re.compile(r"hv_balloon: Max\. dynamic memory size: \d+ MB"), b"hv_balloon: "),
        LogSignature("hv_balloon.protocol", re.compile(r"hv_balloon: Using Dynamic Memory protocol version"),
                     b"hv_balloon: "),
    ),
    accounting=ACCOUNTING,
    from_report=from_report,
    from_vmcore=from_vmcore,
    debuginfo_module="hv_balloon",
    advice=("hyperv", "Dynamic Memory: Minimum RAM and Memory buffer",
            "raise the Hyper-V Dynamic Memory Minimum RAM and Memory buffer "
            "(Set-VMMemory -MinimumBytes, -Buffer), or turn Dynamic Memory off for this VM"),
)
