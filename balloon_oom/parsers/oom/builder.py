# SPDX-License-Identifier: GPL-2.0-or-later
"""One OOM report, line by line, into an :class:`~balloon_oom.model.OomEvent`.

:meth:`OomReportBuilder.feed` takes message texts (prefixes already
stripped by :mod:`balloon_oom.parsers.logline`) and dispatches each over
:data:`~balloon_oom.parsers.oom.kinds.REPORT_KINDS` in its order; lines of
no kind are ignored, so another CPU's messages in the middle of a report do
no harm.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from balloon_oom.model import Evidence, OomEvent, OomVictim
from balloon_oom.parsers.oom.head import _CONSTRAINTS
from balloon_oom.parsers.oom.kinds import REPORT_KINDS
from balloon_oom.parsers.oom.tasks import TaskTable

__all__ = ["OomReportBuilder"]

#: REPORT_KINDS flattened for the per-line loop: (when, parse or read, is read, feed).
_DISPATCH = tuple((k.when, k.read or k.parse, k.read is not None, k.feed) for k in REPORT_KINDS)

#: Functions only a memcg OOM runs through.
_MEMCG_FRAMES = ("mem_cgroup_out_of_memory", "mem_cgroup_oom_synchronize")


def _missing(ev: OomEvent, head: bool, mem_info: bool) -> List[str]:
    """What a full OOM report has and this event lacks (see OomEvent.missing)."""
    out = []
    if not head:
        out.append("head")
    if not mem_info and not ev.mem_info:
        out.append("mem_info")
    if ev.pages_ram is None or ev.pages_reserved is None:
        out.append("totals")
    if ev.tasks is None:
        out.append("tasks")
    if ev.victim is None:
        out.append("kill")
    elif ev.victim.total_vm_kb is None:
        out.append("kill_rss")
    return out


#: REPORT_KINDS flattened for the per-line loop: (when, parse or read, is read, feed).
_DISPATCH = tuple((k.when, k.read or k.parse, k.read is not None, k.feed) for k in REPORT_KINDS)

#: Functions only a memcg OOM runs through.
_MEMCG_FRAMES = ("mem_cgroup_out_of_memory", "mem_cgroup_oom_synchronize")



class OomReportBuilder:
    """Collects the lines of one OOM report into an :class:`OomEvent`.

    :meth:`feed` returns True while the report goes on and False once its
    kill line has been taken; :meth:`finish` returns the event.
    """

    def __init__(self, event: OomEvent, head: bool = True) -> None:
        self.event = event
        self._tasks: Optional[TaskTable] = None
        # Frames are taken from the head on, "Call Trace:" or not (a grep'd
        # log keeps the frames and loses the marker).
        self._in_trace = True
        self._unsure: List[str] = []
        self._in_mem_info = False
        self._selected: Optional[Tuple[str, int, str, int]] = None
        self._have_trigger = False
        self._memcg_basis: Optional[str] = None
        self._global_seen = False
        self._panic_constraint: Optional[str] = None
        self._saw_mem_info = False
        #: The report's ``invoked oom-killer`` line was seen (False: headless).
        self._have_head = head

    def evidence(self, lineno: int, raw: str) -> Evidence:
        return Evidence(self.event.source, line=lineno, text=raw)

    def feed(self, text: str, lineno: int, raw: str) -> bool:
        """Take one message (prefix stripped); False once the kill line is in."""
        s = text.strip()
        if not s:
            return True
        for when, parse, stateful, feed in _DISPATCH:
            if when is not None and not when(self):
                continue
            value = parse(self, s) if stateful else parse(s)
            if value is not None:
                return feed(self, value, s, lineno, raw)
        return True

    def take_victim(self, victim: OomVictim, lineno: int, raw: str) -> None:
        """The ``Killed process`` line: the event's victim (and its end)."""
        ev = self.event
        if victim.message is None and self._selected is not None:
            victim.message = self._selected[0]
        if self._selected is not None and self._selected[1] != victim.pid:
            ev.notes.append(
                f"selected {self._selected[1]} ({self._selected[2]}) "
                f"score {self._selected[3]}, killed its child {victim.pid} ({victim.comm})"
            )
        if victim.message == "Memory cgroup out of memory":
            self._set_memcg("kill line 'Memory cgroup out of memory: Killed process …'")
        ev.victim = victim
        ev.end_line = lineno
        ev.evidence.append(self.evidence(lineno, raw))

    def _set_memcg(self, basis: str) -> None:
        ev = self.event
        if ev.constraint is None or (ev.constraint == "memcg" and ev.constraint_basis is None):
            ev.constraint = "memcg"
            ev.constraint_basis = basis

    def _take_constraint(self, cons: Dict[str, str]) -> None:
        ev = self.event
        name = cons["constraint"]
        ev.constraint = _CONSTRAINTS.get(name, name.lower())
        ev.constraint_basis = f"oom-kill: summary line constraint={name}" + (
            ",global_oom" if "global_oom" in cons else ""
        )
        if cons.get("nodemask") and ev.nodemask is None:
            ev.nodemask = cons["nodemask"]
        if "oom_memcg" in cons:
            ev.memcg = cons["oom_memcg"]
        if "task_memcg" in cons:
            ev.task_memcg = cons["task_memcg"]

    def finish(self, complete: bool) -> OomEvent:
        """The event; ``complete=False`` when the log ended before its kill line."""
        ev = self.event
        if self._tasks is not None:
            ev.tasks = self._tasks.summary()
        if not ev.call_trace and self._unsure:
            # 2.6.32-era kernels without a reliable unwinder mark every frame
            # "? ": better those than nothing.
            ev.call_trace = list(self._unsure)
            ev.notes.append("call trace from '?' (unreliable) frames only")
        if ev.victim is None and self._selected is not None:
            msg, pid, comm, score = self._selected
            ev.victim = OomVictim(pid=pid, comm=comm, message=msg)
            ev.notes.append(f"victim from the 'Kill process {pid} ({comm}) score {score} or "
                            "sacrifice child' line: its 'Killed process' line (RSS, or a "
                            "child killed instead) is not in this log")
        if ev.constraint is None:
            frame = next((f for f in ev.call_trace if f in _MEMCG_FRAMES), None)
            if frame is not None:
                # Before the oom-kill: summary (v5.0) a memcg OOM whose report
                # came from check_panic_on_oom() printed show_mem() too.
                self._set_memcg(f"call trace through {frame} (the memcg OOM path)")
        if ev.constraint is None and self._global_seen:
            # Up to 4.19 there is no oom-kill: summary; show_mem() (Mem-Info)
            # is printed only when the OOM is not a memcg one.
            ev.constraint = "global"
            ev.constraint_basis = (
                "Mem-Info printed and no memcg lines (kernel without the oom-kill: "
                "summary; a cpuset/mempolicy constraint cannot be told apart)"
            )
        if ev.constraint is None and ev.victim is not None and ev.victim.message == "Out of memory":
            ev.constraint = "global"
            ev.constraint_basis = (
                "kill line 'Out of memory: …' (not 'Memory cgroup out of memory'; without the "
                "oom-kill: summary a cpuset/mempolicy constraint cannot be told apart)")
        if ev.constraint is None and self._panic_constraint is not None:
            ev.constraint = self._panic_constraint
            ev.constraint_basis = ("'system-wide panic_on_oom' panic: panic_on_oom=1 panics "
                                   "only for CONSTRAINT_NONE")
        if not complete:
            ev.complete = False
        ev.missing = _missing(ev, self._have_head, self._saw_mem_info)
        return ev
