"""The OOM-killer report, line by line, across kernel generations.

An OOM report is a burst of kernel messages that :mod:`mm/oom_kill.c`,
``show_mem()`` and the memcg code print around one kill.  The pure
``parse_*`` functions here each recognise one kind of line and return its
values; :class:`OomReportBuilder` feeds message texts (prefixes already
stripped by :mod:`balloon_oom.parsers.logline`) into one
:class:`~balloon_oom.model.OomEvent`.  Lines it does not know are ignored,
so another CPU's messages in the middle of a report do no harm.

Formats (kernel-balloon-facts.md §7)::

    hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0
    oom05 invoked oom-killer: gfp_mask=0x6000c0(GFP_KERNEL), nodemask=(null), order=0, oom_score_adj=0   (<= 4.19)
    oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=hog,pid=112,uid=0   (>= 5.0)
    Out of memory: Killed process 112 (hog) total-vm:174712kB, anon-rss:173388kB, file-rss:4kB, shmem-rss:648kB, UID:0 pgtables:376kB oom_score_adj:0

>>> parse_invoked("hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0")["gfp_mask"]
'0x140dca'
>>> parse_kill("Out of memory: Killed process 112 (hog) total-vm:174712kB, anon-rss:173388kB, file-rss:4kB, shmem-rss:648kB, UID:0 pgtables:376kB oom_score_adj:0").anon_rss_kb
173388
"""

from __future__ import annotations

import heapq
import re
from typing import Dict, List, Optional, Tuple

from balloon_oom.model import (
    Evidence,
    OomEvent,
    OomNode,
    OomTask,
    OomVictim,
    OomZone,
    TaskSummary,
)

__all__ = [
    "MAX_CALL_TRACE",
    "TOP_TASKS",
    "OomReportBuilder",
    "TaskTable",
    "is_invoked",
    "parse_constraint",
    "parse_frame",
    "parse_invoked",
    "parse_kill",
    "parse_mem_info_pairs",
    "parse_node",
    "parse_panic",
    "parse_reaper",
    "parse_release",
    "parse_task_header",
    "parse_task_row",
    "parse_trigger",
    "parse_unsure_frame",
    "parse_zone",
]

#: Call-trace frames kept per event.
MAX_CALL_TRACE = 64
#: Task-table rows kept per event (largest rss first).
TOP_TASKS = 5

