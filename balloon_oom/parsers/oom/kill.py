# SPDX-License-Identifier: GPL-2.0-or-later
"""The kill: selection, ``Killed process``, ``already exiting``, the reaper
and the memory.oom.group line.

>>> parse_kill("Out of memory: Killed process 112 (hog) total-vm:174712kB, anon-rss:173388kB, file-rss:4kB, shmem-rss:648kB, UID:0 pgtables:376kB oom_score_adj:0").anon_rss_kb
173388
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

from balloon_oom.model import OomVictim

__all__ = ["parse_exiting", "parse_kill", "parse_oom_group", "parse_reaper", "parse_selected"]

_KB = r"(\d+)kB"
_KILLED = re.compile(
    r"^(?:(?P<msg>.*?): )?Killed process (?P<pid>\d+)(?:, UID (?P<uid0>\d+),)? "
    r"\((?P<comm>.*)\)(?:, UID (?P<uid1>\d+))?,? total-vm:(?P<vm>\d+)kB"
    r", anon-rss:(?P<anon>\d+)kB, file-rss:(?P<file>\d+)kB(?:, shmem-rss:(?P<shmem>\d+)kB)?"
    r"(?:, UID:(?P<uid2>\d+) pgtables:(?P<pgt>\d+)kB oom_score_adj:(?P<adj>-?\d+))?"
)
_SELECTED = re.compile(
    r"^(?P<msg>.*?): Kill process (?P<pid>\d+) \((?P<comm>.*)\) score (?P<score>\d+) or sacrifice child"
)
_REAPED = re.compile(
    r"^oom_reaper: reaped process (?P<pid>\d+) \((?P<comm>.*)\), now anon-rss:" + _KB +
    r", file-rss:" + _KB + r", shmem-rss:" + _KB
)
_EXITING = re.compile(r"^(?P<msg>.*?): OOM victim (?P<pid>\d+) \((?P<comm>.*)\) is already exiting")
_OOM_GROUP = re.compile(r"^Tasks in (\S+) are going to be killed due to memory\.oom\.group set")


def parse_kill(text: str) -> Optional[OomVictim]:
    """The ``[Message: ]Killed process N (comm) total-vm:…`` line, any generation.

    Shapes: ≤5.0 ``Killed process …`` after a ``Kill process … or sacrifice
    child`` line (RHEL 7 adds ``, UID N,``); 5.1–5.3 ``Out of memory:
    Killed process …`` (Linux kernel commit bbbe48029720 ("mm, oom: remove
    'prefer children over parent' heuristic") (in v5.1)); ≥5.4 adds ``,
    UID:N pgtables:NkB oom_score_adj:N`` (Linux kernel commit 70cb6d267790
    ("mm/oom: add oom_score_adj and pgtables to Killed process message")
    (in v5.4)).

    >>> v = parse_kill("Killed process 42421 (memcg_test_1), UID 0, total-vm:7296kB, anon-rss:96kB, file-rss:0kB, shmem-rss:0kB")
    >>> v.pid, v.comm, v.uid, v.message
    (42421, 'memcg_test_1', 0, None)
    """
    m = _KILLED.match(text.strip())
    if not m:
        return None
    uid = m.group("uid2") or m.group("uid1") or m.group("uid0")
    return OomVictim(
        pid=int(m.group("pid")),
        comm=m.group("comm"),
        total_vm_kb=int(m.group("vm")),
        anon_rss_kb=int(m.group("anon")),
        file_rss_kb=int(m.group("file")),
        shmem_rss_kb=int(m.group("shmem")) if m.group("shmem") is not None else None,
        uid=int(uid) if uid is not None else None,
        pgtables_kb=int(m.group("pgt")) if m.group("pgt") is not None else None,
        oom_score_adj=int(m.group("adj")) if m.group("adj") is not None else None,
        message=m.group("msg"),
    )


def parse_selected(text: str) -> Optional[Tuple[str, int, str, int]]:
    """≤5.0 ``Out of memory: Kill process N (comm) score N or sacrifice child``.

    >>> parse_selected("Out of memory: Kill process 21945 (tidb-server) score 956 or sacrifice child")
    ('Out of memory', 21945, 'tidb-server', 956)
    """
    m = _SELECTED.match(text.strip())
    if not m:
        return None
    return m.group("msg"), int(m.group("pid")), m.group("comm"), int(m.group("score"))


def parse_reaper(text: str) -> Optional[Tuple[int, str, Dict[str, int]]]:
    """``oom_reaper: reaped process N (comm), now anon-rss:…`` → ``(pid, comm, kB)``.

    >>> parse_reaper("oom_reaper: reaped process 63214 (uwsgi), now anon-rss:0kB, file-rss:0kB, shmem-rss:92kB")
    (63214, 'uwsgi', {'anon_rss_kb': 0, 'file_rss_kb': 0, 'shmem_rss_kb': 92})
    """
    m = _REAPED.match(text.strip())
    if not m:
        return None
    return int(m.group("pid")), m.group("comm"), {
        "anon_rss_kb": int(m.group(3)),
        "file_rss_kb": int(m.group(4)),
        "shmem_rss_kb": int(m.group(5)),
    }


def parse_exiting(text: str) -> Optional[Tuple[str, int, str]]:
    """``(message, pid, comm)`` of ``Out of memory: OOM victim N (comm) is already exiting…``.

    >>> parse_exiting("Out of memory: OOM victim 112 (hog) is already exiting. Skip killing the task")
    ('Out of memory', 112, 'hog')
    """
    m = _EXITING.match(text)
    return (m.group("msg"), int(m.group("pid")), m.group("comm")) if m else None


def parse_oom_group(text: str) -> Optional[str]:
    """The memcg of ``Tasks in X are going to be killed due to memory.oom.group set``.

    ``mem_cgroup_print_oom_group()`` prints it after the victim's
    ``Killed process`` line, before the kill lines of the group's other
    tasks (Linux kernel commit 3d8b38eb81ca ("mm, oom: introduce
    memory.oom.group") (in v4.19)).

    >>> parse_oom_group("Tasks in /kubepods.slice/pod1 are going to be killed due to memory.oom.group set")
    '/kubepods.slice/pod1'
    """
    m = _OOM_GROUP.match(text.strip())
    return m.group(1) if m else None
