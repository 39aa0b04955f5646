"""Build the model from a source, then judge it: the one entry point.

``analyze(path)`` detects what ``path`` is (sosreport directory or tarball,
``/`` for the running guest, a vmcore), reads it in one pass, builds an
:class:`~balloon_oom.model.Analysis` and attaches the verdicts, which are a
pure function of that model (:mod:`balloon_oom.verdict`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

from . import host_facts
from .balloons import find_balloons
from .errors import InputError
from .memory import memory_figures
from .model import (Analysis, BootMemory, Disagreement, MemoryFigures, OomEvent,
                    Source, SourceKind, VmcoreInfo)
from .parsers.kernel_log import LogScan, event_key, scan_log, scan_stream
from .readers import layout
from .readers.files import ReportFiles
from .readers.members import (MAX_LINE_BYTES, Member, iter_directory, iter_tarball,
                              looks_like_tarball, read_capped)
from .answer import finish
from .verdict import Thresholds, judge


def _scan_stream(path: str, stream) -> LogScan:
    return scan_stream(stream, path, max_line=MAX_LINE_BYTES)


@dataclass
class Collected:
    """What one pass over a source gathered, before the model is built."""

    files: ReportFiles = field(default_factory=ReportFiles)
    logs: List[LogScan] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


def collect(members: Iterator[Member]) -> Collected:
    """One pass: small files read whole (capped), logs streamed through the scanner."""
    out = Collected()
    for member in members:
        if member.kind == "link":
            if member.link_target is not None:
                out.files.add_link(member.path, member.link_target)
            continue
        kind = layout.classify(member.path)
        if kind is None:
            continue
        if kind == "small":
            try:
                with member.open() as stream:
                    data, cut = read_capped(stream, layout.SMALL_FILE_CAP)
            except InputError:
                raise
            except OSError as exc:
                out.warnings.append(f"{member.path}: could not be read ({exc.strerror or exc})")
                continue
            if cut:
                out.warnings.append(f"{member.path}: larger than {layout.SMALL_FILE_CAP} bytes; "
                                    f"only the first {layout.SMALL_FILE_CAP} were read")
            out.files.add(member.path, data.decode("utf-8", "replace"))
        else:
            try:
                with member.open() as stream:
                    out.logs.append(_scan_stream(member.path,
                                                 _decompressed(member.path, stream)))
            except InputError:
                raise
            except (OSError, EOFError) as exc:
                out.warnings.append(f"{member.path}: could not be read ({exc})")
    return out


def _decompressed(path: str, stream):
    if path.endswith(".gz"):
        import gzip
        return gzip.GzipFile(fileobj=stream)
    if path.endswith(".xz"):
        import lzma
        return lzma.LZMAFile(stream)
    if path.endswith(".bz2"):
        import bz2
        return bz2.BZ2File(stream)
    return stream


# --- model building -------------------------------------------------------------------------

_CURRENT_BOOT_LOGS = ("sos_commands/kernel/dmesg", "sos_commands/balloon/dmesg", "live:dmesg",
                      "vmcore:")
_PAST_BOOT_LOGS = ("var/crash/",)
#: messages-20240101, syslog.1, kern.log.2.gz: not the current file.
_ROTATED = re.compile(r"([.-]\d+)(\.(gz|xz|bz2))?$")


def _assign_boots(scan: LogScan) -> None:
    """Was each event in the boot the report was collected in?"""
    src = scan.source
    for ev in scan.events:
        if src.startswith(_CURRENT_BOOT_LOGS):
            ev.current_boot = True
        elif src.startswith(_PAST_BOOT_LOGS):
            ev.current_boot = False
        elif scan.boots and ev.boot is not None and not _ROTATED.search(src):
            ev.current_boot = ev.boot == scan.boots - 1
        else:
            ev.current_boot = None


def _fill_from(kept: OomEvent, other: OomEvent) -> None:
    """What another copy of the same report knows that the kept one does not."""
    if kept.wallclock is None:
        kept.wallclock = other.wallclock
    if kept.monotonic is None:
        kept.monotonic = other.monotonic
    if kept.current_boot is None:
        kept.current_boot = other.current_boot
    kept.evidence.extend(other.evidence[:1])


def merge_events(logs: Sequence[LogScan]) -> List[OomEvent]:
    """All OOM events, each once: the copy from the best-ranked log wins, except
    that a whole report beats a kill line seen alone (console at a quiet level)."""
    chosen: Dict[tuple, OomEvent] = {}
    order: List[tuple] = []
    for scan in sorted(logs, key=lambda r: layout.log_rank(r.source)):
        _assign_boots(scan)
        for ev in scan.events:
            key = event_key(ev)
            if key not in chosen:
                chosen[key] = ev
                order.append(key)
                continue
            kept, other = chosen[key], ev
            if other.complete and not kept.complete:
                kept, other = other, kept
                chosen[key] = kept
            _fill_from(kept, other)
    events = [chosen[k] for k in order]
    events.sort(key=lambda e: (0 if e.current_boot is False else 1,
                               e.monotonic if e.monotonic is not None else float("inf")))
    return events


def _boot_memory(logs: Sequence[LogScan]) -> Optional[BootMemory]:
    """The current boot's ``Memory:`` line (from the best log that has one)."""
    for scan in sorted(logs, key=lambda r: layout.log_rank(r.source)):
        if scan.source.startswith(_PAST_BOOT_LOGS) or _ROTATED.search(scan.source):
            continue
        if scan.boot_memory:
            return scan.boot_memory[-1]
    return None


