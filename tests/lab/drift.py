# SPDX-License-Identifier: GPL-2.0-or-later
"""How far a node vmstat counter (``NR_BALLOON_PAGES``) may lag its true value.

A node counter is updated per CPU and folded into the global value shown by
``/proc/meminfo`` (``Balloon:``), ``/proc/vmstat`` (``nr_balloon_pages``) and
the OOM report (per-node ``Balloon:``) only when a CPU's delta passes the
node's ``stat_threshold`` (mm/vmstat.c ``__mod_node_page_state``), or when
``vmstat_update`` folds it about a second later. The node threshold is the
largest ``vm stats threshold`` of its zones (``refresh_zone_stat_thresholds``),
printed per CPU in ``/proc/zoneinfo``. So those lines may differ from the
balloon's real size by up to the sum over CPUs of that threshold (the lab
measured 4 and 6 pages on 7.3). The event counters ``balloon_inflate`` /
``balloon_deflate`` are summed over CPUs when read: they are exact.
"""

from __future__ import annotations

import re
from typing import Dict

__all__ = ["node_stat_drift_pages"]


def node_stat_drift_pages(zoneinfo: str) -> int:
    """Sum over CPUs of the largest ``vm stats threshold`` in ``zoneinfo``.

    >>> node_stat_drift_pages("Node 0, zone DMA\\n  pagesets\\n    cpu: 0\\n  vm stats threshold: 2\\n"
    ...                       "Node 0, zone DMA32\\n  pagesets\\n    cpu: 0\\n  vm stats threshold: 6\\n"
    ...                       "    cpu: 1\\n  vm stats threshold: 6\\n")
    12
    """
    per_cpu: Dict[int, int] = {}
    cpu = None
    for line in zoneinfo.splitlines():
        m = re.match(r"\s*cpu:\s*(\d+)", line)
        if m:
            cpu = int(m.group(1))
            continue
        m = re.match(r"\s*vm stats threshold:\s*(\d+)", line)
        if m and cpu is not None:
            per_cpu[cpu] = max(per_cpu.get(cpu, 0), int(m.group(1)))
    return sum(per_cpu.values())
