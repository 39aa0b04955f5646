# SPDX-License-Identifier: GPL-2.0-or-later
"""
Balloon snapshot
----------------

The ``balloon_drgn.snapshot`` module gathers every balloon driver's state,
the memory figures and the kernel log of one kernel into one
:class:`BalloonSnapshot`, noting which module debugging information is
missing instead of failing.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, TypeVar

from drgn import ModuleFileStatus, Program, RelocatableModule

from balloon_drgn.cmm import PseriesCmm, S390Cmm, pseries_cmm_state, s390_cmm_state
from balloon_drgn.hyperv import HvBalloon, hv_balloon_state
from balloon_drgn.kmsg import PanicInfo, kernel_log_lines, panic_info
from balloon_drgn.memory import MemoryState, memory_state
from balloon_drgn.virtio import VirtioBalloon, virtio_balloons
from balloon_drgn.vmware import VmwBalloon, vmw_balloon_state
from balloon_drgn.xen import XenBalloon, xen_balloon_state

__all__ = (
    "BALLOON_MODULES",
    "BalloonSnapshot",
    "MissingDebugInfo",
    "balloon_snapshot",
    "kernel_release",
    "missing_module_debuginfo",
    "snapshot_to_dict",
)

T = TypeVar("T")

#: Balloon kernel modules and their place under ``kernel/`` in
#: ``/lib/modules/<release>`` (and in the debug packages).
BALLOON_MODULES = {
    "virtio_balloon": "drivers/virtio/virtio_balloon.ko",
    "hv_balloon": "drivers/hv/hv_balloon.ko",
    "vmw_balloon": "drivers/misc/vmw_balloon.ko",
    "cmm": "arch/s390/mm/cmm.ko",
}


@dataclass
class MissingDebugInfo:
    """A loaded balloon module whose debugging information was not found."""

    module: str
    #: e.g. ``/usr/lib/debug/lib/modules/6.1.0-56-amd64/kernel/drivers/virtio/virtio_balloon.ko``
    expected_path: str


@dataclass
class BalloonSnapshot:
    """Everything the drgn helpers know about one kernel's balloons."""

    release: Optional[str]
    memory: MemoryState
    virtio: List[VirtioBalloon] = field(default_factory=list)
    hyperv: Optional[HvBalloon] = None
    vmware: Optional[VmwBalloon] = None
    xen: Optional[XenBalloon] = None
    s390_cmm: Optional[S390Cmm] = None
    pseries_cmm: Optional[PseriesCmm] = None
    panic: Optional[PanicInfo] = None
    #: Loaded balloon modules (by name), whether or not debuginfo was found.
    loaded_modules: List[str] = field(default_factory=list)
    missing_debuginfo: List[MissingDebugInfo] = field(default_factory=list)
    log_lines: List[str] = field(default_factory=list)


def kernel_release(prog: Program) -> Optional[str]:
    """``UTS_RELEASE`` (``init_uts_ns.name.release``), e.g. ``"6.1.0-56-amd64"``."""
    try:
        return prog["UTS_RELEASE"].string_().decode()
    except (KeyError, LookupError):
        pass
    try:
        return prog["init_uts_ns"].name.release.string_().decode()
    except (KeyError, LookupError):
        return None


def _loaded_balloon_modules(prog: Program) -> Dict[str, RelocatableModule]:
    found = {}
    for module in prog.modules():
        if isinstance(module, RelocatableModule) and module.name in BALLOON_MODULES:
            found[module.name] = module
    return found


def missing_module_debuginfo(prog: Program, release: Optional[str]) -> List[MissingDebugInfo]:
    """
    Loaded balloon modules that drgn has no debugging information for.

    Needs :meth:`drgn.Program.load_debug_info()` (or
    ``create_loaded_modules()``) to have run, so that modules are known.
    """
    missing = []
    for name, module in sorted(_loaded_balloon_modules(prog).items()):
        if module.debug_file_status == ModuleFileStatus.HAVE:
            continue
        rel = release or "<release>"
        missing.append(
            MissingDebugInfo(
                module=name,
                expected_path=f"/usr/lib/debug/lib/modules/{rel}/kernel/{BALLOON_MODULES[name]}",
            )
        )
    return missing


def _optional(fn: Callable[[Program], T], prog: Program) -> Optional[T]:
    # A balloon driver that is not in this kernel (or whose module has no
    # debugging information) shows up as a failed lookup.
    try:
        return fn(prog)
    except LookupError:
        return None


def balloon_snapshot(prog: Program, *, log: bool = True) -> BalloonSnapshot:
    """
    Read every balloon driver, the memory figures and (with *log*) the
    kernel log and panic reason.

    A driver whose types or objects cannot be found is ``None`` (or an empty
    list); :attr:`BalloonSnapshot.missing_debuginfo` says when that is
    because a loaded module's debugging information is missing.
    """
    release = kernel_release(prog)
    snap = BalloonSnapshot(release=release, memory=memory_state(prog))
    snap.loaded_modules = sorted(_loaded_balloon_modules(prog))
    snap.missing_debuginfo = missing_module_debuginfo(prog, release)
    snap.virtio = _optional(virtio_balloons, prog) or []
    snap.hyperv = _optional(hv_balloon_state, prog)
    snap.vmware = _optional(vmw_balloon_state, prog)
    snap.xen = _optional(xen_balloon_state, prog)
    snap.s390_cmm = _optional(s390_cmm_state, prog)
    snap.pseries_cmm = _optional(pseries_cmm_state, prog)
    if log:
        snap.log_lines = kernel_log_lines(prog)
        snap.panic = panic_info(prog, snap.log_lines)
    return snap


# Derived values worth having in the JSON output next to the fields.
_PROPERTIES = {
    VirtioBalloon: ("feature_names", "deflate_on_oom", "inflated_bytes"),
    VmwBalloon: ("capability_names", "inflated_bytes"),
    XenBalloon: ("ballooned_pages",),
    MemoryState: ("reserved_pages",),
}


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        for prop in _PROPERTIES.get(type(obj), ()):
            out[prop] = _jsonable(getattr(obj, prop))
        return out
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def snapshot_to_dict(snap: BalloonSnapshot, *, log: bool = False) -> Dict[str, Any]:
    """
    The snapshot as plain JSON values (with derived properties such as
    ``inflated_bytes``); the log lines only with *log*.
    """
    out = _jsonable(snap)
    if not log:
        out.pop("log_lines")
    return out
