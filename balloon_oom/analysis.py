"""Build the model from sources, then judge it: the one entry point.

``analyze(path)`` detects what ``path`` is by content (sosreport, supportconfig,
kdump directory, archive, kernel log, ``-`` for standard input, ``/`` for the
running guest, a vmcore: :mod:`balloon_oom.readers.inputs`), reads it in one
pass into a :class:`~balloon_oom.readers.collected.Collected`, and
:func:`build` makes one :class:`~balloon_oom.model.Analysis` from any number
of those (``analyze_many``: several sources of one guest).  The verdicts
attached are a pure function of that model (:mod:`balloon_oom.verdict`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

from . import host_facts
from .balloons import find_balloons
from .drivers.virtio_mem import apply_log as apply_virtio_mem_log
from .errors import InputError
from .memory import memory_figures
from .analysis_logs import (current_boot_memory, first_from_logs, merge_events,
                            set_clock)
from .model import Analysis, Disagreement, MemoryFigures, Source, SourceKind, VmcoreInfo
from .parsers.kernel_log import LogScan, scan_log
from .readers.collected import Collected, collect
from .readers.files import ReportFiles
from .readers.members import iter_directory, iter_tarball
from .sosrun import COLLECT_INSTRUCTION
from .answer import finish
from .verdict import Thresholds, judge

__all__ = ["Collected", "analyze", "analyze_many", "build", "collect", "merge_events"]


# --- model building -------------------------------------------------------------------------

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


def _as_list(collected: Union[Collected, Sequence[Collected]]) -> List[Collected]:
    return [collected] if isinstance(collected, Collected) else list(collected)


def _primary(parts: List[Collected]) -> Collected:
    """The source whose figures describe the guest at the OOM best: a vmcore
    (taken at the crash), else the first given."""
    for part in parts:
        if part.vmcore is not None:
            return part
    for part in parts:
        if len(part.files):
            return part
    return parts[0]


def _balloon_key(b) -> tuple:
    return (b.driver, b.device or "")


def _reconcile(groups: List[tuple]) -> tuple:
    """One balloon list from several sources' lists, and where they differ.

    ``groups``: ``(source label, balloons)``, best source first.  A balloon
    (driver, device) is taken from the first source that has it; the sizes
    every source gives are compared."""
    chosen: Dict[tuple, object] = {}
    sizes: Dict[tuple, Dict[str, Optional[int]]] = {}
    order: List[tuple] = []
    for label, balloons in groups:
        for b in balloons:
            key = _balloon_key(b)
            if key not in chosen:
                chosen[key] = b
                order.append(key)
            sizes.setdefault(key, {})[label] = b.inflated_bytes
    out = []
    for key in order:
        known = {k: v for k, v in sizes[key].items() if v is not None}
        if len(known) > 1 and len(set(known.values())) > 1:
            b = chosen[key]
            out.append(Disagreement(
                what=f"{key[0].value}{' ' + key[1] if key[1] else ''} inflated bytes "
                     "(between sources)",
                values=dict(sizes[key]),
                note="the sources were read at different times (a vmcore at the crash, a "
                     "report at collection); the balloon may have changed in between"))
    return [chosen[k] for k in order], out


def build(collected: Union[Collected, Sequence[Collected]], source: Optional[Source] = None,
          extra_log: Optional[LogScan] = None) -> Analysis:
    """The model (no verdict yet) from what one or several sources of one guest collected.

    Every source kind arrives as a :class:`Collected`; the balloons and memory
    figures come from the best source (a vmcore first), the OOM events from
    every log of every source, each once (:func:`merge_events`), and balloon
    sizes that differ between sources become disagreements."""
    parts = _as_list(collected)
    if not parts:
        raise InputError("nothing to analyse")
    primary = _primary(parts)
    logs = [scan for part in parts for scan in part.logs] + ([extra_log] if extra_log else [])
    current = set(primary.last_boot_current)
    warnings = [w for part in parts for w in part.warnings]
    files = primary.files
    snap = primary.vmcore
    analysis = Analysis(source=source or primary.source or Source(SourceKind.SOSREPORT, "?"))
    if len(parts) > 1:
        analysis.source = Source(analysis.source.kind, analysis.source.path,
                                 parts=[Source(p.source.kind, p.source.path)
                                        for p in parts if p.source is not None])

    if snap is not None:
        memory = snap.memory if isinstance(snap.memory, MemoryFigures) else MemoryFigures()
        warnings = list(snap.warnings) + warnings
        balloons = list(snap.balloons)
        boot_logs = [scan for scan in primary.logs]
    else:
        memory, mem_warnings = memory_figures(files)
        warnings += mem_warnings
        balloons = None
        boot_logs = logs
    memory.boot = current_boot_memory(boot_logs)
    groups = []
    for part in [primary] + [p for p in parts if p is not primary]:
        label = part.source.path if part.source else "?"
        if part.vmcore is not None:
            groups.append((f"{label} (vmcore)", list(part.vmcore.balloons)))
        elif len(part.files):
            if part is primary:
                found, balloon_warnings = find_balloons(files, memory, memory.boot)
                warnings += balloon_warnings
            else:
                pmem, _ = memory_figures(part.files)
                found, _ = find_balloons(part.files, pmem, current_boot_memory(part.logs))
            groups.append((label, found))
    balloons, between = _reconcile(groups) if groups else (balloons or [], [])
    analysis.memory = memory
    analysis.balloons = balloons
    release = first_from_logs(logs, "kernel_release")
    if snap is not None and snap.kernel.release:
        analysis.kernel = snap.kernel
    else:
        all_files = [files] + [p.files for p in parts if p is not primary]
        for f in all_files:
            analysis.kernel = host_facts.kernel_info(f, release)
            if analysis.kernel.release:
                break
    analysis.hypervisor = host_facts.hypervisor_info(
        files, first_from_logs(logs, "hypervisor"), balloons)
    if snap is not None:
        analysis.vmcore = snap.vmcore if isinstance(snap.vmcore, VmcoreInfo) else VmcoreInfo()
        analysis.collected_at = getattr(snap, "crash_time", None)
        analysis.uptime_seconds = getattr(snap, "uptime_seconds", None)
    else:
        analysis.collected_at, _ = host_facts.collection_time(files)
        analysis.uptime_seconds, _ = host_facts.uptime_seconds(files)
        if analysis.collected_at is None and analysis.source.kind == SourceKind.LIVE:
            from .readers import live
            analysis.collected_at = live.collection_time()
    foreign = {src for part in parts if part is not primary for src in part.last_boot_current}
    analysis.oom_events = merge_events(logs, current, foreign)
    analysis.kernel_logs = [scan.source for scan in logs if scan.lines]
    if snap is not None:
        set_clock(analysis, ReportFiles(), logs, fixed_utc="UTC: the vmcore's kernel real time; "
                   "the guest's zone is not in a vmcore")
    else:
        set_clock(analysis, files, logs)
    for scan in logs:
        analysis.signatures.extend(scan.signatures)
    apply_virtio_mem_log(analysis)  # virtio-mem sizes need the log (drivers/virtio_mem.py)
    if not logs:
        warnings.append("no kernel log found (dmesg, journal, messages): OOM events cannot be "
                        f"seen; collect with {COLLECT_INSTRUCTION}")
    if analysis.source.kind == SourceKind.SOSREPORT and not balloons and not any(
            p.startswith(("sos_commands/balloon/", "sos_strings/balloon/")) for p in files.paths()):
        warnings.append("this report was made without the balloon sos plugin and holds no balloon "
                        "file: a balloon it did not collect cannot be seen; collect again with "
                        f"{COLLECT_INSTRUCTION} (debugfs mounted)")
    if analysis.source.kind in (SourceKind.LOG, SourceKind.ARCHIVE, SourceKind.DIRECTORY,
                                SourceKind.KDUMP) and not balloons and snap is None:
        warnings.append("only a kernel log: the balloon's size can come only from what the OOM "
                        f"reports print; a sosreport ({COLLECT_INSTRUCTION}) or the "
                        "vmcore of the same guest, given with --same-guest, adds the balloon's "
                        "state")
    analysis.source.hostname, analysis.source.boot_id = guest_identity(files)
    analysis.disagreements = _disagreements(analysis) + between
    analysis.warnings = _dedupe(warnings)
    return analysis


_HOSTNAME_FILES = ("sos_commands/host/hostname", "hostname", "proc/sys/kernel/hostname",
                   "etc/hostname")
_BOOT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def guest_identity(files: ReportFiles) -> tuple:
    """``(hostname, boot_id)`` of a report, each None when it does not say.

    >>> f = ReportFiles(); f.add("etc/hostname", "guest1\\n")
    >>> f.add("proc/sys/kernel/random/boot_id", "0d3c1f0e-9a57-4c39-a3c4-2c1c5c3e5b8e\\n")
    >>> guest_identity(f)
    ('guest1', '0d3c1f0e-9a57-4c39-a3c4-2c1c5c3e5b8e')
    """
    hostname = None
    for path in _HOSTNAME_FILES:
        text = (files.text(path) or "").strip()
        if text and len(text.split()) == 1 and len(text) <= 253:
            hostname = text
            break
    boot_id = (files.text("proc/sys/kernel/random/boot_id") or "").strip().lower()
    return hostname, (boot_id if _BOOT_ID.match(boot_id) else None)


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
    """A directory that is one guest's evidence (sosreport, supportconfig, kdump
    directory, a tree holding ``var/log/messages``…), not a directory of reports."""
    from .readers.inputs import dir_kind

    return dir_kind(Path(path)) is not None


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


def collect_live(root: str = "/") -> Collected:
    """The running guest: its files and its kernel log, as one :class:`Collected`."""
    from .readers import live

    collected = collect(live.iter_live(root))
    collected.source = Source(SourceKind.LIVE, root)
    collected.logs.append(scan_log(live.read_kernel_log(), "live:dmesg"))
    if not live.debugfs_mounted(root):
        collected.files.add("sos_strings/balloon/debugfs.txt",
                            "not-mounted\n(live read: /sys/kernel/debug is not mounted)\n")
    return collected


def read_live(root: str = "/") -> Analysis:
    return build(collect_live(root))


def read_vmcore_source(path: Path, debuginfo: Optional[List[str]]) -> Analysis:
    from .readers.inputs import collect_vmcore

    return build(collect_vmcore(str(path), debuginfo))


def collect_input(path: str, debuginfo: Optional[List[str]] = None, stdin=None) -> Collected:
    """Any one input (``-`` is standard input, ``/`` the running guest)."""
    from .readers.inputs import collect_path, collect_stdin

    if path == "-":
        import sys
        if stdin is None and sys.stdin is not None and sys.stdin.isatty():
            raise InputError("-: standard input is a terminal; pipe a log or an archive into it "
                             "(e.g. journalctl -k | balloon-oom analyze -)")
        return collect_stdin(stdin if stdin is not None else sys.stdin.buffer)
    if not os.path.lexists(path):
        raise InputError(f"{path}: no such file or directory")
    if os.path.realpath(path) == "/":
        return collect_live("/")
    return collect_path(path, debuginfo)


def analyze(path: str, debuginfo: Optional[List[str]] = None,
            thresholds: Optional[Thresholds] = None) -> Analysis:
    """Read ``path`` (any input :mod:`~balloon_oom.readers.inputs` knows) and judge it."""
    return analyze_many([path], debuginfo, thresholds)


def analyze_many(paths: Sequence[str], debuginfo: Optional[List[str]] = None,
                 thresholds: Optional[Thresholds] = None, stdin=None) -> Analysis:
    """Several inputs of ONE guest (``--same-guest``) analysed as one, and judged."""
    parts = [collect_input(p, debuginfo, stdin) for p in paths]
    return finish(judge(build(parts), thresholds or Thresholds()))
