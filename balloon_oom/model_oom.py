# SPDX-License-Identifier: GPL-2.0-or-later
"""The model of one OOM report: the event, its victim, task table, zones and nodes.

Part of :mod:`balloon_oom.model`, which re-exports every name here; import
them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional

if TYPE_CHECKING:
    from .model import BootMemory, Evidence

__all__ = ["OomEvent", "OomNode", "OomTask", "OomVictim", "OomZone", "TaskSummary"]


@dataclass
class OomTask:
    """One row of the OOM task table (pages, except pgtables_bytes)."""

    pid: int
    uid: int
    tgid: int
    total_vm_pages: int
    rss_pages: int
    pgtables_bytes: int
    swapents: int
    oom_score_adj: int
    name: str
    rss_anon_pages: Optional[int] = None
    rss_file_pages: Optional[int] = None
    rss_shmem_pages: Optional[int] = None


@dataclass
class TaskSummary:
    count: int = 0
    total_rss_pages: int = 0
    top: List[OomTask] = field(default_factory=list)


@dataclass
class OomVictim:
    pid: int
    comm: str
    total_vm_kb: Optional[int] = None
    anon_rss_kb: Optional[int] = None
    file_rss_kb: Optional[int] = None
    shmem_rss_kb: Optional[int] = None
    uid: Optional[int] = None
    pgtables_kb: Optional[int] = None
    oom_score_adj: Optional[int] = None
    #: ``Out of memory`` / ``Memory cgroup out of memory`` / ...
    message: Optional[str] = None
    #: ``oom_reaper: reaped process …, now anon-rss:…`` values (kB).
    reaped: Optional[Dict[str, int]] = None

    @property
    def rss_kb(self) -> Optional[int]:
        parts = [self.anon_rss_kb, self.file_rss_kb, self.shmem_rss_kb]
        if all(p is None for p in parts):
            return None
        return sum(p or 0 for p in parts)


@dataclass
class OomZone:
    """A per-zone line of an OOM report (kB)."""

    node: int
    zone: str
    values_kb: Dict[str, int] = field(default_factory=dict)


@dataclass
class OomNode:
    """A per-node ``Node N active_anon:…kB …`` line (kB)."""

    node: int
    values_kb: Dict[str, int] = field(default_factory=dict)
    #: v6.15+: ``Balloon:…kB`` at the end of the line.
    balloon_kb: Optional[int] = None
    all_unreclaimable: Optional[bool] = None


@dataclass
class OomEvent:
    """One OOM-killer invocation, as printed in a kernel log."""

    source: str
    line: int
    end_line: Optional[int] = None
    #: Seconds since boot as printed (``[  123.456]``), if any.
    monotonic: Optional[float] = None
    #: Wall-clock prefix as printed (syslog, ``dmesg -T``, journal), if any.
    wallclock: Optional[str] = None
    trigger_comm: Optional[str] = None
    trigger_pid: Optional[int] = None
    gfp_mask: Optional[str] = None
    gfp_flags: Optional[str] = None
    order: Optional[int] = None
    oom_score_adj: Optional[int] = None
    nodemask: Optional[str] = None
    #: ``global`` | ``memcg`` | ``cpuset`` | ``mempolicy`` | None (unknown).
    constraint: Optional[str] = None
    constraint_basis: Optional[str] = None
    memcg: Optional[str] = None
    task_memcg: Optional[str] = None
    memcg_usage_kb: Optional[int] = None
    memcg_limit_kb: Optional[int] = None
    memcg_failcnt: Optional[int] = None
    #: Mem-Info summary (pages): active_anon, free, slab_reclaimable, ...
    mem_info: Dict[str, int] = field(default_factory=dict)
    nodes: List[OomNode] = field(default_factory=list)
    zones: List[OomZone] = field(default_factory=list)
    pages_ram: Optional[int] = None
    pages_reserved: Optional[int] = None
    pages_highmem: Optional[int] = None
    pages_cma_reserved: Optional[int] = None
    pages_hwpoisoned: Optional[int] = None
    #: ``pages shared`` / ``pages non-shared``: only the pre-3.14 show_mem
    #: (PageReserved counting) prints them.
    pages_shared: Optional[int] = None
    pages_non_shared: Optional[int] = None
    total_pagecache_pages: Optional[int] = None
    swap_cache_pages: Optional[int] = None
    swap_free_kb: Optional[int] = None
    swap_total_kb: Optional[int] = None
    #: ``Node 0 hugepages_total=… hugepages_size=2048kB`` lines, as dicts.
    hugetlb: List[Dict[str, int]] = field(default_factory=list)
    tasks: Optional[TaskSummary] = None
    victim: Optional[OomVictim] = None
    call_trace: List[str] = field(default_factory=list)
    #: Virtuozzo ``Balloon InflatedTotal:…kB InflatedFree:…kB`` (kB).
    vz_balloon_inflated_total_kb: Optional[int] = None
    vz_balloon_inflated_free_kb: Optional[int] = None
    #: The report stopped before its kill line (log cut short).
    complete: bool = True
    #: Index of the boot (``Linux version`` lines seen before it in its log).
    boot: Optional[int] = None
    #: True when the event happened in the boot the report was collected in.
    current_boot: Optional[bool] = None
    #: The boot ``Memory:`` line (and later ``Freeing`` lines) of this
    #: event's own boot in its own log, if that log holds it.
    boot_memory: Optional["BootMemory"] = None
    #: ``Out of memory and no killable processes``, panic lines, ...
    notes: List[str] = field(default_factory=list)
    evidence: List[Evidence] = field(default_factory=list)
    #: What a full report has and this one lacks (the log was cut, grep'd or
    #: the kernel printed no more): ``head`` (no ``invoked oom-killer`` line),
    #: ``mem_info``, ``totals`` (``pages RAM``/``pages reserved``), ``tasks``,
    #: ``kill`` (no victim: panic_on_oom, a cut log), ``kill_rss`` (victim from
    #: the ``Kill process … or sacrifice child`` line only).
    missing: List[str] = field(default_factory=list)
    #: journal ``_BOOT_ID`` of the report (journal JSON/export input only).
    boot_id: Optional[str] = None

    @property
    def node_balloon_kb(self) -> Optional[int]:
        """Sum of the per-node v6.15+ ``Balloon:`` fields, if printed."""
        vals = [n.balloon_kb for n in self.nodes if n.balloon_kb is not None]
        return sum(vals) if vals else None
