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
import io
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Dict, Iterable, List, Optional, Tuple, Union

from balloon_oom.model import BootMemory, Evidence, OomEvent, OomVictim, Signature
from balloon_oom.parsers.dmi import hardware_name, hypervisor_from_dmi
from balloon_oom.parsers.journal import ExportRecord, json_record
from balloon_oom.parsers.logline import LogLine, decode_line, split_prefix, strip_paste
from balloon_oom.parsers.oom import (
    OomReportBuilder,
    is_invoked,
    parse_constraint,
    parse_invoked,
    parse_kill,
    parse_panic,
    parse_reaper,
    parse_release,
    parse_selected,
)
from balloon_oom.parsers.rejoin import could_continue, join_continuation, qp_decode

if TYPE_CHECKING:
    from balloon_oom.readers.prefilter import BlockHits, Prefilter

__all__ = [
    "MAX_SIGNATURES_PER_KIND",
    "KernelLogScanner",
    "LogScan",
    "event_key",
    "looks_like_kernel_log",
    "parse_boot_memory",
    "scan_log",
    "scan_stream",
]

#: Signatures kept per kind (the rest are only counted).
MAX_SIGNATURES_PER_KIND = 100
#: Killed processes remembered for late ``oom_reaper`` lines.
_RECENT_VICTIMS = 64
#: Characters of a line kept as evidence text.
_EVIDENCE_CHARS = 1024
#: Lines a report without its head (opened by a ``Kill process … or
#: sacrifice child`` or panic line) may run before it is closed as cut.
_HEADLESS_LINES = 64


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
    last_monotonic: Optional[float] = None


_LINUX_VERSION = re.compile(r"^Linux version (\S+) \(")
_HYPERVISOR = re.compile(r"^Hypervisor detected: (.+?)\s*$")
_MEMORY = re.compile(r"^Memory: (\d+)[kK]/(\d+)[kK] available\b(?P<rest>.*)$")
_RESERVED = re.compile(r"(\d+)[kK] reserved\b")
# ``Freeing … memory: NK`` (4.10+), ``…: NK (ffff… - ffff…)`` (3.11-4.9),
# ``…: Nk freed`` (<= 3.10), and on UEFI guests ``efi: Freeing EFI boot
# services memory: NK`` (efi_free_boot_services(), arch/x86/platform/efi/quirks.c).
_FREEING = re.compile(
    r"^(?:efi: )?Freeing [^:]*memory: (\d+)[kK](?: freed| \(\s*[0-9a-fA-Fx]+\s*-\s*[0-9a-fA-Fx]+\s*\))?$")

# Every balloon driver prints through a prefix that holds "balloon":
# dev_info() gives "virtio_balloon virtioN: ", and vmw_balloon, hv_balloon
# (pr_fmt KBUILD_MODNAME, with the messages since b3bb97b8a49f, v4.10) and
# xen ("xen:balloon: ") set pr_fmt; virtio_mem lines start "virtio_mem virtioN:".
_SIGNATURES = [
    ("virtio_balloon.out_of_puff",
     re.compile(r"virtio_balloon virtio\d+: Out of puff! Can't get \d+ pages?")),
    ("hv_balloon.partial", re.compile(r"hv_balloon: .*Balloon request will be partially fulfilled")),
    ("hv_balloon.floor_reached", re.compile(r"hv_balloon: .*Balloon floor reached")),
    ("hv_balloon.hot_add_failed", re.compile(r"hv_balloon: .*Memory hot add failed")),
    ("hv_balloon.max_dynamic_memory", re.compile(r"hv_balloon: Max\. dynamic memory size: \d+ MB")),
    ("hv_balloon.protocol", re.compile(r"hv_balloon: Using Dynamic Memory protocol version")),
    ("vmw_balloon", re.compile(r"^vmw_balloon: ")),
    ("xen_balloon", re.compile(r"^xen:balloon: ")),
    ("virtio_mem.plugged_size", re.compile(r"virtio_mem virtio\d+: plugged size: 0x[0-9a-f]+")),
    ("virtio_mem.requested_size", re.compile(r"virtio_mem virtio\d+: requested size: 0x[0-9a-f]+")),
]
_SIGNATURE_HINTS = ("alloon", "virtio_mem")
#: Signature kinds (before the dot) of drivers that run on one hypervisor only.
_DRIVER_HYPERVISOR = {"hv_balloon": "Microsoft Hyper-V", "vmw_balloon": "VMware",
                      "xen_balloon": "Xen"}


