"""The one typed model every source (sosreport, live guest, vmcore) builds.

Readers and parsers produce these objects; :mod:`balloon_oom.verdict` judges
them; :mod:`balloon_oom.render` formats them.  Nothing here reads files or
prints.

Units are explicit in every field name: ``*_bytes``, ``*_kb`` (KiB, as the
kernel prints ``kB``), ``*_pages`` (the guest's ``PAGE_SIZE`` pages, 4 KiB on
every architecture that has a balloon driver we know) and ``*_frames``
(4 KiB units whatever ``PAGE_SIZE`` is: virtio ``num_pages``, vmmemctl).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

SCHEMA_VERSION = 2

#: Size of a "frame": virtio ``num_pages`` and vmmemctl count 4 KiB units.
FRAME_BYTES = 4096


class Driver(str, enum.Enum):
    """Balloon drivers, named as the kernel module (or feature) is."""

    VIRTIO = "virtio_balloon"
    HYPERV = "hv_balloon"
    VMWARE = "vmw_balloon"
    XEN = "xen_balloon"
    S390_CMM = "s390_cmm"
    PSERIES_CMM = "pseries_cmm"
    VIRTIO_MEM = "virtio_mem"


class Accounting(str, enum.Enum):
    """How ballooned memory shows up inside the guest.

    ``memtotal-reduced``: the driver calls ``adjust_managed_page_count(-1)``,
    so MemTotal, zone ``managed`` shrink and OOM reports show it in
    ``pages reserved``.  ``counted-as-used``: MemTotal is unchanged and the
    pages sit on no LRU, slab or free list ("unaccounted" in an OOM report).
    """

    MEMTOTAL_REDUCED = "memtotal-reduced"
    COUNTED_AS_USED = "counted-as-used"
    UNKNOWN = "unknown"


class SourceKind(str, enum.Enum):
    SOSREPORT = "sosreport"
    LIVE = "live"
    VMCORE = "vmcore"
    #: A plain kernel log file or standard input (dmesg, syslog, journal, console).
    LOG = "log"
    #: A kdump directory (``/var/crash/<ip>-<date>/``: vmcore-dmesg.txt, vmcore).
    KDUMP = "kdump"
    #: A SUSE supportconfig (directory or tarball of ``#==[`` section files).
    SUPPORTCONFIG = "supportconfig"
    #: An archive holding logs or reports (a ``.zip``, a case tarball).
    ARCHIVE = "archive"
    #: A directory holding report paths but no sosreport markers (``var/log/messages``).
    DIRECTORY = "directory"


class Verdict(str, enum.Enum):
    """An event's or a report's verdict (str-valued: JSON shows the value).

    The report's verdict is the strongest event verdict in this order:
    ``contributed`` > ``undetermined`` > ``no-log`` > ``not-contributed``;
    ``no-oom`` when a kernel log was read and holds no OOM, ``no-log`` when
    no kernel log was read at all.
    """

    CONTRIBUTED = "contributed"
    UNDETERMINED = "undetermined"
    NO_LOG = "no-log"
    NOT_CONTRIBUTED = "not-contributed"
    NO_OOM = "no-oom"

    def __str__(self) -> str:
        return self.value


class Confidence(str, enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    def __str__(self) -> str:
        return self.value


@dataclass
class Evidence:
    """Where a value came from: a file (report-relative) and line, or a field.

    >>> str(Evidence("proc/meminfo", line=1, text="MemTotal: 468416 kB"))
    'proc/meminfo:1: MemTotal: 468416 kB'
    >>> str(Evidence("vmcore", field="virtio_balloon.num_pages", text="65536"))
    'vmcore [virtio_balloon.num_pages]: 65536'
    """

    source: str
    line: Optional[int] = None
    field: Optional[str] = None
    text: Optional[str] = None

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f" [{self.field}]"
        if self.text is not None:
            where += f": {self.text}"
        return where


@dataclass
class Balloon:
    """One balloon device or driver instance, as one source saw it."""

    driver: Driver
    device: Optional[str] = None
    #: What the balloon holds now, in bytes (``None``: unknown).
    inflated_bytes: Optional[int] = None
    #: What the host asked for, in bytes, where the guest can see it.
    target_bytes: Optional[int] = None
    accounting: Accounting = Accounting.UNKNOWN
    #: One sentence: why this accounting mode (driver rule + evidence).
    accounting_basis: str = ""
    #: virtio only: VIRTIO_BALLOON_F_DEFLATE_ON_OOM negotiated.
    deflate_on_oom: Optional[bool] = None
    #: Negotiated feature names (virtio), capabilities (vmw/hv).
    features: List[str] = field(default_factory=list)
    #: Driver-specific values kept as printed (hv state, vmw counters, ...).
    details: Dict[str, Any] = field(default_factory=dict)
    evidence: List[Evidence] = field(default_factory=list)


@dataclass
class Zone:
    """A ``/proc/zoneinfo`` zone (pages)."""

    node: int
    zone: str
    present_pages: Optional[int] = None
    managed_pages: Optional[int] = None
    spanned_pages: Optional[int] = None
    free_pages: Optional[int] = None


@dataclass
class BootMemory:
    """The boot ``Memory: 448008K/523768K available (… 75500K reserved …)`` line."""

    available_kb: int
    total_kb: int
    #: None on kernels whose line has no ``reserved`` field.
    reserved_kb: Optional[int]
    evidence: Optional[Evidence] = None
    #: ``Freeing … memory: NK`` after the line (initrd, initmem, ...): these
    #: pages became managed later, so "pages reserved" at an OOM is lower.
    freed_later_kb: int = 0
    freed_evidence: List[Evidence] = field(default_factory=list)
    #: Index of the boot (``Linux version`` lines before it in its log) and
    #: the log it came from: an OOM is compared with its own boot's line only.
    boot: Optional[int] = None
    source: Optional[str] = None

    @property
    def baseline_reserved_kb(self) -> Optional[int]:
        """What an OOM report's ``pages reserved`` shows (in kB) with no balloon.

        Real 6.1 guest: boot ``64776K reserved``, ``Freeing …`` lines total
        9424K, empty-balloon OOM report ``13838 pages reserved`` = 55352K.
        """
        if self.reserved_kb is None:
            return None
        return self.reserved_kb - self.freed_later_kb


@dataclass
class MemoryFigures:
    """Guest memory at collection time (or crash time, for a vmcore)."""

    mem_total_kb: Optional[int] = None
    mem_free_kb: Optional[int] = None
    mem_available_kb: Optional[int] = None
    #: ``Balloon:`` line of /proc/meminfo (v6.15+, NR_BALLOON_PAGES).
    balloon_kb: Optional[int] = None
    balloon_inflate: Optional[int] = None
    balloon_deflate: Optional[int] = None
    balloon_migrate: Optional[int] = None
    nr_balloon_pages: Optional[int] = None
    page_size: int = 4096
    zones: List[Zone] = field(default_factory=list)
    boot: Optional[BootMemory] = None
    #: Every parsed meminfo/vmstat value is kept here too (name -> int).
    meminfo: Dict[str, int] = field(default_factory=dict)
    vmstat: Dict[str, int] = field(default_factory=dict)
    evidence: Dict[str, Evidence] = field(default_factory=dict)

    @property
    def balloon_events_net_pages(self) -> Optional[int]:
        """``balloon_inflate - balloon_deflate`` (pages; compaction users only)."""
        if self.balloon_inflate is None or self.balloon_deflate is None:
            return None
        return self.balloon_inflate - self.balloon_deflate


@dataclass
class Signature:
    """A balloon-related kernel message (``Out of puff!``, ``Balloon floor reached``)."""

    kind: str
    message: str
    evidence: Evidence
    timestamp: Optional[float] = None
    #: The boot of its log it was printed in (as :attr:`OomEvent.boot`), and
    #: whether that is the boot the report was collected in (as
    #: :attr:`OomEvent.current_boot`): what ties it to an event, not output.
    boot: Optional[int] = field(default=None, metadata={"json": False})
    current_boot: Optional[bool] = field(default=None, metadata={"json": False})


@dataclass
class Source:
    kind: SourceKind
    path: str
    #: The inputs analysed together as this one guest (``--same-guest``), else empty.
    parts: List["Source"] = field(default_factory=list)
    #: Which guest it is, when the source says: host name and the boot's id
    #: (``/proc/sys/kernel/random/boot_id``); fleet mode compares them.
    hostname: Optional[str] = None
    boot_id: Optional[str] = None


@dataclass
class KernelInfo:
    release: Optional[str] = None
    version: Optional[str] = None
    evidence: Optional[Evidence] = None


@dataclass
class HypervisorInfo:
    name: Optional[str] = None
    basis: Optional[str] = None
    evidence: Optional[Evidence] = None


@dataclass
class VmcoreInfo:
    """Facts only a vmcore gives."""

    panic_message: Optional[str] = None
    taken_at_oom: Optional[bool] = None
    debuginfo_missing: List[str] = field(default_factory=list)


@dataclass
class Disagreement:
    """Two sources give different balloon sizes."""

    what: str
    values: Dict[str, Optional[int]]
    note: str = ""


@dataclass
class BootRecord:
    """A boot a kernel log shows (its boot ``Memory:`` line)."""

    source: str
    line: Optional[int] = None
    #: Index of the boot in its log (0 = the first boot the log shows).
    index: int = 0
    monotonic: Optional[float] = None
    #: Wall-clock prefix as printed, if any.
    wallclock: Optional[str] = None
    #: True when this is the boot the report was collected in.
    current_boot: Optional[bool] = None
    evidence: Optional[Evidence] = None


@dataclass
class WallClock:
    """How this report's times map to the wall clock (see :mod:`balloon_oom.clock`)."""

    #: The zone times are shown in: an IANA name, ``UTC``, or ``UTC+01:00``.
    zone: str = "UTC"
    #: Why this zone (the file or command output that shows it), or the assumption.
    zone_basis: str = ""
    #: False when the evidence does not show the guest's zone (UTC is assumed).
    zone_known: bool = False
    #: When the report was made, ISO 8601 with offset (None: unknown).
    collected_at: Optional[str] = None
    collected_basis: Optional[str] = None
    #: When the current boot started (collection time - uptime), ISO 8601.
    booted_at: Optional[str] = None


