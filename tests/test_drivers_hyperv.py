# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.drivers.hyperv, and the debugfs-not-mounted warning."""

from balloon_oom.model import Accounting, Driver
from balloon_oom.readers.files import ReportFiles
from tests.test_drivers import KVM_BOOT, kvm_files, run


def test_hyperv_debugfs_means_memtotal_reduced():
    files = ReportFiles()
    files.add("sys/kernel/debug/hv-balloon", "state : 2 (Balloon Up)\npage_size : 4096\npages_ballooned : 1024\n")
    [b], _ = run(files)
    assert (b.driver, b.inflated_bytes, b.target_bytes) == (Driver.HYPERV, 4194304, None)
    assert b.accounting == Accounting.MEMTOTAL_REDUCED and "v6.0" in b.accounting_basis


def test_hyperv_without_debugfs_and_debugfs_marker_warning():
    files = ReportFiles()
    files.add("proc/modules", "hv_balloon 40960 0 - Live 0x0\n")
    files.add("proc/meminfo", "MemTotal: 468416 kB\n")
    files.add("sos_strings/balloon/debugfs.txt", "not-mounted\n")
    [b], warnings = run(files, KVM_BOOT)
    assert b.driver == Driver.HYPERV and b.inflated_bytes is None
    assert b.accounting == Accounting.UNKNOWN and b.details["memtotal_gap_kb"] == 0
    assert any("mount -t debugfs none /sys/kernel/debug" in w and "Hyper-V" in w for w in warnings)
    files.add("proc/meminfo", "MemTotal: 206272 kB\n")
    [b], _ = run(files, KVM_BOOT)
    assert b.accounting == Accounting.MEMTOTAL_REDUCED and "262144 kB below" in b.accounting_basis


def test_debugfs_marker_silent_for_a_fully_known_kvm_guest():
    files = kvm_files("off", "after-inflate")
    files.add("sos_strings/balloon/debugfs.txt", "not-mounted\n")
    _, warnings = run(files)
    assert warnings == []
