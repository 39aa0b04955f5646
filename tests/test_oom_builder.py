# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.parsers.oom.builder: whole reports (or their parts) into one event."""

from tests.oomdata import build, data_lines


def test_builder_memcg_v1_rhel7():
    """Lines 2-11 of ltp#1080's RHEL 7 memcg v1 report, from 'Task in …'."""
    ev = build(data_lines("ltp-1080-rhel7-memcg-v1-syslog.txt")[1:11], start=1)
    assert (ev.constraint, ev.task_memcg, ev.memcg) == ("memcg", "/0", "/0")
    assert ev.constraint_basis.startswith("'Task in")
    assert (ev.memcg_usage_kb, ev.memcg_limit_kb, ev.memcg_failcnt) == (0, 0, 448)
    assert (ev.tasks.count, ev.tasks.total_rss_pages) == (2, 48)
    assert (ev.victim.pid, ev.victim.message, ev.victim.anon_rss_kb) == (42421, "Memory cgroup out of memory", 96)
    assert ev.end_line == 11
    assert ev.mem_info == {}  # memcg reports have no Mem-Info


def test_builder_arm_mem_info_continuations_without_prefix():
    """raspberrypi/linux#3872: dmesg prints continuation lines indented, no time."""
    ev = build(data_lines("raspberrypi-3872-arm-6.x-mem-info-dmesg.txt"))
    assert ev.call_trace[:3] == ["oom_kill_process", "out_of_memory", "__alloc_pages"]
    assert len(ev.mem_info) == 20
    assert (ev.mem_info["active_file"], ev.mem_info["free"], ev.mem_info["free_cma"]) == (9815, 919956, 128398)
    assert ev.mem_info["kernel_misc_reclaimable"] == 0


def test_builder_arm_totals_non_numa_zone():
    ev = build(data_lines("raspberrypi-3872-arm-6.x-totals-dmesg.txt"))
    assert [(z.node, z.zone, z.values_kb["managed"]) for z in ev.zones] == [(0, "DMA", 663836)]
    assert ev.nodes[0].all_unreclaimable is False
    assert (ev.pages_ram, ev.pages_highmem, ev.pages_reserved, ev.pages_cma_reserved) == (1012736, 816128, 30649, 131072)
    assert (ev.total_pagecache_pages, ev.swap_cache_pages, ev.swap_free_kb, ev.swap_total_kb) == (36861, 0, 785668, 785668)
    assert ev.pages_hwpoisoned is None
    assert ev.tasks.count == 0


def test_builder_vz_balloon_line_and_notes():
    # Virtuozzo's show_mem line (vzkernel only, never upstream) and the
    # "already exiting" line of oom_kill_process(); no public capture was
    # found for either.
    ev = build(["Balloon InflatedTotal:0kB InflatedFree:262144kB",
                "Out of memory: OOM victim 112 (hog) is already exiting. Skip killing the task"])
    assert (ev.vz_balloon_inflated_total_kb, ev.vz_balloon_inflated_free_kb) == (0, 262144)
    assert ev.notes == ["Out of memory: OOM victim 112 (hog) is already exiting. Skip killing the task"]


def test_builder_sacrificed_child_is_the_victim():
    ev = build(["Out of memory: Kill process 100 (parent) score 900 or sacrifice child",
                "Killed process 101 (child) total-vm:1000kB, anon-rss:800kB, file-rss:0kB, shmem-rss:0kB"])
    assert (ev.victim.pid, ev.victim.message) == (101, "Out of memory")
    assert ev.notes == ["selected 100 (parent) score 900, killed its child 101 (child)"]


def test_precedence_task_row_before_trigger_and_mem_info_only_after_its_marker():
    cols = "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"
    ev = build([cols, "[    112]     0   112    43678    43510   385024        0             0 hog",
                "CPU: 0 PID: 112 Comm: hog Not tainted 6.1.0-56-amd64 #1",
                "active_anon:1 free:2"])
    assert (ev.tasks.count, ev.trigger_pid) == (1, 112)
    assert ev.mem_info == {}  # pairs count only after "Mem-Info:"
    ev = build(["Mem-Info:", "active_anon:1 free:2", "Node 0 active_anon:4kB all_unreclaimable? no",
                "active_anon:9"])
    assert ev.mem_info == {"active_anon": 1, "free": 2}  # a node line closes Mem-Info
    assert ev.constraint == "global"
