# SPDX-License-Identifier: GPL-2.0-or-later
"""The timeline across boots: every boot, OOM event, balloon message and balloon size
the evidence shows, dated (ISO 8601 with offset) where the evidence allows, in order.

Entries with a date come first, oldest first; entries the evidence cannot date
follow, in log order, each saying why.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Iterable, List, Optional, Sequence

from .clock import event_time, iso, zone_of
from .model import Analysis, BootRecord, TimelineEntry
from .parsers.logline import split_prefix

__all__ = ["boots_from_logs", "build_timeline"]

#: Logs that only hold the boot the report was collected in.
_CURRENT_BOOT_LOGS = ("sos_commands/kernel/dmesg", "sos_commands/balloon/dmesg", "live:dmesg",
                      "vmcore:", "var/log/dmesg")
_ROTATED = re.compile(r"([.-]\d+)(\.(gz|xz|bz2))?$")


def boots_from_logs(logs: Iterable) -> List[BootRecord]:
    """One :class:`BootRecord` per boot ``Memory:`` line of each log (``LogScan`` objects).

    The last boot of a log that is not rotated (``messages-2024…``, ``syslog.1``) is the
    boot the report was collected in.
    """
    out: List[BootRecord] = []
    for scan in logs:
        n = len(scan.boot_memory)
        current_log = not _ROTATED.search(scan.source) and not scan.source.startswith(
            "var/crash/")
        for i, bm in enumerate(scan.boot_memory):
            ev = bm.evidence
            line = split_prefix(ev.text) if ev is not None and ev.text else None
            out.append(BootRecord(
                source=scan.source, line=ev.line if ev else None, index=i,
                monotonic=line.monotonic if line else None,
                wallclock=line.wallclock if line else None,
                current_boot=(i == n - 1) if current_log else False,
                evidence=ev))
    return out


def _signature_current(analysis: Analysis, source: str, line: Optional[int]) -> Optional[bool]:
    """Is a log line in the boot the report was collected in?"""
    if source.startswith(_CURRENT_BOOT_LOGS):
        return True
    if _ROTATED.search(source) or source.startswith("var/crash/"):
        return False
    boots = [b.line for b in analysis.boots if b.source == source and b.line is not None]
    if not boots or line is None:
        return None
    return line > max(boots)


def _entry(analysis: Analysis, kind: str, text: str, wallclock: Optional[str],
           monotonic: Optional[float], current: Optional[bool], collected: Optional[dt.datetime],
           **extra) -> TimelineEntry:
    t = event_time(analysis.clock, wallclock, monotonic, current, analysis.uptime_seconds)
    before = (round((collected - t.at).total_seconds(), 3)
              if t.at is not None and collected is not None else None)
    return TimelineEntry(kind=kind, at=iso(t.at) if t.at else None, at_basis=t.basis,
                         before_collection_seconds=before, monotonic=monotonic,
                         stamp=wallclock, text=text, **extra)


def build_timeline(analysis: Analysis) -> List[TimelineEntry]:
    """The timeline of a judged analysis (verdicts attached)."""
    clock = analysis.clock
    collected = dt.datetime.fromisoformat(clock.collected_at) if clock.collected_at else None
    entries: List[TimelineEntry] = []
    seen_boot_at = set()
    for b in analysis.boots:
        e = _entry(analysis, "boot", f"boot ({b.source}:{b.line})", b.wallclock, b.monotonic,
                   b.current_boot, collected, evidence=b.evidence)
        if e.at is None and b.current_boot and clock.booted_at:
            e.at, e.at_basis = clock.booted_at, "collection time - uptime"
            e.before_collection_seconds = analysis.uptime_seconds
        key = e.at[:16] if e.at else None  # the same boot in several logs: once
        if key is not None and key in seen_boot_at:
            continue
        if key is not None:
            seen_boot_at.add(key)
        entries.append(e)
    if not analysis.boots and clock.booted_at:
        entries.append(TimelineEntry(kind="boot", at=clock.booted_at,
                                     at_basis="collection time - uptime",
                                     before_collection_seconds=analysis.uptime_seconds,
                                     text="boot the report was collected in"))
    for i, (ev, v) in enumerate(zip(analysis.oom_events, analysis.verdicts), 1):
        victim = f", killed {ev.victim.comm} ({ev.victim.pid})" if ev.victim else ""
        entries.append(_entry(
            analysis, "oom", f"OOM #{i}: {ev.trigger_comm or '?'} invoked the OOM killer "
                             f"({ev.constraint or 'constraint unknown'}){victim}; {v.verdict}",
            ev.wallclock, ev.monotonic, ev.current_boot, collected, oom=i,
            evidence=ev.evidence[0] if ev.evidence else None))
        if v.balloon_bytes_at_oom is not None:
            bound = "at most " if v.balloon_upper_bound else ""
            entries.append(_entry(
                analysis, "balloon-size",
                f"balloon at OOM #{i}: {bound}{v.balloon_bytes_at_oom / 2**20:,.1f} MiB "
                f"({v.balloon_basis or 'basis unknown'})",
                ev.wallclock, ev.monotonic, ev.current_boot, collected, oom=i,
                balloon_bytes=v.balloon_bytes_at_oom))
    for s in analysis.signatures:
        current = _signature_current(analysis, s.evidence.source, s.evidence.line)
        line = split_prefix(s.evidence.text) if s.evidence.text else None
        entries.append(_entry(analysis, "signature", f"{s.kind}: {s.message}",
                              line.wallclock if line else None,
                              s.timestamp if s.timestamp is not None else
                              (line.monotonic if line else None),
                              current, collected, evidence=s.evidence))
    if clock.collected_at:
        for b in analysis.balloons:
            if b.inflated_bytes is None:
                continue
            entries.append(TimelineEntry(
                kind="balloon-size", at=clock.collected_at, at_basis="collection time",
                before_collection_seconds=0.0, balloon_bytes=b.inflated_bytes,
                text=f"{b.driver.value} {b.device or ''} holds "
                     f"{b.inflated_bytes / 2**20:,.1f} MiB at collection".replace("  ", " "),
                evidence=b.evidence[0] if b.evidence else None))
        entries.append(TimelineEntry(kind="collection", at=clock.collected_at,
                                     at_basis=clock.collected_basis,
                                     before_collection_seconds=0.0,
                                     text="report collected" if analysis.source.kind.value
                                     != "vmcore" else "vmcore taken"))
    return _ordered(entries, zone_of(clock))


_KIND_ORDER = {"boot": 0, "signature": 1, "oom": 2, "balloon-size": 3, "collection": 4}


def _ordered(entries: Sequence[TimelineEntry], zone: dt.tzinfo) -> List[TimelineEntry]:
    dated = [e for e in entries if e.at is not None]
    undated = [e for e in entries if e.at is None]
    dated.sort(key=lambda e: (dt.datetime.fromisoformat(e.at), _KIND_ORDER.get(e.kind, 9)))
    return dated + undated
