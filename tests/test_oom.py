"""Tests for balloon_oom.parsers.oom on real OOM-report lines of many kernels.

Data: tests/data/oom/ (verbatim excerpts of public reports, see PROVENANCE.md)
and the real 6.1 guest captures in /work/shared/real-captures/kvm-6.1/.
"""

from pathlib import Path

from balloon_oom.model import OomEvent
from balloon_oom.parsers.logline import decode_line, split_prefix
from balloon_oom.parsers.oom import (
    OomReportBuilder,
    TaskTable,
    parse_constraint,
    parse_frame,
    parse_invoked,
    parse_kill,
    parse_node,
    parse_reaper,
    parse_task_header,
    parse_task_row,
    parse_trigger,
    parse_zone,
)
from tests import shared as _shared

DATA = Path(__file__).parent / "data" / "oom"
KVM = (_shared.CAPTURES / "kvm-6.1")


def build(lines, start=0):
    """Feed decoded, prefix-stripped lines into one builder (no head needed)."""
    b = OomReportBuilder(OomEvent(source="t", line=start + 1))
    for n, raw in enumerate(lines, start + 1):
        raw = decode_line(raw)
        b.feed(split_prefix(raw).text, n, raw)
    return b.finish(complete=True)


def data_lines(name):
    return (DATA / name).read_text().splitlines()


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


def test_trigger_lines():
    assert parse_trigger("CPU: 0 PID: 112 Comm: hog Not tainted 6.1.0-56-amd64 #1  Debian 6.1.192-2") == (112, "hog")
    assert parse_trigger("CPU: 2 PID: 11554 Comm: thrash Kdump: loaded Tainted: G          I    ------------ T 3.10.0-862.11.6.el7.x86_64 #1") == (11554, "thrash")
    assert parse_trigger("Pid: 1743, comm: sshd Tainted: G           --------------- H  2.6.32-279.9.1.el6.x86_64 #1") == (1743, "sshd")
    assert parse_trigger("Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)") is None


def test_constraint_memcg_v2():
    lines = data_lines("egachi-k8s-6.x-memcg-v2-oom-group-dmesg-grep.txt")
    cons = parse_constraint(split_prefix(lines[41]).text)
    assert cons["constraint"] == "CONSTRAINT_MEMCG"
    assert cons["oom_memcg"] == "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod94eb36cd_29e1_478b_b365_4cb5dfc7d6fb.slice"
    assert (cons["task"], cons["pid"], cons["uid"]) == ("node", "22609", "0")
    assert "global_oom" not in cons


def test_kill_lines_of_each_generation():
    rhel7 = parse_kill("Killed process 42421 (memcg_test_1), UID 0, total-vm:7296kB, anon-rss:96kB, file-rss:0kB, shmem-rss:0kB")
    assert (rhel7.pid, rhel7.uid, rhel7.total_vm_kb, rhel7.anon_rss_kb, rhel7.pgtables_kb) == (42421, 0, 7296, 96, None)
    v54 = parse_kill("Memory cgroup out of memory: Killed process 63214 (uwsgi) total-vm:3149468kB, anon-rss:164992kB, file-rss:52176kB, shmem-rss:92kB, UID:0 pgtables:1372kB oom_score_adj:986")
    assert (v54.message, v54.pgtables_kb, v54.oom_score_adj, v54.rss_kb) == ("Memory cgroup out of memory", 1372, 986, 217260)
    # 4.x one-liner without shmem (a public README quoting dmesg).
    old = parse_kill("Killed process 18694 (perl) total-vm:1972392kB, anon-rss:1953348kB, file-rss:0kB")
    assert (old.comm, old.shmem_rss_kb, old.message) == ("perl", None, None)
    assert parse_kill("Out of memory: Kill process 21945 (tidb-server) score 956 or sacrifice child") is None


def test_reaper():
    assert parse_reaper("oom_reaper: reaped process 63214 (uwsgi), now anon-rss:0kB, file-rss:0kB, shmem-rss:92kB") == (
        63214, "uwsgi", {"anon_rss_kb": 0, "file_rss_kb": 0, "shmem_rss_kb": 92})


