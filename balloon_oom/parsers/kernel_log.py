"""One pass over a kernel log: OOM events, boot facts, balloon signatures.

Any of the log shapes :mod:`balloon_oom.parsers.logline` knows (dmesg,
``dmesg -T``, syslog, journal, vmcore-dmesg, a serial console) is read line
by line, in constant memory per event whatever the log's size; so are
``journalctl -o json`` / ``-o export`` (:mod:`balloon_oom.parsers.journal`)
and text a paste damaged: rsyslog ``#012`` joins are split, indentation and
``> `` quoting dropped, quoted-printable soft breaks and hard wraps rejoined
(:mod:`balloon_oom.parsers.rejoin`).  :func:`looks_like_kernel_log` tells a
kernel log from other text.

>>> scan = scan_log([
...     "[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP",
...     "[    0.087751] Memory: 260860K/523768K available (14343K kernel code, 64776K reserved, 0K cma-reserved)",
...     "[    8.352026] hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
...     "[    8.355603] Out of memory: Killed process 112 (hog) total-vm:174712kB, anon-rss:173388kB, file-rss:4kB, shmem-rss:648kB, UID:0 pgtables:376kB oom_score_adj:0",
... ], "sos_commands/kernel/dmesg")
>>> scan.boots, scan.boot_memory[0].reserved_kb, scan.events[0].victim.pid, scan.events[0].line
(1, 64776, 112, 3)
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple, Union

from balloon_oom.model import BootMemory, Evidence, OomEvent, OomVictim, Signature
from balloon_oom.parsers.boot_lines import EVIDENCE_CHARS as _EVIDENCE_CHARS
from balloon_oom.parsers.boot_lines import MAX_SIGNATURES_PER_KIND, BootLines
from balloon_oom.parsers.journal import ExportRecord, json_record
from balloon_oom.parsers.kernel_log_detect import looks_like_kernel_log
from balloon_oom.parsers.logkinds import ALWAYS_NEEDLES, BOOT_NEEDLES, BOOT_WINDOW, parse_boot_memory
from balloon_oom.parsers.logline import LogLine, decode_line, split_prefix
from balloon_oom.parsers.oom import OomReportBuilder, is_invoked, parse_invoked, parse_kill, parse_panic
from balloon_oom.parsers.oom import parse_reaper, parse_selected
from balloon_oom.parsers.rejoin import could_continue, join_continuation, qp_decode

__all__ = [
    "ALWAYS_NEEDLES",
    "BOOT_NEEDLES",
    "BOOT_WINDOW",
    "MAX_SIGNATURES_PER_KIND",
    "KernelLogScanner",
    "LogScan",
    "event_key",
    "looks_like_kernel_log",
    "parse_boot_memory",
    "scan_log",
    "scan_stream",
]

#: Killed processes remembered for late ``oom_reaper`` lines.
_RECENT_VICTIMS = 64
#: Lines a report without its head (opened by a ``Kill process … or
#: sacrifice child`` or panic line) may run before it is closed as cut.
_HEADLESS_LINES = 64
_ALWAYS_TEXT = tuple(n.decode() for n in ALWAYS_NEEDLES)


@dataclass
class LogScan:
    """What one kernel log file says (see :func:`scan_log`)."""

    source: str
    events: List[OomEvent] = field(default_factory=list)
    boot_memory: List[BootMemory] = field(default_factory=list)
    hypervisor: Optional[Tuple[str, Evidence]] = None
    kernel_release: Optional[Tuple[str, Evidence]] = None
    signatures: List[Signature] = field(default_factory=list)
    #: Every signature seen, by kind (``signatures`` keeps the first 100 of each).
    signature_counts: Dict[str, int] = field(default_factory=dict)
    boots: int = 0
    lines: int = 0


class KernelLogScanner(BootLines):
    """Feed lines one at a time; :meth:`close` gives the :class:`LogScan`."""

    def __init__(self, source: str) -> None:
        self.scan = LogScan(source=source)
        self._report: Optional[OomReportBuilder] = None
        self._victims: "OrderedDict[int, OomVictim]" = OrderedDict()
        self._last_event: Optional[OomEvent] = None
        self._group_event: Optional[OomEvent] = None
        self._pending: Optional[Tuple[LogLine, str, int]] = None
        self._qp: Optional[Tuple[str, int]] = None
        self._export: Optional[ExportRecord] = None
        self._export_line = 0
        self._boot_id: Optional[str] = None
        self._report_lines = 0
        self._init_boot_lines()

    # -- helpers ---------------------------------------------------------
    def _new_event(self, lineno: int, monotonic, wallclock) -> OomEvent:
        return OomEvent(
            source=self.scan.source,
            line=lineno,
            monotonic=monotonic,
            wallclock=wallclock,
            boot=self.scan.boots - 1 if self.scan.boots else None,
            boot_memory=self._boot_memory,
            boot_id=self._boot_id,
        )

    def _end_report(self, complete: bool) -> None:
        if self._report is None:
            return
        ev = self._report.finish(complete)
        self._report = None
        self._remember(ev)

    def _remember(self, ev: OomEvent) -> None:
        self.scan.events.append(ev)
        self._last_event = ev
        if ev.victim is not None:
            self._victims[ev.victim.pid] = ev.victim
            self._victims.move_to_end(ev.victim.pid)
            while len(self._victims) > _RECENT_VICTIMS:
                self._victims.popitem(last=False)

    # -- the pass --------------------------------------------------------
    def feed(self, line: Union[bytes, str]) -> None:
        """Take one physical line (with or without its line ending).

        A physical line may hold several messages (rsyslog ``#012`` joins,
        a journal JSON record) or part of one (a journal export record, a
        quoted-printable soft break, a hard wrap): messages are handed on
        once whole, under the number of the line they start on.
        """
        self.scan.lines += 1
        lineno = self.scan.lines
        if self._export is not None:
            if not self._export.feed(line):
                record, start = self._export, self._export_line
                self._export = None
                for ll in record.lines():
                    self._message(ll, start, ll.text)
            return
        raw = decode_line(line)
        if self._qp is not None and split_prefix(raw).prefixed:
            self._flush_pending()  # not the rest of the soft-broken line
        if self._qp is not None:
            first, first_line = self._qp
            self._qp = None
            raw = qp_decode(first[:-1] + raw)
            lineno = first_line
        elif raw.startswith("__CURSOR="):
            self._flush_pending()
            self._export = ExportRecord()
            self._export_line = lineno
            self._export.feed(line)
            return
        if raw.endswith("=") and not raw.endswith("==") and self._fed_anyway(raw):
            self._flush_pending()
            self._qp = (raw, lineno)
            return
        if raw[:1] == "{":
            records = json_record(raw)
            if records is not None:
                self._flush_pending()
                for ll in records:
                    self._message(ll, lineno, ll.text)  # evidence: MESSAGE, not the JSON
                return
        if "=3D" in raw:
            raw = qp_decode(raw)
        ll = split_prefix(raw)
        if self._pending is not None:
            pll, praw, pline = self._pending
            self._pending = None
            if not ll.prefixed and ll.kernel:
                joined = join_continuation(pll.text, ll.text)
                if joined is not None:
                    jll = dataclasses.replace(pll, text=joined)
                    jraw = praw.rstrip() + " " + ll.text.strip()
                    if could_continue(joined):  # a line wrapped more than once
                        self._pending = (jll, jraw, pline)
                    else:
                        self._message(jll, pline, jraw)
                    return
            self._message(pll, pline, praw)
        if not ll.kernel:
            return
        if "#012" in ll.text:
            for i, part in enumerate(ll.text.split("#012")):
                self._message(dataclasses.replace(ll, text=part.replace("#011", "\t")),
                              lineno, raw)
            return
        if could_continue(ll.text) and self._fed_anyway(raw):
            self._pending = (ll, raw, lineno)
            return
        self._message(ll, lineno, raw)

    def _fed_anyway(self, raw: str) -> bool:
        """Would :func:`scan_stream` feed this line whatever came before?

        Only such a line may wait for its continuation (the next line is then
        fed by both scans, see :attr:`in_report`), so both scans join alike.
        """
        return self.in_report or any(n in raw for n in _ALWAYS_TEXT)

    def _flush_pending(self) -> None:
        if self._pending is not None:
            pll, praw, pline = self._pending
            self._pending = None
            self._message(pll, pline, praw)
        if self._qp is not None:
            raw, line = self._qp
            self._qp = None
            ll = split_prefix(raw)
            if ll.kernel:
                self._message(ll, line, raw)

    def _message(self, ll: LogLine, lineno: int, raw: str) -> None:
        """One whole kernel message (or another program's, which is ignored)."""
        if not ll.kernel:
            return
        if ll.boot_id is not None and ll.boot_id != self._boot_id:
            self._end_report(complete=False)
            self._boot_id = ll.boot_id
            self.scan.boots += 1
            self._boot_memory = None
        text = ll.text
        stripped = text.strip()

        if is_invoked(text):
            head = parse_invoked(text)
            if head is not None:
                self._end_report(complete=False)
                self._group_event = None
                ev = self._new_event(lineno, ll.monotonic, ll.wallclock)
                for key, value in head.items():
                    setattr(ev, key, value)
                ev.evidence.append(self._evidence(lineno, raw))
                self._report = OomReportBuilder(ev)
                self._report_lines = 0
                return

        reaped = parse_reaper(stripped) if stripped.startswith("oom_reaper:") else None
        if reaped is not None:
            pid, _comm, values = reaped
            victim = self._victims.get(pid)
            if victim is None and self._report is not None:
                cur = self._report.event.victim
                victim = cur if cur is not None and cur.pid == pid else None
            if victim is not None:
                victim.reaped = values
            return

        self._report_facts(stripped, lineno, raw)
        if self._report is not None and stripped.startswith("Linux version "):
            self._end_report(complete=False)  # a new boot: the report was cut
        if self._report is not None:
            self._report_lines += 1
            if not self._report.feed(text, lineno, raw[:_EVIDENCE_CHARS]):
                self._end_report(complete=True)
            elif not self._report._have_head and self._report_lines > _HEADLESS_LINES:
                self._end_report(complete=False)
            if self._report is not None or not parse_selected(stripped):
                return
            # A headless report ended at the next selection: that line starts
            # the next one (below).

        if stripped.startswith("Tasks in ") and "memory.oom.group" in stripped:
            if self._last_event is not None:
                self._last_event.notes.append(stripped)
                self._group_event = self._last_event
            return
        if "Killed process " in stripped:
            victim = parse_kill(stripped)
            if victim is not None:
                if self._group_event is not None:
                    self._group_event.notes.append(
                        f"memory.oom.group kill: {victim.pid} ({victim.comm})")
                    self._group_event.evidence.append(self._evidence(lineno, raw))
                    return
                # A kill line whose report head is not in this log (a console
                # at a quiet loglevel shows only KERN_ERR lines).
                ev = self._new_event(lineno, ll.monotonic, ll.wallclock)
                builder = OomReportBuilder(ev, head=False)
                builder.take_victim(victim, lineno, raw[:_EVIDENCE_CHARS])
                ev = builder.finish(complete=False)
                ev.notes.append("report head not in this log: kill line only")
                self._remember(ev)
                return
        if (" or sacrifice child" in stripped and parse_selected(stripped)) or (
                "ut of memory" in stripped and parse_panic(stripped)):
            # <= 5.0 "Out of memory: Kill process N (comm) score S or sacrifice
            # child", a panic_on_oom panic or "no killable processes" without
            # the report head (a grep'd log, a quiet console): a headless
            # report, ended by its "Killed process" line or the panic.
            self._group_event = None
            ev = self._new_event(lineno, ll.monotonic, ll.wallclock)
            ev.notes.append("report head not in this log")
            self._report = OomReportBuilder(ev, head=False)
            self._report_lines = 0
            if not self._report.feed(text, lineno, raw[:_EVIDENCE_CHARS]):
                self._end_report(complete=False)
            return

        self._boot_fact(stripped, lineno, raw, ll.monotonic, ll.boot_id is not None)

    def skip(self, lines: int) -> None:
        """Count ``lines`` lines that cannot matter (see :func:`_feed_block`):
        none holds a needle, none continues the line before it, and the line
        fed next does not continue them.  A scanner that holds a line back
        for a possible continuation must end it here."""
        self.scan.lines += lines

    @property
    def in_report(self) -> bool:
        """Every following line matters: an OOM report is open, a journal
        export record is being read, or a message waits for its continuation."""
        return (self._report is not None or self._export is not None
                or self._pending is not None or self._qp is not None)

    @property
    def export_open(self) -> bool:
        """A journal export record has started and not ended yet."""
        return self._export is not None

    def close(self) -> LogScan:
        """End of input: a report still open is kept with ``complete=False``."""
        if self._export is not None:
            record, start = self._export, self._export_line
            self._export = None
            for ll in record.lines():
                self._message(ll, start, ll.text)
        self._flush_pending()
        self._end_report(complete=False)
        scan = self.scan
        self._fallback_facts()
        return scan



def scan_log(lines: Iterable[Union[bytes, str]], source: str) -> LogScan:
    """Scan a whole log (an iterable of lines, bytes or text) in one pass."""
    scanner = KernelLogScanner(source)
    for line in lines:
        scanner.feed(line)
    return scanner.close()



def event_key(ev: OomEvent) -> tuple:
    """Identity of one OOM event across its dmesg, journal and syslog copies.

    Built from values every copy prints the same (no timestamps, which differ
    between formats): the victim's kill line if there is one, else the
    report's head.

    >>> event_key(OomEvent(source="a", line=1, victim=OomVictim(112, "hog", 1, 2, 3, 4)))
    ('killed', 112, 'hog', 1, 2, 3, 4)
    """
    v = ev.victim
    if v is not None:
        return ("killed", v.pid, v.comm, v.total_vm_kb, v.anon_rss_kb, v.file_rss_kb, v.shmem_rss_kb)
    return ("invoked", ev.trigger_comm, ev.trigger_pid, ev.gfp_mask, ev.order, ev.oom_score_adj)


def __getattr__(name: str):
    """``scan_stream`` lives in :mod:`balloon_oom.readers.stream` (it imports
    this module): re-exported on first use."""
    if name == "scan_stream":
        from balloon_oom.readers.stream import scan_stream

        return scan_stream
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
