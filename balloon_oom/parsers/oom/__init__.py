# SPDX-License-Identifier: GPL-2.0-or-later
"""The OOM-killer report, line by line, across kernel generations.

An OOM report is a burst of kernel messages that ``mm/oom_kill.c``,
``show_mem()`` and the memcg code print around one kill.  The pure
``parse_*`` functions each recognise one kind of line and return its values:
:mod:`.head` (``invoked oom-killer``, the ``CPU: … Comm:`` line and its
release, the ``oom-kill:`` summary, memcg v1 lines, panics), :mod:`.kill`
(selection, kill, exiting, reaper, memory.oom.group), :mod:`.show_mem`,
:mod:`.tasks` and :mod:`.trace`.  :mod:`.kinds` registers them as line kinds
(pattern, needle, what each feeds, in precedence order) and
:class:`~.builder.OomReportBuilder` dispatches over that registry.

What changed in which kernel, by kind of line (each commit checked by its
title, its change to the printed line and the release that merged it; every
parser takes the lines of both sides)::

    kind         change                                      Linux kernel commit
    kill         "Killed process" gains shmem-rss:           eca56ff906bd ("mm, shmem: add internal shmem resident memory accounting") (in v4.5)
    reaper       "oom_reaper: reaped process N (comm),       bc448e897b6d ("mm, oom_reaper: report success/failure") (in v4.6)
                 now anon-rss:…"
    task_header  nr_ptes column becomes pgtables_bytes       af5b0f6a09e4 ("mm: consolidate page table accounting") (in v4.15)
    task_header  "[  pid  ]" (wider pid), "Tasks state       c3b78b11efbb ("mm, oom: describe task memory unit, larger PID pad") (in v4.19)
                 (memory values in pages):" before it
    oom_group    "Tasks in X are going to be killed due to   3d8b38eb81ca ("mm, oom: introduce memory.oom.group") (in v4.19)
                 memory.oom.group set", after the kill line
    constraint   "oom-kill:constraint=…" summary; the        ef8444ea01d7 ("mm, oom: reorganize the oom report in dump_header") (in v5.0)
    invoked      invoked line loses nodemask=
    selected     "Kill process … or sacrifice child" gone,   bbbe48029720 ("mm, oom: remove 'prefer children over parent' heuristic") (in v5.1)
    kill         the kill line carries the message
    kill         ", UID:N pgtables:NkB oom_score_adj:N"      70cb6d267790 ("mm/oom: add oom_score_adj and pgtables to Killed process message") (in v5.4)
    mem_info     "unstable:" dropped from the summary        8d92890bd6b8 ("mm/writeback: discard NR_UNSTABLE_NFS, use NR_WRITEBACK instead") (in v5.8)
    trigger      "CPU: N UID: N PID: N Comm: …"              d2917ff19962 ("lib/dump_stack: report process UID in dump_stack_print_info()") (in v6.11)
    node         " Balloon:NkB" after all_unreclaimable?     835de37603ef ("meminfo: add a per node counter for balloon drivers") (in v6.15)

>>> from balloon_oom.parsers.oom import parse_kill
>>> parse_kill("Out of memory: Killed process 112 (hog) total-vm:174712kB, anon-rss:173388kB, file-rss:4kB, shmem-rss:648kB, UID:0 pgtables:376kB oom_score_adj:0").anon_rss_kb
173388
"""

# The private patterns (_INVOKED, ...) are the ones parsers/rejoin.py reads
# further into: kept importable from here.
from balloon_oom.parsers.oom.builder import OomReportBuilder
from balloon_oom.parsers.oom.head import (
    _INVOKED,  # noqa: F401
    _MEMCG_USAGE,  # noqa: F401
    _TASK_IN,  # noqa: F401
    is_invoked,
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
    _KILLED,  # noqa: F401
    _OOM_GROUP,  # noqa: F401
    _SELECTED,  # noqa: F401
    parse_exiting,
    parse_kill,
    parse_oom_group,
    parse_reaper,
    parse_selected,
)
from balloon_oom.parsers.oom.kinds import KINDS, OOM_NEEDLES, REPORT_KINDS, SCANNER_KINDS, LineKind
from balloon_oom.parsers.oom.show_mem import (
    parse_hugepages,
    parse_mem_info_pairs,
    parse_node,
    parse_total,
    parse_vz_balloon,
    parse_zone,
)
from balloon_oom.parsers.oom.tasks import (
    _TASK_HEADER,  # noqa: F401
    TOP_TASKS,
    TaskTable,
    parse_task_header,
    parse_task_row,
)
from balloon_oom.parsers.oom.trace import MAX_CALL_TRACE, parse_arm_frame, parse_frame, parse_unsure_frame

__all__ = [
    "KINDS",
    "MAX_CALL_TRACE",
    "OOM_NEEDLES",
    "REPORT_KINDS",
    "SCANNER_KINDS",
    "TOP_TASKS",
    "LineKind",
    "OomReportBuilder",
    "TaskTable",
    "is_invoked",
    "parse_arm_frame",
    "parse_constraint",
    "parse_exiting",
    "parse_frame",
    "parse_hugepages",
    "parse_invoked",
    "parse_kill",
    "parse_mem_info_pairs",
    "parse_memcg_task_in",
    "parse_memcg_usage",
    "parse_node",
    "parse_note",
    "parse_oom_group",
    "parse_panic",
    "parse_reaper",
    "parse_release",
    "parse_selected",
    "parse_task_header",
    "parse_task_row",
    "parse_total",
    "parse_trigger",
    "parse_unsure_frame",
    "parse_vz_balloon",
    "parse_zone",
]