# --- the head -------------------------------------------------------------

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

    ``nodemask=`` is printed here up to 4.19 (moved into the
    ``oom-kill:`` summary by ef8444ea01d7, "mm, oom: reorganize the oom
    report in dump_header", v5.0).  2.6.32 kernels print ``oom_adj=`` too.

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


# --- the kill and the reaper ------------------------------------------------

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


def parse_kill(text: str) -> Optional[OomVictim]:
    """The ``[Message: ]Killed process N (comm) total-vm:…`` line, any generation.

    Shapes: ≤5.0 ``Killed process …`` after a ``Kill process … or sacrifice
    child`` line (RHEL 7 adds ``, UID N,``); 5.1–5.3 ``Out of memory:
    Killed process …`` (bbbe480297, "mm, oom: remove 'prefer children over
    parent' heuristic"); ≥5.4 adds ``, UID:N pgtables:NkB oom_score_adj:N``
    (70cb6d267790, "mm/oom: add oom_score_adj and pgtables to Killed process
    message").

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
    """≤5.0 ``Out of memory: Kill process N (comm) score N or sacrifice child``."""
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


# --- show_mem ---------------------------------------------------------------

_PAIR_PAGES = re.compile(r"([a-z_]+):(\d+)")
_PAIRS_ONLY = re.compile(r"^\s*(?:[a-z_]+:\d+\s*)+$")


def parse_mem_info_pairs(text: str) -> Optional[Dict[str, int]]:
    """A Mem-Info summary line (``active_anon:567 inactive_anon:43531 …``, pages).

    Every generation's keys are kept as printed (``unstable`` ≤5.7,
    ``kernel_misc_reclaimable``, ``sec_pagetables`` ≥6.0, ...).

    >>> parse_mem_info_pairs(" sec_pagetables:0 bounce:0")
    {'sec_pagetables': 0, 'bounce': 0}
    >>> parse_mem_info_pairs("Node 0 DMA free:1816kB") is None
    True
    """
    if not _PAIRS_ONLY.match(text):
        return None
    return {k: int(v) for k, v in _PAIR_PAGES.findall(text)}


_KB_PAIR = re.compile(r"([A-Za-z_()]+):\s?(\d+)[kK]B")
_NODE = re.compile(r"^Node (\d+) active_anon:")
# "Node 0 DMA32 free:…" (CONFIG_NUMA) or "DMA free:…" (show_node() prints
# nothing without NUMA).
_ZONE = re.compile(r"^(?:Node (?P<node>\d+) )?(?P<zone>[A-Za-z][\w]*) free:\d+kB")
_HUGE = re.compile(r"^Node (\d+) hugepages_total=")


def parse_node(text: str) -> Optional[OomNode]:
    """A per-node ``Node N active_anon:…kB … all_unreclaimable? yes [Balloon:…kB]``.

    ``Balloon:`` (NR_BALLOON_PAGES) ends the line from v6.15 (Nico Pache,
    "meminfo: add a per node counter for balloon drivers").

    >>> n = parse_node("Node 0 active_anon:2268kB shmem_thp: 0kB all_unreclaimable? yes Balloon:262144kB")
    >>> n.values_kb["shmem_thp"], n.all_unreclaimable, n.balloon_kb
    (0, True, 262144)
    """
    text = text.strip()
    m = _NODE.match(text)
    if not m:
        return None
    values = {k: int(v) for k, v in _KB_PAIR.findall(text)}
    unrec = re.search(r"all_unreclaimable\? (yes|no)", text)
    return OomNode(
        node=int(m.group(1)),
        values_kb=values,
        balloon_kb=values.get("Balloon"),
        all_unreclaimable=(unrec.group(1) == "yes") if unrec else None,
    )


def parse_zone(text: str) -> Optional[OomZone]:
    """A per-zone ``Node 0 DMA32 free:2572kB boost:… present:…kB managed:…kB …``.

    >>> z = parse_zone("Node 0 DMA32 free:2572kB boost:2048kB min:4664kB present:507776kB managed:190912kB")
    >>> z.zone, z.values_kb["present"] - z.values_kb["managed"]
    ('DMA32', 316864)
    """
    text = text.strip()
    m = _ZONE.match(text)
    if not m or m.group("zone") == "Node":
        return None
    return OomZone(
        node=int(m.group("node") or 0),
        zone=m.group("zone"),
        values_kb={k: int(v) for k, v in _KB_PAIR.findall(text[m.start("zone"):])},
    )


def parse_hugepages(text: str) -> Optional[Dict[str, int]]:
    """``Node 0 hugepages_total=0 … hugepages_size=2048kB`` as a dict (size in kB)."""
    text = text.strip()
    m = _HUGE.match(text)
    if not m:
        return None
    out = {"node": int(m.group(1))}
    for key, value in re.findall(r"(\w+)=(\d+)(?:kB)?", text):
        out[key + "_kb" if key == "hugepages_size" else key] = int(value)
    return out


_TOTALS = [
    (re.compile(r"^(\d+) total pagecache pages$"), "total_pagecache_pages"),
    (re.compile(r"^(\d+) pages in swap cache$"), "swap_cache_pages"),
    (re.compile(r"^Free swap\s+=\s*(\d+)kB$"), "swap_free_kb"),
    (re.compile(r"^Total swap\s+=\s*(\d+)kB$"), "swap_total_kb"),
    (re.compile(r"^(\d+) pages RAM$"), "pages_ram"),
    (re.compile(r"^(\d+) pages HighMem/MovableOnly$"), "pages_highmem"),
    (re.compile(r"^(\d+) pages reserved$"), "pages_reserved"),
    (re.compile(r"^(\d+) pages cma reserved$"), "pages_cma_reserved"),
    (re.compile(r"^(\d+) pages hwpoisoned$"), "pages_hwpoisoned"),
    # The pre-3.14 show_mem (PageReserved counting) only.
    (re.compile(r"^(\d+) pages shared$"), "pages_shared"),
    (re.compile(r"^(\d+) pages non-shared$"), "pages_non_shared"),
]
_VZ_BALLOON = re.compile(r"^Balloon InflatedTotal:\s*(-?\d+)\s*kB InflatedFree:\s*(-?\d+)\s*kB")


def parse_total(text: str) -> Optional[Tuple[str, int]]:
    """``(OomEvent field, value)`` for the show_mem totals lines.

    >>> parse_total("79374 pages reserved")
    ('pages_reserved', 79374)
    >>> parse_total("Free swap  = 0kB")
    ('swap_free_kb', 0)
    """
    text = text.strip()
    if not text or not (text[0].isdigit() or text[0] in "FT"):
        return None
    for rx, name in _TOTALS:
        m = rx.match(text)
        if m:
            return name, int(m.group(1))
    return None


# --- memcg ----------------------------------------------------------------

_TASK_IN = re.compile(r"^Task in (?P<task>\S+) killed as a result of limit of (?P<memcg>\S+)")
_MEMCG_USAGE = re.compile(r"^memory: usage (\d+)kB, limit (\d+)kB, failcnt (\d+)")
_OOM_GROUP = re.compile(r"^Tasks in (\S+) are going to be killed due to memory\.oom\.group set")

# --- the task table -------------------------------------------------------

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
    ``pgtables_bytes`` (4.15+, af5b0f6a09e4); ``nr_pmds`` may sit next to it.

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


# --- call traces ----------------------------------------------------------

_FRAME = re.compile(
    r"^\s*(?:\[<?[0-9a-fA-F]+>?\]\s*)*(?P<unsure>\?\s+)?"
    r"(?P<fn>[A-Za-z_$][\w$.]*)\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+"
)
_CLONE_SUFFIX = re.compile(r"\.(?:cold|part|constprop|isra|lto_priv)(?:\.\d+)*(?=\.|$)")


def parse_frame(text: str) -> Optional[str]:
    """Function name of a reliable call-trace frame; ``None`` otherwise.

    Offsets and GCC clone suffixes (``.cold``, ``.part.0``, ``.constprop.0``)
    are dropped; ``? `` frames (stale stack words) are not frames.

    >>> parse_frame(" [<ffffffff8116ceee>] oom_kill_process+0x24e/0x3b0")
    'oom_kill_process'
    >>> parse_frame(" __alloc_pages_slowpath.constprop.0+0x67f/0xe70")
    '__alloc_pages_slowpath'
    >>> parse_frame(" ? policy_node+0x51/0x70") is None
    True
    """
    m = _FRAME.match(text)
    if not m or m.group("unsure"):
        return None
    return _strip_clone(m.group("fn"))


def parse_unsure_frame(text: str) -> Optional[str]:
    """Function name of a ``? fn+0x…/0x…`` frame (unreliable unwinders)."""
    m = _FRAME.match(text)
    if not m or not m.group("unsure"):
        return None
    return _strip_clone(m.group("fn"))


def _strip_clone(name: str) -> str:
    while True:
        stripped = _CLONE_SUFFIX.sub("", name)
        if stripped == name:
            return name
        name = stripped


# --- one report -----------------------------------------------------------

_NOTES = (
    "Out of memory and no killable processes",
    "Kernel panic - not syncing: Out of memory",
    "Kernel panic - not syncing: System is deadlocked on memory",
    "COMPACTION is disabled!!!",
)
_EXITING = re.compile(r"^(?P<msg>.*?): OOM victim (?P<pid>\d+) \((?P<comm>.*)\) is already exiting")


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
        ev = self.event
        s = text.strip()
        if not s:
            return True

        if self._tasks is not None:
            task = parse_task_row(s, self._tasks.columns)
            if task is not None:
                self._tasks.add(task)
                return True

        if not self._have_trigger:
            trig = parse_trigger(s)
            if trig is not None:
                ev.trigger_pid, comm = trig
                ev.trigger_comm = ev.trigger_comm or comm
                self._have_trigger = True
                return True

        if s == "Call Trace:" or s.startswith("Call trace:"):
            self._in_trace = True
            return True
        if self._in_trace:
            fn = parse_frame(s)
            if fn is not None:
                if len(ev.call_trace) < MAX_CALL_TRACE:
                    ev.call_trace.append(fn)
                return True
            fn = parse_unsure_frame(s)
            if fn is not None:
                if len(self._unsure) < MAX_CALL_TRACE:
                    self._unsure.append(fn)
                return True
            if " from " in s:  # arm: "oom_kill_process from out_of_memory+0x218/0x34c"
                head = s.split(" from ", 1)[0]
                if re.fullmatch(r"[A-Za-z_$][\w$.]*", head):
                    if len(ev.call_trace) < MAX_CALL_TRACE:
                        ev.call_trace.append(parse_frame(head + "+0x0/0x0") or head)
                    return True

        if s == "Mem-Info:":
            self._saw_mem_info = True
            self._in_trace = False
            self._in_mem_info = True
            self._global_seen = True
            return True
        if self._in_mem_info:
            pairs = parse_mem_info_pairs(s)
            if pairs is not None:
                ev.mem_info.update(pairs)
                return True
        node = parse_node(s)
        if node is not None:
            self._in_mem_info = False
            ev.nodes.append(node)
            return True
        zone = parse_zone(s)
        if zone is not None:
            self._in_mem_info = False
            ev.zones.append(zone)
            return True
        huge = parse_hugepages(s)
        if huge is not None:
            ev.hugetlb.append(huge)
            return True
        total = parse_total(s)
        if total is not None:
            setattr(ev, total[0], total[1])
            return True
        vz = _VZ_BALLOON.match(s)
        if vz:
            ev.vz_balloon_inflated_total_kb = int(vz.group(1))
            ev.vz_balloon_inflated_free_kb = int(vz.group(2))
            ev.evidence.append(self.evidence(lineno, raw))
            return True

        columns = parse_task_header(s)
        if columns is not None:
            self._in_trace = False
            self._tasks = TaskTable(columns)
            return True

        m = _TASK_IN.match(s)
        if m:
            ev.task_memcg, ev.memcg = m.group("task"), m.group("memcg")
            self._set_memcg("'Task in … killed as a result of limit of …' line (memcg v1 report)")
            ev.evidence.append(self.evidence(lineno, raw))
            return True
        m = _MEMCG_USAGE.match(s)
        if m:
            self._in_trace = False
            ev.memcg_usage_kb, ev.memcg_limit_kb, ev.memcg_failcnt = (int(g) for g in m.groups())
            self._set_memcg("memcg 'memory: usage …kB, limit …kB, failcnt …' line")
            ev.evidence.append(self.evidence(lineno, raw))
            return True

        cons = parse_constraint(s)
        if cons is not None:
            self._take_constraint(cons)
            ev.evidence.append(self.evidence(lineno, raw))
            return True

        selected = parse_selected(s)
        if selected is not None:
            if self._selected is not None and not self._have_head:
                return False  # a headless report: the next selection is another OOM
            self._selected = selected
            if selected[0] == "Memory cgroup out of memory":
                self._set_memcg("kill line 'Memory cgroup out of memory: Kill process …'")
            ev.evidence.append(self.evidence(lineno, raw))
            return True

        victim = parse_kill(s)
        if victim is not None:
            self.take_victim(victim, lineno, raw)
            return False

        panic = parse_panic(s)
        if panic is not None:
            kind, constraint = panic
            if constraint is not None:
                self._panic_constraint = constraint
            if kind == "panic_on_oom":
                self._in_trace = False
            ev.notes.append(s)
            ev.evidence.append(self.evidence(lineno, raw))
            if kind == "no_killable" and not s.startswith("Kernel panic"):
                return True
            ev.end_line = lineno  # the panic ends the report
            return False

        m = _EXITING.match(s)
        if m:
            ev.notes.append(s)
            ev.evidence.append(self.evidence(lineno, raw))
            return False
        for note in _NOTES:
            if s.startswith(note):
                ev.notes.append(s)
                ev.evidence.append(self.evidence(lineno, raw))
                return not s.startswith("Kernel panic")
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