@dataclass
class TimelineEntry:
    """One dated thing the evidence shows: a boot, an OOM, a balloon message or size."""

    #: ``boot`` | ``oom`` | ``signature`` | ``balloon-size`` | ``collection``
    kind: str
    #: ISO 8601 with offset; None when the evidence gives no date.
    at: Optional[str] = None
    #: How ``at`` was obtained (log stamp, collection time - uptime + monotonic, ...).
    at_basis: Optional[str] = None
    #: Seconds between this and the collection (positive: before it).
    before_collection_seconds: Optional[float] = None
    #: Seconds since boot as printed, if any.
    monotonic: Optional[float] = None
    #: The log's own time stamp as printed (e.g. a syslog stamp without a year).
    stamp: Optional[str] = None
    text: str = ""
    #: OOM events: the event's number (1-based, as in the events table).
    oom: Optional[int] = None
    balloon_bytes: Optional[int] = None
    evidence: Optional[Evidence] = None


@dataclass
class Recommendation:
    """What to change, named as the hypervisor names the setting, and why."""

    #: ``qemu`` | ``libvirt`` | ``proxmox`` | ``hyperv`` | ``vmware`` | ``xen`` | ``host`` |
    #: ``guest`` | ``collect``
    platform: str
    setting: str
    action: str
    #: The finding this follows from.
    finding: str


