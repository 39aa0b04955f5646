"""journalctl -o json and -o export read as kernel logs: MESSAGE, the
kernel's own monotonic time, the wall clock, _BOOT_ID boots, only kernel
records.  The records are made from the real 6.1 guest's dmesg (the same
fields journald stores for a /dev/kmsg record) with a real user-space record
(earlyoom, tests/data/oom/PROVENANCE.md) between them."""

import io
import json
import re
import struct
from pathlib import Path

import pytest

from balloon_oom.model import to_jsonable
from balloon_oom.parsers.journal import ExportRecord, json_record
from balloon_oom.parsers.kernel_log import looks_like_kernel_log, scan_log, scan_stream
from balloon_oom.readers.members import iter_lines
from tests import shared as _shared

DMESG = _shared.CAPTURES / "kvm-6.1" / "dmesg-deflate-off.txt"
DATA = Path(__file__).parent / "data" / "oom"
EARLYOOM = json.loads((DATA / "earlyoom-218-journal-json-not-kernel.txt").read_text())
pytestmark = pytest.mark.skipif(not DMESG.exists(), reason="real captures absent")
_STAMP = re.compile(r"^\[\s*(\d+)\.(\d{6})\] ?")
BOOT_EPOCH_US = 1795410000000000  # 2026-11-23T05:00:00Z: wall clock of monotonic 0


def _records(boot_id="6b1f0e7f1f7a4e0c9d8f3a2b1c0d9e8f", base=BOOT_EPOCH_US):
    out = []
    for i, line in enumerate(DMESG.read_text().splitlines()):
        m = _STAMP.match(line)
        mono = int(m.group(1)) * 1000000 + int(m.group(2))
        out.append({
            "__CURSOR": f"s=0;i={i:x};b={boot_id}", "__REALTIME_TIMESTAMP": str(base + mono),
            "__MONOTONIC_TIMESTAMP": str(mono + 500), "_BOOT_ID": boot_id,
            "_SOURCE_MONOTONIC_TIMESTAMP": str(mono), "_TRANSPORT": "kernel", "PRIORITY": "4",
            "SYSLOG_FACILITY": "0", "SYSLOG_IDENTIFIER": "kernel", "MESSAGE": line[m.end():],
            "_HOSTNAME": "guest"})
        if i == 200:
            out.append(dict(EARLYOOM, _BOOT_ID=boot_id))
    return out


def _as_json(records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _as_export(records, binary=("MESSAGE",)):
    """journalctl -o export: KEY=value lines; a MESSAGE with a newline (or any
    field named in ``binary`` holding one) as KEY, 64-bit LE length, bytes."""
    out = b""
    for r in records:
        for k, v in r.items():
            v = v.encode()
            if k in binary and (b"\n" in v or len(v) % 7 == 0):
                out += k.encode() + b"\n" + struct.pack("<Q", len(v)) + v + b"\n"
            else:
                out += k.encode() + b"=" + v + b"\n"
        out += b"\n"
    return out


def _clean():
    return scan_log(DMESG.open("rb"), "dmesg")


def _same_events(a, b):
    def strip(e):
        d = {k: v for k, v in to_jsonable(e).items()
             if k not in ("source", "line", "end_line", "wallclock", "evidence", "boot_id")}
        if d.get("boot_memory"):  # the same boot line, quoted from its own source
            d["boot_memory"] = {k: v for k, v in d["boot_memory"].items()
                                if k not in ("evidence", "freed_evidence", "source")}
        return d
    assert [strip(e) for e in a.events] == [strip(e) for e in b.events]


def test_json_gives_the_dmesg_events_times_and_boot():
    data = _as_json(_records())
    scan = scan_log(iter_lines(io.BytesIO(data)), "journal.json")
    _same_events(scan, _clean())
    (ev,) = scan.events
    assert (ev.monotonic, ev.boot_id, ev.boot) == (8.352026, "6b1f0e7f1f7a4e0c9d8f3a2b1c0d9e8f", 0)
    assert ev.wallclock == "2026-11-23T05:00:08.352026+00:00"
    assert (scan.boots, scan.kernel_release[0], scan.boot_memory[0].reserved_kb) == (1, "6.1.0-56-amd64", 64776)
    assert ev.victim.pid == 112 and ev.pages_reserved == 79374
    assert to_jsonable(scan_stream(io.BytesIO(data), "journal.json")) == to_jsonable(scan)


def test_export_with_binary_fields_gives_the_dmesg_events():
    data = _as_export(_records())
    assert data.count(b"MESSAGE\n") > 20  # binary-framed messages are really there
    scan = scan_log(iter_lines(io.BytesIO(data)), "journal.export")
    _same_events(scan, _clean())
    assert scan.events[0].monotonic == 8.352026 and scan.boots == 1
    assert to_jsonable(scan_stream(io.BytesIO(data), "journal.export")) == to_jsonable(scan)


def test_boot_id_change_is_a_boot_boundary():
    records = _records("aaaa") + _records("bbbb", BOOT_EPOCH_US + 86400 * 10 ** 6)
    for data in (_as_json(records), _as_export(records)):
        scan = scan_log(iter_lines(io.BytesIO(data)), "journal")
        assert scan.boots == 2
        assert [(e.boot, e.boot_id) for e in scan.events] == [(0, "aaaa"), (1, "bbbb")]
        assert to_jsonable(scan_stream(io.BytesIO(data), "journal")) == to_jsonable(scan)


def test_multi_line_and_byte_array_messages():
    rec = {"__CURSOR": "s=1", "_TRANSPORT": "kernel", "_SOURCE_MONOTONIC_TIMESTAMP": "238351085",
           "MESSAGE": list(b"active_anon:3121 inactive_anon:51 isolated_anon:0\n active_file:12")}
    lines = json_record(json.dumps(rec))
    assert [ll.text for ll in lines] == ["active_anon:3121 inactive_anon:51 isolated_anon:0",
                                         " active_file:12"]
    assert lines[0].monotonic == 238.351085 and lines[0].kernel


def test_user_space_records_are_not_kernel_messages():
    (ll,) = json_record((DATA / "earlyoom-218-journal-json-not-kernel.txt").read_text())
    assert (ll.kernel, ll.text, ll.monotonic) == (False, "process exited after 1.2 seconds", 5593.008246)
    assert not looks_like_kernel_log((DATA / "earlyoom-218-journal-json-not-kernel.txt").open("rb"))
    assert looks_like_kernel_log(iter_lines(io.BytesIO(_as_json(_records()))))
    assert looks_like_kernel_log(iter_lines(io.BytesIO(_as_export(_records()))))
    assert json_record('{"a": 1, "MESSAGE": "x"}') is None  # JSON, not a journal record


def test_export_record_binary_field_with_newline_in_its_length():
    rec = ExportRecord()
    msg = b"Out of memory: Killed process 537 (login)\nsecond"
    payload = b"MESSAGE\n" + struct.pack("<Q", len(msg)) + msg + b"\n"
    for line in (b"__CURSOR=s=1\n" + b"_TRANSPORT=kernel\n" + payload).split(b"\n")[:-1]:
        assert rec.feed(line)
    assert rec.feed(b"") is False
    assert [ll.text for ll in rec.lines()] == ["Out of memory: Killed process 537 (login)", "second"]
    rec = ExportRecord()
    msg = b"0123456789"  # length 10: its first length byte is a newline
    for line in (b"_TRANSPORT=kernel\nMESSAGE\n" + struct.pack("<Q", 10) + msg + b"\n").split(b"\n")[:-1]:
        rec.feed(line)
    assert rec.fields["MESSAGE"] == msg
