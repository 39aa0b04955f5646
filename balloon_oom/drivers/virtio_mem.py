# SPDX-License-Identifier: GPL-2.0-or-later
"""virtio-mem: memory the hypervisor plugs into and unplugs from a guest.

What :data:`SPEC` declares:

- kernel module: ``virtio_mem`` (Linux kernel commit 5f1f79bbc9e2 ("virtio-mem:
  Paravirtualized memory hotplug") (in v5.8)).
- report paths: ``sys/bus/virtio/drivers/virtio_mem/virtio*`` (the device link),
  ``sys/module/virtio_mem/*``, ``proc/iomem`` (``virtioN`` = the device region,
  ``System RAM (virtio_mem)`` = its added memory blocks), ``proc/zoneinfo``
  (``Movable`` present/managed), ``sys/devices/system/memory/memory*/{state,
  online,valid_zones}``, the kernel log (``sos_commands/kernel/dmesg``).
- live paths: the same under ``/sys`` and ``/proc``; the log via ``dmesg``.
- log signatures: at probe ``virtio_mem virtioN: start address: 0x…``,
  ``region size: 0x…``, ``device block size: 0x…``; on every config change
  (probe included) ``plugged size: 0x…`` then ``requested size: 0x…``
  (``virtio_mem_refresh_config()``): the plugged size printed is the one
  *before* the driver acts on the new request.
- vmcore: ``struct virtio_mem`` ``plugged_size``, ``requested_size``,
  ``device_block_size``, ``region_size`` (``balloon_drgn.virtio_mem``).
- accounting (memtotal-reduced): unplugged memory leaves MemTotal. Whole
  memory blocks are offlined and removed (``offline_and_remove_memory()``,
  mm/memory_hotplug.c: out of zone present and managed pages); unplugged
  sub-blocks of an online block are taken with ``alloc_contig_range()`` and
  ``virtio_mem_fake_offline()`` calls ``adjust_managed_page_count(-n)``: still
  present, no longer managed (in an OOM report's ``pages reserved``). Both
  since Linux kernel commit 5f1f79bbc9e2 ("virtio-mem: Paravirtualized memory
  hotplug") (in v5.8).

The size is "memory the hypervisor took back": the most the guest had
plugged in this boot minus what is plugged (at collection; at an OOM in
:func:`bound_at_oom`). Exact where the plugged size is known (vmcore; the
``Movable`` zone when it holds exactly the device's memory); else bounded by
the log's last config change (the driver moves from the printed plugged size
toward the printed request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from ..model import Accounting, Balloon, BootMemory, Driver, Evidence, MemoryFigures, SizeBound
from ..readers.files import ReportFiles
from .common import DriverSpec, LogSignature, ReportContext

__all__ = ["ACCOUNTING_BASIS", "BOUND_BASIS", "DRIVER_DIR", "SPEC", "share", "apply_log", "bound_at_oom", "find_virtio_mem",
           "parse_log", "vmcore_balloons", "vmcore_from_program"]

DRIVER_DIR = "sys/bus/virtio/drivers/virtio_mem"
IOMEM = "proc/iomem"
ACCOUNTING_BASIS = (
    "virtio_mem takes unplugged memory out of MemTotal: whole blocks are offlined and removed, "
    "unplugged sub-blocks of online blocks are fake-offlined with adjust_managed_page_count(-n) "
    "(Linux kernel commit 5f1f79bbc9e2 (\"virtio-mem: Paravirtualized memory hotplug\") (in v5.8))"
)

#: The basis of virtio-mem's size bound at an OOM (:func:`bound_at_oom`).
BOUND_BASIS = "virtio-mem: most plugged in this boot minus plugged at the OOM"

_LINE = re.compile(r"^(?:\[\s*(\d+\.\d+)\]\s*)?.*?virtio_mem (virtio\d+): "
                   r"(start address|region size|device block size|memory block size|subblock size|"
                   r"big block size|plugged size|requested size): (0x[0-9a-f]+)\s*$")


@dataclass
class DeviceLog:
    """What one device's log lines say (bytes)."""

    device: str
    values: Dict[str, int] = field(default_factory=dict)
    #: (seconds since boot or None, plugged before the change, requested) per config change.
    changes: List[Tuple[Optional[float], int, Optional[int]]] = field(default_factory=list)
    evidence: List[Evidence] = field(default_factory=list)

    def max_plugged(self, before: Optional[float] = None) -> Tuple[int, int]:
        """Bounds on the most ever plugged (up to ``before``): printed plugged sizes are
        reached, printed requests may have been."""
        seen = [c for c in self.changes if before is None or c[0] is None or c[0] <= before]
        lo = max([c[1] for c in seen], default=0)
        hi = max([lo] + [c[2] for c in seen if c[2] is not None])
        region = self.values.get("region size")
        return lo, (min(hi, region) if region else hi)