@dataclass
class Analysis:
    """Everything known about one guest; the JSON output is this, serialised."""

    source: Source
    kernel: KernelInfo = field(default_factory=KernelInfo)
    hypervisor: HypervisorInfo = field(default_factory=HypervisorInfo)
    collected_at: Optional[str] = None
    uptime_seconds: Optional[float] = None
    balloons: List[Balloon] = field(default_factory=list)
    memory: MemoryFigures = field(default_factory=MemoryFigures)
    signatures: List[Signature] = field(default_factory=list)
    oom_events: List[OomEvent] = field(default_factory=list)
    verdicts: List[EventVerdict] = field(default_factory=list)
    verdict: Optional[str] = None
    disagreements: List[Disagreement] = field(default_factory=list)
    vmcore: Optional[VmcoreInfo] = None
    warnings: List[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    #: Kernel logs read (report-relative paths): none means ``no-log``.
    kernel_logs: List[str] = field(default_factory=list)
    #: Boots the kernel logs show (for the timeline).
    boots: List[BootRecord] = field(default_factory=list)
    #: How times map to the wall clock: the zone, the collection time (ISO 8601).
    clock: WallClock = field(default_factory=WallClock)
    #: Boots, OOM events, balloon messages and sizes, in order, dated.
    timeline: List[TimelineEntry] = field(default_factory=list)
    #: The one-paragraph answer (what, when, balloon size, verdict and why, what to do).
    summary: Optional[str] = None
    recommendations: List[Recommendation] = field(default_factory=list)
    #: The guest's host name (``hostname`` output, ``etc/hostname``), if the source shows it.
    hostname: Optional[str] = None


def to_jsonable(obj: Any) -> Any:
    """Dataclasses/enums to plain JSON values (properties are not included)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.metadata.get("json", True)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj


# The OOM report's and the verdict's classes live in their own modules; every
# name stays importable from here.
from .model_oom import (OomEvent, OomNode, OomTask, OomVictim, OomZone,  # noqa: E402,F401
                        TaskSummary)
from .model_verdict import ButFor, EventVerdict, Materiality, SizeBound  # noqa: E402,F401
