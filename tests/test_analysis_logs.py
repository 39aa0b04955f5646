# SPDX-License-Identifier: GPL-2.0-or-later
"""Kernel logs -> the events of one guest: boots, one copy of each event."""

import pytest

from balloon_oom.analysis import merge_events
from balloon_oom.analysis_logs import assign_boots
from balloon_oom.parsers.kernel_log import scan_log
from tests import shared as _shared

KVM = _shared.CAPTURES / "kvm-6.1"
PUFF = "[    2.000000] virtio_balloon virtio0: Out of puff! Can't get 1 page"

pytestmark = pytest.mark.skipif(not KVM.is_dir(), reason="shared/real-captures/kvm-6.1 absent")


def test_console_kill_line_alone_then_whole_report_keeps_whole_report():
    console = (KVM / "serial-console-deflate-off.log").read_text().splitlines()
    events = merge_events([scan_log(console, "serial.log")])
    assert len(events) == 1
    assert events[0].complete and events[0].pages_reserved == 79374


@pytest.mark.parametrize("path, last_current, expected", [
    ("var/log/messages", False, [False, True]),        # the last boot of the live file
    ("var/log/messages-20261101", False, [None, None]),  # rotated: cannot tell
    ("serial.log", True, [False, True]),               # the source itself
    ("var/crash/127.0.0.1/vmcore-dmesg.txt", False, [False, False]),
])
def test_balloon_messages_are_placed_in_boots_like_events(path, last_current, expected):
    banner = (KVM / "dmesg-deflate-off.txt").read_text().splitlines()[0]
    scan = scan_log([banner, PUFF, banner, PUFF], path)
    assign_boots(scan, last_current)
    assert [s.boot for s in scan.signatures] == [0, 1]
    assert [s.current_boot for s in scan.signatures] == expected
