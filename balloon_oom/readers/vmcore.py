# SPDX-License-Identifier: GPL-2.0-or-later
"""Read a vmcore with drgn into the typed model.

>>> snap = read_vmcore("inflated.elf", ["/usr/lib/debug"])   # doctest: +SKIP
>>> snap.balloons[0].inflated_bytes, snap.balloons[0].accounting.value  # doctest: +SKIP
(268435456, 'memtotal-reduced')

The drgn side is :mod:`balloon_drgn` (``drgn_scripts/balloon_drgn``); this
module only opens the dump, loads debugging information and turns the
helpers' values into :mod:`balloon_oom.model` objects.  A balloon module
whose debugging information is missing is the normal case: the balloon is
then estimated from ``vmlinux`` alone (the balloon vm events) and the
warnings say which file is missing and which package has it.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from ..drivers import DEBUGINFO_MODULES, balloons_from_vmcore
from ..drivers.virtio_mem import vmcore_from_program
from ..errors import DebuginfoError, InputError
from ..model import (
    Accounting,
    Balloon,
    Driver,
    Evidence,
    KernelInfo,
    MemoryFigures,
    VmcoreInfo,
    Zone,
)

if TYPE_CHECKING:  # pragma: no cover
    import drgn

__all__ = ["VmcoreSnapshot", "is_vmcore", "read_vmcore"]

_ELF_MAGIC = b"\x7fELF"
_ET_CORE = 4
_KDUMP_MAGIC = b"KDUMP   "
_FLATTENED_MAGIC = b"makedumpfile"

#: Balloon modules whose missing debugging information matters.
_MODULE_DRIVER = DEBUGINFO_MODULES


@dataclass
class VmcoreSnapshot:
    """What one vmcore says, as model objects (see :func:`read_vmcore`)."""

    balloons: List[Balloon] = field(default_factory=list)
    memory: MemoryFigures = field(default_factory=MemoryFigures)
    kernel: KernelInfo = field(default_factory=KernelInfo)
    #: The kernel log in dmesg format (``[%5lu.%06lu] message``).
    log_lines: List[str] = field(default_factory=list)
    vmcore: VmcoreInfo = field(default_factory=VmcoreInfo)
    warnings: List[str] = field(default_factory=list)
    #: Wall-clock time of the dump (UTC, ISO 8601), from the timekeeper.
    crash_time: Optional[str] = None
    #: Seconds since boot at the dump (boottime clock).
    uptime_seconds: Optional[float] = None


def is_vmcore(path: str) -> bool:
    """Whether *path* starts like a kernel dump.

    ELF core (``\\x7fELF`` with ``e_type == ET_CORE``), kdump-compressed
    (``KDUMP   ``) or makedumpfile's flattened format (``makedumpfile``).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    if head.startswith(_ELF_MAGIC) and len(head) >= 18:
        little = head[5] == 1
        e_type = int.from_bytes(head[16:18], "little" if little else "big")
        return e_type == _ET_CORE
    return head.startswith(_KDUMP_MAGIC) or head.startswith(_FLATTENED_MAGIC)


def _import_balloon_drgn():
    try:
        import balloon_drgn.snapshot  # noqa: F401
    except ImportError:
        # Running from a checkout: the package lives in drgn_scripts/.
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        sys.path.insert(0, os.path.join(here, "drgn_scripts"))
        import balloon_drgn.snapshot  # noqa: F401
    return balloon_drgn


def _split_debuginfo(paths: List[str]) -> Tuple[List[str], List[str], Dict[str, str]]:
    """Explicit files, vmlinux files found in directories, and ``.ko`` by module name."""
    files: List[str] = []
    vmlinuxes: List[str] = []
    kos: Dict[str, str] = {}
    for path in paths:
        if os.path.isdir(path):
            for root, _dirs, names in os.walk(path):
                for name in names:
                    full = os.path.join(root, name)
                    if name.startswith("vmlinux"):
                        vmlinuxes.append(full)
                    elif name.endswith((".ko", ".ko.debug")):
                        kos.setdefault(name.split(".ko")[0].replace("-", "_"), full)
        elif os.path.exists(path):
            files.append(path)
        else:
            raise InputError(f"{path}: debuginfo path does not exist")
    return files, vmlinuxes, kos


