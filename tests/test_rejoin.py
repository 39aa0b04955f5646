"""Hard-wrap rejoining and quoted-printable decoding, on real lines."""

from balloon_oom.parsers.kernel_log import scan_log
from balloon_oom.parsers.rejoin import could_continue, join_continuation, qp_decode

KILL = ("Out of memory: Killed process 61910 (git) total-vm:487828kB, anon-rss:423192kB, "
        "file-rss:4kB, shmem-rss:0kB, UID:0")


def test_kill_line_split_at_a_space_and_inside_a_word():
    assert join_continuation(KILL[:60], KILL[61:]) == KILL
    assert join_continuation(KILL[:70], KILL[70:]) == KILL  # a fold(1) cut: no space lost


def test_complete_lines_take_nothing():
    assert join_continuation(KILL, "oom_reaper: reaped process 61910 (git), now anon-rss:0kB") is None
    assert join_continuation("Memory cgroup out of memory: Kill process 4015 (python) score 1923 or sacrifice child",
                             "Killed process 4015 (python) total-vm:32812kB") is None
    assert join_continuation("Node 0 DMA32 free:2572kB min:4664kB", "lowmem_reserve[]: 0 0 0 0") is None
    assert join_continuation("active_anon:166091 inactive_anon:384", " active_file:11") is None


def test_header_cut_before_invoked_and_after_the_mask():
    head = "systemd invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE),"
    assert join_continuation(head, "order=0, oom_score_adj=0").endswith("order=0, oom_score_adj=0")
    # the comm alone on the line before: the head still opens a report
    (ev,) = scan_log(["[  238.338585] systemd",
                      "invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
                      "[  238.339420] CPU: 0 PID: 1 Comm: systemd Tainted: G      D W         5.4.0-next-20191204+ #75"],
                     "log").events
    assert (ev.trigger_comm, ev.trigger_pid, ev.order) == ("systemd", 1, 0)


def test_zone_line_wrapped_three_times_and_cut_by_the_poster():
    parts = ["Node 0 DMA free:11556kB min:36kB low:48kB high:60kB", "reserved_highatomic:0KB",
             "active_anon:152kB inactivB"]
    joined = parts[0]
    for p in parts[1:]:
        joined = join_continuation(joined, p)
    assert joined == " ".join(parts)


def test_frames_task_rows_and_release():
    assert join_continuation("?", "page_add_file_rmap+0x103/0x170") == "? page_add_file_rmap+0x103/0x170"
    assert join_continuation("[<ffffffff8112746e>] ?", "check_panic_on_oom+0x4e/0x80") == \
        "[<ffffffff8112746e>] ? check_panic_on_oom+0x4e/0x80"
    assert join_continuation("[  601]     0   601    28148", "3123   249856        0         -1000 systemd-journal") \
        .endswith("-1000 systemd-journal")
    assert join_continuation("CPU: 25 PID: 3143648 Comm: python3 Not", "tainted 5.4.0-29-generic #33-Ubuntu") == \
        "CPU: 25 PID: 3143648 Comm: python3 Not tainted 5.4.0-29-generic #33-Ubuntu"
    assert join_continuation("      Tainted: G            E", "5.15.0-next-20211111 #68").endswith("#68")
    assert could_continue("CPU: 2 PID: 11554 Comm:") and not could_continue("Call Trace:")


def test_quoted_printable():
    assert qp_decode("oom-kill:constraint=3DCONSTRAINT_NONE,nodemask=3D(null),cpuset=3D/") == \
        "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/"
    assert qp_decode("caf=C3=A9 =3D") == "café ="
    assert qp_decode("task=git,pid=61910,uid=0") == "task=git,pid=61910,uid=0"
