# SPDX-License-Identifier: GPL-2.0-or-later
"""What the lab's ground-truth tests share: their parametrisation over the four
kernels and the scenarios, and readers of a run's captures (cached per run).

Every lab test runs on each of the lab's kernels (:data:`tests.lab.KERNELS`);
values that differ between them are read from that kernel's own captures.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Dict

import pytest

from tests.lab import KERNELS, SCENARIOS, ensure_run
from tests.lab.drift import node_stat_drift_pages

PAGE = 4096          # x86-64 PAGE_SIZE; virtio-balloon pages are 4 KiB too
VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2

lab = pytest.mark.lab
ALL_KERNELS = list(KERNELS)
ALL_PHASES = [(k, s.name, p) for k in ALL_KERNELS for s in SCENARIOS.values() for p in s.phases]
ALL_VMCORES = [(k, s.name, tag, fmt) for k in ALL_KERNELS for s in SCENARIOS.values()
               for tag in s.vmcores
               for fmt in (("elf", "kdump-zlib") if tag == "inflated" and s.kdump_zlib else ("elf",))]
ALL_RUNS = [(k, s) for k in ALL_KERNELS for s in SCENARIOS]
#: Runs ending in one OOM kill (sysrq-f may kill nothing: see its test).
KILL_RUNS = [(k, s.name) for k in ALL_KERNELS for s in SCENARIOS.values() if s.oom != "sysrq-f"]
DUMP_RUNS = [(k, s.name) for k in ALL_KERNELS for s in SCENARIOS.values() if s.dumps]
BALLOONED_RUNS = [(k, s.name) for k in ALL_KERNELS for s in SCENARIOS.values() if s.balloon_mib]
VMCORE_PHASE = {"inflated": "after-inflate", "after-oom": "after-oom"}


@functools.lru_cache(maxsize=None)
def run(kernel: str, name: str):
    return ensure_run(name, kernel=kernel)


def kv(path: Path) -> Dict[str, int]:
    """``key value`` (vmstat) or ``Key: value kB`` (meminfo) lines as ints."""
    out = {}
    for line in path.read_text().splitlines():
        parts = line.replace(":", " ").split()
        if len(parts) >= 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def meminfo(kernel: str, name: str, phase: str) -> Dict[str, int]:
    return kv(run(kernel, name).tree(phase) / "proc" / "meminfo")


def vmstat(kernel: str, name: str, phase: str) -> Dict[str, int]:
    return kv(run(kernel, name).tree(phase) / "proc" / "vmstat")


def query_balloon(kernel: str, name: str, phase: str) -> int:
    return run(kernel, name).groundtruth["phases"][phase]["query-balloon"]["actual"]


def drift_bytes(kernel: str, name: str, phase: str) -> int:
    """How far Balloon:/nr_balloon_pages may lag the balloon (tests/lab/drift.py)."""
    return node_stat_drift_pages((run(kernel, name).tree(phase) / "proc/zoneinfo").read_text()) * PAGE