def _load_debuginfo(prog: "drgn.Program", path: str, debuginfo: Optional[List[str]]) -> None:
    import drgn

    if debuginfo:
        files, vmlinuxes, kos = _split_debuginfo(debuginfo)
        try:
            prog.load_debug_info(files + vmlinuxes, main=True)
        except drgn.MissingDebugInfoError:
            pass
    else:
        files, kos = [], {}
        try:
            prog.load_debug_info(None, main=True)
        except drgn.MissingDebugInfoError:
            pass
    main = prog.main_module()
    if main is None or main.debug_file_status != drgn.ModuleFileStatus.HAVE:
        build_id = main.build_id.hex() if main is not None and main.build_id else "unknown"
        where = ", ".join(debuginfo) if debuginfo else "the standard locations"
        raise DebuginfoError(
            f"{path}: no vmlinux debuginfo matching this vmcore (build ID {build_id}) in {where}"
        )
    prog.create_loaded_modules()
    wanted = [
        kos[m.name]
        for m in prog.modules()
        if isinstance(m, drgn.RelocatableModule) and m.name in kos and m.wants_debug_file()
    ]
    try:
        if debuginfo:
            prog.load_debug_info(files + wanted, default=False)
        balloon_modules = [
            m
            for m in prog.modules()
            if isinstance(m, drgn.RelocatableModule)
            and m.name in _MODULE_DRIVER
            and m.wants_debug_file()
        ]
        if balloon_modules:
            # Standard locations (/usr/lib/debug, build IDs) for what is left.
            prog.load_module_debug_info(*balloon_modules)
    except drgn.MissingDebugInfoError:
        pass


def _package_hint(release: Optional[str]) -> str:
    rel = release or "<release>"
    return (
        f"Debian/Ubuntu: linux-image-{rel}-dbg (Ubuntu: linux-image-unsigned-{rel}-dbgsym); "
        f"RHEL/Fedora: kernel-debuginfo-{rel}"
    )


def _kb(pages: Optional[int], page_size: int) -> Optional[int]:
    return None if pages is None else pages * page_size // 1024


def _memory(mem) -> MemoryFigures:
    ps = mem.page_size
    ev = mem.vm_events
    figures = MemoryFigures(
        mem_total_kb=_kb(mem.totalram_pages, ps),
        mem_free_kb=_kb(mem.free_pages, ps),
        balloon_kb=_kb(mem.nr_balloon_pages, ps),
        balloon_inflate=ev.get("BALLOON_INFLATE"),
        balloon_deflate=ev.get("BALLOON_DEFLATE"),
        balloon_migrate=ev.get("BALLOON_MIGRATE"),
        nr_balloon_pages=mem.nr_balloon_pages,
        page_size=ps,
        zones=[
            Zone(
                node=z.node,
                zone=z.name,
                present_pages=z.present_pages,
                managed_pages=z.managed_pages,
                spanned_pages=z.spanned_pages,
                free_pages=z.free_pages,
            )
            for z in mem.zones
        ],
    )
    figures.meminfo["MemTotal"] = figures.mem_total_kb
    if figures.mem_free_kb is not None:
        figures.meminfo["MemFree"] = figures.mem_free_kb
    if figures.balloon_kb is not None:
        figures.meminfo["Balloon"] = figures.balloon_kb
    for name, value in ev.items():
        figures.vmstat[name.lower()] = value
    if mem.nr_balloon_pages is not None:
        figures.vmstat["nr_balloon_pages"] = mem.nr_balloon_pages
    figures.evidence["mem_total_kb"] = Evidence(
        "vmcore", field="_totalram_pages", text=str(mem.totalram_pages)
    )
    for name, value in ev.items():
        figures.evidence[name.lower()] = Evidence(
            "vmcore", field=f"vm_event_states.event[{name}]", text=str(value)
        )
    return figures


def _fallback_balloon(driver: Driver, module: str, mem) -> Balloon:
    """A balloon estimated from vmlinux alone (module debuginfo missing)."""
    ev = mem.vm_events
    details = {"inflated_basis": "vm events", "confidence": "low"}
    evidence = []
    inflated = None
    if driver in (Driver.VIRTIO, Driver.VMWARE) and "BALLOON_INFLATE" in ev:
        net = ev["BALLOON_INFLATE"] - ev.get("BALLOON_DEFLATE", 0)
        inflated = max(net, 0) * mem.page_size
        details["balloon_inflate"] = ev["BALLOON_INFLATE"]
        details["balloon_deflate"] = ev.get("BALLOON_DEFLATE", 0)
        evidence.append(Evidence("vmcore", field="vm_event_states.event[BALLOON_INFLATE]",
                                 text=str(ev["BALLOON_INFLATE"])))
        evidence.append(Evidence("vmcore", field="vm_event_states.event[BALLOON_DEFLATE]",
                                 text=str(ev.get("BALLOON_DEFLATE", 0))))
    if mem.nr_balloon_pages is not None:
        details["nr_balloon_pages"] = mem.nr_balloon_pages
        evidence.append(Evidence("vmcore", field="vm_node_stat[NR_BALLOON_PAGES]",
                                 text=str(mem.nr_balloon_pages)))
        if inflated is None:
            inflated = mem.nr_balloon_pages * mem.page_size
    details["reserved_pages"] = mem.reserved_pages
    accounting = Accounting.COUNTED_AS_USED if driver == Driver.VMWARE else Accounting.UNKNOWN
    basis = (
        "vmw_balloon never calls adjust_managed_page_count()"
        if driver == Driver.VMWARE
        else f"without {module}.ko debuginfo the negotiated features cannot be read"
    )
    return Balloon(driver=driver, inflated_bytes=inflated, accounting=accounting,
                   accounting_basis=basis, details=details, evidence=evidence)


