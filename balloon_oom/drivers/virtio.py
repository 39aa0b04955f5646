# SPDX-License-Identifier: GPL-2.0-or-later
"""virtio_balloon: sysfs features, Virtuozzo's debugfs file, the global counters.

The inflated size has no sysfs file; the candidates, in order of preference,
are Virtuozzo's debugfs file, ``Balloon:`` in /proc/meminfo (v6.15+),
``nr_balloon_pages`` (v6.15+) and ``balloon_inflate - balloon_deflate`` (since
boot).  Every candidate that has a value goes into
``details["inflated_bytes_by_basis"]`` and the chosen one into
``details["inflated_basis"]``.
"""

from __future__ import annotations

import posixpath
import re
from collections import OrderedDict
from typing import Dict, List, Optional

from ..model import Accounting, Balloon, BootMemory, Driver, Evidence, MemoryFigures
from ..parsers import parse_or_warn
from ..parsers.virtio_debugfs import parse_virtio_debugfs
from ..parsers.virtio_features import parse_device_features, parse_features
from ..readers.files import ReportFiles
from .common import (
    B_EVENTS,
    B_VZ_DEBUGFS,
    DriverSpec,
    LogSignature,
    ReportContext,
    accounting_from_gap,
    counters,
    set_size,
)

VIRTIO_DRIVER_DIR = "sys/bus/virtio/drivers/virtio_balloon"
VIRTIO_ID_BALLOON = "0x0005"
VZ_VIRTIO_DEBUGFS = "sys/kernel/debug/virtio-balloon"

ACCOUNTING = (
    "without DEFLATE_ON_OOM virtio_balloon calls adjust_managed_page_count(-1) per inflated page, so "
    "MemTotal shrinks; with it the pages stay in MemTotal and count as used (Linux kernel commit "
    "997e120843e8 (\"virtio_balloon: do not change memory amount visible via /proc/meminfo\") (in v4.3))"
)

_VIRTIO_NAME = re.compile(r"^virtio\d+$")


def _virtio_devices(files: ReportFiles) -> "OrderedDict[str, str]":
    """virtioN -> a report directory holding its sysfs files."""
    found: Dict[str, str] = {}
    for link in files.link_names(VIRTIO_DRIVER_DIR + "/virtio*"):
        name = posixpath.basename(link)
        if _VIRTIO_NAME.match(name):
            found.setdefault(name, link)
    for leaf in ("features", "device"):
        for f in files.glob(f"{VIRTIO_DRIVER_DIR}/virtio*/{leaf}"):
            d = posixpath.dirname(f.path)
            if _VIRTIO_NAME.match(posixpath.basename(d)):
                found.setdefault(posixpath.basename(d), d)
    for pattern in ("sys/devices/*virtio[0-9]*/device", "sys/bus/virtio/devices/virtio*/device"):
        for f in files.glob(pattern):
            d = posixpath.dirname(f.path)
            if _VIRTIO_NAME.match(posixpath.basename(d)) and f.text.strip() == VIRTIO_ID_BALLOON:
                found.setdefault(posixpath.basename(d), d)
    return OrderedDict(sorted(found.items(), key=lambda kv: int(kv[0][len("virtio"):])))


