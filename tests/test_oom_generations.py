"""Every generation of the OOM kill is an event carrying what its lines
carry, and says what it lacks (OomEvent.missing), on real excerpts."""

from pathlib import Path

import pytest

from balloon_oom.parsers.kernel_log import scan_log
from balloon_oom.parsers.oom import parse_panic, parse_release
from tests import shared as _shared

DATA = Path(__file__).parent / "data" / "oom"
WILD = _shared.SHARED / "real-logs" / "wild"


def _scan(name):
    return scan_log((DATA / name).open("rb"), "log")


def test_grep_filtered_le_5_0_selection_and_kill_then_lone_5_4_kill():
    first, second = _scan("npd-480-4.19-and-5.4-memcg-kill-lines-grep.txt").events
    assert (first.victim.pid, first.victim.comm, first.victim.anon_rss_kb) == (4015, "python", 23588)
    assert first.victim.message == "Memory cgroup out of memory"
    assert (first.constraint, first.line, first.end_line) == ("memcg", 1, 2)
    assert first.missing == ["head", "mem_info", "totals", "tasks"]
    assert (second.victim.pid, second.victim.oom_score_adj, second.constraint) == (4249, 994, "memcg")
    assert "report head not in this log: kill line only" in second.notes


def test_selection_line_alone_is_an_event_with_the_selected_victim():
    line = (DATA / "npd-480-4.19-and-5.4-memcg-kill-lines-grep.txt").read_text().splitlines()[0]
    (ev,) = scan_log([line, "[   12.1] unrelated", line.replace("4015", "4016")], "log").events[:1]
    evs = scan_log([line, line.replace("4015", "4016")], "log").events
    assert [(e.victim.pid, e.victim.total_vm_kb) for e in evs] == [(4015, None), (4016, None)]
    assert evs[0].missing == ["head", "mem_info", "totals", "tasks", "kill_rss"]
    assert "score 1923 or sacrifice child" in evs[0].notes[-1]
    assert ev.victim.pid == 4015


def test_lone_ge_5_1_kill_line_is_global_by_its_message():
    line = "[  238.324946] Out of memory: Killed process 537 (login) total-vm:27584kB, anon-rss:860kB, file-rss:0kB, shmem-rss:00"
    (ev,) = scan_log([line], "log").events
    assert (ev.victim.pid, ev.constraint, ev.monotonic) == (537, "global", 238.324946)
    assert ev.missing == ["head", "mem_info", "totals", "tasks"]


def test_compulsory_panic_without_its_head():
    (ev,) = _scan("lkml-2017-3.10-openstack-compulsory-panic-tail-dmesg.txt").events
    assert ev.line == 3 and ev.victim is None and ev.constraint is None
    assert ev.notes == ["report head not in this log",
                        "Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled"]
    assert ev.missing == ["head", "mem_info", "totals", "tasks", "kill"]


@pytest.mark.skipif(not WILD.is_dir(), reason="shared wild logs absent")
def test_system_wide_panic_line_alone_is_a_global_oom():
    lines = (WILD / "fs-vmware-rhel6-vmcore-dmesg-panic_on_oom.log").read_text().splitlines()
    panic = [ln for ln in lines if "panic_on_oom" in ln and ln.startswith("<0>")]
    (ev,) = scan_log(panic, "vmcore-dmesg.txt").events
    assert (ev.constraint, ev.victim) == ("global", None)
    assert "panic_on_oom=1 panics only for CONSTRAINT_NONE" in ev.constraint_basis


def test_panic_and_no_victim_lines():
    # mm/oom_kill.c: check_panic_on_oom() and out_of_memory() (v4.x panics,
    # later a pr_warn followed by panic("System is deadlocked on memory")).
    assert parse_panic("Kernel panic - not syncing: Out of memory and no killable processes...") == (
        "no_killable", None)
    assert parse_panic("Out of memory and no killable processes...") == ("no_killable", None)
    assert parse_panic("Kernel panic - not syncing: System is deadlocked on memory") == ("deadlocked", None)
    assert parse_panic("Out of memory: Killed process 1 (x)") is None
    evs = scan_log(["[  9.0] Out of memory and no killable processes...",
                    "[  9.1] Kernel panic - not syncing: System is deadlocked on memory",
                    "[  9.2] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1"], "log").events
    assert len(evs) == 1 and len(evs[0].notes) == 3 and evs[0].end_line == 2


def test_release_and_hardware_from_the_report_itself():
    scan = _scan("db1000n-555-5.13-oracle-qemu-head-dmesg.txt")
    assert scan.kernel_release[0] == "5.13.0-1036-oracle" and scan.kernel_release[1].line == 2
    assert (scan.hypervisor[0], scan.hypervisor[1].line) == ("KVM/QEMU", 3)
    assert parse_release("CPU: 2 UID: 104 PID: 3589817 Comm: postgres Not tainted 6.16.9+deb14-amd64 #1 PREEMPT(lazy)") == "6.16.9+deb14-amd64"
    assert parse_release("CPU: 3 PID: 8284 Comm: DefSch0200 Tainted: G           O E ----V-------   3.10.0-229.42.1.105.x86_64 #1") == "3.10.0-229.42.1.105.x86_64"
    scan = _scan("relate-1383-debian-6.16-vmware-dmesg-T.txt")
    assert (scan.kernel_release[0], scan.hypervisor[0]) == ("6.16.9+deb14-amd64", "VMware")
