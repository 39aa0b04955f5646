# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_drgn.cmm: s390 ``long`` counters, pseries ``atomic_long_t`` vs ``unsigned long``."""

import pytest

from balloon_drgn.cmm import pseries_cmm_state, s390_cmm_state
from tests.test_drgn_sim import SimKernel


def test_s390(tmpdir_str):
    sim = SimKernel.from_c("", tmpdir_str)
    sim.set(sim.global_("cmm_pages", "long", "arch/s390/mm/cmm.c"), 2048)
    sim.set(sim.global_("cmm_timed_pages", "long", "arch/s390/mm/cmm.c"), 256)
    cmm = s390_cmm_state(sim.prog)
    assert (cmm.cmm_pages, cmm.cmm_timed_pages) == (2048, 256)


@pytest.mark.parametrize("loaned_type", ["atomic_long_t", "unsigned long"])
def test_pseries(loaned_type, tmpdir_str):
    sim = SimKernel.from_c("", tmpdir_str)
    src = "arch/powerpc/platforms/pseries/cmm.c"
    loaned = sim.global_("loaned_pages", loaned_type, src)
    sim.set(loaned.counter if loaned_type == "atomic_long_t" else loaned, 4096)
    sim.set(sim.global_("loaned_pages_target", "unsigned long", src), 5000)
    cmm = pseries_cmm_state(sim.prog)
    assert (cmm.loaned_pages, cmm.loaned_pages_target, cmm.oom_freed_pages) == (4096, 5000, None)


def test_absent(tmpdir_str):
    sim = SimKernel.from_c("", tmpdir_str)
    with pytest.raises(LookupError):
        s390_cmm_state(sim.prog)
    with pytest.raises(LookupError):
        pseries_cmm_state(sim.prog)
