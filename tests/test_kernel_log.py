"""Tests for balloon_oom.parsers.kernel_log: the one-pass scanner.

Real data: the 6.1 ballooned guest (/work/shared/real-captures/kvm-6.1: dmesg
and the serial console), the Firecracker 6.18 dmesg excerpt, and the public
excerpts in tests/data/oom (PROVENANCE.md).  The "same report in every log
format" tests re-dress the real 6.1 dmesg report with each tool's prefix.
"""

from pathlib import Path

import pytest

from balloon_oom.parsers.kernel_log import KernelLogScanner, event_key, scan_log
from tests import shared as _shared

DATA = Path(__file__).parent / "data" / "oom"
CAPTURES = _shared.CAPTURES
KVM = CAPTURES / "kvm-6.1"
REPORT = (KVM / "dmesg-oom-report-deflate-off.txt").read_text().splitlines()


def scan_file(path, source="sos_commands/kernel/dmesg"):
    with open(path, "rb") as fh:
        return scan_log(fh, source)


def core(ev):
    """What every copy of one report must agree on (no time, no line numbers)."""
    return (
        ev.trigger_comm, ev.trigger_pid, ev.gfp_mask, ev.gfp_flags, ev.order, ev.oom_score_adj,
        ev.constraint, ev.memcg, ev.task_memcg, tuple(sorted(ev.mem_info.items())),
        tuple((z.zone, tuple(sorted(z.values_kb.items()))) for z in ev.zones),
        tuple((n.node, n.all_unreclaimable) for n in ev.nodes),
        ev.pages_ram, ev.pages_reserved, ev.pages_highmem, ev.pages_hwpoisoned,
        ev.total_pagecache_pages, ev.swap_free_kb, ev.swap_total_kb,
        ev.tasks.count if ev.tasks else None, ev.tasks.total_rss_pages if ev.tasks else None,
        ev.victim, tuple(ev.call_trace), ev.complete,
    )


# -- the real 6.1 guest --------------------------------------------------

@pytest.mark.parametrize("suffix,reserved,rss,anon", [
    ("deflate-off", 79374, 43510, 173388),
    ("deflate-on", 13838, 107926, 431052),
])
def test_real_6_1_dmesg(suffix, reserved, rss, anon):
    scan = scan_file(KVM / f"dmesg-{suffix}.txt")
    assert (scan.boots, scan.lines) == (1, 410)
    assert scan.kernel_release[0] == "6.1.0-56-amd64"
    assert scan.kernel_release[1].line == 1
    # TCG guest: no "Hypervisor detected"; the boot DMI line names QEMU.
    assert (scan.hypervisor[0], scan.hypervisor[1].line) == ("KVM/QEMU", 13)
    assert scan.signatures == []
    (ev,) = scan.events
    assert (ev.line, ev.end_line, ev.boot, ev.complete) == (353, 410, 0, True)
    assert (ev.trigger_comm, ev.trigger_pid, ev.gfp_mask, ev.order) == ("hog", 112, "0x140dca", 0)
    assert ev.gfp_flags == "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO"
    assert (ev.constraint, ev.nodemask, ev.task_memcg, ev.memcg) == ("global", "(null)", "/", None)
    assert ev.constraint_basis == "oom-kill: summary line constraint=CONSTRAINT_NONE,global_oom"
    assert (ev.pages_ram, ev.pages_reserved, ev.pages_highmem, ev.pages_hwpoisoned) == (130942, reserved, 0, 0)
    assert ev.pages_cma_reserved is None  # not printed by this kernel
    assert (ev.total_pagecache_pages, ev.swap_cache_pages, ev.swap_free_kb, ev.swap_total_kb) == (729, 0, 0, 0)
    assert ev.mem_info["sec_pagetables"] == 0 and ev.mem_info["shmem"] == 729
    assert [z.zone for z in ev.zones] == ["DMA", "DMA32"]
    assert ev.nodes[0].all_unreclaimable is True
    assert ev.hugetlb == [{"node": 0, "hugepages_total": 0, "hugepages_free": 0,
                           "hugepages_surp": 0, "hugepages_size_kb": 2048}]
    assert (ev.tasks.count, ev.tasks.total_rss_pages, ev.tasks.top[0].name) == (1, rss, "hog")
    assert (ev.victim.pid, ev.victim.comm, ev.victim.anon_rss_kb, ev.victim.message) == (112, "hog", anon, "Out of memory")
    assert ev.call_trace[:4] == ["dump_stack_lvl", "dump_header", "oom_kill_process", "out_of_memory"]
    assert [e.line for e in ev.evidence] == [353, 409, 410]


