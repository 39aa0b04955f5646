# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_drgn.hyperv: ``dm_device`` with and without ``max_dynamic_page_count``.

Hand-written layouts for both shapes (compiled with gcc), and the real
Debian 6.1 ``struct hv_dynmem_device`` from ``hv_balloon.ko``'s DWARF with
values placed by the test (no Hyper-V guest runs here).
"""

from __future__ import annotations

import pytest
from drgn import Object, sizeof

from balloon_drgn.hyperv import compute_balloon_floor, hv_balloon_state, vm_memory_committed
from tests.test_drgn_sim import SimKernel, debian_debug_files

PRE_60 = r"""
struct percpu_counter { long long count; };
struct hv_dynmem_device { void *dev; int state; unsigned int num_pages_ballooned;
  unsigned int num_pages_onlined; unsigned int num_pages_added; u32 next_version; u32 version; };
"""
FROM_60 = r"""
struct percpu_counter { long long count; };
struct hv_dynmem_device { void *dev; int state; unsigned int num_pages_ballooned;
  unsigned int num_pages_onlined; unsigned int num_pages_added; u32 next_version; u32 version;
  u64 max_dynamic_page_count; };
"""


SMP = PRE_60.replace("struct percpu_counter { long long count; };",
                     "struct percpu_counter { long long count; int *counters; };\n"
                     "struct cpumask { unsigned long bits[1]; };")


def per_cpu_deltas(sim: SimKernel, counter: Object, deltas) -> None:
    """Give an SMP ``struct percpu_counter`` one ``s32`` per online CPU."""
    prog = sim.prog
    cells = sim.alloc(prog.array_type(counter.counters.type_.type, len(deltas)))
    sim.set(counter.counters, cells.address_)
    offsets = sim.global_("__per_cpu_offset",
                          prog.array_type(prog.type("unsigned long"), len(deltas)))
    size = sizeof(cells[0])
    for cpu, delta in enumerate(deltas):
        sim.set(offsets[cpu], cpu * size)
        sim.set(cells[cpu], delta)
    online = sim.global_("__cpu_online_mask", "struct cpumask")
    sim.set(online.bits[0], (1 << len(deltas)) - 1)
    sim.set(sim.global_("nr_cpu_ids", "unsigned int"), len(deltas))


def fill(sim: SimKernel, ballooned=1000, added=300, onlined=100, committed=5000, totalram=117104,
         deltas=(0,)):
    dm = sim.global_("dm_device", "struct hv_dynmem_device", "drivers/hv/hv_balloon.c")
    sim.set(dm.state, 2)
    sim.set(dm.version, (2 << 16) | 0)  # DYNMEM_PROTOCOL_VERSION_WIN10
    sim.set(dm.num_pages_ballooned, ballooned)
    sim.set(dm.num_pages_added, added)
    sim.set(dm.num_pages_onlined, onlined)
    counter = sim.global_("vm_committed_as", "struct percpu_counter")
    sim.set(counter.count, committed)
    if counter.type_.has_member("counters"):
        per_cpu_deltas(sim, counter, deltas)
    sim.set(sim.global_("_totalram_pages", "atomic_long_t").counter, totalram)
    return dm


def test_compute_balloon_floor_each_band():
    mb = 256  # pages per MiB
    assert compute_balloon_floor(100 * mb) == 8 * mb + 50 * mb
    assert compute_balloon_floor(256 * mb) == 40 * mb + 64 * mb
    assert compute_balloon_floor(1024 * mb) == 104 * mb + 128 * mb
    assert compute_balloon_floor(4096 * mb) == 232 * mb + 256 * mb
    assert compute_balloon_floor(16384 * mb) == 488 * mb + 512 * mb


@pytest.mark.parametrize("source,has_max", [(PRE_60, False), (FROM_60, True)])
def test_hand_made_shapes(source, has_max, tmpdir_str):
    sim = SimKernel.from_c(source, tmpdir_str)
    dm = fill(sim)
    if has_max:
        sim.set(dm.max_dynamic_page_count, 262144)
    hv = hv_balloon_state(sim.prog)
    assert (hv.state, hv.state_name, hv.version) == (2, "Balloon Up", "2.0")
    assert (hv.num_pages_ballooned, hv.num_pages_added, hv.num_pages_onlined) == (1000, 300, 100)
    assert hv.max_dynamic_page_count == (262144 if has_max else None)
    # 5000 committed + 1000 ballooned + (300 - 100) + floor(117104) = 39516
    assert hv.total_pages_committed == 5000 + 1000 + 200 + 39516


def test_negative_committed_and_onlined_over_added(tmpdir_str):
    sim = SimKernel.from_c(PRE_60, tmpdir_str)
    fill(sim, ballooned=0, added=100, onlined=300, committed=-50, totalram=1000)
    hv = hv_balloon_state(sim.prog)
    # The sum is clamped at 0; added < onlined adds nothing.
    assert hv.total_pages_committed == compute_balloon_floor(1000) == 2048 + 500


def test_committed_sums_the_per_cpu_counter(tmpdir_str):
    """vm_memory_committed() sums the per-CPU deltas, as the kernel does since
    Linux kernel commit 4e2ee51e8251 ("mm/util.c: make vm_memory_committed()
    more accurate") (in v5.9): 5000 + 30 - 7, not the global count 5000."""
    sim = SimKernel.from_c(SMP, tmpdir_str)
    fill(sim, deltas=(30, -7))
    assert vm_memory_committed(sim.prog) == 5023
    assert hv_balloon_state(sim.prog).total_pages_committed == 5023 + 1000 + 200 + 39516


def test_unknown_state_name(tmpdir_str):
    sim = SimKernel.from_c(PRE_60, tmpdir_str)
    dm = fill(sim)
    sim.set(dm.state, 9)
    assert hv_balloon_state(sim.prog).state_name == "Unknown"


def test_absent_driver_lookup_error(tmpdir_str):
    sim = SimKernel.from_c(PRE_60, tmpdir_str)
    with pytest.raises(LookupError):
        hv_balloon_state(sim.prog)


def test_real_debian_61_hv_dynmem_device():
    vmlinux, ko = debian_debug_files("hv_balloon")
    sim = SimKernel([vmlinux, ko], size=4 << 20)
    dm = fill(sim, ballooned=65536, added=0, onlined=0, committed=12345, totalram=51568,
              deltas=(5, -2))
    sim.set(dm.max_dynamic_page_count, 1048576)
    sim.set(dm.balloon_wrk.num_pages, 4096)
    hv = hv_balloon_state(sim.prog)
    assert hv.num_pages_ballooned == 65536
    assert hv.max_dynamic_page_count == 1048576  # 6.1 has the member
    assert hv.total_pages_committed == 12345 + 3 + 65536 + compute_balloon_floor(51568)
