# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile kernel logs through the whole ``analyze`` path.

The real 6.1 guest's dmesg (``real-captures/kvm-6.1/dmesg-deflate-off.txt``,
one global OOM: ``hog`` pid 112 killed) is dressed up in the ways uploaded
logs arrive: megabyte lines, NUL bytes (a block of them, as an unclean
shutdown leaves in /var/log/messages), invalid UTF-8, CR-only line ends, the
report cut in the middle, two reports interleaved with other CPUs' messages,
the same report in dmesg and the journal.  Each must give the same OOM event
as the clean log (same victim, trigger, Mem-Info, call trace), counted once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

import pytest

from balloon_oom.analysis import analyze
from balloon_oom.render.json_out import render
from tests import sosroots

KVM = Path(sosroots.KVM)
pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))

DMESG = (KVM / "dmesg-deflate-off.txt").read_bytes() if KVM.is_dir() else b""
VICTIM = (112, "hog", 174712, 173388, 4, 648)


def report(tmp: Path, logs: dict) -> Path:
    """The deflate-off guest after its OOM, with ``logs`` (path -> bytes) as its only logs."""
    root = Path(sosroots.build("kvm-deflate-off-after-oom", str(tmp)).path)
    (root / "var/log/dmesg").unlink()
    for rel, data in logs.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def victim(ev) -> tuple:
    v = ev.victim
    return (v.pid, v.comm, v.total_vm_kb, v.anon_rss_kb, v.file_rss_kb, v.shmem_rss_kb)


def same_event(ev, clean) -> None:
    """The fields a hostile dress must not change."""
    assert victim(ev) == VICTIM
    for name in ("trigger_comm", "trigger_pid", "gfp_mask", "order", "oom_score_adj",
                 "constraint", "mem_info", "pages_ram", "pages_reserved", "call_trace",
                 "zones", "nodes", "swap_free_kb", "complete"):
        assert getattr(ev, name) == getattr(clean, name), name


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    a = analyze(str(report(tmp_path_factory.mktemp("clean"),
                           {"sos_commands/kernel/dmesg": DMESG})))
    (ev,) = a.oom_events
    assert victim(ev) == VICTIM and ev.complete and ev.trigger_comm == "hog"
    assert ev.mem_info and ev.call_trace and ev.pages_ram
    assert a.verdict == "contributed"
    return ev


def _lines() -> List[bytes]:
    return DMESG.split(b"\n")


def _index(needle: bytes) -> int:
    return next(i for i, ln in enumerate(_lines()) if needle in ln)


def test_megabyte_lines_around_the_report(tmp_path, clean):
    lines = _lines()
    i = _index(b"invoked oom-killer")
    lines.insert(i, b"[    8.300000] " + b"A" * (5 << 20))            # 5 MiB, before
    j = _index(b"Killed process") + 2
    lines.insert(j, b"[    8.400000] " + b"\xe2\x82\xac" * (1 << 20))  # 3 MiB of euro signs
    a = analyze(str(report(tmp_path, {"sos_commands/kernel/dmesg": b"\n".join(lines)})))
    (ev,) = a.oom_events
    same_event(ev, clean)
    assert a.verdict == "contributed"
    doc = render(a)
    assert len(doc) < 1 << 20                                       # no megabyte line in the JSON


def test_nul_bytes_and_invalid_utf8(tmp_path, clean):
    lines = _lines()
    i = _index(b"invoked oom-killer")
    # A NUL block (one 4 KiB page not flushed before a crash), then the log goes on.
    lines[i - 1] = b"\x00" * 4096 + lines[i - 1]
    lines = [ln.replace(b"Mem-Info", b"Mem-\x00Info") for ln in lines]
    lines.insert(i + 2, b"[    8.352300] \xff\xfe\xc3( garbage \xed\xa0\x80 from a broken driver")
    a = analyze(str(report(tmp_path, {"sos_commands/kernel/dmesg": b"\n".join(lines)})))
    (ev,) = a.oom_events
    same_event(ev, clean)
    render(a)


