# SPDX-License-Identifier: GPL-2.0-or-later
"""What every balloon driver module declares (:class:`DriverSpec`) and the helpers they share.

A driver module holds one :class:`DriverSpec`: its kernel modules, the report and
live paths to collect, the hypervisor it implies, the call-trace frames of its
allocations, its kernel-log signatures, its accounting rule, and the two builders
that turn a report (:class:`ReportContext`) or a vmcore snapshot into
:class:`~balloon_oom.model.Balloon` objects.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Set, Tuple

from ..model import Accounting, Balloon, BootMemory, Driver, Evidence, MemoryFigures
from ..readers.files import FileText, ReportFiles

#: Module lists the report may hold (``/proc/modules``, sos's ``lsmod``).
MODULE_LISTS = ("proc/modules", "sos_commands/kernel/lsmod")
DMI_VENDOR = "sys/class/dmi/id/sys_vendor"
#: Our plugin's debugfs marker: first line ``mounted`` or ``not-mounted``.
DEBUGFS_MARKER = "sos_strings/balloon/debugfs.txt"

#: Basis names used as keys of ``details["inflated_bytes_by_basis"]``.
B_VZ_DEBUGFS = "virtio-balloon debugfs"
B_MEMINFO = "meminfo Balloon"
B_NR_BALLOON = "vmstat nr_balloon_pages"
B_EVENTS = "vmstat balloon_inflate - balloon_deflate"


def gap_tolerance_kb(inflated_kb: int = 0) -> int:
    """MemTotal-gap noise (freed init memory, a balloon moving while the report
    is collected): ``Thresholds.memtotal_gap_noise_bytes``, or
    ``Thresholds.memtotal_gap_fraction`` of the balloon when larger."""
    from ..verdict.thresholds import Thresholds  # the verdict imports this registry: import late

    t = Thresholds()
    return max(t.memtotal_gap_noise_bytes // 1024, int(inflated_kb * t.memtotal_gap_fraction))

Sizes = "OrderedDict[str, Optional[int]]"


@dataclass(frozen=True)
class LogSignature:
    """One kernel-log message kind of a driver: ``kind`` is ``<module>[.<what>]``."""

    kind: str
    pattern: "re.Pattern[str]"
    #: A byte string every matching line contains (for the prefilter).
    needle: bytes


@dataclass
class ReportContext:
    """What a driver's ``from_report`` reads: report files, memory figures, boot line, loaded modules."""

    files: ReportFiles
    memory: MemoryFigures
    boot: Optional[BootMemory] = None
    modules: Set[str] = field(default_factory=set)
    warnings: List[str] = field(default_factory=list)

    def module_present(self, name: str) -> bool:
        """``name`` is in the module list or has a ``sys/module/<name>`` directory."""
        return name in self.modules or bool(self.files.glob(f"sys/module/{name}/*"))


@dataclass(frozen=True)
class DriverSpec:
    """Everything the tool knows about one balloon driver, declared once."""

    driver: Driver
    #: Kernel module names.
    modules: Tuple[str, ...]
    #: sosreport-relative path patterns our sos plugin collects (files and command outputs).
    report_paths: Tuple[str, ...]
    #: Absolute globs read on a running guest.
    live_paths: Tuple[str, ...]
    #: The one hypervisor this driver runs on (None when several).
    hypervisor: Optional[str]
    #: What the driver tells of the host when nothing better is known.
    host_hint: str
    #: Human name for answers ("Hyper-V balloon (hv_balloon)").
    label: str
    #: Call-trace frame prefixes of this driver allocating.
    frames: Tuple[str, ...]
    signatures: Tuple[LogSignature, ...]
    #: The accounting rule as a sentence, with its kernel commit.
    accounting: str
    from_report: Callable[[ReportContext], List[Balloon]]
    from_vmcore: Optional[Callable[..., List[Balloon]]] = None
    #: ``(where, setting, action)`` of the host-side change when the balloon contributed to an
    #: OOM (virtio's depends on DEFLATE_ON_OOM: :mod:`balloon_oom.answer` decides it).
    advice: Optional[Tuple[str, str, str]] = None
    #: Further report paths the analyzer reads: where sos lands a link's target, other
    #: plugins' outputs.
    read_paths: Tuple[str, ...] = ()
    #: The module whose debugging information the vmcore reader needs (None: built in, or
    #: another driver's module of the same name already answers for it).
    debuginfo_module: Optional[str] = None


