"""Report files -> one :class:`~balloon_oom.model.Balloon` per driver instance.

Each balloon gets a size in bytes, the host's target where the guest can see
it, and an accounting mode decided per driver **and** from evidence in the
report, with the one-sentence reason in ``accounting_basis``:

========================  ==================  ==========================================
driver                    accounting          rule (kernel source)
========================  ==================  ==========================================
virtio, no DEFLATE_ON_OOM memtotal-reduced    ``adjust_managed_page_count(page, -1)``
                                              in ``fill_balloon()`` (v4.3, 997e120843e8)
virtio, DEFLATE_ON_OOM    counted-as-used     the same call is skipped
vmw_balloon               counted-as-used     never adjusts managed pages
hv_balloon (v5.11+)       memtotal-reduced    "hv_balloon: do adjust_managed_page_count()
                                              when ballooning/un-ballooning"
xen balloon               memtotal-reduced    ``decrease_reservation()`` adjusts managed pages
s390 CMM                  counted-as-used     no managed-page adjustment
pseries CMM               memtotal-reduced    ``totalram_pages_dec()``, later
                                              ``adjust_managed_page_count()``
========================  ==================  ==========================================

The virtio inflated size has no sysfs file; the candidates, in order of
preference, are Virtuozzo's debugfs file, ``Balloon:`` in /proc/meminfo
(v6.15+), ``nr_balloon_pages`` (v6.15+) and ``balloon_inflate -
balloon_deflate`` (since boot).  Every candidate that has a value goes into
``details["inflated_bytes_by_basis"]`` and the chosen one into
``details["inflated_basis"]``.

debugfs: our sos plugin writes ``sos_strings/balloon/debugfs.txt``; a first
line ``not-mounted`` means vmmemctl, hv-balloon and Virtuozzo's
virtio-balloon could not be read.  We warn only when that loses something:
a VMware or Hyper-V balloon is suspected (module loaded, module parameters
present, DMI vendor, or a balloon built without its debugfs file), or a virtio
balloon's accounting stayed unknown.  A KVM guest whose ``features`` file
answered everything gets no warning.
"""

from __future__ import annotations

import posixpath
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Set, Tuple

from .model import FRAME_BYTES, Accounting, Balloon, BootMemory, Driver, Evidence, MemoryFigures
from .parsers import parse_or_warn
from .parsers.cmm import parse_cmm_timeout, parse_cmm_value
from .parsers.hv_balloon import parse_hv_balloon
from .parsers.virtio_debugfs import parse_virtio_debugfs
from .parsers.virtio_features import parse_device_features, parse_features
from .parsers.vmmemctl import capability_names, parse_vmmemctl
from .parsers.vmware_toolbox import parse_stat_balloon, parse_stat_raw_text
from .parsers.xen import parse_proc_xen_balloon, parse_xen_value
from .readers.files import FileText, ReportFiles
from .virtio_mem import find_virtio_mem

__all__ = ["find_balloons", "memtotal_gap_kb"]


VIRTIO_DRIVER_DIR = "sys/bus/virtio/drivers/virtio_balloon"
VIRTIO_ID_BALLOON = "0x0005"
VZ_VIRTIO_DEBUGFS = "sys/kernel/debug/virtio-balloon"
VMMEMCTL_PATHS = ("sys/kernel/debug/vmmemctl", "proc/vmmemctl")
HV_DEBUGFS = "sys/kernel/debug/hv-balloon"
XEN_DIR = "sys/devices/system/xen_memory/xen_memory0"
XEN_PROC = "proc/xen/balloon"
S390_CMM = ("proc/sys/vm/cmm_pages", "proc/sys/vm/cmm_timed_pages")
S390_TIMEOUT = "proc/sys/vm/cmm_timeout"
PSERIES_DIR = "sys/devices/system/cmm/cmm0"
#: Our plugin's copy first, then sos's vmware plugin's.
TOOLBOX_RESOURCES = ("sos_commands/balloon/vmware-toolbox-cmd_stat_raw_text_resources",
                     "sos_commands/vmware/vmware-toolbox-cmd_stat_raw_text_resources")