def test_real_serial_console():
    """The console shows the kill line at once (quiet) and the report in the dmesg dump."""
    scan = scan_file(KVM / "serial-console-deflate-off.log", "serial.log")
    # /init echoes /proc/version (no timestamp), then the dmesg dump's banner.
    assert scan.boots == 2
    first, full = scan.events
    assert (first.line, first.complete, first.trigger_comm) == (187, False, None)
    assert first.notes == ["report head not in this log: kill line only"]
    assert (full.line, full.complete, full.pages_reserved) == (622, True, 79374)
    assert event_key(first) == event_key(full)
    assert scan.boot_memory[0].reserved_kb == 64776


# -- the same report in every dress ---------------------------------------

def _split(line):
    ts, msg = line[1:].split("] ", 1)
    return float(ts), msg


def render(fmt):
    out = []
    for line in REPORT:
        ts, msg = _split(line)
        if fmt == "dmesg-T":
            out.append(f"[Thu Nov 26 05:27:25 2026] {msg}")
        elif fmt == "syslog":
            out.append(f"Nov 26 05:27:25 vm kernel: [{ts:12.6f}] {msg}")
        elif fmt == "syslog-noprintktime":
            out.append(f"Nov 26 05:27:25 vm kernel: {msg.lstrip()}")
        elif fmt == "rfc3339":
            out.append(f"2026-11-26T05:27:25.{int(ts * 1e6) % 1000000:06d}+00:00 vm kernel: {msg.lstrip()}")
        elif fmt == "journal-precise":
            out.append(f"Nov 26 05:27:25.{int(ts * 1e6) % 1000000:06d} vm kernel: {msg.lstrip()}")
        elif fmt == "journal-monotonic":
            out.append(f"[{ts:12.6f}] vm kernel: {msg.lstrip()}")
        elif fmt == "dmesg-x":
            out.append(f"kern  :warn  : [{ts:12.6f}] {msg}")
        elif fmt == "vmcore-dmesg":
            out.append(f"<4>[{ts:12.6f}] {msg}")
        else:
            raise ValueError(fmt)
    return out


REFERENCE = scan_log(REPORT, "dmesg").events[0]


@pytest.mark.parametrize("fmt", ["dmesg-T", "syslog", "syslog-noprintktime", "rfc3339",
                                 "journal-precise", "journal-monotonic", "dmesg-x", "vmcore-dmesg"])
def test_same_report_every_format(fmt):
    (ev,) = scan_log(render(fmt), "log").events
    assert core(ev) == core(REFERENCE)
    assert event_key(ev) == event_key(REFERENCE)
    if fmt in ("syslog", "journal-monotonic", "dmesg-x", "vmcore-dmesg"):
        assert ev.monotonic == 8.352026
    if fmt in ("dmesg-T", "syslog", "journal-precise"):
        assert ev.wallclock.startswith(("Thu Nov 26 05:27:25", "Nov 26 05:27:25"))


def test_crlf_bytes_and_bad_utf8():
    lines = [(line + "\r\n").encode() for line in REPORT]
    lines[2] = lines[2].replace(b"QEMU", b"Q\xff\xfeMU")  # Hardware name line
    (ev,) = scan_log(lines, "dmesg").events
    assert core(ev) == core(REFERENCE)
    assert ev.monotonic == 8.352026


