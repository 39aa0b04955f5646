# SPDX-License-Identifier: GPL-2.0-or-later
"""The task table ``dump_tasks()`` prints: its header (the columns vary by
kernel), its rows, and a constant-memory running summary.

>>> parse_task_header("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name")[5]
'nr_ptes'
"""

from __future__ import annotations

import heapq
import re
from typing import List, Optional, Tuple

from balloon_oom.model import OomTask, TaskSummary

__all__ = ["TOP_TASKS", "TaskTable", "parse_task_header", "parse_task_row"]

#: Task-table rows kept per event (largest rss first).
TOP_TASKS = 5

_TASK_HEADER = re.compile(r"^\[\s*pid\s*\]\s+uid\s+tgid\s+total_vm\s+rss\b(?P<cols>.*)\sname$")
_TASK_ROW = re.compile(r"^\[\s*(\d+)\]((?:\s+-?\d+)+)\s+(.*)$")


def parse_task_header(text: str) -> Optional[List[str]]:
    """Column names of a task-table header, ``None`` if this is not one.

    >>> parse_task_header("[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name")
    ['pid', 'uid', 'tgid', 'total_vm', 'rss', 'rss_anon', 'rss_file', 'rss_shmem', 'pgtables_bytes', 'swapents', 'oom_score_adj']
    """
    m = _TASK_HEADER.match(text.strip())
    if not m:
        return None
    return ["pid", "uid", "tgid", "total_vm", "rss"] + m.group("cols").split()


def parse_task_row(text: str, columns: List[str]) -> Optional[OomTask]:
    """One task-table row under ``columns`` (from :func:`parse_task_header`).

    3.10 tables have ``nr_ptes`` (pages) where later ones have
    ``pgtables_bytes`` (Linux kernel commit af5b0f6a09e4 ("mm: consolidate
    page table accounting") (in v4.15)); ``nr_pmds`` may sit next to it.

    >>> cols = parse_task_header("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name")
    >>> parse_task_row("[    112]     0   112    43678    43510   385024        0             0 hog", cols).rss_pages
    43510
    """
    m = _TASK_ROW.match(text.strip())
    if not m:
        return None
    nums = [int(n) for n in m.group(2).split()]
    values = dict(zip(columns, [int(m.group(1))] + nums))
    if len(nums) + 1 != len(columns):
        return None
    if "pgtables_bytes" in values:
        pgtables = values["pgtables_bytes"]
    else:
        pgtables = (values.get("nr_ptes", 0) + values.get("nr_pmds", 0)) * 4096
    return OomTask(
        pid=values["pid"],
        uid=values["uid"],
        tgid=values["tgid"],
        total_vm_pages=values["total_vm"],
        rss_pages=values["rss"],
        pgtables_bytes=pgtables,
        swapents=values.get("swapents", 0),
        oom_score_adj=values.get("oom_score_adj", 0),
        name=m.group(3),
        rss_anon_pages=values.get("rss_anon"),
        rss_file_pages=values.get("rss_file"),
        rss_shmem_pages=values.get("rss_shmem"),
    )


class TaskTable:
    """Running summary of a task table: count, rss total, top-N by rss.

    Constant memory whatever the number of rows.
    """

    def __init__(self, columns: List[str], top: int = TOP_TASKS) -> None:
        self.columns = columns
        self.count = 0
        self.total_rss_pages = 0
        self._top: List[Tuple[int, int, OomTask]] = []
        self._limit = top

    def add(self, task: OomTask) -> None:
        self.count += 1
        self.total_rss_pages += task.rss_pages
        item = (task.rss_pages, -self.count, task)
        if len(self._top) < self._limit:
            heapq.heappush(self._top, item)
        elif item[:2] > self._top[0][:2]:
            heapq.heapreplace(self._top, item)

    def summary(self) -> TaskSummary:
        top = [t for _, _, t in sorted(self._top, key=lambda i: (-i[0], -i[1]))]
        return TaskSummary(count=self.count, total_rss_pages=self.total_rss_pages, top=top)
