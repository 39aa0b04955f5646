# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.parsers.oom.tasks: the task table's three header shapes and its summary."""

from balloon_oom.parsers.oom import TaskTable, parse_task_header, parse_task_row


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