# --- shared helpers ---------------------------------------------------------------------------


def first(files: ReportFiles, paths: Tuple[str, ...]) -> Optional[FileText]:
    """The first of ``paths`` the report has."""
    for path in paths:
        found = files.get(path)
        if found is not None:
            return found
    return None


def read_modules(files: ReportFiles) -> Set[str]:
    """Loaded module names from /proc/modules or lsmod output."""
    names: Set[str] = set()
    for path in MODULE_LISTS:
        text = files.text(path)
        if not text:
            continue
        for line in text.splitlines():
            parts = line.split()
            if parts and parts[0] != "Module":
                names.add(parts[0])
    return names


def dmi_vendor(files: ReportFiles) -> str:
    return (files.text(DMI_VENDOR) or "").strip()


def memtotal_gap_kb(memory: MemoryFigures, boot: Optional[BootMemory]) -> Optional[int]:
    """kB missing from MemTotal compared with an unballooned boot.

    ``boot.total_kb - boot.baseline_reserved_kb`` is what MemTotal shows with
    no balloon (real 6.1 guest: 523768 - (64776 - 9424) = 468416 kB, its
    MemTotal before inflating).  A driver that calls
    ``adjust_managed_page_count(-1)`` widens the gap by what it holds.
    """
    if boot is None or memory.mem_total_kb is None:
        return None
    return boot.total_kb - boot.baseline_reserved_kb - memory.mem_total_kb


def gap_sentence(memory: MemoryFigures, boot: BootMemory, gap: int) -> str:
    return (
        f"MemTotal {memory.mem_total_kb} kB is {gap} kB below the unballooned figure "
        f"{boot.total_kb - boot.baseline_reserved_kb} kB (boot Memory: {boot.total_kb}K total - "
        f"{boot.reserved_kb}K reserved + {boot.freed_later_kb}K freed later)"
    )


def accounting_from_gap(
    memory: MemoryFigures, boot: Optional[BootMemory], inflated_bytes: Optional[int]
) -> Optional[Tuple[Accounting, str]]:
    """Decide the mode from MemTotal when the balloon's size is known and non-zero.

    Tolerance: :func:`gap_tolerance_kb`.
    """
    gap = memtotal_gap_kb(memory, boot)
    if gap is None or boot is None or not inflated_bytes:
        return None
    inflated_kb = inflated_bytes // 1024
    tol = gap_tolerance_kb(inflated_kb)
    if abs(gap - inflated_kb) <= tol:
        return Accounting.MEMTOTAL_REDUCED, (
            f"{gap_sentence(memory, boot, gap)}, which matches the {inflated_kb} kB balloon"
        )
    if abs(gap) <= tol:
        return Accounting.COUNTED_AS_USED, (
            f"{gap_sentence(memory, boot, gap)}: MemTotal still includes the {inflated_kb} kB balloon"
        )
    return None


def counters(memory: MemoryFigures) -> Sizes:
    """Global balloon counters, in bytes, by basis (None when not in the report)."""
    out: Sizes = OrderedDict()
    out[B_MEMINFO] = memory.balloon_kb * 1024 if memory.balloon_kb is not None else None
    out[B_NR_BALLOON] = memory.nr_balloon_pages * memory.page_size if memory.nr_balloon_pages is not None else None
    net = memory.balloon_events_net_pages
    out[B_EVENTS] = net * memory.page_size if net is not None else None
    return out


def _counter_evidence(memory: MemoryFigures, basis: str) -> List[Evidence]:
    keys = {
        B_MEMINFO: ["balloon_kb"],
        B_NR_BALLOON: ["nr_balloon_pages"],
        B_EVENTS: ["balloon_inflate", "balloon_deflate"],
    }.get(basis, [])
    return [memory.evidence[k] for k in keys if k in memory.evidence]


def set_size(balloon: Balloon, alternatives: Sizes, memory: MemoryFigures) -> None:
    """Record every known size by basis; the first known one is the balloon's size."""
    known = OrderedDict((k, v) for k, v in alternatives.items() if v is not None)
    balloon.details["inflated_bytes_by_basis"] = dict(known)
    basis = next(iter(known), None)
    balloon.inflated_bytes = known[basis] if basis is not None else None
    balloon.details["inflated_basis"] = basis
    if basis is not None:
        balloon.evidence.extend(_counter_evidence(memory, basis))