def test_frames():
    assert parse_frame(" [<ffffffffa21135d4>] dump_stack+0x19/0x1b") == "dump_stack"
    assert parse_frame(" out_of_memory.part.0+0x1df/0x3d0") == "out_of_memory"
    assert parse_frame(" oom_kill_process.cold+0xb/0x10") == "oom_kill_process"
    assert parse_frame(" [<ffffffff810c4c71>] ? cpuset_print_task_mems_allowed+0x91/0xb0") is None
    assert parse_frame("RIP: 0033:0x42378b") is None


def test_node_and_zone_lines_real_6_1():
    lines = (KVM / "dmesg-oom-report-deflate-off.txt").read_text().splitlines()
    node = parse_node(split_prefix(lines[37]).text)
    assert (node.node, node.values_kb["inactive_anon"], node.values_kb["shmem_thp"]) == (0, 174124, 0)
    assert node.all_unreclaimable is True and node.balloon_kb is None
    dma32 = parse_zone(split_prefix(lines[40]).text)
    assert (dma32.node, dma32.zone) == (0, "DMA32")
    assert (dma32.values_kb["present"], dma32.values_kb["managed"], dma32.values_kb["reserved_highatomic"]) == (507776, 190912, 0)
    assert parse_zone(split_prefix(lines[42]).text) is None  # "Node 0 DMA: 2*4kB …" buddy line


def test_node_balloon_field_v6_15():
    # Format of Nico Pache's v6.15 change (kernel-balloon-facts.md §6); the
    # line is the real 6.1 node line with the 6.15 field appended.
    lines = (KVM / "dmesg-oom-report-deflate-off.txt").read_text().splitlines()
    node = parse_node(split_prefix(lines[37]).text + " Balloon:262144kB")
    assert node.balloon_kb == 262144 and node.all_unreclaimable is True


def test_task_tables_three_shapes():
    old = parse_task_header("[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name")
    row = parse_task_row("[42421]     0 42421     1824       24       8        0             0 memcg_test_1", old)
    assert (row.pid, row.rss_pages, row.pgtables_bytes, row.name) == (42421, 24, 8 * 4096, "memcg_test_1")
    new = parse_task_header("[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name")
    # Real row (inducer/relate#1383, Debian 6.16).
    row = parse_task_row("[1099316]    33 1099316   104205    11897     9137     2760         0   532480    33632             0 python", new)
    assert (row.rss_pages, row.rss_anon_pages, row.rss_file_pages, row.swapents, row.pgtables_bytes) == (11897, 9137, 2760, 33632, 532480)
    # Negative oom_score_adj, process name with a space.
    row = parse_task_row("[    409]     0   409     9936      626       64      562         0    98304      864         -1000 systemd-udevd", new)
    assert row.oom_score_adj == -1000
    assert parse_task_row("[    112]     0   112    43678", new) is None


def test_task_table_keeps_top5_and_totals():
    cols = parse_task_header("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name")
    table = TaskTable(cols)
    for pid, rss in enumerate([5, 50, 1, 40, 30, 20, 10, 60]):
        table.add(parse_task_row(f"[{pid:7d}]     0 {pid:5d}     1000 {rss:8d}    4096        0             0 t{pid}", cols))
    s = table.summary()
    assert (s.count, s.total_rss_pages) == (8, 216)
    assert [t.rss_pages for t in s.top] == [60, 50, 40, 30, 20]


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
    # Virtuozzo's show_mem line (format from its doc, kernel-balloon-facts.md §6)
    # and the 5.x "already exiting" line; no public capture was found for either.
    ev = build(["Balloon InflatedTotal:0kB InflatedFree:262144kB",
                "Out of memory: OOM victim 112 (hog) is already exiting. Skip killing the task"])
    assert (ev.vz_balloon_inflated_total_kb, ev.vz_balloon_inflated_free_kb) == (0, 262144)
    assert ev.notes == ["Out of memory: OOM victim 112 (hog) is already exiting. Skip killing the task"]


def test_builder_sacrificed_child_is_the_victim():
    ev = build(["Out of memory: Kill process 100 (parent) score 900 or sacrifice child",
                "Killed process 101 (child) total-vm:1000kB, anon-rss:800kB, file-rss:0kB, shmem-rss:0kB"])
    assert (ev.victim.pid, ev.victim.message) == (101, "Out of memory")
    assert ev.notes == ["selected 100 (parent) score 900, killed its child 101 (child)"]
