# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.parsers.oom.head on real report heads of many kernels."""

from balloon_oom.parsers.logline import split_prefix
from balloon_oom.parsers.oom import (
    is_invoked,
    parse_constraint,
    parse_invoked,
    parse_memcg_task_in,
    parse_memcg_usage,
    parse_note,
    parse_panic,
    parse_trigger,
)
from tests.oomdata import data_lines


def test_invoked_old_and_new_shapes():
    new = parse_invoked("hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0")
    assert new == {"trigger_comm": "hog", "gfp_mask": "0x140dca",
                   "gfp_flags": "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO",
                   "nodemask": None, "order": 0, "oom_score_adj": 0}
    # 4.14 (kata-containers#1310): two spaces before order=.
    old = parse_invoked("mem invoked oom-killer: gfp_mask=0x14200ca(GFP_HIGHUSER_MOVABLE), nodemask=(null),  order=0, oom_score_adj=0")
    assert (old["nodemask"], old["gfp_flags"], old["order"]) == ("(null)", "GFP_HIGHUSER_MOVABLE", 0)
    # 2.6.32 RHEL 6 (squidanalyzer#69): oom_adj= before oom_score_adj=.
    rhel6 = parse_invoked("sshd invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=-17, oom_score_adj=-1000")
    assert (rhel6["gfp_mask"], rhel6["gfp_flags"], rhel6["oom_score_adj"]) == ("0x201da", None, -1000)


def test_invoked_with_its_comm_wrapped_onto_the_line_before():
    assert is_invoked("invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0")
    assert parse_invoked("invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0")["trigger_comm"] is None
    assert not is_invoked("sshd invoked the oom killer")


def test_trigger_lines():
    assert parse_trigger("CPU: 0 PID: 112 Comm: hog Not tainted 6.1.0-56-amd64 #1  Debian 6.1.192-2") == (112, "hog")
    assert parse_trigger("CPU: 2 PID: 11554 Comm: thrash Kdump: loaded Tainted: G          I    ------------ T 3.10.0-862.11.6.el7.x86_64 #1") == (11554, "thrash")
    assert parse_trigger("Pid: 1743, comm: sshd Tainted: G           --------------- H  2.6.32-279.9.1.el6.x86_64 #1") == (1743, "sshd")
    assert parse_trigger("Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)") is None


def test_trigger_line_with_uid_v6_11():
    # Linux kernel commit d2917ff19962 ("lib/dump_stack: report process UID in
    # dump_stack_print_info()") (in v6.11); a real Debian 6.16 line.
    assert parse_trigger("CPU: 2 UID: 104 PID: 3589817 Comm: postgres Not tainted 6.16.9+deb14-amd64 #1 PREEMPT(lazy)") == (3589817, "postgres")


def test_constraint_memcg_v2():
    lines = data_lines("egachi-k8s-6.x-memcg-v2-oom-group-dmesg-grep.txt")
    cons = parse_constraint(split_prefix(lines[41]).text)
    assert cons["constraint"] == "CONSTRAINT_MEMCG"
    assert cons["oom_memcg"] == "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod94eb36cd_29e1_478b_b365_4cb5dfc7d6fb.slice"
    assert (cons["task"], cons["pid"], cons["uid"]) == ("node", "22609", "0")
    assert "global_oom" not in cons
    assert parse_constraint("oom-kill: nothing here") is None


def test_memcg_v1_lines_rhel7():
    lines = [split_prefix(line).text for line in data_lines("ltp-1080-rhel7-memcg-v1-syslog.txt")]
    task_in = [parse_memcg_task_in(t) for t in lines if parse_memcg_task_in(t)]
    usage = [parse_memcg_usage(t) for t in lines if parse_memcg_usage(t)]
    assert task_in[0] == ("/0", "/0")
    assert usage[0] == (0, 0, 448)


def test_panic_and_note_lines():
    assert parse_panic("Out of memory: system-wide panic_on_oom is enabled") == ("panic_on_oom", "global")
    assert parse_panic("Kernel panic - not syncing: System is deadlocked on memory") == ("deadlocked", None)
    assert parse_note("COMPACTION is disabled!!!") == "COMPACTION is disabled!!!"
    assert parse_note("Out of memory and no killable processes") == "Out of memory and no killable processes"
    assert parse_note("Mem-Info:") is None