def _virtio_balloon(
    name: Optional[str],
    devdir: Optional[str],
    files: ReportFiles,
    memory: MemoryFigures,
    boot: Optional[BootMemory],
    n_devices: int,
    warnings: List[str],
) -> Balloon:
    b = Balloon(driver=Driver.VIRTIO, device=name)
    b.details["target"] = "not visible inside the guest (virtio config space)"
    if devdir is not None:
        dev = files.get(devdir + "/device")
        if dev is not None:
            b.evidence.append(Evidence(dev.path, line=1, text=dev.text.strip()))

    features = parse_or_warn(files.get(devdir + "/features") if devdir else None, parse_features, warnings)
    offered = None
    if features is None and name is not None:
        offered = parse_or_warn(files.get(f"sys/kernel/debug/virtio/{name}/device_features"), parse_device_features, warnings)
    vz = parse_or_warn(files.get(VZ_VIRTIO_DEBUGFS), parse_virtio_debugfs, warnings) if n_devices <= 1 else None

    # Size.
    alternatives: "OrderedDict[str, Optional[int]]" = OrderedDict()
    if vz is not None and vz.inflated_kb is not None:
        alternatives[B_VZ_DEBUGFS] = vz.inflated_kb * 1024
        b.details["virtio_debugfs"] = {
            "InflatedTotal_kB": vz.inflated_total_kb,
            "InflatedFree_kB": vz.inflated_free_kb,
            "inflated_kB": vz.inflated_v6_kb,
        }
    if n_devices <= 1:
        alternatives.update(counters(memory))
    else:
        b.details["inflated_note"] = (
            f"{n_devices} virtio balloon devices: the global counters cannot be split between them"
        )
    set_size(b, alternatives, memory)
    if b.details.get("inflated_basis") == B_VZ_DEBUGFS and vz is not None:
        b.evidence.extend(v for k, v in vz.evidence.items() if k.startswith("inflated"))
    if b.details.get("inflated_basis") == B_EVENTS:
        b.details["inflated_note"] = "balloon_inflate - balloon_deflate counts since boot, in guest pages"

    # Accounting.
    rule_off = ("virtio_balloon calls adjust_managed_page_count(-1) per page without DEFLATE_ON_OOM (since Linux kernel "
                "commit 997e120843e8 (\"virtio_balloon: do not change memory amount visible via /proc/meminfo\") "
                "(in v4.3))")
    for feats, negotiated in ((features, True), (offered, False)):
        if feats is None:
            continue
        b.features = feats.names
        b.deflate_on_oom = feats.deflate_on_oom
        b.evidence.append(feats.evidence)
        if negotiated:
            src = f"{feats.evidence.source}:{feats.evidence.line} has bit 2 (DEFLATE_ON_OOM) = {int(feats.deflate_on_oom)}"
            used, reduced = f"{src}, so the ballooned pages stay in MemTotal and count as used", f"{src}; {rule_off}"
        else:
            b.details["features_source"] = "debugfs device_features (offered by the device, not negotiated)"
            src = f"{feats.evidence.source} (bits the device offers; virtio_balloon's feature table accepts DEFLATE_ON_OOM)"
            used = f"{src} lists bit 2 (DEFLATE_ON_OOM), so ballooned pages count as used"
            reduced = f"{src} lacks bit 2 (DEFLATE_ON_OOM); {rule_off}"
        b.accounting = Accounting.COUNTED_AS_USED if feats.deflate_on_oom else Accounting.MEMTOTAL_REDUCED
        b.accounting_basis = used if feats.deflate_on_oom else reduced
        return b
    if vz is not None and vz.memtotal_reduced is not None:
        b.deflate_on_oom = not vz.memtotal_reduced
        row = vz.evidence.get("inflated_total_kb" if vz.inflated_total_kb else "inflated_free_kb") or vz.evidence.get(
            "inflated_v6_kb"
        )
        where = f"{row.source}:{row.line}: {row.text}" if row else VZ_VIRTIO_DEBUGFS
        if vz.memtotal_reduced:
            b.accounting = Accounting.MEMTOTAL_REDUCED
            b.accounting_basis = f"no features file; {where} shows memory subtracted from MemTotal (no DEFLATE_ON_OOM)"
        else:
            b.accounting = Accounting.COUNTED_AS_USED
            b.accounting_basis = f"no features file; {where} shows memory counted as used (DEFLATE_ON_OOM)"
        return b
    decided = accounting_from_gap(memory, boot, b.inflated_bytes)
    if decided is not None:
        b.accounting, sentence = decided
        b.accounting_basis = f"no features file; {sentence}"
        return b
    why = "no features file"
    if vz is None:
        why += ", no Virtuozzo virtio-balloon debugfs file"
    elif vz.memtotal_reduced is None:
        why += f", {VZ_VIRTIO_DEBUGFS} shows an empty balloon"
    if not b.inflated_bytes:
        why += ", and an empty or unknown balloon size cannot be matched against MemTotal"
    elif boot is None:
        why += ", and no boot Memory: line to compare MemTotal with"
    else:
        why += ", and the MemTotal gap matches neither mode"
    b.accounting = Accounting.UNKNOWN
    b.accounting_basis = why + ": DEFLATE_ON_OOM decides, and nothing in the report shows it"
    return b


def from_report(ctx: ReportContext) -> List[Balloon]:
    """One balloon per virtio balloon device in the report."""
    files, memory, boot, warnings = ctx.files, ctx.memory, ctx.boot, ctx.warnings
    devices = _virtio_devices(files)
    return [_virtio_balloon(n, d, files, memory, boot, len(devices), warnings) for n, d in devices.items()]