def parse_boot_memory(text: str) -> Optional[Tuple[int, int, Optional[int]]]:
    """``(available_kb, total_kb, reserved_kb)`` of the boot ``Memory:`` line.

    Old kernels print ``k`` and extra fields (``absent``, ``highmem``);
    ``reserved_kb`` is None when the line has no ``reserved`` field.

    >>> parse_boot_memory("Memory: 3218236K/25165432K available (18470K kernel code, 2544K rwdata, 10280K rodata, 3728K init, 1168K bss, 496444K reserved, 0K cma-reserved)")
    (3218236, 25165432, 496444)
    >>> parse_boot_memory("Memory: 3911568k/4718592k available (5417k kernel code, 664404k absent, 142620k reserved, 4318k data, 1300k init)")
    (3911568, 4718592, 142620)
    """
    m = _MEMORY.match(text.strip())
    if not m:
        return None
    r = _RESERVED.search(m.group("rest"))
    return int(m.group(1)), int(m.group(2)), int(r.group(1)) if r else None


class KernelLogScanner:
    """Feed lines one at a time; :meth:`close` gives the :class:`LogScan`."""

    def __init__(self, source: str) -> None:
        self.scan = LogScan(source=source)
        self._report: Optional[OomReportBuilder] = None
        self._victims: "OrderedDict[int, OomVictim]" = OrderedDict()
        self._last_event: Optional[OomEvent] = None
        self._group_event: Optional[OomEvent] = None
        self._boot_memory: Optional[BootMemory] = None
        self._pending: Optional[Tuple[LogLine, str, int]] = None
        self._qp: Optional[Tuple[str, int]] = None
        self._export: Optional[ExportRecord] = None
        self._export_line = 0
        self._boot_id: Optional[str] = None
        self._report_lines = 0
        self._release: Optional[Tuple[str, Evidence]] = None
        self._hardware: Optional[Tuple[str, Evidence]] = None

    # -- helpers ---------------------------------------------------------
    def _evidence(self, lineno: int, raw: str) -> Evidence:
        return Evidence(self.scan.source, line=lineno, text=raw[:_EVIDENCE_CHARS])

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
            self.note_timestamp(raw)  # as the stream scan's _last_timestamp sees it
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
        if ll.monotonic is not None:
            self.scan.last_monotonic = ll.monotonic
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

    def _report_facts(self, text: str, lineno: int, raw: str) -> None:
        """Kernel release and hardware from a report's own lines (the
        ``CPU: … Comm: … <release> #1`` and ``Hardware name:`` lines), kept
        for when the log has no ``Linux version`` / ``Hypervisor detected``."""
        if self._release is None and "ainted" in text:
            rel = parse_release(text)
            if rel is not None:
                self._release = (rel, self._evidence(lineno, raw))
        if self._hardware is None and text.startswith(("Hardware name: ", "DMI: ")):
            dmi = hardware_name(text)
            hv = hypervisor_from_dmi(dmi) if dmi else None
            if hv is not None:
                self._hardware = (hv, self._evidence(lineno, raw))

    def _boot_fact(self, text: str, lineno: int, raw: str, monotonic,
                   journal_boot: bool = False) -> None:
        scan = self.scan
        if text.startswith("Linux version "):
            m = _LINUX_VERSION.match(text)
            if m:
                if not journal_boot:  # a journal record's boot counts by _BOOT_ID
                    scan.boots += 1
                scan.kernel_release = (m.group(1), self._evidence(lineno, raw))
                self._boot_memory = None
            return
        if text.startswith("Memory: "):
            mem = parse_boot_memory(text)
            if mem is not None:
                bm = BootMemory(available_kb=mem[0], total_kb=mem[1], reserved_kb=mem[2],
                                evidence=self._evidence(lineno, raw),
                                boot=scan.boots - 1 if scan.boots else None,
                                source=scan.source)
                scan.boot_memory.append(bm)
                self._boot_memory = bm
            return
        if text.startswith(("Freeing ", "efi: Freeing ")) and self._boot_memory is not None:
            m = _FREEING.match(text)
            if m:
                self._boot_memory.freed_later_kb += int(m.group(1))
                self._boot_memory.freed_evidence.append(self._evidence(lineno, raw))
            return
        if text.startswith("Hypervisor detected: "):
            m = _HYPERVISOR.match(text)
            if m:
                scan.hypervisor = (m.group(1), self._evidence(lineno, raw))
            return
        if any(h in text for h in _SIGNATURE_HINTS):
            for kind, rx in _SIGNATURES:
                if rx.search(text):
                    n = scan.signature_counts.get(kind, 0) + 1
                    scan.signature_counts[kind] = n
                    if n <= MAX_SIGNATURES_PER_KIND:
                        scan.signatures.append(Signature(
                            kind=kind, message=text[:_EVIDENCE_CHARS],
                            evidence=self._evidence(lineno, raw), timestamp=monotonic,
                            boot=self.scan.boots - 1 if self.scan.boots else None))
                    return

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

    def note_timestamp(self, line: Union[bytes, str]) -> bool:
        """Track ``last_monotonic`` from a line that is not fed; True if it had one."""
        ll = split_prefix(decode_line(line))
        if ll.monotonic is not None:
            self.scan.last_monotonic = ll.monotonic
            return True
        return False

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
        if scan.kernel_release is None and self._release is not None:
            scan.kernel_release = self._release
        if scan.hypervisor is None and self._hardware is not None:
            scan.hypervisor = self._hardware
        if scan.hypervisor is None:
            # A driver that only binds on one hypervisor's device (VMBus, the
            # VMware backdoor, xenbus) names it; virtio names none.
            for sig in scan.signatures:
                name = _DRIVER_HYPERVISOR.get(sig.kind.split(".")[0])
                if name is not None:
                    scan.hypervisor = (name, sig.evidence)
                    break
        return scan