def test_nul_bytes_and_a_huge_line():
    lines = [line.encode() for line in REPORT]
    lines.insert(30, b"[    8.353900] " + b"\x00X" * (4 * 1024 * 1024))
    lines[0] = lines[0].replace(b"hog invoked", b"hog\x00 invoked").replace(b"hog\x00", b"hog")
    scan = scan_log(lines, "dmesg")
    assert core(scan.events[0]) == core(REFERENCE)
    assert scan.lines == len(REPORT) + 1


def test_cut_short():
    cut = REPORT[:53]  # stops inside the show_mem totals, after "pages reserved"
    (ev,) = scan_log(cut, "dmesg").events
    assert ev.complete is False and ev.victim is None
    assert (ev.pages_ram, ev.pages_reserved, ev.tasks) == (130942, 79374, None)
    assert event_key(ev) == ("invoked", "hog", 112, "0x140dca", 0, 0)


def test_interleaved_with_other_cpus():
    mixed = []
    for n, line in enumerate(REPORT):
        mixed.append(line)
        if n % 5 == 2:
            mixed.append("[    8.353000] virtio_net virtio1 eth0: NIC Link is Up")
            mixed.append("[    8.353001] EXT4-fs (vda1): mounted filesystem with ordered data mode")
    (ev,) = scan_log(mixed, "dmesg").events
    assert core(ev) == core(REFERENCE)


def test_two_reports_and_a_late_reaper():
    """Second head closes nothing (first was killed); reaper of #1 after #2 started."""
    second = [line.replace("hog", "hog2").replace("112", "113") for line in REPORT]
    reaper = "[    8.400000] oom_reaper: reaped process 112 (hog), now anon-rss:0kB, file-rss:0kB, shmem-rss:648kB"
    log = REPORT + second[:10] + [reaper] + second[10:]
    scan = scan_log(log, "dmesg")
    first, nxt = scan.events
    assert first.victim.reaped == {"anon_rss_kb": 0, "file_rss_kb": 0, "shmem_rss_kb": 648}
    assert (nxt.victim.pid, nxt.victim.comm, nxt.complete) == (113, "hog2", True)


def test_report_ended_by_next_head():
    log = REPORT[:20] + REPORT
    first, second = scan_log(log, "dmesg").events
    assert (first.complete, first.end_line, second.line) == (False, None, 21)


def test_dmesg_and_journal_copies_have_one_key():
    dmesg = scan_log(REPORT, "sos_commands/kernel/dmesg").events[0]
    journal = scan_log(render("journal-precise"), "sos_commands/logs/journalctl_--no-pager").events[0]
    assert event_key(dmesg) == event_key(journal) == ("killed", 112, "hog", 174712, 173388, 4, 648)
    other = scan_file(KVM / "dmesg-oom-report-deflate-on.txt").events[0]
    assert event_key(other) != event_key(dmesg)


def test_streaming_feed_equals_scan_log():
    scanner = KernelLogScanner("dmesg")
    for line in REPORT:
        scanner.feed(line + "\n")
    assert core(scanner.close().events[0]) == core(REFERENCE)


# -- public excerpts ------------------------------------------------------

def test_memcg_v2_oom_group_6x():
    scan = scan_file(DATA / "egachi-k8s-6.x-memcg-v2-oom-group-dmesg-grep.txt")
    (bm,) = scan.boot_memory
    assert (bm.available_kb, bm.total_kb, bm.reserved_kb, bm.freed_later_kb) == (32828264, 33554036, 718188, 27124)
    (ev,) = scan.events
    assert (ev.trigger_comm, ev.gfp_mask, ev.order, ev.oom_score_adj) == ("Thread-2", "0xcc0", 0, 969)
    assert ev.constraint == "memcg"
    assert ev.memcg.endswith("pod94eb36cd_29e1_478b_b365_4cb5dfc7d6fb.slice")
    assert ev.task_memcg.endswith("6f6777a63.scope")
    assert (ev.memcg_usage_kb, ev.memcg_limit_kb, ev.memcg_failcnt) == (4194304, 4194304, 1273284)
    assert ev.call_trace == ["oom_kill_process", "out_of_memory", "mem_cgroup_out_of_memory", "__mem_cgroup_charge"]
    assert (ev.tasks.count, ev.mem_info) == (0, {})
    assert (ev.victim.pid, ev.victim.anon_rss_kb, ev.victim.pgtables_kb) == (22609, 4116684, 10964)
    assert ev.notes[-1] == "memory.oom.group kill: 22609 (node)"