def from_counters(ctx: ReportContext, others: List[Balloon]) -> Optional[Balloon]:
    """A virtio_balloon known only from the module list or the global counters."""
    if any(b.driver in (Driver.VMWARE, Driver.PSERIES_CMM) for b in others):
        return None
    files, memory, boot = ctx.files, ctx.memory, ctx.boot
    counts = counters(memory)
    loaded = ctx.module_present("virtio_balloon")
    net = counts[B_EVENTS]
    if not loaded and not net:
        return None
    b = _virtio_balloon(None, None, files, memory, boot, 1, [])
    if any(o.driver in (Driver.HYPERV, Driver.XEN) for o in others):
        # Balloon:/nr_balloon_pages also count hv and xen pages: only the events are virtio's.
        alt = OrderedDict((k, v) for k, v in b.details["inflated_bytes_by_basis"].items() if k == B_EVENTS)
        b.evidence = []
        set_size(b, alt, memory)
    b.details["reason"] = (
        "virtio_balloon is in the module list but no virtio device files are in the report"
        if loaded
        else "balloon_inflate - balloon_deflate is non-zero and no other balloon_compaction driver (vmw, pseries "
        "CMM) was found, but no virtio device files are in the report"
    )
    return b


def from_vmcore(snap) -> List[Balloon]:
    """One balloon per ``struct virtio_balloon`` the drgn snapshot found."""
    return [_vmcore_balloon(vb) for vb in snap.virtio]


def _vmcore_balloon(vb) -> Balloon:
    if vb.deflate_on_oom:
        accounting = Accounting.COUNTED_AS_USED
        basis = ("virtio_balloon with DEFLATE_ON_OOM negotiated does not call "
                 "adjust_managed_page_count(): ballooned pages stay in MemTotal as used")
    else:
        accounting = Accounting.MEMTOTAL_REDUCED
        basis = ("virtio_balloon without DEFLATE_ON_OOM calls adjust_managed_page_count(-1) "
                 "per page (since Linux kernel commit 997e120843e8 (\"virtio_balloon: do not change "
                 "memory amount visible via /proc/meminfo\") (in v4.3)): MemTotal and zone managed pages shrink")
    return Balloon(
        driver=Driver.VIRTIO,
        device=vb.device,
        inflated_bytes=vb.inflated_bytes,
        accounting=accounting,
        accounting_basis=basis,
        deflate_on_oom=vb.deflate_on_oom,
        features=vb.feature_names,
        details={
            "inflated_basis": "virtio_balloon struct",
            "num_pages": vb.num_pages,
            "features_hex": hex(vb.features),
            "deflate_mechanism": vb.deflate_mechanism,
            "mechanism_member": vb.mechanism_member,
            "num_free_page_blocks": vb.num_free_page_blocks,
            "stats": vb.stats,
        },
        evidence=[
            Evidence("vmcore", field="virtio_balloon.num_pages", text=str(vb.num_pages)),
            Evidence("vmcore", field="virtio_device.features", text=hex(vb.features)),
        ],
    )


SPEC = DriverSpec(
    driver=Driver.VIRTIO,
    modules=("virtio_balloon",),
    report_paths=(
        VZ_VIRTIO_DEBUGFS,
        "sys/kernel/debug/virtio/*/device_features",
        VIRTIO_DRIVER_DIR + "/*",
        "sys/module/virtio_balloon/parameters/*",
    ),
    # sos copies each device's files where the driver's virtioN link points
    read_paths=(
        "sys/bus/virtio/devices/*",
        "sys/devices/*virtio[0-9]*/features",
        "sys/devices/*virtio[0-9]*/device",
        "sys/devices/*virtio[0-9]*/vendor",
        "sys/devices/*virtio[0-9]*/status",
    ),
    live_paths=(
        "/" + VZ_VIRTIO_DEBUGFS,
        "/sys/kernel/debug/virtio/*/device_features",
        "/sys/bus/virtio/drivers/virtio_balloon/virtio*",
        "/sys/bus/virtio/devices/virtio*",
        "/sys/module/virtio_balloon/parameters/*",
    ),
    hypervisor=None,
    host_hint="virtio (KVM/QEMU, Firecracker, cloud-hypervisor, ...)",
    label="virtio balloon",
    frames=(
        "fill_balloon",
        "balloon_page_alloc",         # mm/balloon_compaction.c
        "balloon_page_enqueue",
        "virtballoon_",               # work functions
        "update_balloon_size_func",
    ),
    signatures=(
        LogSignature("virtio_balloon.out_of_puff",
                     re.compile(r"virtio_balloon virtio\d+: Out of puff! Can't get \d+ pages?"),
                     b"virtio_balloon"),
    ),
    accounting=ACCOUNTING,
    from_report=from_report,
    from_vmcore=from_vmcore,
    debuginfo_module="virtio_balloon",
)
