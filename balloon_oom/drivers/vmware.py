# SPDX-License-Identifier: GPL-2.0-or-later
"""vmw_balloon: the vmmemctl debugfs (or old /proc) file, vmware-toolbox-cmd, the module list."""

from __future__ import annotations

import posixpath
import re
from collections import OrderedDict
from typing import List, Optional

from ..model import FRAME_BYTES, Accounting, Balloon, Driver, Evidence
from ..parsers import parse_or_warn
from ..parsers.vmmemctl import capability_names, parse_vmmemctl
from ..parsers.vmware_toolbox import parse_stat_balloon, parse_stat_raw_text
from .common import B_EVENTS, DriverSpec, LogSignature, ReportContext, counters, first, set_size

VMMEMCTL_PATHS = ("sys/kernel/debug/vmmemctl", "proc/vmmemctl")
#: Our plugin's copy first, then sos's vmware plugin's.
TOOLBOX_RESOURCES = ("sos_commands/balloon/vmware-toolbox-cmd_stat_raw_text_resources",
                     "sos_commands/vmware/vmware-toolbox-cmd_stat_raw_text_resources")
TOOLBOX_BALLOON = ("sos_commands/balloon/vmware-toolbox-cmd_stat_balloon",
                   "sos_commands/vmware/vmware-toolbox-cmd_stat_balloon")

ACCOUNTING = ("vmw_balloon never calls adjust_managed_page_count(), so ballooned pages stay in MemTotal "
              "and count as used (drivers/misc/vmw_balloon.c, every version)")

def from_report(ctx: ReportContext) -> List[Balloon]:
    """The vmw_balloon balloon, from vmmemctl, vmware-toolbox-cmd or the module list."""
    files, memory, warnings = ctx.files, ctx.memory, ctx.warnings
    parsed = []
    for path in VMMEMCTL_PATHS:
        v = parse_or_warn(files.get(path), parse_vmmemctl, warnings)
        if v is not None:
            parsed.append((path, v))
    raw = parse_or_warn(first(files, TOOLBOX_RESOURCES), parse_stat_raw_text, warnings)
    stat_balloon = parse_or_warn(first(files, TOOLBOX_BALLOON), parse_stat_balloon, warnings)
    loaded = ctx.module_present("vmw_balloon")
    if not parsed and stat_balloon is None and not loaded and (raw is None or raw.ballooned is None):
        return []

    b = Balloon(driver=Driver.VMWARE)
    b.accounting = Accounting.COUNTED_AS_USED
    rule = "vmw_balloon never calls adjust_managed_page_count, so ballooned pages stay in MemTotal and count as used"
    alternatives: "OrderedDict[str, Optional[int]]" = OrderedDict()
    if parsed:
        path, v = parsed[0]
        b.device = posixpath.basename(path)
        if v.current_frames is not None:
            alternatives[f"{path} current"] = v.current_frames * FRAME_BYTES
        if v.target_frames is not None:
            b.target_bytes = v.target_frames * FRAME_BYTES
        if v.used_capabilities is not None:
            b.features = capability_names(v.used_capabilities)
        for key in ("current_frames", "target_frames", "used_capabilities"):
            if key in v.evidence:
                b.evidence.append(v.evidence[key])
        b.details.update(
            generation=v.generation,
            is_resetting=v.is_resetting,
            commands={k: list(c) for k, c in v.commands.items()},
            stats=dict(v.stats),
            stats_zero=v.stats_zero,
        )
        if v.rate_alloc is not None:
            b.details["rate_alloc_pages_per_sec"] = v.rate_alloc
        if v.generation == "v2-table" and v.stats_zero:
            b.details["stats_note"] = "all counters are zero: on 4.20+ the first read of vmmemctl only enables them"
        if v.generation == "v2-table":
            # The reworked driver goes through balloon_compaction (4 KiB pages)
            # and counts 512 events per 2 MiB page itself.
            net = counters(memory)[B_EVENTS]
            if net is not None:
                alternatives[B_EVENTS] = net
        where = f"{v.evidence['current_frames'].source}:{v.evidence['current_frames'].line}" if "current_frames" in v.evidence else path
        b.accounting_basis = f"{rule} ({where} read)"
    else:
        net = counters(memory)[B_EVENTS]
        if net is not None and loaded:
            alternatives[B_EVENTS] = net
        b.accounting_basis = f"{rule} (no vmmemctl file; driver seen through {'the module list' if loaded else 'vmware-toolbox-cmd'})"
    if stat_balloon is not None:
        alternatives["vmware-toolbox-cmd stat balloon"] = stat_balloon.bytes
        b.evidence.append(stat_balloon.evidence)
    if raw is not None and raw.ballooned is not None:
        key = raw.ballooned_key
        b.details["toolbox_resources"] = {key: raw.ballooned, "unit": "not stated by the text encoding"}
        b.evidence.append(raw.evidence[key])
    param = files.text("sys/module/vmw_balloon/parameters/vmwballoon_shrinker_enable")
    if param is not None:
        b.details["shrinker_enable"] = param.strip()
    set_size(b, alternatives, memory)
    return [b]


def from_vmcore(snap) -> List[Balloon]:
    """The ``struct vmballoon`` the drgn snapshot found, if any."""
    v = snap.vmware
    if v is None:
        return []
    return [Balloon(
        driver=Driver.VMWARE,
        inflated_bytes=v.inflated_bytes,
        target_bytes=v.target_frames * 4096,
        accounting=Accounting.COUNTED_AS_USED,
        accounting_basis="vmw_balloon never calls adjust_managed_page_count(): "
                         "ballooned pages stay in MemTotal as used",
        features=v.capability_names,
        details={"inflated_basis": "vmballoon struct", "size_frames": v.size_frames,
                 "target_frames": v.target_frames, "huge_pages": v.huge_pages,
                 "stats_allocated": v.stats_allocated},
        evidence=[Evidence("vmcore", field="vmballoon.size", text=str(v.size_frames))],
    )]


SPEC = DriverSpec(
    driver=Driver.VMWARE,
    modules=("vmw_balloon",),
    report_paths=VMMEMCTL_PATHS + ("sys/module/vmw_balloon/parameters/*",
                                   TOOLBOX_RESOURCES[0], TOOLBOX_BALLOON[0]),
    # sos's own vmware plugin
    read_paths=("sos_commands/vmware/vmware-toolbox-cmd_stat_raw_text_*",
                "sos_commands/vmware/vmware-toolbox-cmd_stat_balloon"),
    live_paths=tuple("/" + p for p in VMMEMCTL_PATHS) + ("/sys/module/vmw_balloon/parameters/*",),
    hypervisor="VMware",
    host_hint="VMware",
    label="VMware balloon (vmw_balloon)",
    frames=("vmballoon_work", "vmballoon_inflate", "vmballoon_alloc_page_list"),
    signatures=(LogSignature("vmw_balloon", re.compile(r"^vmw_balloon: "), b"vmw_balloon: "),),
    accounting=ACCOUNTING,
    from_report=from_report,
    from_vmcore=from_vmcore,
    debuginfo_module="vmw_balloon",
    advice=("vmware", "memory reservation (sched.mem.min) / sched.mem.maxmemctl",
            "give the VM a VMware memory reservation (sched.mem.min) for its working set, "
            "or cap the balloon with sched.mem.maxmemctl (MB) in the .vmx"),
)
