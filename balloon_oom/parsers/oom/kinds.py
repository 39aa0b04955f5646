# SPDX-License-Identifier: GPL-2.0-or-later
"""The registry of OOM-report line kinds.

A :class:`LineKind` names one kind of line, how to recognise it (``parse``,
or ``read`` when the builder's state is needed), the literal bytes every
such line holds (``needle``, for the block prefilter), and what it feeds
(``feed`` updates the :class:`~balloon_oom.parsers.oom.builder.OomReportBuilder`
and says whether the report goes on).

:data:`REPORT_KINDS` is the order the builder tries them in, the first
that parses wins; the order is the precedence (a task row before the
trigger line, frames only while the trace is open, the Mem-Info pairs only
after ``Mem-Info:``, a kill line ends the report, ...).  Guarded kinds
(``when``) are skipped unless the builder is in that state:

====  ================  ==========================  ============================
 #    kind              when                        feeds
====  ================  ==========================  ============================
 1    task_row          a task table is open        the table's summary
 2    trigger           no trigger line yet         trigger pid (comm if none)
 3    trace_marker                                  opens the trace
 4    frame             the trace is open           call_trace
 5    unsure_frame      the trace is open           '?' frames (kept apart)
 6    arm_frame         the trace is open           call_trace
 7    mem_info_marker                               closes the trace, opens Mem-Info
 8    mem_info_pairs    Mem-Info is open            mem_info
 9    node                                          nodes (closes Mem-Info)
10    zone                                          zones (closes Mem-Info)
11    hugepages                                     hugetlb
12    total                                         pages_ram, swap_free_kb, ...
13    vz_balloon                                    vz_balloon_inflated_*_kb
14    task_header                                   opens the task table
15    memcg_task_in                                 task_memcg, memcg, constraint
16    memcg_usage                                   memcg_usage_kb, ..., constraint
17    constraint                                    constraint, nodemask, memcgs
18    selected                                      the selection (or ends a headless report)
19    kill                                          victim; ends the report
20    panic                                         notes; a panic ends the report
21    deadlocked                                    notes; ends the report
22    exiting                                       notes; ends the report
23    note                                          notes; a panic ends the report
====  ================  ==========================  ============================

:data:`SCANNER_KINDS` are read by the log scanner, not the builder: the
head (``invoked``, which opens a report), ``reaper`` and ``oom_group``
(printed after the kill line, so outside the report), and ``release`` (read
on every line).  :data:`OOM_NEEDLES` are the needles of the kinds the
scanner must see outside a report (``outside``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

from balloon_oom.parsers.oom.head import (
    parse_constraint,
    parse_invoked,
    parse_memcg_task_in,
    parse_memcg_usage,
    parse_note,
    parse_panic,
    parse_release,
    parse_trigger,
)
from balloon_oom.parsers.oom.kill import (
    parse_exiting,
    parse_kill,
    parse_oom_group,
    parse_reaper,
    parse_selected,
)
from balloon_oom.parsers.oom.show_mem import (
    parse_hugepages,
    parse_mem_info_pairs,
    parse_node,
    parse_total,
    parse_vz_balloon,
    parse_zone,
)
from balloon_oom.parsers.oom.tasks import _TASK_ROW, TaskTable, parse_task_header, parse_task_row
from balloon_oom.parsers.oom.trace import (
    MAX_CALL_TRACE,
    is_trace_marker,
    parse_arm_frame,
    parse_frame,
    parse_unsure_frame,
)

if TYPE_CHECKING:
    from balloon_oom.parsers.oom.builder import OomReportBuilder

__all__ = ["KINDS", "OOM_NEEDLES", "REPORT_KINDS", "SCANNER_KINDS", "LineKind"]

#: ``feed(builder, value, text, lineno, raw) -> goes on``.
Feed = Callable[["OomReportBuilder", Any, str, int, str], bool]


@dataclass(frozen=True)
class LineKind:
    """One kind of OOM-report line (see the module docstring)."""

    name: str
    #: stripped message text -> value, or None when the line is not of this kind.
    parse: Callable[[str], Any]
    #: What the builder does with the value; None: read by the scanner.
    feed: Optional[Feed] = None
    #: Literal bytes every line of this kind holds, if any.
    needle: Optional[bytes] = None
    #: Builder state in which the kind is tried (None: always).
    when: Optional[Callable[["OomReportBuilder"], bool]] = None
    #: ``read(builder, text)`` instead of ``parse(text)`` (state-dependent parsing).
    read: Optional[Callable[["OomReportBuilder", str], Any]] = None
    #: The scanner must see such a line outside a report (it starts a
    #: report, or belongs to one that is over): its needle is in OOM_NEEDLES.
    outside: bool = False


def _marker(text: str) -> Optional[str]:
    return text if is_trace_marker(text) else None


def _mem_info_marker(text: str) -> Optional[str]:
    return text if text == "Mem-Info:" else None


def _task_row_shape(text: str):
    """A task row's shape (its columns are the open table's: see ``read``)."""
    return _TASK_ROW.match(text.strip())


def _read_task_row(b, text: str):
    return parse_task_row(text, b._tasks.columns)


def _panic(text: str):
    v = parse_panic(text)
    return v if v is not None and v[0] != "deadlocked" else None


def _deadlocked(text: str):
    if "deadlocked" not in text:
        return None
    v = parse_panic(text)
    return v if v is not None and v[0] == "deadlocked" else None


# -- what each kind feeds ------------------------------------------------------

def _task_row(b, task, s, lineno, raw):
    b._tasks.add(task)
    return True


def _trigger(b, trig, s, lineno, raw):
    ev = b.event
    ev.trigger_pid, comm = trig
    ev.trigger_comm = ev.trigger_comm or comm
    b._have_trigger = True
    return True


def _open_trace(b, _v, s, lineno, raw):
    b._in_trace = True
    return True


def _frame(b, fn, s, lineno, raw):
    if len(b.event.call_trace) < MAX_CALL_TRACE:
        b.event.call_trace.append(fn)
    return True


def _unsure_frame(b, fn, s, lineno, raw):
    if len(b._unsure) < MAX_CALL_TRACE:
        b._unsure.append(fn)
    return True


def _open_mem_info(b, _v, s, lineno, raw):
    b._saw_mem_info = True
    b._in_trace = False
    b._in_mem_info = True
    b._global_seen = True
    return True


def _mem_info_pairs(b, pairs, s, lineno, raw):
    b.event.mem_info.update(pairs)
    return True


def _node(b, node, s, lineno, raw):
    b._in_mem_info = False
    b.event.nodes.append(node)
    return True


def _zone(b, zone, s, lineno, raw):
    b._in_mem_info = False
    b.event.zones.append(zone)
    return True


def _hugepages(b, huge, s, lineno, raw):
    b.event.hugetlb.append(huge)
    return True


def _total(b, total, s, lineno, raw):
    setattr(b.event, total[0], total[1])
    return True


def _vz_balloon(b, vz, s, lineno, raw):
    b.event.vz_balloon_inflated_total_kb, b.event.vz_balloon_inflated_free_kb = vz
    b.event.evidence.append(b.evidence(lineno, raw))
    return True


def _task_header(b, columns, s, lineno, raw):
    b._in_trace = False
    b._tasks = TaskTable(columns)
    return True


def _memcg_task_in(b, v, s, lineno, raw):
    b.event.task_memcg, b.event.memcg = v
    b._set_memcg("'Task in … killed as a result of limit of …' line (memcg v1 report)")
    b.event.evidence.append(b.evidence(lineno, raw))
    return True


def _memcg_usage(b, v, s, lineno, raw):
    b._in_trace = False
    b.event.memcg_usage_kb, b.event.memcg_limit_kb, b.event.memcg_failcnt = v
    b._set_memcg("memcg 'memory: usage …kB, limit …kB, failcnt …' line")
    b.event.evidence.append(b.evidence(lineno, raw))
    return True


def _constraint(b, cons, s, lineno, raw):
    b._take_constraint(cons)
    b.event.evidence.append(b.evidence(lineno, raw))
    return True


def _selected(b, selected, s, lineno, raw):
    if b._selected is not None and not b._have_head:
        return False  # a headless report: the next selection is another OOM
    b._selected = selected
    if selected[0] == "Memory cgroup out of memory":
        b._set_memcg("kill line 'Memory cgroup out of memory: Kill process …'")
    b.event.evidence.append(b.evidence(lineno, raw))
    return True


def _kill(b, victim, s, lineno, raw):
    b.take_victim(victim, lineno, raw)
    return False


def _panic_line(b, panic, s, lineno, raw):
    kind, constraint = panic
    ev = b.event
    if constraint is not None:
        b._panic_constraint = constraint
    if kind == "panic_on_oom":
        b._in_trace = False
    ev.notes.append(s)
    ev.evidence.append(b.evidence(lineno, raw))
    if kind == "no_killable" and not s.startswith("Kernel panic"):
        return True
    ev.end_line = lineno  # the panic ends the report
    return False


def _exiting(b, _v, s, lineno, raw):
    b.event.notes.append(s)
    b.event.evidence.append(b.evidence(lineno, raw))
    return False


def _note(b, _v, s, lineno, raw):
    b.event.notes.append(s)
    b.event.evidence.append(b.evidence(lineno, raw))
    return not s.startswith("Kernel panic")


def _tasks_open(b) -> bool:
    return b._tasks is not None


def _no_trigger(b) -> bool:
    return not b._have_trigger


def _in_trace(b) -> bool:
    return b._in_trace


def _in_mem_info(b) -> bool:
    return b._in_mem_info


#: The builder's kinds, in dispatch order (the order is the precedence).
REPORT_KINDS: Tuple[LineKind, ...] = (
    LineKind("task_row", _task_row_shape, _task_row, when=_tasks_open, read=_read_task_row),
    LineKind("trigger", parse_trigger, _trigger, when=_no_trigger),
    LineKind("trace_marker", _marker, _open_trace, needle=b"Call "),
    LineKind("frame", parse_frame, _frame, needle=b"+0x", when=_in_trace),
    LineKind("unsure_frame", parse_unsure_frame, _unsure_frame, needle=b"+0x", when=_in_trace),
    LineKind("arm_frame", parse_arm_frame, _frame, needle=b" from ", when=_in_trace),
    LineKind("mem_info_marker", _mem_info_marker, _open_mem_info, needle=b"Mem-Info:"),
    LineKind("mem_info_pairs", parse_mem_info_pairs, _mem_info_pairs, when=_in_mem_info),
    LineKind("node", parse_node, _node, needle=b"active_anon:"),
    LineKind("zone", parse_zone, _zone, needle=b" free:"),
    LineKind("hugepages", parse_hugepages, _hugepages, needle=b"hugepages_total="),
    LineKind("total", parse_total, _total),
    LineKind("vz_balloon", parse_vz_balloon, _vz_balloon, needle=b"Balloon InflatedTotal:"),
    LineKind("task_header", parse_task_header, _task_header, needle=b"total_vm"),
    LineKind("memcg_task_in", parse_memcg_task_in, _memcg_task_in,
             needle=b" killed as a result of limit of "),
    LineKind("memcg_usage", parse_memcg_usage, _memcg_usage, needle=b"memory: usage "),
    LineKind("constraint", parse_constraint, _constraint, needle=b"oom-kill:"),
    LineKind("selected", parse_selected, _selected, needle=b"Kill process", outside=True),
    LineKind("kill", parse_kill, _kill, needle=b"Killed process", outside=True),
    LineKind("panic", _panic, _panic_line, needle=b"ut of memory", outside=True),
    LineKind("deadlocked", _deadlocked, _panic_line, needle=b"System is deadlocked on memory"),
    LineKind("exiting", parse_exiting, _exiting, needle=b") is already exiting"),
    LineKind("note", parse_note, _note),
)

#: Kinds the log scanner reads itself (see the module docstring).
SCANNER_KINDS: Tuple[LineKind, ...] = (
    LineKind("invoked", parse_invoked, needle=b"invoked oom", outside=True),
    LineKind("reaper", parse_reaper, needle=b"oom_reaper", outside=True),
    LineKind("oom_group", parse_oom_group, needle=b"Tasks in", outside=True),
    LineKind("release", parse_release, needle=b"ainted", outside=True),
)

KINDS: Tuple[LineKind, ...] = REPORT_KINDS + SCANNER_KINDS

#: Needles of the kinds the scanner must see outside a report, for the prefilter.
OOM_NEEDLES: Tuple[bytes, ...] = tuple(dict.fromkeys(
    k.needle for k in KINDS if k.outside and k.needle is not None))
