# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.drivers.s390_cmm and pseries_cmm on files rendered from the kernel's formats."""

from balloon_oom.model import Accounting, Driver
from balloon_oom.readers.files import ReportFiles
from tests.test_drivers import run


def test_s390_and_pseries_cmm():
    files = ReportFiles()
    files.add("proc/sys/vm/cmm_pages", "1000\n")
    files.add("proc/sys/vm/cmm_timed_pages", "24\n")
    files.add("proc/sys/vm/cmm_timeout", "256 3600\n")
    files.add("sys/devices/system/cmm/cmm0/loaned_kb", "8192\n")
    files.add("sys/devices/system/cmm/cmm0/loaned_target_kb", "16384\n")
    balloons, _ = run(files)
    by = {b.driver: b for b in balloons}
    assert by[Driver.S390_CMM].inflated_bytes == 1024 * 4096
    assert by[Driver.S390_CMM].accounting == Accounting.COUNTED_AS_USED
    assert (by[Driver.PSERIES_CMM].inflated_bytes, by[Driver.PSERIES_CMM].target_bytes) == (8192 * 1024, 16384 * 1024)
    assert by[Driver.PSERIES_CMM].accounting == Accounting.MEMTOTAL_REDUCED
