# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.drivers.xen on xen_memory0 files rendered from the kernel's formats."""

from balloon_oom.model import Accounting, Driver
from balloon_oom.readers.files import ReportFiles
from tests.test_drivers import run


def test_xen_sysfs():
    files = ReportFiles()
    d = "sys/devices/system/xen_memory/xen_memory0/"
    for name, value in (("target_kb", 1048576), ("info/current_kb", 1048576), ("info/low_kb", 131072),
                        ("info/high_kb", 0), ("schedule_delay", 1)):
        files.add(d + name, f"{value}\n")
    [b], _ = run(files)
    # target_kb is the guest allocation the host wants (= current here): the balloon stays as it is
    assert (b.driver, b.inflated_bytes, b.target_bytes) == (Driver.XEN, 131072 * 1024, 131072 * 1024)
    assert b.details["target_guest_kb"] == 1048576
    assert b.accounting == Accounting.MEMTOTAL_REDUCED and "extra PFNs" in b.details["caveat"]
    assert b.details["current_kb"] == 1048576 and b.details["schedule_delay"] == 1


def test_xen_target_below_current_means_the_balloon_must_grow():
    files = ReportFiles()
    d = "sys/devices/system/xen_memory/xen_memory0/"
    for name, value in (("target_kb", 786432), ("info/current_kb", 1048576), ("info/low_kb", 131072),
                        ("info/high_kb", 0)):
        files.add(d + name, f"{value}\n")
    [b], _ = run(files)
    assert b.target_bytes == (131072 + 1048576 - 786432) * 1024
