# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_drgn.xen on a hand-written ``struct balloon_stats`` (gcc; no Xen guest here)."""

import pytest

from balloon_drgn.xen import xen_balloon_state
from tests.test_drgn_sim import SimKernel

CURRENT = r"""struct balloon_stats { unsigned long current_pages, target_pages, target_unpopulated,
  balloon_low, balloon_high, total_pages, schedule_delay; };"""
OLD = r"""struct balloon_stats { unsigned long current_pages, target_pages, balloon_low,
  balloon_high, schedule_delay; };"""


@pytest.mark.parametrize("source,total", [(CURRENT, 131072), (OLD, None)])
def test_balloon_stats(source, total, tmpdir_str):
    sim = SimKernel.from_c(source, tmpdir_str)
    s = sim.global_("balloon_stats", "struct balloon_stats", "drivers/xen/balloon.c")
    for member, value in (("current_pages", 65536), ("target_pages", 60000),
                          ("balloon_low", 4000), ("balloon_high", 1536)):
        sim.set(getattr(s, member), value)
    if total:
        sim.set(s.total_pages, total)
    xen = xen_balloon_state(sim.prog)
    assert (xen.current_pages, xen.target_pages) == (65536, 60000)
    assert xen.ballooned_pages == 5536
    assert xen.total_pages == total


def test_no_xen(tmpdir_str):
    with pytest.raises(LookupError):
        xen_balloon_state(SimKernel.from_c(CURRENT, tmpdir_str).prog)