def _balloons(snap, missing_modules: List[str]) -> List[Balloon]:
    mem = snap.memory
    balloons = balloons_from_vmcore(snap)
    have = {b.driver for b in balloons}
    for module in missing_modules:
        driver = _MODULE_DRIVER[module]
        if driver not in have:
            balloons.append(_fallback_balloon(driver, module, mem))
    return balloons


def _clock(prog: "drgn.Program") -> Tuple[Optional[str], Optional[float]]:
    from drgn.helpers.linux.timekeeping import (
        ktime_get_coarse_boottime_ns,
        ktime_get_coarse_real_ns,
    )

    try:
        real = ktime_get_coarse_real_ns(prog).value_()
        boot = ktime_get_coarse_boottime_ns(prog).value_()
    except (LookupError, AttributeError):
        return None, None
    when = datetime.datetime.fromtimestamp(real / 1e9, tz=datetime.timezone.utc)
    return when.isoformat(timespec="seconds"), round(boot / 1e9, 3)


class _DrgnLog(logging.Handler):
    """Collects what drgn logs (e.g. "missing debugging symbols for …") while we
    read a vmcore, so it becomes a warning in the model instead of stray
    lines on stderr."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = " ".join(record.getMessage().split())
        if text and text not in self.messages:
            self.messages.append(text)

    def __enter__(self) -> "_DrgnLog":
        logger = logging.getLogger("drgn")
        self._saved = (logger.propagate, list(logger.handlers))
        logger.handlers = [self]
        logger.propagate = False
        return self

    def __exit__(self, *exc) -> None:
        logger = logging.getLogger("drgn")
        logger.propagate, logger.handlers = self._saved


def read_vmcore(path: str, debuginfo: Optional[List[str]] = None) -> VmcoreSnapshot:
    """Open *path* with drgn and read balloons, memory, kernel log and panic
    (drgn's own log messages become warnings; see :func:`_read_vmcore`)."""
    with _DrgnLog() as log:
        result = _read_vmcore(path, debuginfo)
    result.warnings.extend(f"drgn: {m}" for m in log.messages)
    return result


def _read_vmcore(path: str, debuginfo: Optional[List[str]] = None) -> VmcoreSnapshot:
    """Open *path* with drgn and read balloons, memory, kernel log and panic.

    :param debuginfo: files (``vmlinux``, ``.ko``) or directories holding
        them; ``None`` for drgn's standard search (``/usr/lib/debug``, build
        IDs, ``/boot``, ``/lib/modules``).
    :raises InputError: not a readable vmcore (or a truncated one).
    :raises DebuginfoError: no ``vmlinux`` debugging information matches it.
    """
    import drgn

    balloon_drgn = _import_balloon_drgn()
    from balloon_drgn.snapshot import balloon_snapshot

    if not is_vmcore(path):
        raise InputError(f"{path}: not a vmcore (no ELF core, kdump or makedumpfile header)")
    prog = drgn.Program()
    try:
        prog.set_core_dump(path)
    except Exception as e:  # noqa: BLE001 - libkdumpfile errors are plain Exception
        hint = ""
        with open(path, "rb") as f:
            if f.read(len(_FLATTENED_MAGIC)) == _FLATTENED_MAGIC:
                hint = (" (makedumpfile flattened format: reassemble it with "
                        "'makedumpfile -R NEWFILE < FILE'; QEMU's kdump header may also "
                        "lack the architecture name)")
        raise InputError(f"{path}: cannot open as a vmcore: {e}{hint}") from e
    try:
        _load_debuginfo(prog, path, debuginfo)
        snap = balloon_snapshot(prog)
        crash_time, uptime = _clock(prog)
    except drgn.FaultError as e:
        raise InputError(
            f"{path}: vmcore is truncated or does not match its debuginfo ({e})"
        ) from e
    del balloon_drgn

    release = snap.release
    missing = [m.module for m in snap.missing_debuginfo]
    warnings = []
    for m in snap.missing_debuginfo:
        warnings.append(
            f"{m.module}.ko debuginfo is missing (expected {m.expected_path}; "
            f"{_package_hint(release)}); balloon estimated from vmlinux vm events"
        )
    result = VmcoreSnapshot(
        balloons=_balloons(snap, missing),
        memory=_memory(snap.memory),
        kernel=KernelInfo(
            release=release,
            evidence=Evidence("vmcore", field="init_uts_ns.name.release", text=release),
        ),
        log_lines=snap.log_lines,
        vmcore=VmcoreInfo(
            panic_message=snap.panic.message if snap.panic else None,
            taken_at_oom=snap.panic.taken_at_oom if snap.panic else None,
            debuginfo_missing=[m.expected_path for m in snap.missing_debuginfo],
        ),
        warnings=warnings,
        crash_time=crash_time,
        uptime_seconds=uptime,
    )
    result.balloons += vmcore_from_program(prog, snap.log_lines)  # needs the log lines too
    return result
