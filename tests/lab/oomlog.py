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

__all__ = ["oom_events"]

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
