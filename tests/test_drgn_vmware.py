# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_drgn.vmware: ``struct vmballoon`` before and after the 4.20 rework.

Hand-written layouts (gcc) for the 4.18 shape (``unsigned int size``,
embedded stats, ``page_sizes[2]``) and the current one (``atomic64_t size``,
``stats`` pointer, ``huge_pages``), plus the real Debian 6.1 type from
``vmw_balloon.ko``'s DWARF with test-chosen values (no VMware guest here).
"""

from __future__ import annotations

import pytest

from balloon_drgn.vmware import vmw_balloon_state
from tests.test_drgn_sim import SimKernel, debian_debug_files

OLD = r"""
struct vmballoon_page_size { struct list_head pages; struct list_head refused_pages; unsigned n_refused_pages; };
struct vmballoon_stats { unsigned int timer; };
struct vmballoon { struct vmballoon_page_size page_sizes[2]; unsigned supported_page_sizes;
  unsigned int size; unsigned int target; _Bool reset_required; unsigned int rate_alloc;
  unsigned long capabilities; struct vmballoon_stats stats; };
"""
NEW = r"""
struct vmballoon_stats { atomic64_t general_stat[5]; };
struct vmballoon { int max_page_size; atomic64_t size; unsigned long target; _Bool reset_required;
  unsigned long capabilities; struct vmballoon_stats *stats; struct balloon_dev_info b_dev_info;
  struct list_head huge_pages; };
"""


def place(sim: SimKernel, size: int, target: int, huge: int):
    b = sim.global_("balloon", "struct vmballoon", "drivers/misc/vmw_balloon.c")
    # A different "balloon" elsewhere must not be picked up.
    sim.global_("balloon", "struct vmballoon", "drivers/other/thing.c")
    if b.type_.has_member("huge_pages"):
        head = b.huge_pages
        sim.set(b.size.counter, size)
    else:
        head = b.page_sizes[1].pages
        sim.set(b.size, size)
        sim.list_init(b.page_sizes[0].pages)
    sim.list_init(head)
    for _ in range(huge):
        page = sim.alloc("struct list_head")
        sim.list_add_tail(head, page)
    sim.set(b.target, target)
    sim.set(b.capabilities, 0x3E)
    return b


def test_old_shape(tmpdir_str):
    sim = SimKernel.from_c(OLD, tmpdir_str)
    place(sim, size=2 * 512 + 100, target=5000, huge=2)
    vmw = vmw_balloon_state(sim.prog)
    assert (vmw.size_frames, vmw.target_frames, vmw.huge_pages) == (1124, 5000, 2)
    assert vmw.size_is_atomic64 is False
    assert vmw.stats_allocated is None  # embedded stats
    assert vmw.inflated_bytes == 1124 * 4096
    assert vmw.capability_names == [
        "BASIC_CMDS", "BATCHED_CMDS", "BATCHED_2M_CMDS", "SIGNALLED_WAKEUP_CMD", "64_BIT_TARGET"
    ]


@pytest.mark.parametrize("stats", [False, True])
def test_new_shape_stats_pointer(stats, tmpdir_str):
    sim = SimKernel.from_c(NEW, tmpdir_str)
    b = place(sim, size=3 << 32, target=7, huge=1)  # a 64-bit size
    if stats:
        sim.set(b.stats, sim.alloc("struct vmballoon_stats"))
    vmw = vmw_balloon_state(sim.prog)
    assert vmw.size_frames == 3 << 32
    assert vmw.size_is_atomic64 is True
    assert vmw.huge_pages == 1
    assert vmw.stats_allocated is stats


def test_real_debian_61_vmballoon():
    vmlinux, ko = debian_debug_files("vmw_balloon")
    sim = SimKernel([vmlinux, ko], size=4 << 20)
    place(sim, size=70000, target=80000, huge=3)
    vmw = vmw_balloon_state(sim.prog)
    assert (vmw.size_frames, vmw.target_frames, vmw.huge_pages) == (70000, 80000, 3)
    assert vmw.size_is_atomic64 is True
    assert vmw.stats_allocated is False  # NULL until debugfs vmmemctl is read
