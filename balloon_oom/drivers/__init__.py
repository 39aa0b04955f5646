# SPDX-License-Identifier: GPL-2.0-or-later
"""The balloon driver registry: one module per driver, every driver list derived from it.

Each driver module (``virtio``, ``vmware``, ``hyperv``, ``xen``, ``s390_cmm``,
``pseries_cmm``) declares one :class:`~balloon_oom.drivers.common.DriverSpec`.
A new driver is one file here plus its tests, and one entry in :data:`REGISTRY`.

How each driver's ballooned pages show up in the guest (:data:`ACCOUNTING_RULES`):

========================  ==================  ==========================================
driver                    accounting          rule (kernel source)
========================  ==================  ==========================================
virtio, no DEFLATE_ON_OOM memtotal-reduced    ``adjust_managed_page_count(page, -1)``
                                              in ``fill_balloon()``
virtio, DEFLATE_ON_OOM    counted-as-used     the same call is skipped
vmw_balloon               counted-as-used     never adjusts managed pages
hv_balloon (v5.11+)       memtotal-reduced    ``adjust_managed_page_count()``
xen balloon               memtotal-reduced    ``decrease_reservation()`` adjusts managed pages
s390 CMM                  counted-as-used     no managed-page adjustment
pseries CMM               memtotal-reduced    loaned pages leave totalram
========================  ==================  ==========================================

debugfs: our sos plugin writes ``sos_strings/balloon/debugfs.txt``; a first
line ``not-mounted`` means vmmemctl, hv-balloon and Virtuozzo's
virtio-balloon could not be read.  We warn only when that loses something:
a VMware or Hyper-V balloon is suspected (module loaded, module parameters
present, DMI vendor, or a balloon built without its debugfs file), or a virtio
balloon's accounting stayed unknown.  A KVM guest whose ``features`` file
answered everything gets no warning.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from ..model import Accounting, Balloon, BootMemory, Driver, MemoryFigures
from ..readers.files import ReportFiles
from . import hyperv, pseries_cmm, s390_cmm, virtio, virtio_mem, vmware, xen
from .common import (
    DEBUGFS_MARKER,
    DriverSpec,
    LogSignature,
    ReportContext,
    dmi_vendor,
    memtotal_gap_kb,
    read_modules,
)

__all__ = ["REGISTRY", "DriverSpec", "LogSignature", "ReportContext", "find_balloons", "memtotal_gap_kb", "spec"]

#: In the order :func:`find_balloons` reports them.
REGISTRY: Tuple[DriverSpec, ...] = (
    virtio.SPEC, vmware.SPEC, hyperv.SPEC, xen.SPEC, s390_cmm.SPEC, pseries_cmm.SPEC, virtio_mem.SPEC,
)


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(items))


def spec(driver: Driver) -> DriverSpec:
    """The spec of ``driver``."""
    return _BY_DRIVER[driver]


_BY_DRIVER: Dict[Driver, DriverSpec] = {s.driver: s for s in REGISTRY}

#: ``(kind, pattern)`` of every driver's kernel-log message kinds, in registry order.
#: Every driver's kernel-log message kinds, in registry order.
LOG_SIGNATURES: Tuple[LogSignature, ...] = tuple(sig for s in REGISTRY for sig in s.signatures)
SIGNATURES: List[Tuple[str, "re.Pattern[str]"]] = [(sig.kind, sig.pattern) for sig in LOG_SIGNATURES]
#: One needle per signature: every line a signature matches holds one of these.
SIGNATURE_NEEDLES: Tuple[bytes, ...] = _unique(sig.needle for sig in LOG_SIGNATURES)
#: Signature kind (before the dot) -> the one hypervisor that driver runs on.
DRIVER_HYPERVISOR: Dict[str, str] = {
    sig.kind.split(".")[0]: s.hypervisor for s in REGISTRY if s.hypervisor for sig in s.signatures
}
#: The log prefixes of drivers that run on one hypervisor only (``hv_balloon``, ``xen:balloon``).
HYPERVISOR_LOG_PREFIXES: Tuple[str, ...] = _unique(
    sig.needle.decode().rstrip(": ") for s in REGISTRY if s.hypervisor for sig in s.signatures)
#: Call-trace frame prefixes of a balloon driver allocating.
ALLOCATION_FRAMES: Tuple[str, ...] = _unique(f for s in REGISTRY for f in s.frames)
#: sosreport-relative patterns of every driver's files our plugin collects.
REPORT_PATHS: Tuple[str, ...] = _unique(p for s in REGISTRY for p in s.report_paths)
#: Every report path a driver reads: :data:`REPORT_PATHS`, the drivers' ``read_paths`` and
#: all of our plugin's outputs.
READ_PATHS: Tuple[str, ...] = _unique(
    list(REPORT_PATHS) + [p for s in REGISTRY for p in s.read_paths]
    + ["sos_commands/balloon/*", "sos_strings/balloon/*"])
#: Absolute globs of every driver's files on a running guest.
LIVE_PATHS: Tuple[str, ...] = _unique(p for s in REGISTRY for p in s.live_paths)
#: Kernel module names of the balloon drivers.
MODULES: Tuple[str, ...] = _unique(m for s in REGISTRY for m in s.modules)
#: Module -> driver, for the modules whose missing debugging information the vmcore reader reports.
DEBUGINFO_MODULES: Dict[str, Driver] = {s.debuginfo_module: s.driver for s in REGISTRY if s.debuginfo_module}
#: Driver -> what it implies of the host when nothing better is known.
HOST_HINTS: Dict[Driver, str] = {s.driver: s.host_hint for s in REGISTRY}
#: Driver -> its name in answers.
LABELS: Dict[Driver, str] = {s.driver: s.label for s in REGISTRY}
#: Driver -> its host-side advice ``(where, setting, action)``, for drivers that have one.
ADVICE: Dict[Driver, Tuple[str, str, str]] = {s.driver: s.advice for s in REGISTRY if s.advice}
#: Driver -> its accounting rule with the kernel commit.
ACCOUNTING_RULES: Dict[Driver, str] = {s.driver: s.accounting for s in REGISTRY}


def balloons_from_vmcore(snap) -> List[Balloon]:
    """Every balloon a drgn snapshot (:func:`balloon_drgn.snapshot`) holds, in registry order."""
    out: List[Balloon] = []
    for s in REGISTRY:
        if s.from_vmcore is not None:
            out += s.from_vmcore(snap)
    return out


def _debugfs_warning(ctx: ReportContext, balloons: List[Balloon]) -> Optional[str]:
    marker = ctx.files.text(DEBUGFS_MARKER)
    if marker is None or not marker.strip() or marker.strip().splitlines()[0].strip() != "not-mounted":
        return None
    vendor = dmi_vendor(ctx.files)
    reasons = []
    if ctx.module_present("vmw_balloon") or "VMware" in vendor:
        reasons.append("a VMware balloon (vmmemctl)")
    if ctx.module_present("hv_balloon") or "Microsoft" in vendor:
        reasons.append("a Hyper-V balloon (hv-balloon)")
    if any(b.driver == Driver.VIRTIO and b.accounting == Accounting.UNKNOWN for b in balloons):
        reasons.append("a virtio balloon whose accounting is unknown (Virtuozzo's virtio-balloon file)")
    if not reasons:
        return None
    return (
        f"debugfs was not mounted when the report was collected ({DEBUGFS_MARKER}), so the files of "
        f"{' and '.join(reasons)} could not be read: run `mount -t debugfs none /sys/kernel/debug` and collect again"
    )


def find_balloons(
    files: ReportFiles, memory: MemoryFigures, boot: Optional[BootMemory] = None
) -> Tuple[List[Balloon], List[str]]:
    """Every balloon driver instance the report shows, and warnings.

    ``boot`` is the current boot's ``Memory:`` line; it lets MemTotal tell the
    accounting mode when the driver's own files cannot.
    """
    ctx = ReportContext(files, memory, boot, read_modules(files))
    balloons = list(virtio.SPEC.from_report(ctx))
    others: List[Balloon] = []
    for s in REGISTRY[1:]:
        others += s.from_report(ctx)
    if not balloons:
        extra = virtio.from_counters(ctx, others)
        if extra is not None:
            balloons.append(extra)
            ctx.warnings.append(f"virtio balloon inferred without device files: {extra.details['reason']}")
    balloons += others
    msg = _debugfs_warning(ctx, balloons)
    if msg:
        ctx.warnings.append(msg)
    return balloons, ctx.warnings
