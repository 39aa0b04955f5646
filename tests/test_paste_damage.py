"""Real logs damaged the way pastes are (indentation, quoting, hard wraps at
72/76/80 columns, quoted-printable) give the events the clean log gives, and
the stream prefilter gives what the line-by-line scan gives on every one."""

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balloon_oom.model import to_jsonable
from balloon_oom.parsers.kernel_log import scan_log, scan_stream
from balloon_oom.readers.members import iter_lines
from tests import shared as _shared
from tests.paste_damage import DAMAGES, indent, quote, wrap

DATA = Path(__file__).parent / "data" / "oom"
WILD = _shared.SHARED / "real-logs" / "wild"
LOGS = (sorted(WILD.glob("*.log")) + sorted(DATA.glob("*.txt"))
        + sorted(_shared.CAPTURES.glob("kvm-6.1/dmesg-*.txt"))
        + sorted(_shared.CAPTURES.glob("kvm-6.1/serial-console-*.log")))


def _events(scan):
    """What the verdict reads of each event (line numbers change with the damage)."""
    return [(
        (e.victim.pid, e.victim.comm, e.victim.total_vm_kb, e.victim.anon_rss_kb,
         e.victim.file_rss_kb, e.victim.shmem_rss_kb, e.victim.message) if e.victim else None,
        e.constraint, e.trigger_comm, e.trigger_pid, e.gfp_mask, e.order, e.nodemask,
        e.memcg, e.task_memcg, e.pages_ram, e.pages_reserved, e.mem_info,
        [(z.node, z.zone, z.values_kb) for z in e.zones],
        [(n.node, n.values_kb, n.balloon_kb) for n in e.nodes],
        e.call_trace, to_jsonable(e.tasks), e.missing, e.complete,
    ) for e in scan.events]


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name[:40])
def test_damaged_copy_gives_the_same_events(path, damage):
    text = path.read_text(encoding="utf-8", errors="replace")
    clean = scan_log(text.splitlines(), "log")
    damaged_text = DAMAGES[damage](text)
    damaged = scan_log(damaged_text.splitlines(), "log")
    assert _events(damaged) == _events(clean)
    assert (damaged.kernel_release or (None,))[0] == (clean.kernel_release or (None,))[0]
    assert (damaged.hypervisor or (None,))[0] == (clean.hypervisor or (None,))[0]
    data = damaged_text.encode("utf-8")
    by_line = to_jsonable(scan_log(iter_lines(io.BytesIO(data)), "log"))
    assert to_jsonable(scan_stream(io.BytesIO(data), "log")) == by_line


def test_the_damage_is_real():
    """The damaged copies do break lines (else the test above proves nothing)."""
    text = (WILD / "fs-aws-ec2-xen-hvm-rhel8.3-messages-4oom.log").read_text()
    assert len(wrap(text, 72).splitlines()) > len(text.splitlines()) + 1000
    assert DAMAGES["qp"](text).count("=\n") > 1000 and "=3D" in DAMAGES["qp"](text)
    assert indent(text, 5).startswith("     Mar  2") and quote(text, 2).startswith("> > Mar  2")


@pytest.mark.skipif(not WILD.is_dir(), reason="shared wild logs absent")
def test_indented_report_keeps_constraint_and_totals():
    """issue 11: an indented report lost its constraint, Mem-Info and pages
    RAM/reserved, and its trigger became '[  238.338585] systemd'."""
    text = (WILD / "fs-aws-ec2-xen-hvm-rhel8.3-messages-4oom.log").read_text()
    for spaces in (2, 5):
        ev = scan_log(indent(text, spaces).splitlines(), "log").events[0]
        assert (ev.trigger_comm, ev.constraint, ev.pages_ram, ev.pages_reserved) == (
            "node", "global", 262045, 55757)
        assert ev.mem_info["free"] == 10346


def test_poster_elision_and_annotation_between_head_and_tail():
    """A paste with the middle cut ('...') and the poster's words in it."""
    head = (DATA / "lkml-2017-3.10-openstack-compulsory-panic-head-dmesg.txt").read_text()
    tail = (DATA / "lkml-2017-3.10-openstack-compulsory-panic-tail-dmesg.txt").read_text()
    paste = head + "...\n(I cut the rest of the task list)\n" + tail
    (ev,) = scan_log(quote(paste).splitlines(), "mail").events
    assert ev.trigger_comm == "DefSch0200" and ev.pages_reserved == 282400
    assert "Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled" in ev.notes
    assert (ev.victim, ev.missing) == (None, ["kill"])
    # compulsory panic: any constraint; the memcg OOM path is in the trace.
    assert ev.constraint == "memcg" and "mem_cgroup_oom_synchronize" in ev.constraint_basis


def _damaged_lines():
    pool = []
    for path in LOGS:
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in ("wrap72", "qp", "quote+wrap76", "indent2"):
            pool.extend(DAMAGES[name](text).encode("utf-8").splitlines())
    return pool


_POOL = _damaged_lines()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(_POOL) - 1), min_size=1, max_size=400), st.integers(64, 5000))
def test_random_runs_of_damaged_lines_stream_identical(starts, block):
    """Contiguous runs of damaged real lines, in random order, cut into random
    blocks: the prefilter keeps every line a join needs."""
    from balloon_oom.readers import stream

    lines = []
    for s in starts[:20]:
        lines.extend(_POOL[s:s + 40])
    data = b"\n".join(lines) + b"\n"
    stream._BLOCK = block
    try:
        by_block = to_jsonable(scan_stream(io.BytesIO(data), "log"))
    finally:
        stream._BLOCK = 1024 * 1024
    assert by_block == to_jsonable(scan_log(iter_lines(io.BytesIO(data)), "log"))