#: Substrings at least one of which is in every line :meth:`KernelLogScanner.feed`
#: acts on while no OOM report is open (``invoked oom-killer``, ``oom_reaper``,
#: ``memory.oom.group``, kill lines, boot banners, balloon driver messages).
ALWAYS_NEEDLES = (b"oom", b"Killed process", b"alloon", b"Linux version", b"virtio_mem",
                  # headless OOM kills and panics, report facts, journal export records
                  b"ut of memory", b"Kill process", b"ainted", b"Hardware name", b"DMI: ",
                  b"__CURSOR=", b"Tasks in")
_ALWAYS_TEXT = tuple(n.decode() for n in ALWAYS_NEEDLES)
#: Boot facts (``Memory:``, ``Freeing … memory``, ``Hypervisor detected``) only
#: come right after a boot banner: looked for in the first :data:`BOOT_WINDOW`
#: bytes of the log and after every ``Linux version`` line.
BOOT_NEEDLES = (b"Memory: ", b"Freeing ", b"Hypervisor detected")
BOOT_WINDOW = 8 * 1024 * 1024
_BLOCK = 1024 * 1024
#: Every line :func:`split_prefix` gives a monotonic time holds a match (the
#: bytes of ``[ seconds.micros]``, with the Unicode spaces and digits a
#: decoded ``\s``/``\d`` also takes: ASCII 0x1c-0x1f and any UTF-8 byte).
_MONOTONIC_HINT = re.compile(rb"\[[\t\x0b\x0c\r \x1c-\x1f\x80-\xff]*[0-9\x80-\xff]+"
                             rb"\.[0-9\x80-\xff]+\]")
#: The last stamped line of a block is looked for in a window this big at
#: its end, then in windows four times bigger each.
_STAMP_WINDOW = 8192

_PREFILTERS: Dict[tuple, "Prefilter"] = {}


def _prefilter(engine: str = "auto") -> "Prefilter":
    """The block prefilter for the needles as they are now (built once).
    ``$BALLOON_OOM_PREFILTER`` (``python`` or ``hyperscan``) overrides
    ``auto``: the benchmark measures both engines that way."""
    from balloon_oom.readers.prefilter import Prefilter

    if engine == "auto":
        engine = os.environ.get("BALLOON_OOM_PREFILTER", "auto")
    key = (ALWAYS_NEEDLES, BOOT_NEEDLES, engine)
    pf = _PREFILTERS.get(key)
    if pf is None:
        pf = _PREFILTERS[key] = Prefilter(ALWAYS_NEEDLES, BOOT_NEEDLES, engine=engine)
    return pf


