# SPDX-License-Identifier: GPL-2.0-or-later
"""The size at the OOM: the one Mem-Info grouping behind the unaccounted gap and the picture."""

import re

import pytest

from balloon_oom.verdict.size import picture
from balloon_oom.verdict.sources import mem_info_parts, unaccounted_gap

from .test_verdict_wild import WILD, judged

pytestmark = pytest.mark.skipif(not WILD.is_dir(), reason="shared/real-logs/wild not present")


@pytest.mark.parametrize("name", ["fs-vmware-rhel6-vmcore-dmesg-panic_on_oom",
                                  "gh-openstack-nova-5.4-forkbomb-kmem-global-oom"])
def test_picture_and_gap_share_the_grouping(name):
    a = judged(name)
    ev = a.oom_events[0]
    parts = mem_info_parts(ev, 4096)
    # these reports print kernel_stack on the zone lines only (no Node lines with it):
    # both the gap and the picture count it, in the kernel group
    assert ("kernel_stack", "kernel") in {(k, g) for k, g, _ in parts}
    arith = []
    gap = unaccounted_gap(ev, a, arith, "counted-as-used")
    pic = picture(ev, a, 0, False)
    assert pic["unaccounted"] == gap.upper_bytes
    assert sum(pic.values()) == ev.pages_ram * 4096
    accounted = int(re.search(r"= (\d+) pages$", arith[0]).group(1))
    assert sum(pic[g] for g in ("anon", "file", "slab", "kernel", "free")) == accounted * 4096


def test_picture_takes_a_counted_as_used_balloon_out_of_the_gap():
    a = judged("fs-vmware-rhel6-vmcore-dmesg-panic_on_oom")
    ev = a.oom_events[0]
    empty, held = picture(ev, a, 0, False), picture(ev, a, 16 * 4096, False)
    assert held["balloon"] == 16 * 4096
    assert held["unaccounted"] == empty["unaccounted"] - 16 * 4096
    reduced = picture(ev, a, 16 * 4096, True)
    assert reduced["reserved"] == empty["reserved"] - 16 * 4096
    assert reduced["unaccounted"] == empty["unaccounted"]