def parse_log(lines: List[str], source: str) -> Dict[str, DeviceLog]:
    """The virtio_mem lines of a dmesg-format log, by device (the last boot's only).

    >>> logs = parse_log(["[ 1.0] virtio_mem virtio1: region size: 0x10000000",
    ...                   "[ 1.1] virtio_mem virtio1: plugged size: 0x0",
    ...                   "[ 1.1] virtio_mem virtio1: requested size: 0x10000000",
    ...                   "[ 9.0] virtio_mem virtio1: plugged size: 0x10000000",
    ...                   "[ 9.0] virtio_mem virtio1: requested size: 0x8000000"], "dmesg")
    >>> d = logs["virtio1"]; d.changes, d.max_plugged()
    ([(1.1, 0, 268435456), (9.0, 268435456, 134217728)], (268435456, 268435456))
    """
    out: Dict[str, DeviceLog] = {}
    for i, line in enumerate(lines, 1):
        if "Linux version" in line:
            out = {}   # a new boot: only the last one counts
            continue
        m = _LINE.match(line)
        if not m:
            continue
        ts, dev, key, value = m.group(1), m.group(2), m.group(3), int(m.group(4), 16)
        d = out.setdefault(dev, DeviceLog(dev))
        d.evidence.append(Evidence(source, line=i, text=line.strip()))
        t = float(ts) if ts else None
        if key == "plugged size":
            d.changes.append((t, value, None))
        elif key == "requested size" and d.changes and d.changes[-1][2] is None:
            d.changes[-1] = (d.changes[-1][0], d.changes[-1][1], value)
        else:
            d.values[key] = value
    return out