def _first_from_logs(logs: Sequence[LogScan], attr: str):
    for scan in sorted(logs, key=lambda r: layout.log_rank(r.source)):
        value = getattr(scan, attr)
        if value:
            return value
    return None


def _disagreements(analysis: Analysis) -> List[Disagreement]:
    out = []
    for b in analysis.balloons:
        alternatives = b.details.get("inflated_bytes_by_basis")
        if not isinstance(alternatives, dict):
            continue
        known = {k: v for k, v in alternatives.items() if v is not None}
        if len(set(known.values())) > 1:
            out.append(Disagreement(
                what=f"{b.driver.value}{' ' + b.device if b.device else ''} inflated bytes",
                values=dict(alternatives),
                note="sources disagree; the balloon may have changed between reads, or a "
                     "counter covers more than this driver (vmstat events count every "
                     "balloon_compaction user since boot)"))
    return out


def build(collected: Collected, source: Source,
          extra_log: Optional[LogScan] = None) -> Analysis:
    """The model from what one pass collected (no verdict yet)."""
    files = collected.files
    logs = list(collected.logs) + ([extra_log] if extra_log else [])
    warnings = list(collected.warnings)
    memory, mem_warnings = memory_figures(files)
    warnings += mem_warnings
    memory.boot = _boot_memory(logs)
    balloons, balloon_warnings = find_balloons(files, memory, memory.boot)
    warnings += balloon_warnings
    analysis = Analysis(source=source)
    analysis.memory = memory
    analysis.balloons = balloons
    analysis.kernel = host_facts.kernel_info(files, _first_from_logs(logs, "kernel_release"))
    analysis.hypervisor = host_facts.hypervisor_info(
        files, _first_from_logs(logs, "hypervisor"), balloons)
    analysis.collected_at, _ = host_facts.collection_time(files)
    analysis.uptime_seconds, _ = host_facts.uptime_seconds(files)
    analysis.oom_events = merge_events(logs)
    _set_clock(analysis, files, logs)
    for scan in logs:
        analysis.signatures.extend(scan.signatures)
    if not logs:
        warnings.append("no kernel log found (dmesg, journal, messages): OOM events cannot be "
                        "seen; collect with `sos report -o balloon` or include the kernel plugin")
    if source.kind == SourceKind.SOSREPORT and not balloons and not any(
            p.startswith(("sos_commands/balloon/", "sos_strings/balloon/")) for p in files.paths()):
        warnings.append("this report was made without the balloon sos plugin and holds no balloon "
                        "file: a balloon it did not collect cannot be seen; collect again with "
                        "`balloon-oom sos report -o balloon` (debugfs mounted)")
    analysis.disagreements = _disagreements(analysis)
    analysis.warnings = _dedupe(warnings)
    return analysis


#: Longest warning kept: a parser quotes the line it refused, and a hostile
#: file's line can be megabytes (8 MiB of NULs quoted as 32 MiB of ``\\x00``).
MAX_WARNING_CHARS = 500


def _dedupe(items: Iterable[str]) -> List[str]:
    """Warnings once each, in order, each cut to :data:`MAX_WARNING_CHARS`."""
    seen, out = set(), []
    for item in items:
        if len(item) > MAX_WARNING_CHARS:
            item = item[:MAX_WARNING_CHARS] + f"... ({len(item)} characters, cut)"
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


# --- sources ----------------------------------------------------------------------------------

def is_report_dir(path: Path) -> bool:
    markers = ("version.txt", "sos_commands", "sos_reports", "proc", "sys")
    return any((path / m).exists() for m in markers)


