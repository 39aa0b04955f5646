# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_drgn.kmsg: panic reason from log lines (``kernel_log_lines`` runs on real
vmcores in tests/test_vmcore_lab.py; the printk ring buffer is not simulated)."""


import pytest

from balloon_drgn.kmsg import panic_info
from tests.test_drgn_sim import SimKernel
from tests import shared as _shared

CAPTURE = (_shared.CAPTURES / "kvm-6.1/dmesg-deflate-off.txt")


def sim_with_panic_on_oom(tmpdir, value):
    sim = SimKernel.from_c("", tmpdir)
    if value is not None:
        sim.set(sim.global_("sysctl_panic_on_oom", "int"), value)
    return sim.prog


def test_oom_panic(tmpdir_str):
    lines = [
        "[   12.000000] Out of memory: Killed process 77 (hog) total-vm:1kB",
        "[   12.100000] Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled",
    ]
    info = panic_info(sim_with_panic_on_oom(tmpdir_str, 1), lines)
    assert info.message == "Out of memory: system-wide panic_on_oom is enabled"
    assert info.panic_on_oom == 1
    assert info.taken_at_oom is True


def test_other_panic(tmpdir_str):
    lines = ["[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"]
    info = panic_info(sim_with_panic_on_oom(tmpdir_str, 0), lines)
    assert info.message.startswith("VFS: Unable to mount root fs")
    assert (info.panic_on_oom, info.taken_at_oom) == (0, False)


def test_real_oom_log_without_panic(tmpdir_str):
    if not CAPTURE.exists():
        pytest.skip("real capture missing")
    lines = CAPTURE.read_text().splitlines()
    assert any("invoked oom-killer" in line for line in lines)
    info = panic_info(sim_with_panic_on_oom(tmpdir_str, None), lines)
    # A dump taken by the hypervisor after an OOM kill, not at a panic.
    assert (info.message, info.panic_on_oom, info.taken_at_oom) == (None, None, False)
