# SPDX-License-Identifier: GPL-2.0-or-later
"""OOM events as the host sees them on the guest's serial console.

The lab's ``/init`` sets the console loglevel to 7, so the whole report
reaches ``serial.log``: the ``invoked oom-killer`` line (KERN_WARNING) and the
``Killed process`` line (KERN_ERR, prefixed ``Out of memory:`` for a global
OOM and ``Memory cgroup out of memory:`` for a memcg one, mm/oom_kill.c).
Lines may end in ``\\r`` (serial); they are kept otherwise exact.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List

__all__ = ["oom_events", "report_node_balloon_kb"]

_INVOKED = re.compile(r"^(?:\[\s*[\d.]+\]\s*)?(?P<comm>.+?) invoked oom-killer: ")
_KILLED = re.compile(r"^(?:\[\s*[\d.]+\]\s*)?(?P<prefix>Out of memory|Memory cgroup out of memory)"
                     r": Killed process (?P<pid>\d+) \((?P<comm>[^)]*)\)")
_CONSTRAINT = re.compile(r"oom-kill:constraint=(?P<c>\w+)")


def oom_events(lines: Iterable[str]) -> List[Dict]:
    """One dict per kill: the invoking line, the kill line, victim pid/comm, kind.

    >>> ev = oom_events([
    ...   "[    8.352026] hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
    ...   "[    8.354893] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=hog,pid=112,uid=0",
    ...   "[    8.355603] Out of memory: Killed process 112 (hog) total-vm:174712kB, anon-rss:173388kB"])
    >>> ev[0]["victim_pid"], ev[0]["victim_comm"], ev[0]["kind"], ev[0]["constraint"], ev[0]["invoker"]
    (112, 'hog', 'global', 'CONSTRAINT_NONE', 'hog')
    """
    events: List[Dict] = []
    pending: Dict = {}
    for raw in lines:
        line = raw.rstrip("\r\n")
        m = _INVOKED.match(line)
        if m:
            pending = {"invoked_line": line, "invoker": m.group("comm")}
            continue
        m = _CONSTRAINT.search(line)
        if m and pending:
            pending["constraint"] = m.group("c")
            continue
        m = _KILLED.match(line)
        if m:
            events.append({
                "invoked_line": pending.get("invoked_line"),
                "invoker": pending.get("invoker"),
                "constraint": pending.get("constraint"),
                "killed_line": line,
                "victim_pid": int(m.group("pid")),
                "victim_comm": m.group("comm"),
                "kind": "memcg" if m.group("prefix").startswith("Memory cgroup") else "global",
            })
            pending = {}
    return events


def report_node_balloon_kb(lines: Iterable[str]) -> List[int]:
    """The ``Balloon:NkB`` fields (Linux v6.15+) of the ``Node N active_anon:``
    lines of each OOM report, from ``invoked oom-killer`` to ``oom-kill:``.

    7.x also prints a ``page allocation failure`` with its own show_mem after
    the kill: not part of the report, so not counted.

    >>> report_node_balloon_kb([
    ...   "[ 17.3] hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE), order=0",
    ...   "[ 17.3] Node 0 active_anon:171568kB all_unreclaimable? yes Balloon:262144kB gpu_active:0kB",
    ...   "[ 17.3] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null)",
    ...   "[ 17.3] Node 0 active_anon:171568kB all_unreclaimable? yes Balloon:262144kB gpu_active:0kB"])
    [262144]
    """
    found: List[int] = []
    inside = False
    for line in lines:
        if " invoked oom-killer: " in line:
            inside = True
        elif "oom-kill:constraint=" in line:
            inside = False
        elif inside and re.search(r"\bNode \d+ active_anon:", line):
            m = re.search(r" Balloon:(\d+)kB", line)
            if m:
                found.append(int(m.group(1)))
    return found
