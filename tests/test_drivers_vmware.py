# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.drivers.vmware on vmmemctl rendered from the kernel's format strings."""

from balloon_oom.model import Accounting, Driver
from balloon_oom.readers.files import ReportFiles
from tests.test_drivers import run


def test_vmware_v2_vmmemctl():
    text = ("%-22s: %16s\n" % ("balloon capabilities", "0x3e") + "%-22s: %16s\n" % ("used capabilities", "0x3e")
            + "%-22s: %16s\n" % ("is resetting", "n") + "%-22s: %16d\n" % ("target", 131072)
            + "%-22s: %16d\n" % ("current", 65536) + "%-22s: %16d (%d failed)\n" % ("target", 0, 0))
    files = ReportFiles()
    files.add("sys/kernel/debug/vmmemctl", text)
    files.add("proc/vmstat", "balloon_inflate 65536\nballoon_deflate 0\n")
    files.add("proc/meminfo", "MemTotal: 8000000 kB\n")
    [b], warnings = run(files)
    assert warnings == []
    assert (b.driver, b.inflated_bytes, b.target_bytes) == (Driver.VMWARE, 65536 * 4096, 131072 * 4096)
    assert b.accounting == Accounting.COUNTED_AS_USED and b.features[-1] == "64_BIT_TARGET"
    assert b.details["stats_zero"] is True and b.details["commands"]["target"] == [0, 0]
    assert b.details["inflated_bytes_by_basis"] == {"sys/kernel/debug/vmmemctl current": 268435456,
                                                    "vmstat balloon_inflate - balloon_deflate": 268435456}