def _feed_block(scanner: KernelLogScanner, block: bytes, base: int, boot_until: int,
                max_line: int, hits: "BlockHits") -> int:
    """Feed the lines of ``block`` (whole ``\\n``-terminated lines) that can
    matter; count the others.  ``base`` is the stream offset of ``block``;
    returns the new end of the boot window.

    Fed: the lines holding a needle, those that may continue the line before
    them and that line (a needle split by a hard wrap), the block's first and
    last lines (a continuation across blocks), boot-needle lines inside the
    boot window, and every line of an open OOM report.  So every skipped
    run of lines holds no needle, and the line after it does not continue it.
    """
    end = len(block)
    rfind = block.rfind
    last = rfind(b"\n", 0, end - 1) + 1
    wanted = set(hits.needles)
    wanted.add(0)
    wanted.add(last)
    for start in hits.continued:
        wanted.add(start)
        wanted.add(rfind(b"\n", 0, start - 1) + 1)
    cands = sorted(wanted)
    boots = hits.boot
    ncands, nboots = len(cands), len(boots)
    ci = bi = 0
    pos = 0
    done = 0  # lines of the block skipped or fed so far
    count, find = block.count, block.find
    while pos < end:
        if not scanner.in_report:
            while ci < ncands and cands[ci] < pos:
                ci += 1
            nxt = cands[ci] if ci < ncands else end
            while bi < nboots and boots[bi] < pos:
                bi += 1
            if bi < nboots and boots[bi] < nxt and base + boots[bi] < boot_until:
                nxt = boots[bi]
            if nxt > pos:
                # Up to the last line: the engine's line count says how many, no count pass.
                n = (hits.lines - done - 1 if nxt == last and hits.lines is not None
                     else count(b"\n", pos, nxt))
                scanner.skip(n)
                done += n
                pos = nxt
                if pos >= end:
                    break
        nl = find(b"\n", pos)
        line = block[pos:nl]
        if b"Linux version" in line:
            boot_until = max(boot_until, base + nl + BOOT_WINDOW)
        scanner.feed(line[:max_line])
        done += 1
        pos = nl + 1
    return boot_until


def scan_stream(stream: BinaryIO, source: str, max_line: int = 64 * 1024,
                engine: str = "auto") -> LogScan:
    """Scan a binary stream, parsing only the lines that can matter.

    The same events, boot facts and line numbers as :func:`scan_log` over
    the stream's lines, much faster: each 1 MiB block is searched in one
    pass for :data:`ALWAYS_NEEDLES` and :data:`BOOT_NEEDLES`
    (:class:`~balloon_oom.readers.prefilter.Prefilter`, native when the
    ``hyperscan`` package is there; ``engine`` chooses); only the lines
    :func:`_feed_block` names are parsed, the others only counted.  A block
    with NUL bytes or a lone CR is fed line by line; a line longer than
    ``max_line`` is cut, as :func:`balloon_oom.readers.members.iter_lines` does.
    """
    from balloon_oom.readers.members import iter_lines

    prefilter = _prefilter(engine)
    scanner = KernelLogScanner(source)
    tail = b""
    offset = 0
    boot_until = BOOT_WINDOW
    while True:
        chunk = stream.read(_BLOCK)
        if not chunk:
            break
        cut = chunk.rfind(b"\n")
        if cut < 0:
            tail += chunk
            if len(tail) > max_line:  # a line longer than a block: the exact slow path
                for line in iter_lines(_Chained(tail, stream), max_line):
                    scanner.feed(line)
                return scanner.close()
            continue
        if cut + 1 == len(chunk):
            block = tail + chunk if tail else chunk
        else:  # one copy: the start of the next line goes to the tail
            block = b"".join((tail, memoryview(chunk)[:cut + 1]))
        tail = chunk[cut + 1:]
        if b"\x00" in block or (b"\r" in block and
                                 block.count(b"\r") != block.count(b"\r\n")):
            for line in iter_lines(io.BytesIO(block), max_line):
                scanner.feed(line)
        else:
            hits = prefilter.scan(block)
            boot_until = _feed_block(scanner, block, offset, boot_until, max_line, hits)
            if not hits.maybe_stamped:
                offset += len(block)
                continue
        _last_timestamp(scanner, block, max_line)
        offset += len(block)
    if tail:
        for line in iter_lines(io.BytesIO(tail), max_line):
            scanner.feed(line)
    return scanner.close()


