# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_drgn.virtio on each ``struct virtio_balloon`` generation.

The structs are written here with the kernel's member names for each
generation (the OOM member is ``nb`` up to v4.18; Linux kernel commit
71994620bb25 ("virtio_balloon: replace oom notifier with shrinker") (in
v4.19) made it an embedded ``shrinker``; from v5.7 it is ``oom_nb`` again beside
the free-page-hint members; the shrinker is a pointer from v6.7 and the
features a ``features_array`` union from Linux kernel commit e7d4c1c5a546
("virtio: introduce extended features") (in v6.17)) and compiled with gcc; values are
placed in simulated memory (tests/test_drgn_sim.py).  One test uses the
real Debian 6.1 ``virtio_balloon.ko`` DWARF when the lab cache has it.
"""

from __future__ import annotations

import pytest

from balloon_drgn.virtio import virtio_balloon_state, virtio_balloons
from tests.test_drgn_sim import (
    SimKernel,
    add_bus_device,
    debian_debug_files,
)

STAT = "struct virtio_balloon_stat { __virtio16 tag; __virtio64 val; } __attribute__((packed));\n"
VDEV = "struct virtio_device { int index; struct device dev; u64 features; void *priv; };\n"
VDEV_617 = (
    "struct virtio_device { int index; struct device dev;"
    " union { u64 features; u64 features_array[2]; }; void *priv; };\n"
)
HEAD = "struct virtio_balloon { struct virtio_device *vdev; void *inflate_vq, *deflate_vq, *stats_vq;"
TAIL = " unsigned int num_pfns; u32 pfns[256]; struct virtio_balloon_stat stats[10]; };\n"

GENERATIONS = {
    # <= 4.18: OOM notifier "nb".
    "4.18": VDEV + STAT + HEAD
    + " unsigned int num_pages; struct balloon_dev_info vb_dev_info; struct notifier_block nb;"
    + TAIL,
    # 4.19 - 5.6: embedded shrinker, no free page hinting yet (4.19).
    "4.19": VDEV + STAT + HEAD
    + " unsigned int num_pages; struct balloon_dev_info vb_dev_info; struct shrinker shrinker;"
    + TAIL,
    # >= 5.7: oom_nb, embedded shrinker for hints, num_free_page_blocks.
    "5.7": VDEV + STAT + HEAD
    + " void *free_page_vq; unsigned long num_free_page_blocks; unsigned int num_pages;"
    " struct balloon_dev_info vb_dev_info; struct shrinker shrinker; struct notifier_block oom_nb;"
    + TAIL,
    # >= 6.7: shrinker pointer.
    "6.7": VDEV + STAT + HEAD
    + " void *free_page_vq; unsigned long num_free_page_blocks; unsigned int num_pages;"
    " struct balloon_dev_info vb_dev_info; struct shrinker *shrinker; struct notifier_block oom_nb;"
    + TAIL,
    # >= 6.17: 128-bit features_array.
    "6.17": VDEV_617 + STAT + HEAD
    + " void *free_page_vq; unsigned long num_free_page_blocks; unsigned int num_pages;"
    " struct balloon_dev_info vb_dev_info; struct shrinker *shrinker; struct notifier_block oom_nb;"
    + TAIL,
}


def make_balloon(sim: SimKernel, name: str, num_pages: int, features: int, driver="virtio_balloon"):
    vdev = sim.alloc("struct virtio_device")
    vb = sim.alloc("struct virtio_balloon")
    sim.set_string(vdev.dev.kobj.name, name)
    sim.set(vdev.priv, vb)
    sim.set(vb.vdev, vdev)
    sim.set(vb.num_pages, num_pages)
    if vdev.type_.has_member("features_array"):
        sim.set(vdev.features_array[0], features & (2**64 - 1))
        sim.set(vdev.features_array[1], features >> 64)
    else:
        sim.set(vdev.features, features)
    add_bus_device(sim, "virtio", vdev.dev, driver)
    return vdev, vb


EXPECTED = {
    "4.18": ("oom-notifier", "nb", None, None),
    "4.19": ("shrinker", "shrinker", False, None),
    "5.7": ("oom-notifier", "oom_nb", False, 7),
    "6.7": ("oom-notifier", "oom_nb", True, 7),
    "6.17": ("oom-notifier", "oom_nb", True, 7),
}


@pytest.mark.parametrize("generation", sorted(GENERATIONS))
def test_each_generation(generation, tmpdir_str):
    sim = SimKernel.from_c(GENERATIONS[generation], tmpdir_str)
    # A virtio_net device on the same bus must be skipped.
    other = sim.alloc("struct virtio_device")
    sim.set_string(other.dev.kobj.name, "virtio0")
    add_bus_device(sim, "virtio", other.dev, "virtio_net")
    vdev, vb = make_balloon(sim, "virtio1", 65536, 0x10120000006)
    if vb.type_.has_member("num_free_page_blocks"):
        sim.set(vb.num_free_page_blocks, 7)
    (state,) = virtio_balloons(sim.prog)
    mechanism, member, pointer, blocks = EXPECTED[generation]
    assert state.device == "virtio1"
    assert state.vdev_address == vdev.address_
    assert state.vb_address == vb.address_
    assert state.num_pages == 65536
    assert state.inflated_bytes == 268435456
    assert state.deflate_on_oom is True
    assert state.feature_names == [
        "STATS_VQ", "DEFLATE_ON_OOM", "RING_EVENT_IDX", "VERSION_1", "RING_RESET"
    ]
    assert (state.deflate_mechanism, state.mechanism_member) == (mechanism, member)
    assert state.shrinker_is_pointer is pointer
    assert state.num_free_page_blocks == blocks


def test_features_array_high_bits(tmpdir_str):
    sim = SimKernel.from_c(GENERATIONS["6.17"], tmpdir_str)
    vdev, _ = make_balloon(sim, "virtio0", 0, (1 << 70) | (1 << 1))
    state = virtio_balloon_state(vdev.address_of_())
    assert state.features == (1 << 70) | 2
    assert state.feature_names == ["STATS_VQ", "bit 70"]
    assert state.deflate_on_oom is False


def test_stats_named_and_trailing_zero_slots_dropped(tmpdir_str):
    sim = SimKernel.from_c(GENERATIONS["5.7"], tmpdir_str)
    vdev, vb = make_balloon(sim, "virtio0", 16, 0x100000002)
    # Values of the deflate-off capture (drgn-vmcore-inflated-deflate-off.json).
    sample = [(0, 0), (1, 0), (2, 0), (3, 1790), (4, 181125120), (5, 211222528),
              (6, 180756480), (7, 2985984)]
    for i, (tag, val) in enumerate(sample):
        sim.set(vb.stats[i].tag, tag)
        sim.set(vb.stats[i].val, val)
    state = virtio_balloon_state(vdev.address_of_())
    assert state.stats == {
        "SWAP_IN": 0, "SWAP_OUT": 0, "MAJFLT": 0, "MINFLT": 1790,
        "MEMFREE": 181125120, "MEMTOT": 211222528, "AVAIL": 180756480, "CACHES": 2985984,
    }


def test_two_balloons_and_unbound_device(tmpdir_str):
    sim = SimKernel.from_c(GENERATIONS["5.7"], tmpdir_str)
    make_balloon(sim, "virtio3", 100, 0)
    make_balloon(sim, "virtio4", 0, 0, driver=None)  # not bound to a driver
    make_balloon(sim, "virtio5", 512, 4)
    found = virtio_balloons(sim.prog)
    assert [(b.device, b.num_pages, b.deflate_on_oom) for b in found] == [
        ("virtio3", 100, False), ("virtio5", 512, True)
    ]


def test_without_module_types_lookup_error(tmpdir_str):
    sim = SimKernel.from_c("", tmpdir_str)  # vmlinux-like: no virtio types
    dev = sim.alloc("struct device")
    add_bus_device(sim, "virtio", dev, "virtio_balloon")
    with pytest.raises(LookupError):
        virtio_balloons(sim.prog)


def test_real_debian_61_types():
    """Real ``struct virtio_balloon`` of Debian 6.1 (virtio_balloon.ko DWARF) + vmlinux."""
    vmlinux, ko = debian_debug_files("virtio_balloon")
    sim = SimKernel([vmlinux, ko], size=4 << 20)
    vdev, vb = make_balloon(sim, "virtio0", 65536, 0x10120000002)
    state = virtio_balloon_state(vdev.address_of_())
    # 6.1 has oom_nb and an embedded struct shrinker (pointer only from 6.7).
    assert (state.mechanism_member, state.shrinker_is_pointer) == ("oom_nb", False)
    assert state.num_pages == 65536
    assert state.deflate_on_oom is False
    assert state.num_free_page_blocks == 0
    assert len(vb.stats) == 10  # VIRTIO_BALLOON_S_NR in 6.1