def _iomem(files: ReportFiles) -> Dict[str, Tuple[int, int]]:
    """Per device: (region bytes, bytes of added ``System RAM (virtio_mem)`` blocks)."""
    text = files.text(IOMEM) or ""
    out: Dict[str, Tuple[int, int]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^(\s*)([0-9a-f]+)-([0-9a-f]+) : (.*)$", line)
        if not m:
            continue
        size = int(m.group(3), 16) - int(m.group(2), 16) + 1
        name = m.group(4).strip()
        if re.fullmatch(r"virtio\d+", name):
            current = name
            out[name] = (size, 0)
        elif name == "System RAM (virtio_mem)" and current and m.group(1):
            out[current] = (out[current][0], out[current][1] + size)
        elif not m.group(1):
            current = None
    return out


def _movable_plugged(memory: MemoryFigures, added: int) -> Optional[int]:
    """Plugged bytes at collection when ZONE_MOVABLE is exactly the added blocks."""
    movable = [z for z in memory.zones if z.zone == "Movable"]
    page = memory.page_size or 4096
    if len(movable) != 1 or movable[0].present_pages is None or movable[0].managed_pages is None:
        return None
    if movable[0].present_pages * page != added:
        return None
    return movable[0].managed_pages * page


def _devices(files: ReportFiles) -> List[str]:
    return sorted({p.rsplit("/", 1)[1] for p in files.link_names(f"{DRIVER_DIR}/virtio*")})


def _set_size(b: Balloon, log: DeviceLog) -> None:
    """``inflated_bytes`` (taken back, exact or None), ``target_bytes`` and the bounds."""
    d = b.details
    d["config_changes"] = [list(c) for c in log.changes]
    if log.values.get("device block size"):
        d["device_block_bytes"] = log.values["device block size"]
    if not d.get("region_bytes") and log.values.get("region size"):
        d["region_bytes"] = log.values["region size"]
    if d.get("region_bytes"):
        log.values.setdefault("region size", d["region_bytes"])
    lo, hi = log.max_plugged()
    plugged = d.get("plugged_bytes")
    req = log.changes[-1][2] if log.changes else d.get("requested_bytes")
    if plugged is not None:
        lo, hi = max(lo, plugged), max(hi, plugged)
        d["taken_back_bounds"] = [lo - plugged, hi - plugged]
        b.inflated_bytes = lo - plugged if lo == hi else None
    elif log.changes:
        last = log.changes[-1]
        now = (last[1], last[2] if last[2] is not None else last[1])
        d["taken_back_bounds"] = [max(lo - max(now), 0), hi - min(now)]
        b.inflated_bytes = None
    b.target_bytes = (hi - req) if req is not None and hi >= req and log.changes else None
    b.evidence = [e for e in b.evidence if e.source in ("proc/zoneinfo", "proc/iomem", "vmcore")]
    b.evidence += log.evidence


def find_virtio_mem(files: ReportFiles, memory: MemoryFigures, boot: Optional[BootMemory],
                    modules: Set[str], warnings: List[str]) -> List[Balloon]:
    """A ``virtio_mem`` entry per device the report shows (driver link, or the module and
    iomem). Its size needs the kernel log: :func:`apply_log` fills it in."""
    iomem = _iomem(files)
    names = _devices(files)
    if not names and ("virtio_mem" in modules or files.glob("sys/module/virtio_mem/*")):
        names = sorted(iomem)
    balloons = []
    for name in names:
        region, added = iomem.get(name, (None, None))
        plugged = _movable_plugged(memory, added) if added and len(names) == 1 else None
        details: Dict = {"region_bytes": region, "added_block_bytes": added}
        evidence = []
        if region:
            evidence.append(Evidence(IOMEM, field=name, text=f"region {region} bytes, "
                                     f"System RAM (virtio_mem) {added} bytes"))
        if plugged is not None:
            details["plugged_bytes"] = plugged
            details["plugged_basis"] = "zoneinfo Movable managed (the zone is exactly the added blocks)"
            evidence.append(Evidence("proc/zoneinfo", field="Movable managed", text=str(plugged)))
        balloons.append(Balloon(
            driver=Driver.VIRTIO_MEM, device=name,
            accounting=Accounting.MEMTOTAL_REDUCED, accounting_basis=ACCOUNTING_BASIS,
            details=details, evidence=evidence))
    return balloons


def apply_log(analysis) -> None:
    """Fill the ``virtio_mem`` entries' sizes from the kernel log's signatures."""
    vms = [b for b in analysis.balloons if b.driver == Driver.VIRTIO_MEM]
    if not vms:
        return
    lines = [f"[{s.timestamp:.6f}] {s.message}" if s.timestamp is not None else s.message
             for s in analysis.signatures if s.kind.startswith("virtio_mem")]
    logs = parse_log(lines, "kernel log")
    sig = [s for s in analysis.signatures if s.kind.startswith("virtio_mem")]
    for b in vms:
        log = logs.get(b.device or "", DeviceLog(b.device or ""))
        for e in log.evidence:   # point at the log line, not at the list above
            e.source, e.line = sig[e.line - 1].evidence.source, sig[e.line - 1].evidence.line
        if log.changes or "plugged_bytes" in b.details:
            _set_size(b, log)


def bound_at_oom(ev, analysis, arith: List[str]) -> Optional[SizeBound]:
    """What virtio-mem had taken back at OOM ``ev``, from the report, as a bound (bytes).

    Plugged at the OOM: the report's ``Movable`` zone ``managed`` when its
    ``present`` equals the device's added blocks at collection; else the log's
    last config change before the OOM (between the printed plugged size and
    the request).
    """
    vms = [b for b in analysis.balloons if b.driver == Driver.VIRTIO_MEM]
    if not vms:
        return None
    lo_sum, hi_sum = 0, 0
    for b in vms:
        changes = [tuple(c) for c in b.details.get("config_changes", [])]
        t = getattr(ev, "monotonic", None)
        seen = [c for c in changes if t is None or c[0] is None or c[0] <= t]
        if not seen:
            arith.append(f"virtio_mem {b.device}: no config change logged before the OOM")
            return None
        log = DeviceLog(b.device, {"region size": b.details["region_bytes"]}
                        if b.details.get("region_bytes") else {}, seen)
        mx_lo, mx_hi = log.max_plugged()
        movable = [z for z in ev.zones if z.zone == "Movable"]
        added = b.details.get("added_block_bytes")
        if (len(vms) == 1 and len(movable) == 1 and added
                and movable[0].values_kb.get("present", -1) * 1024 == added
                and "managed" in movable[0].values_kb):
            plug_lo = plug_hi = movable[0].values_kb["managed"] * 1024
            arith.append(f"virtio_mem {b.device}: OOM report Movable present = the device's added "
                         f"blocks ({added >> 20} MiB): plugged at the OOM = Movable managed "
                         f"{plug_lo >> 10} kB")
        else:
            last = seen[-1]
            req = last[2] if last[2] is not None else last[1]
            plug_lo, plug_hi = min(last[1], req), max(last[1], req)
            arith.append(f"virtio_mem {b.device}: last config change before the OOM: plugged "
                         f"{last[1] >> 20} MiB, requested {req >> 20} MiB: plugged at the OOM "
                         "between them")
        mx_lo = max(mx_lo, plug_lo)
        lo, hi = max(mx_lo - plug_hi, 0), max(mx_hi - plug_lo, 0)
        arith.append(f"virtio_mem {b.device}: most plugged in this boot [{mx_lo >> 20}, "
                     f"{mx_hi >> 20}] MiB - plugged at the OOM = taken back [{lo >> 20}, "
                     f"{hi >> 20}] MiB")
        lo_sum, hi_sum = lo_sum + lo, hi_sum + hi
    return SizeBound(BOUND_BASIS, lo_sum, hi_sum)


def share(sources: List[SizeBound]) -> Tuple[int, int]:
    """(lower, upper) bytes of a size's sources that are virtio-mem's (:func:`bound_at_oom`):
    the part of a balloon size at an OOM that is unplugged memory, not a balloon's."""
    mine = [s for s in sources if s.basis == BOUND_BASIS]
    return sum(s.lower_bytes or 0 for s in mine), sum(s.upper_bytes or 0 for s in mine)


def vmcore_from_program(prog, log_lines: List[str]) -> List[Balloon]:
    """The entries of a drgn program (``[]`` without the module or its debug info)."""
    try:
        from balloon_drgn.virtio_mem import virtio_mems
        import drgn
        mods = [m for m in prog.modules() if isinstance(m, drgn.RelocatableModule)
                and m.name == "virtio_mem" and m.wants_debug_file()]
        if mods:
            try:
                prog.load_module_debug_info(*mods)   # standard locations
            except drgn.MissingDebugInfoError:
                pass
        states = virtio_mems(prog)
    except (ImportError, LookupError):
        return []
    return vmcore_balloons(states, log_lines)


def vmcore_balloons(states, log_lines: List[str]) -> List[Balloon]:
    """``virtio_mem`` entries from ``balloon_drgn.virtio_mem`` states and the vmcore's log."""
    logs = parse_log(log_lines, "vmcore kernel log")
    out = []
    for s in states:
        b = Balloon(
            driver=Driver.VIRTIO_MEM, device=s.device,
            accounting=Accounting.MEMTOTAL_REDUCED, accounting_basis=ACCOUNTING_BASIS,
            details={"region_bytes": s.region_size, "device_block_bytes": s.device_block_size,
                     "plugged_bytes": s.plugged_size, "requested_bytes": s.requested_size,
                     "plugged_basis": "vmcore struct virtio_mem.plugged_size", "mode": s.mode},
            evidence=[Evidence("vmcore", field="virtio_mem.plugged_size", text=str(s.plugged_size)),
                      Evidence("vmcore", field="virtio_mem.requested_size",
                               text=str(s.requested_size))])
        _set_size(b, logs.get(s.device, DeviceLog(s.device)))
        out.append(b)
    return out


#: The device links' attributes, the device region and its added memory blocks
#: (``/proc/iomem``), the memory blocks' state and zones.
_PATHS = (
    DRIVER_DIR + "/virtio*/features", DRIVER_DIR + "/virtio*/device", DRIVER_DIR + "/virtio*/status",
    "sys/module/virtio_mem/parameters/*", IOMEM,
    "sys/devices/system/memory/block_size_bytes", "sys/devices/system/memory/auto_online_blocks",
    "sys/devices/system/memory/memory*/state", "sys/devices/system/memory/memory*/valid_zones",
)


def from_report(ctx: ReportContext) -> List[Balloon]:
    """The registry's entry point: :func:`find_virtio_mem` on the report's context."""
    return find_virtio_mem(ctx.files, ctx.memory, ctx.boot, ctx.modules, ctx.warnings)


SPEC = DriverSpec(
    driver=Driver.VIRTIO_MEM,
    modules=("virtio_mem",),
    report_paths=_PATHS,
    live_paths=tuple("/" + p for p in _PATHS),
    hypervisor=None,
    host_hint="a virtio-mem device (QEMU/KVM, Cloud Hypervisor)",
    label="virtio-mem (virtio_mem)",
    # Unplugging takes memory with alloc_contig_range()/offline_pages(), which
    # fail rather than invoke the OOM killer: no allocation frame of its own.
    frames=(),
    signatures=(
        LogSignature("virtio_mem.plugged_size",
                     re.compile(r"virtio_mem virtio\d+: plugged size: 0x[0-9a-f]+"), b"virtio_mem"),
        LogSignature("virtio_mem.requested_size",
                     re.compile(r"virtio_mem virtio\d+: requested size: 0x[0-9a-f]+"), b"virtio_mem"),
    ),
    accounting=ACCOUNTING_BASIS,
    from_report=from_report,
    advice=("qemu", "virtio-mem requested-size",
            "raise the virtio-mem device's requested size (QEMU qom-set <device> requested-size; "
            "libvirt virsh update-memory-device --requested-size), or do not unplug below the "
            "guest's working set"),
)