def read_sosreport(path: Path) -> Analysis:
    path = Path(path)
    if path.is_dir():
        if not is_report_dir(path):
            raise InputError(f"{path}: not a sosreport directory (no version.txt, sos_commands/, "
                             "proc/ or sys/)")
        collected = collect(iter_directory(path))
    else:
        collected = collect(iter_tarball(path))
        if not len(collected.files) and not collected.logs:
            raise InputError(f"{path}: archive holds no sosreport files")
    return build(collected, Source(SourceKind.SOSREPORT, str(path)))


def read_live(root: str = "/") -> Analysis:
    from .readers import live

    collected = collect(live.iter_live(root))
    log = scan_log(live.read_kernel_log(), "live:dmesg")
    if not live.debugfs_mounted(root):
        collected.files.add("sos_strings/balloon/debugfs.txt",
                            "not-mounted\n(live read: /sys/kernel/debug is not mounted)\n")
    analysis = build(collected, Source(SourceKind.LIVE, root), extra_log=log)
    if analysis.collected_at is None:
        analysis.collected_at = live.collection_time()
        _set_clock(analysis, collected.files, list(collected.logs) + [log])
    return analysis


#: What to install for a vmcore (drgn is an extra: the light install reads reports and logs).
VMCORE_EXTRA = "pip install 'balloon-oom[vmcore]'"


def read_vmcore_source(path: Path, debuginfo: Optional[List[str]]) -> Analysis:
    from .readers.vmcore import read_vmcore

    try:
        import drgn  # noqa: F401
    except ImportError:
        raise InputError(f"{path}: a vmcore; reading one needs drgn, which is not installed: "
                         f"{VMCORE_EXTRA}") from None

    snap = read_vmcore(str(path), debuginfo)
    log = scan_log(snap.log_lines, "vmcore:kernel log")
    analysis = Analysis(source=Source(SourceKind.VMCORE, str(path)))
    analysis.balloons = snap.balloons
    analysis.memory = snap.memory if isinstance(snap.memory, MemoryFigures) else MemoryFigures()
    analysis.memory.boot = _boot_memory([log])
    analysis.kernel = snap.kernel
    analysis.hypervisor = host_facts.hypervisor_info(ReportFiles(), log.hypervisor,
                                                     snap.balloons)
    analysis.vmcore = snap.vmcore if isinstance(snap.vmcore, VmcoreInfo) else VmcoreInfo()
    analysis.oom_events = merge_events([log])
    analysis.signatures = list(log.signatures)
    analysis.collected_at = getattr(snap, "crash_time", None)
    analysis.uptime_seconds = getattr(snap, "uptime_seconds", None)
    _set_clock(analysis, ReportFiles(), [log],
               fixed_utc="UTC: the vmcore's kernel real time; the guest's zone is not in a vmcore")
    analysis.warnings = _dedupe(list(snap.warnings))
    analysis.disagreements = _disagreements(analysis)
    return analysis


def analyze(path: str, debuginfo: Optional[List[str]] = None,
            thresholds: Optional[Thresholds] = None) -> Analysis:
    """Read ``path`` (report dir/tarball, ``/`` for live, vmcore) and judge it."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file or directory")
    if os.path.realpath(path) == "/":
        analysis = read_live("/")
    elif p.is_file() and _is_vmcore(p):
        analysis = read_vmcore_source(p, debuginfo)
    elif p.is_dir() or looks_like_tarball(p):
        analysis = read_sosreport(p)
    else:
        raise InputError(f"{path}: neither a sosreport (directory or tarball) nor a vmcore")
    return finish(judge(analysis, thresholds or Thresholds()))


def _set_clock(analysis: Analysis, files: ReportFiles, logs: Sequence[LogScan],
               fixed_utc: Optional[str] = None) -> None:
    """The boots the logs show and the wall clock (zone, collection time) of a source."""
    from . import clock
    from .timeline import boots_from_logs

    analysis.boots = boots_from_logs(logs)
    if analysis.source.kind == SourceKind.LIVE:
        zone, basis, name = clock.local_zone()
    elif fixed_utc:
        zone, basis, name = None, fixed_utc, None
    else:
        zone, basis, name = clock.guest_zone(files)
    analysis.clock = clock.make_clock(analysis.collected_at, analysis.uptime_seconds, zone,
                                      basis, name, fixed_utc_basis=fixed_utc,
                                      raw_uptime_read=clock.uptime_read_at(files))
    if analysis.source.kind == SourceKind.LIVE:
        import socket
        analysis.hostname = socket.gethostname() or None
    else:
        analysis.hostname = clock.report_hostname(files)
    if analysis.clock.collected_at:  # one format everywhere: ISO 8601 with offset
        analysis.collected_at = analysis.clock.collected_at


def _is_vmcore(path: Path) -> bool:
    try:
        from .readers.vmcore import is_vmcore
    except ImportError:
        return False
    return is_vmcore(str(path))

