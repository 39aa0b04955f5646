# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.parsers.oom.trace: call-trace frames of x86, arm and unreliable unwinders."""

from balloon_oom.parsers.oom import parse_arm_frame, parse_frame, parse_unsure_frame
from balloon_oom.parsers.oom.trace import is_trace_marker


def test_frames():
    assert parse_frame(" [<ffffffffa21135d4>] dump_stack+0x19/0x1b") == "dump_stack"
    assert parse_frame(" out_of_memory.part.0+0x1df/0x3d0") == "out_of_memory"
    assert parse_frame(" oom_kill_process.cold+0xb/0x10") == "oom_kill_process"
    assert parse_frame(" [<ffffffff810c4c71>] ? cpuset_print_task_mems_allowed+0x91/0xb0") is None
    assert parse_frame("RIP: 0033:0x42378b") is None


def test_unsure_frames_2_6_32():
    assert parse_unsure_frame(" [<ffffffff810c4c71>] ? cpuset_print_task_mems_allowed+0x91/0xb0") == (
        "cpuset_print_task_mems_allowed")
    assert parse_unsure_frame(" [<ffffffffa21135d4>] dump_stack+0x19/0x1b") is None


def test_arm_frames_and_markers():
    # raspberrypi/linux#3872 (arm, 6.x): "fn from caller+0x…/0x…".
    assert parse_arm_frame("oom_kill_process from out_of_memory+0x218/0x34c") == "oom_kill_process"
    assert parse_arm_frame("out_of_memory.part.0 from __alloc_pages+0x1/0x2") == "out_of_memory"
    assert parse_arm_frame("Exception stack(0xc1234 to 0xc1278) from here") is None
    assert is_trace_marker("Call Trace:") and is_trace_marker("Call trace:")
    assert not is_trace_marker("Call Trace")