def test_memcg_5_4_kill_reaper_then_cut_head():
    first, second = scan_file(DATA / "reportportal-k8s-203-ubuntu-5.4-memcg-dmesg.txt").events
    assert (first.constraint, first.victim.pid, first.victim.oom_score_adj) == ("memcg", 63214, 986)
    assert first.victim.reaped == {"anon_rss_kb": 0, "file_rss_kb": 0, "shmem_rss_kb": 92}
    assert (second.trigger_comm, second.trigger_pid, second.gfp_flags, second.complete) == ("uwsgi", 63635, "GFP_KERNEL", False)
    assert "mem_cgroup_out_of_memory" in second.call_trace and "try_charge" in second.call_trace


def test_rhel7_memcg_v1_syslog():
    kill, head = scan_file(DATA / "ltp-1080-rhel7-memcg-v1-syslog.txt").events
    assert (kill.victim.pid, kill.victim.uid, kill.victim.total_vm_kb, kill.wallclock) == (42421, 0, 7296, "Aug 16 20:29:54")
    assert (head.trigger_comm, head.gfp_mask, head.gfp_flags, head.complete) == ("memcg_test_1", "0xd0", None, False)


def test_rhel7_head_with_dockerd_lines():
    scan = scan_file(DATA / "containerd-cgroups-74-rhel7-3.10-head-syslog.txt")
    (ev,) = scan.events
    assert (ev.line, ev.trigger_comm, ev.trigger_pid, ev.call_trace) == (3, "thrash", 11554, ["dump_stack", "dump_header"])


def test_rhel8_4_18_head_after_shell_output():
    (ev,) = scan_file(DATA / "ltp-614-rhel8-4.18-cpuset-dmesg.txt").events
    assert (ev.line, ev.monotonic, ev.nodemask, ev.gfp_flags) == (20, 167.720682, "(null)", "GFP_KERNEL")


def test_4_14_memcg_trace():
    (ev,) = scan_file(DATA / "kata-1310-4.14-memcg-dmesg.txt").events
    assert (ev.trigger_pid, ev.gfp_mask) == (93, "0x14200ca")
    assert ev.call_trace == ["dump_stack", "dump_header", "oom_kill_process", "out_of_memory",
                             "mem_cgroup_out_of_memory", "mem_cgroup_oom_synchronize"]


def test_6_16_dmesg_T_vmware():
    (ev,) = scan_file(DATA / "relate-1383-debian-6.16-vmware-dmesg-T.txt").events
    assert (ev.wallclock, ev.monotonic, ev.trigger_pid) == ("Fri Nov 21 14:22:56 2025", None, 3589817)
    assert ev.call_trace[-1] == "do_user_addr_fault" and len(ev.call_trace) == 12


def test_2_6_32_unreliable_trace_kept():
    (ev,) = scan_file(DATA / "squidanalyzer-69-rhel6-2.6.32-syslog.txt").events
    assert (ev.trigger_pid, ev.oom_score_adj) == (1743, -1000)
    assert ev.call_trace[4:7] == ["oom_kill_process", "select_bad_process", "out_of_memory"]
    assert ev.notes == ["call trace from '?' (unreliable) frames only"]


def test_event_boot_index():
    banner = "[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP"
    scan = scan_log([banner] + REPORT + [banner] + REPORT, "journal")
    assert [e.boot for e in scan.events] == [0, 1]