def test_invalid_utf8_comm_is_the_same_event_in_both_logs(tmp_path):
    """A victim whose name is not UTF-8: dmesg and journal both carry it, still one event."""
    bad = DMESG.replace(b" hog", b" h\xffg").replace(b"(hog)", b"(h\xffg)")
    journal = _journal(bad)
    a = analyze(str(report(tmp_path, {"sos_commands/kernel/dmesg": bad,
                                      "sos_commands/logs/journalctl_--no-pager": journal})))
    (ev,) = a.oom_events
    assert ev.victim.comm == "h\ufffdg" and ev.victim.pid == 112
    assert ev.source == "sos_commands/kernel/dmesg"


@pytest.mark.parametrize("ending", [b"\r", b"\r\n"])
def test_cr_and_crlf_line_ends(tmp_path, clean, ending):
    a = analyze(str(report(tmp_path, {"var/log/dmesg": DMESG.replace(b"\n", ending)})))
    (ev,) = a.oom_events
    same_event(ev, clean)
    assert ev.line == clean.line


def test_report_cut_in_the_middle(tmp_path, clean):
    lines = _lines()
    cut = _index(b"Mem-Info") + 3                   # the log ends inside Mem-Info
    a = analyze(str(report(tmp_path, {"sos_commands/kernel/dmesg": b"\n".join(lines[:cut])})))
    (ev,) = a.oom_events
    assert ev.complete is False and ev.victim is None
    assert (ev.trigger_comm, ev.gfp_mask, ev.order) == ("hog", "0x140dca", 0)
    assert ev.call_trace == clean.call_trace
    (v,) = a.verdicts
    assert v.confidence != "high"


def _journal(dmesg: bytes, host: bytes = b"guest") -> bytes:
    """dmesg as `journalctl -o short-precise` shows it (as test_analysis builds it)."""
    out = []
    for line in dmesg.split(b"\n"):
        m = re.match(rb"\[\s*(\d+)\.(\d+)\] (.*)", line, re.S)
        if m:
            secs = int(m.group(1))
            out.append(b"Nov 26 05:27:%02d.%s %s kernel: %s" % (secs % 60, m.group(2), host,
                                                                m.group(3)))
    return b"\n".join(out) + b"\n"


def test_same_report_in_dmesg_and_journal_counted_once(tmp_path, clean):
    journal = _journal(DMESG).replace(b"\n", b"\r\n")
    a = analyze(str(report(tmp_path, {"sos_commands/kernel/dmesg": DMESG,
                                      "sos_commands/logs/journalctl_--no-pager": journal,
                                      "var/log/messages": journal})))
    (ev,) = a.oom_events
    same_event(ev, clean)
    assert ev.source == "sos_commands/kernel/dmesg"
    assert ev.wallclock is not None                 # filled from the journal's copy
    assert len(a.verdicts) == 1


def test_two_reports_interleaved_with_other_cpus(tmp_path, clean):
    """The first report, other CPUs' messages between its lines, then a second OOM
    (another victim) whose lines are also interleaved: two events, right victims."""
    lines = _lines()
    start, kill = _index(b"invoked oom-killer"), _index(b"Killed process")
    rep = lines[start:kill + 1]
    noise = [b"[    8.353000] e1000 0000:00:03.0 eth0: Reset adapter",
             b"[    8.353001] systemd-journald[88]: Under memory pressure, flushing caches."]
    first: List[bytes] = []
    for k, line in enumerate(rep):
        first.append(line)
        if k % 15 == 7:
            first.append(noise[k % 2])
    second = [ln.replace(b"hog", b"hog2").replace(b"process 112", b"process 113")
              .replace(b"PID: 112", b"PID: 113").replace(b"[    8.3", b"[    9.3")
              for ln in first]
    log = lines[:start] + first + lines[kill + 1:] + second
    a = analyze(str(report(tmp_path, {"sos_commands/kernel/dmesg": b"\n".join(log)})))
    assert [(e.victim.pid, e.victim.comm) for e in a.oom_events if e.victim] == [
        (112, "hog"), (113, "hog2")]
    assert len(a.oom_events) == 2
    same_event(a.oom_events[0], clean)
