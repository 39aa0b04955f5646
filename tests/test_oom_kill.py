# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.parsers.oom.kill: every generation of the kill line, the
selection, the reaper, ``already exiting`` and memory.oom.group."""

from balloon_oom.parsers.logline import split_prefix
from balloon_oom.parsers.oom import parse_exiting, parse_kill, parse_oom_group, parse_reaper, parse_selected
from tests.oomdata import data_lines


def test_kill_lines_of_each_generation():
    rhel7 = parse_kill("Killed process 42421 (memcg_test_1), UID 0, total-vm:7296kB, anon-rss:96kB, file-rss:0kB, shmem-rss:0kB")
    assert (rhel7.pid, rhel7.uid, rhel7.total_vm_kb, rhel7.anon_rss_kb, rhel7.pgtables_kb) == (42421, 0, 7296, 96, None)
    v54 = parse_kill("Memory cgroup out of memory: Killed process 63214 (uwsgi) total-vm:3149468kB, anon-rss:164992kB, file-rss:52176kB, shmem-rss:92kB, UID:0 pgtables:1372kB oom_score_adj:986")
    assert (v54.message, v54.pgtables_kb, v54.oom_score_adj, v54.rss_kb) == ("Memory cgroup out of memory", 1372, 986, 217260)
    # 4.x one-liner without shmem (a public README quoting dmesg).
    old = parse_kill("Killed process 18694 (perl) total-vm:1972392kB, anon-rss:1953348kB, file-rss:0kB")
    assert (old.comm, old.shmem_rss_kb, old.message) == ("perl", None, None)
    assert parse_kill("Out of memory: Kill process 21945 (tidb-server) score 956 or sacrifice child") is None


def test_selection_line_up_to_5_0():
    assert parse_selected("Out of memory: Kill process 21945 (tidb-server) score 956 or sacrifice child") == (
        "Out of memory", 21945, "tidb-server", 956)
    assert parse_selected("Out of memory: Killed process 1 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB") is None


def test_reaper():
    assert parse_reaper("oom_reaper: reaped process 63214 (uwsgi), now anon-rss:0kB, file-rss:0kB, shmem-rss:92kB") == (
        63214, "uwsgi", {"anon_rss_kb": 0, "file_rss_kb": 0, "shmem_rss_kb": 92})


def test_already_exiting():
    # mm/oom_kill.c oom_kill_process(): "%s: OOM victim %d (%s) is already exiting. Skip killing the task".
    assert parse_exiting("Memory cgroup out of memory: OOM victim 7 (java) is already exiting. Skip killing the task") == (
        "Memory cgroup out of memory", 7, "java")


def test_oom_group_line_real_6_x():
    lines = data_lines("egachi-k8s-6.x-memcg-v2-oom-group-dmesg-grep.txt")
    group = parse_oom_group(split_prefix(lines[43]).text)
    assert group.startswith("/kubepods.slice/kubepods-burstable.slice/") and group.endswith(".scope")
    assert parse_oom_group("Tasks in /x are going to be killed") is None