def _last_timestamp(scanner: KernelLogScanner, block: bytes, max_line: int) -> None:
    """``last_monotonic`` as the line-by-line scan leaves it: from the last
    line of ``block`` that carries a timestamp.  Looked for backwards, in
    growing windows, among the lines :data:`_MONOTONIC_HINT` matches: one
    small window when the log is stamped (dmesg, syslog), one regex pass over
    the block when it is not (journal), never a per-line pass."""
    end = len(block)
    if scanner.export_open:
        # The line scan reads no stamp inside a journal export record: look
        # only before the line that opened the one still open (none in this
        # block: the whole block is inside it).
        opened = block.rfind(b"\n__CURSOR=")
        if opened < 0:
            return
        end = opened + 1
    window = _STAMP_WINDOW
    rfind, find = block.rfind, block.find
    while end > 0:
        start = rfind(b"\n", 0, end - window) + 1 if end > window else 0
        seen = -1
        for m in reversed(list(_MONOTONIC_HINT.finditer(block, start, end))):
            line_start = rfind(b"\n", 0, m.start()) + 1
            if line_start == seen:
                continue
            seen = line_start
            if scanner.note_timestamp(block[line_start:find(b"\n", line_start)][:max_line]):
                return
        end = start
        window *= 4


class _Chained:
    """``prefix`` then the rest of ``stream``, as one readable stream."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            out, self._prefix = self._prefix, b""
            return out
        return self._stream.read(size)


def scan_log(lines: Iterable[Union[bytes, str]], source: str) -> LogScan:
    """Scan a whole log (an iterable of lines, bytes or text) in one pass."""
    scanner = KernelLogScanner(source)
    for line in lines:
        scanner.feed(line)
    return scanner.close()


_STRICT_STAMP = re.compile(r"\[\s*\d+\.\d{6}\]")
_YEAR = re.compile(r"\d{4}")


def _is_kernel_message(text: str) -> bool:
    """An unprefixed line that is one of the kernel messages this tool reads."""
    s = text.strip()
    return bool(
        (is_invoked(s) and parse_invoked(s))
        or ("Killed process" in s and parse_kill(s))
        or parse_selected(s) or parse_panic(s)
        or _LINUX_VERSION.match(s)
        or (s.startswith("oom-kill:") and parse_constraint(s))
        or any(rx.search(s) for _kind, rx in _SIGNATURES)
    )


def looks_like_kernel_log(lines: Iterable[Union[bytes, str]], max_lines: int = 5000) -> bool:
    """True when at least one of the first ``max_lines`` lines is a kernel message.

    A kernel message is a line with a printk stamp (``[  123.456789]``), a
    console level (``<4>``), a ``dmesg -T`` clock with a year, a syslog or
    journal ``kernel:`` header, a journal JSON or export record from the
    kernel, or, without any prefix, one of the messages this tool parses (an
    OOM report's head or kill line, ``Linux version``, a balloon driver's
    message).  Paste damage (indentation, ``> `` quoting) is allowed.  A
    README, a CSV, JSON that is not a journal record, another program's
    syslog lines: False.

    >>> looks_like_kernel_log(["# Title", "", "Some text, with: colons [1.5]"])
    False
    >>> looks_like_kernel_log(["> [  238.324946] Out of memory: Killed process 537 (login) total-vm:27584kB, anon-rss:860kB, file-rss:0kB"])
    True
    """
    export_start = False
    for i, line in enumerate(lines):
        if i >= max_lines:
            break
        raw = decode_line(line)
        if raw.startswith("__CURSOR="):
            export_start = True
            continue
        if export_start and raw in ("_TRANSPORT=kernel", "SYSLOG_IDENTIFIER=kernel"):
            return True
        if raw[:1] == "{":
            records = json_record(raw)
            if records is not None:
                if any(ll.kernel for ll in records):
                    return True
                continue
        ll = split_prefix(raw)
        if not ll.kernel or not ll.text.strip():
            continue
        body = strip_paste(raw)
        if ll.monotonic is not None:
            if _STRICT_STAMP.search(body[:40]):
                return True
        elif ll.wallclock is not None:
            if " kernel:" in body[:80] or (body.startswith("[") and _YEAR.search(ll.wallclock)):
                return True
        elif ll.prefixed and body.startswith("<"):
            return True
        if _is_kernel_message(ll.text):
            return True
    return False


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
