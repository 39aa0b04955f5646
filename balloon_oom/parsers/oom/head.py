# SPDX-License-Identifier: GPL-2.0-or-later
"""The head of an OOM report: what ``dump_header()`` prints before show_mem.

The ``X invoked oom-killer:`` line, the ``CPU: … Comm: …`` line of
``dump_stack()`` (and the kernel release it names), the ≥5.0 ``oom-kill:``
summary, the memcg v1 lines, and the panic and no-victim lines of
``check_panic_on_oom()`` / ``out_of_memory()``.

>>> parse_invoked("hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0")["gfp_mask"]
'0x140dca'
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

__all__ = [
    "is_invoked",
    "parse_constraint",
    "parse_invoked",
    "parse_memcg_task_in",
    "parse_memcg_usage",
    "parse_note",
    "parse_panic",
    "parse_release",
    "parse_trigger",
]

_INVOKED = re.compile(
    r"^(?:(?P<comm>.*?) )?invoked oom-killer: gfp_mask=(?P<mask>0x[0-9a-fA-F]+)"
    r"(?:\((?P<flags>[^)]*)\))?"
    r"(?:, nodemask=(?P<nodemask>[^,]*?))?,\s+order=(?P<order>-?\d+)"
    r"(?:, oom_adj=-?\d+)?(?:, oom_score_adj=(?P<adj>-?\d+))?"
)


def is_invoked(text: str) -> bool:
    """Cheap test for the first line of a report (its comm may have been
    wrapped onto the line before)."""
    return " invoked oom-killer: " in text or text.lstrip().startswith("invoked oom-killer: ")


def parse_invoked(text: str) -> Optional[Dict[str, object]]:
    """The ``X invoked oom-killer: gfp_mask=…`` line (every generation).

    ``nodemask=`` is printed here up to 4.19 (moved into the ``oom-kill:``
    summary by Linux kernel commit ef8444ea01d7 ("mm, oom: reorganize the
    oom report in dump_header") (in v5.0)).  2.6.32 kernels print
    ``oom_adj=`` too.

    >>> parse_invoked("oom05 invoked oom-killer: gfp_mask=0x6000c0(GFP_KERNEL), nodemask=(null), order=0, oom_score_adj=0")["nodemask"]
    '(null)'
    >>> parse_invoked("java invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0")["gfp_flags"] is None
    True
    """
    m = _INVOKED.search(text)
    if not m:
        return None
    adj = m.group("adj")
    return {
        "trigger_comm": (m.group("comm") or "").strip() or None,
        "gfp_mask": m.group("mask"),
        "gfp_flags": m.group("flags"),
        "nodemask": m.group("nodemask"),
        "order": int(m.group("order")),
        "oom_score_adj": int(adj) if adj is not None else None,
    }


# "CPU: 0 PID: 112 Comm: hog", 6.x "CPU: 2 UID: 104 PID: 3589817 Comm: postgres",
# 2.6.32 "Pid: 1743, comm: sshd".
_TRIGGER = re.compile(
    r"^(?:CPU: \d+ (?:UID: \d+ )?PID: (?P<pid>\d+) Comm: (?P<comm>.{1,16}?)"
    r"(?: (?:Not tainted|Tainted|Kdump)|$)"
    r"|Pid: (?P<pid2>\d+), comm: (?P<comm2>.{1,16}?)(?: (?:Not tainted|Tainted)|$))"
)


def parse_trigger(text: str) -> Optional[Tuple[int, str]]:
    """``(pid, comm)`` from the ``CPU: 0 PID: 112 Comm: hog …`` line.

    >>> parse_trigger("CPU: 2 UID: 104 PID: 3589817 Comm: postgres Not tainted 6.16.9+deb14-amd64 #1")
    (3589817, 'postgres')
    """
    m = _TRIGGER.match(text.strip())
    if not m:
        return None
    if m.group("pid"):
        return int(m.group("pid")), m.group("comm")
    return int(m.group("pid2")), m.group("comm2")


# The release in "CPU: 0 PID: 1 Comm: systemd Tainted: G      D W   5.4.0-next #75",
# "Pid: 5030, comm: httpd Not tainted 2.6.32-504.el6.x86_64 #1" and the hung-task
# "      Tainted: G            E     5.15.0-next-20211111 #68".
_RELEASE = re.compile(r"(?:[Nn]ot tainted|Tainted:?[^#]*?)\s+(?P<rel>\d+\.\d+[^\s#]*) #\d")


def parse_release(text: str) -> Optional[str]:
    """The kernel release a ``CPU: … Comm: …`` (or hung-task ``Tainted:``) line names.

    >>> parse_release("CPU: 0 PID: 1 Comm: systemd Tainted: G      D W         5.4.0-next-20191204+ #75")
    '5.4.0-next-20191204+'
    >>> parse_release("Pid: 5030, comm: httpd Not tainted 2.6.32-504.el6.x86_64 #1")
    '2.6.32-504.el6.x86_64'
    """
    if "ainted" not in text:
        return None
    m = _RELEASE.search(text)
    return m.group("rel") if m else None


# panic() lines of the OOM killer (check_panic_on_oom(), out_of_memory()).
_PANIC = re.compile(
    r"^(?:Kernel panic - not syncing: )?(?:Out of memory(?P<sysctl>: (?P<mode>system-wide|compulsory) "
    r"panic_on_oom is enabled| and no killable processes\.\.\.)|System is deadlocked on memory)"
)


def parse_panic(text: str) -> Optional[Tuple[str, Optional[str]]]:
    """``(kind, constraint)`` for the OOM killer's panic and no-victim lines.

    kinds: ``panic_on_oom`` (``system-wide``: only a CONSTRAINT_NONE OOM
    panics, so the constraint is global; ``compulsory``: any), ``no_killable``
    (``Out of memory and no killable processes...``, a panic up to v4.x, a
    warning since), ``deadlocked`` (``System is deadlocked on memory``, the
    panic after it for a non-memcg OOM).

    >>> parse_panic("Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled")
    ('panic_on_oom', 'global')
    >>> parse_panic("Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled")
    ('panic_on_oom', None)
    """
    m = _PANIC.match(text.strip())
    if not m:
        return None
    if m.group("mode"):
        return "panic_on_oom", "global" if m.group("mode") == "system-wide" else None
    if "no killable" in m.group(0):
        return "no_killable", None
    return "deadlocked", None


#: Lines kept as notes whatever precedes them (a panic ends the report).
_NOTES = (
    "Out of memory and no killable processes",
    "Kernel panic - not syncing: Out of memory",
    "Kernel panic - not syncing: System is deadlocked on memory",
    "COMPACTION is disabled!!!",
)


def parse_note(text: str) -> Optional[str]:
    """The note line ``text`` starts with (``COMPACTION is disabled!!!``, …).

    >>> parse_note("COMPACTION is disabled!!!")
    'COMPACTION is disabled!!!'
    """
    if not text.startswith(_NOTES):
        return None
    return next(note for note in _NOTES if text.startswith(note))


_CONSTRAINTS = {
    "CONSTRAINT_NONE": "global",
    "CONSTRAINT_CPUSET": "cpuset",
    "CONSTRAINT_MEMORY_POLICY": "mempolicy",
    "CONSTRAINT_MEMCG": "memcg",
}


def parse_constraint(text: str) -> Optional[Dict[str, str]]:
    """The ≥5.0 ``oom-kill:constraint=…`` summary as ``key -> value``.

    The node lists may hold commas (``mems_allowed=0,2``): a token without
    ``=`` continues the previous value, except the bare ``global_oom``.

    >>> d = parse_constraint("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,2,global_oom,task_memcg=/,task=hog,pid=112,uid=0")
    >>> d["mems_allowed"], d["global_oom"], d["pid"]
    ('0,2', '', '112')
    """
    text = text.strip()
    if not text.startswith("oom-kill:"):
        return None
    out: Dict[str, str] = {}
    last = None
    for token in text[len("oom-kill:"):].split(","):
        key, sep, value = token.partition("=")
        if sep:
            out[key.strip()] = value
            last = key.strip()
        elif token.strip() == "global_oom":
            out["global_oom"] = ""
        elif last is not None:
            out[last] += "," + token
    return out if "constraint" in out else None


# --- memcg v1 (mem_cgroup_print_oom_info) -----------------------------------

_TASK_IN = re.compile(r"^Task in (?P<task>\S+) killed as a result of limit of (?P<memcg>\S+)")
_MEMCG_USAGE = re.compile(r"^memory: usage (\d+)kB, limit (\d+)kB, failcnt (\d+)")


def parse_memcg_task_in(text: str) -> Optional[Tuple[str, str]]:
    """``(task_memcg, memcg)`` of the memcg v1 ``Task in X killed as a result of limit of Y``.

    >>> parse_memcg_task_in("Task in /0 killed as a result of limit of /0")
    ('/0', '/0')
    """
    m = _TASK_IN.match(text)
    return (m.group("task"), m.group("memcg")) if m else None


def parse_memcg_usage(text: str) -> Optional[Tuple[int, int, int]]:
    """``(usage_kb, limit_kb, failcnt)`` of ``memory: usage NkB, limit NkB, failcnt N``.

    >>> parse_memcg_usage("memory: usage 0kB, limit 0kB, failcnt 448")
    (0, 0, 448)
    """
    m = _MEMCG_USAGE.match(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
