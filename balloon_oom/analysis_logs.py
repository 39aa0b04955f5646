# SPDX-License-Identifier: GPL-2.0-or-later
"""Kernel logs -> the events of one guest: which boot each event (and balloon
message) was in, one copy of each event across logs, the current boot's
``Memory:`` line, and the boots and wall clock of the source.

Part of :mod:`balloon_oom.analysis` (which re-exports :func:`merge_events`).
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Sequence

from .model import Analysis, BootMemory, OomEvent, SourceKind
from .parsers.kernel_log import LogScan, event_key
from .readers import layout
from .readers.files import ReportFiles

__all__ = ["assign_boots", "current_boot_memory", "first_from_logs", "merge_events",
           "set_clock"]

#: Logs that hold only the boot the report was collected in, and the boot before it
#: (readers/layout.py's LogSpec boots).
_CURRENT_BOOT_LOGS = layout.CURRENT_BOOT_LOGS
_PAST_BOOT_LOGS = layout.PAST_BOOT_LOGS
#: messages-20240101, syslog.1, kern.log.2.gz: not the current file.
_ROTATED = re.compile(r"([.-]\d+)(\.(gz|xz|bz2))?$")


def assign_boots(scan: LogScan, last_boot_current: bool = False) -> None:
    """Was each event (and each balloon message) in the boot the report was collected in?

    ``last_boot_current``: the log is the source itself (a plain log, a kdump
    directory's dmesg): its last boot, or its only one when it shows no boot
    banner, is the boot it describes; events before that boot's banner are not.
    """
    src = scan.source
    for item in [*scan.events, *scan.signatures]:
        if last_boot_current:
            item.current_boot = (item.boot == scan.boots - 1 if item.boot is not None else False) \
                if scan.boots else True
        elif src.startswith(_CURRENT_BOOT_LOGS):
            item.current_boot = True
        elif src.startswith(_PAST_BOOT_LOGS):
            item.current_boot = False
        elif scan.boots and item.boot is not None and not _ROTATED.search(src):
            item.current_boot = item.boot == scan.boots - 1
        else:
            item.current_boot = None


def fill_from(kept: OomEvent, other: OomEvent) -> None:
    """What another copy of the same report knows that the kept one does not."""
    if kept.wallclock is None:
        kept.wallclock = other.wallclock
    if kept.monotonic is None:
        kept.monotonic = other.monotonic
    if kept.current_boot is None:
        kept.current_boot = other.current_boot
    if kept.boot_memory is None:
        kept.boot_memory = other.boot_memory
    kept.evidence.extend(other.evidence[:1])


def merge_events(logs: Sequence[LogScan],
                 last_boot_current: Iterable[str] = (),
                 boot_unknown: Iterable[str] = ()) -> List[OomEvent]:
    """All OOM events, each once: the copy from the best-ranked log wins, except
    that a whole report beats a kill line seen alone (console at a quiet level).

    ``last_boot_current``: sources (``LogScan.source``) whose last boot is the
    current one (see :func:`assign_boots`); ``boot_unknown``: sources whose
    boots cannot be placed (a plain log given beside a report of the same
    guest: it may be older), unless another copy of the event places it."""
    current = set(last_boot_current)
    unknown = set(boot_unknown)
    chosen: Dict[tuple, OomEvent] = {}
    order: List[tuple] = []
    for scan in sorted(logs, key=lambda r: layout.log_rank(r.source)):
        assign_boots(scan, scan.source in current)
        if scan.source in unknown:
            for item in [*scan.events, *scan.signatures]:
                item.current_boot = None
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
            fill_from(kept, other)
    events = [chosen[k] for k in order]
    events.sort(key=lambda e: (0 if e.current_boot is False else 1,
                               e.monotonic if e.monotonic is not None else float("inf")))
    return events


def current_boot_memory(logs: Sequence[LogScan]) -> Optional[BootMemory]:
    """The current boot's ``Memory:`` line (from the best log that has one)."""
    for scan in sorted(logs, key=lambda r: layout.log_rank(r.source)):
        if scan.source.startswith(_PAST_BOOT_LOGS) or _ROTATED.search(scan.source):
            continue
        if scan.boot_memory:
            last = scan.boot_memory[-1]
            # The last boot's own line only: a later boot whose line rotated
            # out must not borrow an earlier boot's.
            if last.boot == (scan.boots - 1 if scan.boots else None):
                return last
    return None


def first_from_logs(logs: Sequence[LogScan], attr: str):
    for scan in sorted(logs, key=lambda r: layout.log_rank(r.source)):
        value = getattr(scan, attr)
        if value:
            return value
    return None


def set_clock(analysis: Analysis, files: ReportFiles, logs: Sequence[LogScan],
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
