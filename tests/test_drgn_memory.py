# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_drgn.memory: totalram, zones, balloon vm events, NR_BALLOON_PAGES.

Kernel structures written here (gcc) for a 2-CPU, 1-node kernel: before 5.0
(``unsigned long`` managed pages, ``totalram_pages`` variable), and 6.15+
(``atomic_long_t``, ``NR_BALLOON_PAGES``).  Per-CPU vm events live at
``&vm_event_states + __per_cpu_offset[cpu]`` as in the kernel.
"""

from __future__ import annotations

from balloon_drgn.memory import balloon_vm_events, memory_state, nr_balloon_pages, zones
from tests.test_drgn_sim import SimKernel

BASE = r"""
enum vm_event_item { PGPGIN, PGPGOUT, BALLOON_INFLATE, BALLOON_DEFLATE, BALLOON_MIGRATE, NR_VM_EVENT_ITEMS };
struct vm_event_state { unsigned long event[NR_VM_EVENT_ITEMS]; };
struct cpumask { unsigned long bits[1]; };
typedef struct { unsigned long bits[1]; } nodemask_t;
enum node_states { N_POSSIBLE, N_ONLINE, NR_NODE_STATES };
enum zone_stat_item { NR_FREE_PAGES, NR_ZONE_LRU_BASE, NR_VM_ZONE_STAT_ITEMS };
"""
NEW = BASE + r"""
enum node_stat_item { NR_LRU_BASE, NR_BALLOON_PAGES, NR_VM_NODE_STAT_ITEMS };
struct zone { atomic_long_t managed_pages; unsigned long spanned_pages; unsigned long present_pages;
  const char *name; atomic_long_t vm_stat[NR_VM_ZONE_STAT_ITEMS]; };
struct pglist_data { struct zone node_zones[3]; int node_id; };
"""
OLD = BASE + r"""
enum node_stat_item { NR_LRU_BASE, NR_VM_NODE_STAT_ITEMS };
struct zone { unsigned long managed_pages; unsigned long spanned_pages; unsigned long present_pages;
  const char *name; atomic_long_t vm_stat[NR_VM_ZONE_STAT_ITEMS]; };
struct pglist_data { struct zone node_zones[3]; int node_id; };
"""


def build(source: str, tmpdir: str) -> SimKernel:
    sim = SimKernel.from_c(source, tmpdir)
    prog = sim.prog
    cpu0 = sim.global_("vm_event_states", "struct vm_event_state")
    cpu1 = sim.alloc("struct vm_event_state")
    offsets = sim.global_("__per_cpu_offset", prog.array_type(prog.type("unsigned long"), 2))
    sim.set(offsets[1], cpu1.address_ - cpu0.address_)
    online = sim.global_("__cpu_online_mask", "struct cpumask")
    sim.set(online.bits[0], 0b11)
    sim.set(sim.global_("nr_cpu_ids", "unsigned int"), 2)
    ev = prog.constant
    for cpu, (inflate, deflate, migrate) in ((cpu0, (60000, 100, 3)), (cpu1, (5536, 0, 2))):
        sim.set(cpu.event[ev("BALLOON_INFLATE")], inflate)
        sim.set(cpu.event[ev("BALLOON_DEFLATE")], deflate)
        sim.set(cpu.event[ev("BALLOON_MIGRATE")], migrate)
        sim.set(cpu.event[ev("PGPGIN")], 999)
    states = sim.global_("node_states", prog.array_type(prog.type("nodemask_t"), 2))
    sim.set(states[ev("N_POSSIBLE")].bits[0], 1)
    sim.set(states[ev("N_ONLINE")].bits[0], 1)
    sim.set(sim.global_("nr_node_ids", "unsigned int"), 1)
    pgdat = sim.global_("contig_page_data", "struct pglist_data")
    managed_is_atomic = pgdat.node_zones[0].managed_pages.type_.kind.name != "INT"
    for i, (name, present, managed, free) in enumerate(
        (("DMA", 3998, 3840, 1000), ("DMA32", 126944, 47728, 40000), ("Normal", 0, 0, 0))
    ):
        zone = pgdat.node_zones[i]
        sim.set_string(zone.name, name)
        sim.set(zone.present_pages, present)
        sim.set(zone.spanned_pages, present + 2)
        sim.set(zone.managed_pages.counter if managed_is_atomic else zone.managed_pages, managed)
        sim.set(zone.vm_stat[ev("NR_FREE_PAGES")].counter, free)
    zstat = sim.global_("vm_zone_stat", prog.array_type(prog.type("atomic_long_t"), 2))
    sim.set(zstat[0].counter, 41000)
    nstat = sim.global_("vm_node_stat", prog.array_type(prog.type("atomic_long_t"), 2))
    sim.set(nstat[1].counter, 65436)
    if managed_is_atomic:
        sim.set(sim.global_("_totalram_pages", "atomic_long_t").counter, 51568)
    else:
        sim.set(sim.global_("totalram_pages", "unsigned long"), 51568)
    return sim


def test_events_summed_over_cpus(tmpdir_str):
    sim = build(NEW, tmpdir_str)
    assert balloon_vm_events(sim.prog) == {
        "BALLOON_INFLATE": 65536, "BALLOON_DEFLATE": 100, "BALLOON_MIGRATE": 5
    }


def test_new_kernel_state(tmpdir_str):
    sim = build(NEW, tmpdir_str)
    state = memory_state(sim.prog)
    assert state.totalram_pages == 51568
    assert state.free_pages == 41000
    assert state.nr_balloon_pages == 65436
    assert [(z.node, z.name, z.present_pages, z.managed_pages, z.spanned_pages, z.free_pages)
            for z in state.zones] == [
        (0, "DMA", 3998, 3840, 4000, 1000), (0, "DMA32", 126944, 47728, 126946, 40000)
    ]  # the empty Normal zone is skipped
    assert state.reserved_pages == (3998 - 3840) + (126944 - 47728)


def test_old_kernel_without_balloon_item(tmpdir_str):
    sim = build(OLD, tmpdir_str)
    assert nr_balloon_pages(sim.prog) is None
    assert [z.managed_pages for z in zones(sim.prog)] == [3840, 47728]
    assert memory_state(sim.prog).totalram_pages == 51568


def test_kernel_without_balloon_events(tmpdir_str):
    source = NEW.replace("BALLOON_INFLATE, BALLOON_DEFLATE, BALLOON_MIGRATE, ", "")
    sim = SimKernel.from_c(source, tmpdir_str)
    assert balloon_vm_events(sim.prog) == {}