TOOLBOX_BALLOON = ("sos_commands/balloon/vmware-toolbox-cmd_stat_balloon",
                   "sos_commands/vmware/vmware-toolbox-cmd_stat_balloon")
DEBUGFS_MARKER = "sos_strings/balloon/debugfs.txt"
MODULE_LISTS = ("proc/modules", "sos_commands/kernel/lsmod")
DMI_VENDOR = "sys/class/dmi/id/sys_vendor"

#: Basis names used as keys of ``details["inflated_bytes_by_basis"]``.
B_VZ_DEBUGFS = "virtio-balloon debugfs"
B_MEMINFO = "meminfo Balloon"
B_NR_BALLOON = "vmstat nr_balloon_pages"
B_EVENTS = "vmstat balloon_inflate - balloon_deflate"

#: pseries CMM, the one answer (builder, vmcore reader, README): loaned pages always
#: leave totalram, so MemTotal shrinks; zone managed (and an OOM report's ``pages
#: reserved``) shrinks too only since David Hildenbrand's 2019 cmm series (Linux kernel
#: commit fe030c9b85e6 ("powerpc/pseries/cmm: Implement balloon compaction") and the
#: adjust_managed_page_count() patch before it); the verdict checks MemTotal against the
#: zones' managed pages instead of trusting a version.
PSERIES_ACCOUNTING_BASIS = (
    "pseries CMM (arch/powerpc/platforms/pseries/cmm.c) takes loaned pages out of totalram, so "
    "MemTotal shrinks (memtotal-reduced); kernels before the 2019 balloon-compaction series "
    "leave zone managed alone, so pages reserved does not show them there"
)

#: Below this, a MemTotal gap is noise (freed init memory rounding, ...): 4 MiB.
_GAP_NOISE_KB = 4096


# --- small helpers ----------------------------------------------------------------------------


def _first(files: ReportFiles, paths: Tuple[str, ...]) -> Optional[FileText]:
    """The first of ``paths`` the report has."""
    for path in paths:
        found = files.get(path)
        if found is not None:
            return found
    return None


def _modules(files: ReportFiles) -> Set[str]:
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


def _module_present(files: ReportFiles, modules: Set[str], name: str) -> bool:
    return name in modules or bool(files.glob(f"sys/module/{name}/*"))


def _dmi_vendor(files: ReportFiles) -> str:
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


def _gap_sentence(memory: MemoryFigures, boot: BootMemory, gap: int) -> str:
    return (
        f"MemTotal {memory.mem_total_kb} kB is {gap} kB below the unballooned figure "
        f"{boot.total_kb - boot.baseline_reserved_kb} kB (boot Memory: {boot.total_kb}K total - "
        f"{boot.reserved_kb}K reserved + {boot.freed_later_kb}K freed later)"
    )


