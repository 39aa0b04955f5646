# SPDX-License-Identifier: GPL-2.0-or-later
"""The lab's vmcores against the guest and the host: totalram, VMCOREINFO.

Each vmcore of each kernel is read by crash or the drgn library
(:mod:`tests.lab.coreread`); its ``_totalram_pages`` must equal the same
phase's MemTotal, and the pages it lost QEMU's balloon (plus virtio-mem's
unplugged memory) with deflate-on-oom off.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Dict

import pytest

from tests.lab import SCENARIOS
from tests.lab.coreread import totalram_pages

from tests.lab.truthcases import (ALL_VMCORES, DUMP_RUNS, VMCORE_PHASE, lab, meminfo,
                                  query_balloon, run)


@functools.lru_cache(maxsize=None)
def totalram_by_reader(kernel: str) -> Dict[tuple, int]:
    """``_totalram_pages`` of every lab vmcore of ``kernel``, read by crash
    (6.1; ~6 s each, run in parallel) or the drgn library (6.12: crash 8.0.2
    cannot open it), see :mod:`tests.lab.coreread`."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {key: pool.submit(totalram_pages, kernel, run(key[0], key[1]).vmlinux,
                                    run(key[0], key[1]).vmcore(key[2], key[3]))
                   for key in ALL_VMCORES if key[0] == kernel}
        return {key: f.result() for key, f in futures.items()}


@lab
@pytest.mark.parametrize("kernel,name,tag,fmt", ALL_VMCORES)
def test_vmcore_totalram_pages_matches_memtotal(kernel, name, tag, fmt):
    r = run(kernel, name)
    vmcore = r.vmcore(tag, fmt)
    dump = next(d for d in r.groundtruth["dumps"] if (d["tag"], d["format"]) == (tag, fmt))
    assert dump["bytes"] == vmcore.stat().st_size
    totalram = totalram_by_reader(kernel)[(kernel, name, tag, fmt)]
    phase = VMCORE_PHASE[tag]
    assert totalram * 4 == meminfo(kernel, name, phase)["MemTotal"]
    if not SCENARIOS[name].deflate_on_oom:
        taken = (meminfo(kernel, name, "before")["MemTotal"] - totalram * 4) * 1024
        # virtio-mem's unplugged memory leaves MemTotal too (the virtio-mem scenario)
        vmem = r.groundtruth.get("virtio_mem")
        unplugged = vmem["before"]["size"] - vmem["at_oom"]["size"] if vmem else 0
        assert taken == r.groundtruth["mem_bytes"] - query_balloon(kernel, name, phase) + unplugged


@lab
@pytest.mark.parametrize("kernel,name", DUMP_RUNS)
def test_vmcore_elf_carries_vmcoreinfo_of_the_guest_kernel(kernel, name):
    r = run(kernel, name)
    with open(r.vmcore("after-oom"), "rb") as f:
        head = f.read(1 << 16)
    assert head[:4] == b"\x7fELF"
    assert b"OSRELEASE=" + r.groundtruth["kernel"]["release"].encode() + b"\n" in head
    assert (r.tree("after-oom") / "proc/sys/kernel/osrelease").read_text().strip() \
        == r.groundtruth["kernel"]["release"] == r.groundtruth["guest_release"]