def _gap_tolerance_kb(inflated_kb: int) -> int:
    return max(_GAP_NOISE_KB, inflated_kb // 20)


def _accounting_from_gap(
    memory: MemoryFigures, boot: Optional[BootMemory], inflated_bytes: Optional[int]
) -> Optional[Tuple[Accounting, str]]:
    """Decide the mode from MemTotal when the balloon's size is known and non-zero."""
    gap = memtotal_gap_kb(memory, boot)
    if gap is None or boot is None or not inflated_bytes:
        return None
    inflated_kb = inflated_bytes // 1024
    tol = _gap_tolerance_kb(inflated_kb)
    if abs(gap - inflated_kb) <= tol:
        return Accounting.MEMTOTAL_REDUCED, (
            f"{_gap_sentence(memory, boot, gap)}, which matches the {inflated_kb} kB balloon"
        )
    if abs(gap) <= tol:
        return Accounting.COUNTED_AS_USED, (
            f"{_gap_sentence(memory, boot, gap)}: MemTotal still includes the {inflated_kb} kB balloon"
        )
    return None


def _counters(memory: MemoryFigures) -> "OrderedDict[str, Optional[int]]":
    """Global balloon counters, in bytes, by basis (None when not in the report)."""
    out: "OrderedDict[str, Optional[int]]" = OrderedDict()
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


def _choose(alternatives: "OrderedDict[str, Optional[int]]") -> Tuple[Optional[int], Optional[str]]:
    for basis, value in alternatives.items():
        if value is not None:
            return value, basis
    return None, None


def _set_size(balloon: Balloon, alternatives: "OrderedDict[str, Optional[int]]", memory: MemoryFigures) -> None:
    known = OrderedDict((k, v) for k, v in alternatives.items() if v is not None)
    balloon.details["inflated_bytes_by_basis"] = dict(known)
    value, basis = _choose(known)
    balloon.inflated_bytes = value
    balloon.details["inflated_basis"] = basis
    if basis is not None:
        balloon.evidence.extend(_counter_evidence(memory, basis))


# --- virtio -------------------------------------------------------------------------------------

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
        alternatives.update(_counters(memory))
    else:
        b.details["inflated_note"] = (
            f"{n_devices} virtio balloon devices: the global counters cannot be split between them"
        )
    _set_size(b, alternatives, memory)
    if b.details.get("inflated_basis") == B_VZ_DEBUGFS and vz is not None:
        b.evidence.extend(v for k, v in vz.evidence.items() if k.startswith("inflated"))
    if b.details.get("inflated_basis") == B_EVENTS:
        b.details["inflated_note"] = "balloon_inflate - balloon_deflate counts since boot, in guest pages"

    # Accounting.
    rule_off = "virtio_balloon calls adjust_managed_page_count(-1) per page without DEFLATE_ON_OOM (since v4.3, 997e120843e8)"
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
    decided = _accounting_from_gap(memory, boot, b.inflated_bytes)
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


def _find_virtio(files, memory, boot, warnings) -> List[Balloon]:
    devices = _virtio_devices(files)
    return [_virtio_balloon(n, d, files, memory, boot, len(devices), warnings) for n, d in devices.items()]


# --- VMware -------------------------------------------------------------------------------------


def _find_vmware(files, memory, modules, warnings) -> List[Balloon]:
    parsed = []
    for path in VMMEMCTL_PATHS:
        v = parse_or_warn(files.get(path), parse_vmmemctl, warnings)
        if v is not None:
            parsed.append((path, v))
    raw = parse_or_warn(_first(files, TOOLBOX_RESOURCES), parse_stat_raw_text, warnings)
    stat_balloon = parse_or_warn(_first(files, TOOLBOX_BALLOON), parse_stat_balloon, warnings)
    loaded = _module_present(files, modules, "vmw_balloon")
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
            net = _counters(memory)[B_EVENTS]
            if net is not None:
                alternatives[B_EVENTS] = net
        where = f"{v.evidence['current_frames'].source}:{v.evidence['current_frames'].line}" if "current_frames" in v.evidence else path
        b.accounting_basis = f"{rule} ({where} read)"
    else:
        net = _counters(memory)[B_EVENTS]
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
    _set_size(b, alternatives, memory)
    return [b]


# --- Hyper-V ------------------------------------------------------------------------------------


def _find_hyperv(files, memory, boot, modules, warnings) -> List[Balloon]:
    found = files.get(HV_DEBUGFS)
    hv = parse_or_warn(found, parse_hv_balloon, warnings)
    loaded = _module_present(files, modules, "hv_balloon")
    if hv is None and not loaded:
        return []
    b = Balloon(driver=Driver.HYPERV)
    b.details["target"] = "not visible inside the guest (the host sends balloon requests, not a target)"
    alternatives: "OrderedDict[str, Optional[int]]" = OrderedDict()
    counters = _counters(memory)
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
            if counters[basis] is not None:
                alternatives[basis] = counters[basis]
        _set_size(b, alternatives, memory)
        b.accounting = Accounting.MEMTOTAL_REDUCED
        b.accounting_basis = (
            f"{found.path} exists, and that debugfs file is only in v6.0+ kernels (d180e0a1be6c), "
            "which have the v5.11 change making hv_balloon call adjust_managed_page_count(-1)"
        )
        return [b]

    # Driver loaded, no debugfs file: find evidence for the accounting mode.
    b.device = None
    if counters[B_MEMINFO] is not None:
        alternatives[B_MEMINFO] = counters[B_MEMINFO]
        _set_size(b, alternatives, memory)
        b.accounting = Accounting.MEMTOTAL_REDUCED
        ev = memory.evidence.get("balloon_kb")
        b.accounting_basis = (
            f"no hv-balloon debugfs file, but {ev.source if ev else 'proc/meminfo'} has a Balloon: row (v6.15+), "
            "a kernel with the v5.11 adjust_managed_page_count change"
        )
        return [b]
    _set_size(b, alternatives, memory)
    gap = memtotal_gap_kb(memory, boot)
    if gap is not None and boot is not None:
        b.details["memtotal_gap_kb"] = gap
        if gap > _GAP_NOISE_KB:
            b.accounting = Accounting.MEMTOTAL_REDUCED
            b.accounting_basis = (
                f"no hv-balloon debugfs file; {_gap_sentence(memory, boot, gap)}: pages were taken out of "
                "MemTotal, as hv_balloon does since v5.11"
            )
            return [b]
    b.accounting = Accounting.UNKNOWN
    b.accounting_basis = (
        "no hv-balloon debugfs file (v6.0+, needs debugfs mounted) and MemTotal shows no removed pages: "
        "either the balloon is empty or the kernel predates v5.11 (ballooned pages counted as used)"
    )
    return [b]


# --- Xen, s390, pseries -------------------------------------------------------------------------


_XEN_FILES = (
    "target_kb", "target", "info/current_kb", "info/low_kb", "info/high_kb",
    "schedule_delay", "max_schedule_delay", "retry_count", "max_retry_count", "scrub_pages",
)


def _find_xen(files, memory, warnings) -> List[Balloon]:
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
    counters = _counters(memory)
    if counters[B_MEMINFO] is not None:
        alternatives[B_MEMINFO] = counters[B_MEMINFO]
    b.details["caveat"] = (
        "at boot balloon_add_regions() puts never-populated extra PFNs into the balloon, so low_kb + high_kb "
        "can be non-zero without any host request"
    )
    _set_size(b, alternatives, memory)
    if guest_target_kb is not None and current_kb is not None and b.inflated_bytes is not None:
        b.target_bytes = max(b.inflated_bytes + (current_kb - guest_target_kb) * 1024, 0)
        b.details["target_basis"] = ("balloon now + (info/current_kb - target_kb) = "
                                     f"{b.inflated_bytes} + ({current_kb} - {guest_target_kb}) x 1024")
    b.accounting = Accounting.MEMTOTAL_REDUCED
    b.accounting_basis = (
        "the Xen balloon's decrease_reservation() calls adjust_managed_page_count(-1) for every page it gives back"
    )
    return [b]


def _find_s390(files, memory, warnings) -> List[Balloon]:
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
    b.accounting_basis = "s390 CMM (arch/s390/mm/cmm.c) never adjusts managed pages, so its pages count as used"
    return [b]


def _find_pseries(files, memory, warnings) -> List[Balloon]:
    vals = {}
    for leaf in ("loaned_kb", "loaned_target_kb", "oom_freed_kb"):
        v = parse_or_warn(files.get(f"{PSERIES_DIR}/{leaf}"), parse_cmm_value, warnings)
        if v is not None:
            vals[leaf] = v
    if not vals:
        return []
    b = Balloon(driver=Driver.PSERIES_CMM, device="cmm0")
    alternatives: "OrderedDict[str, Optional[int]]" = OrderedDict()
    if "loaned_kb" in vals:
        alternatives["cmm0 loaned_kb"] = vals["loaned_kb"].value * 1024
        b.evidence.append(vals["loaned_kb"].evidence)
    counters = _counters(memory)
    for basis in (B_MEMINFO, B_NR_BALLOON):
        if counters[basis] is not None:
            alternatives[basis] = counters[basis]
    if "loaned_target_kb" in vals:
        b.target_bytes = vals["loaned_target_kb"].value * 1024
        b.evidence.append(vals["loaned_target_kb"].evidence)
    if "oom_freed_kb" in vals:
        b.details["oom_freed_kb"] = vals["oom_freed_kb"].value
    _set_size(b, alternatives, memory)
    b.accounting = Accounting.MEMTOTAL_REDUCED
    b.accounting_basis = PSERIES_ACCOUNTING_BASIS
    return [b]


# --- the builder --------------------------------------------------------------------------------


def _virtio_from_counters(files, memory, boot, modules, others: List[Balloon]) -> Optional[Balloon]:
    """A virtio_balloon known only from the module list or the global counters."""
    if any(b.driver in (Driver.VMWARE, Driver.PSERIES_CMM) for b in others):
        return None
    counters = _counters(memory)
    loaded = _module_present(files, modules, "virtio_balloon")
    net = counters[B_EVENTS]
    if not loaded and not net:
        return None
    b = _virtio_balloon(None, None, files, memory, boot, 1, [])
    if any(o.driver in (Driver.HYPERV, Driver.XEN) for o in others):
        # Balloon:/nr_balloon_pages also count hv and xen pages: only the events are virtio's.
        alt = OrderedDict((k, v) for k, v in b.details["inflated_bytes_by_basis"].items() if k == B_EVENTS)
        b.evidence = []
        _set_size(b, alt, memory)
    b.details["reason"] = (
        "virtio_balloon is in the module list but no virtio device files are in the report"
        if loaded
        else "balloon_inflate - balloon_deflate is non-zero and no other balloon_compaction driver (vmw, pseries "
        "CMM) was found, but no virtio device files are in the report"
    )
    return b


def _debugfs_warning(files: ReportFiles, modules: Set[str], balloons: List[Balloon]) -> Optional[str]:
    marker = files.text(DEBUGFS_MARKER)
    if marker is None or not marker.strip() or marker.strip().splitlines()[0].strip() != "not-mounted":
        return None
    vendor = _dmi_vendor(files)
    reasons = []
    if _module_present(files, modules, "vmw_balloon") or "VMware" in vendor:
        reasons.append("a VMware balloon (vmmemctl)")
    if _module_present(files, modules, "hv_balloon") or "Microsoft" in vendor:
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
    warnings: List[str] = []
    modules = _modules(files)
    balloons: List[Balloon] = []
    balloons += _find_virtio(files, memory, boot, warnings)
    others: List[Balloon] = []
    others += _find_vmware(files, memory, modules, warnings)
    others += _find_hyperv(files, memory, boot, modules, warnings)
    others += _find_xen(files, memory, warnings)
    others += _find_s390(files, memory, warnings)
    others += _find_pseries(files, memory, warnings)
    if not balloons:
        extra = _virtio_from_counters(files, memory, boot, modules, others)
        if extra is not None:
            balloons.append(extra)
            warnings.append(f"virtio balloon inferred without device files: {extra.details['reason']}")
    balloons += others
    balloons += find_virtio_mem(files, memory, boot, modules, warnings)  # virtio-mem
    msg = _debugfs_warning(files, modules, balloons)
    if msg:
        warnings.append(msg)
    return balloons, warnings
