# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.drivers.virtio_mem on the lab's 6.1 virtio-mem run (lines and iomem as the guest printed them).

QMP said: 256 MiB plugged at boot, requested-size 128 MiB, ``size`` 128 MiB at the OOM.
"""

from balloon_oom.model import (Analysis, Driver, Evidence, MemoryFigures, OomEvent, OomZone,
                               Signature, Source, SourceKind, Zone)
from balloon_oom.readers.files import ReportFiles
from balloon_oom.drivers.virtio_mem import _iomem, apply_log, bound_at_oom, find_virtio_mem, parse_log

MIB = 1 << 20
DMESG = """\
[    0.000000] Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org)
[   12.965430] virtio_mem virtio1: start address: 0x100000000
[   12.965725] virtio_mem virtio1: region size: 0x10000000
[   12.965851] virtio_mem virtio1: device block size: 0x200000
[   12.965984] virtio_mem virtio1: nid: 0
[   12.966553] virtio_mem virtio1: memory block size: 0x8000000
[   12.966737] virtio_mem virtio1: subblock size: 0x200000
[   12.969114] virtio_mem virtio1: plugged size: 0x0
[   12.969294] virtio_mem virtio1: requested size: 0x10000000
[   17.388159] virtio_mem virtio1: plugged size: 0x10000000
[   17.388320] virtio_mem virtio1: requested size: 0x8000000
""".splitlines()
IOMEM = """\
00000000-00000fff : Reserved
00100000-0fffffff : System RAM
10000000-febfffff : PCI Bus 0000:00
    febf8000-febfbfff : virtio-pci-modern
100000000-10fffffff : virtio1
  100000000-107ffffff : System RAM (virtio_mem)
180000000-1ffffffff : PCI Bus 0000:00
"""


def _files():
    files = ReportFiles()
    files.add("proc/iomem", IOMEM)
    files.add_link("sys/bus/virtio/drivers/virtio_mem/virtio1",
                   "../../../../devices/pci0000:00/0000:00:03.0/virtio1")
    return files


def _memory(movable_present=32768, movable_managed=32768):
    return MemoryFigures(zones=[Zone(0, "DMA32", 61408, 32272),
                                Zone(0, "Movable", movable_present, movable_managed)])


def _signatures():
    out = []
    for i, line in enumerate(DMESG, 1):
        if "plugged size" in line or "requested size" in line:
            kind = "virtio_mem.plugged_size" if "plugged" in line else "virtio_mem.requested_size"
            ts, msg = line[1:].split("] ", 1)
            out.append(Signature(kind, msg, Evidence("sos_commands/kernel/dmesg", line=i),
                                 timestamp=float(ts)))
    return out


def test_parse_log_config_changes_and_probe_values():
    (dev,) = parse_log(DMESG, "dmesg").values()
    assert dev.device == "virtio1"
    assert dev.values["region size"] == 256 * MIB and dev.values["device block size"] == 2 * MIB
    assert dev.changes == [(12.969114, 0, 256 * MIB), (17.388159, 256 * MIB, 128 * MIB)]
    assert dev.max_plugged() == (256 * MIB, 256 * MIB)
    assert dev.max_plugged(before=15.0) == (0, 256 * MIB)   # the first request may not be reached


def test_parse_log_keeps_the_last_boot_only():
    logs = parse_log(DMESG + ["[    0.000000] Linux version 6.1.0-57-amd64 (again)"], "dmesg")
    assert logs == {}


def test_iomem_region_and_added_blocks():
    assert _iomem(_files()) == {"virtio1": (256 * MIB, 128 * MIB)}


def _analysis(memory):
    files = _files()
    warnings = []
    balloons = find_virtio_mem(files, memory, None, set(), warnings)
    a = Analysis(source=Source(SourceKind.SOSREPORT, "lab"), balloons=balloons, memory=memory,
                 signatures=_signatures())
    apply_log(a)
    return a


def test_report_entry_taken_back_exact_when_movable_is_the_device():
    (b,) = _analysis(_memory()).balloons
    assert b.driver == Driver.VIRTIO_MEM and b.device == "virtio1"
    assert b.details["plugged_bytes"] == 128 * MIB
    assert b.inflated_bytes == 128 * MIB            # 256 plugged at most - 128 now
    assert b.target_bytes == 128 * MIB              # 256 - requested 128
    assert b.accounting.value == "memtotal-reduced"
    assert any(e.line == 11 for e in b.evidence)    # the last requested size line


def test_report_entry_bounded_when_movable_holds_more():
    # A Movable zone larger than the device's blocks (movablecore=): plugged unknown.
    (b,) = _analysis(_memory(movable_present=65536)).balloons
    assert b.inflated_bytes is None
    assert b.details["taken_back_bounds"] == [0, 128 * MIB]


def _event(present_kb, managed_kb):
    return OomEvent(source="sos_commands/kernel/dmesg", line=20, monotonic=23.52,
                    zones=[OomZone(0, "Movable", {"present": present_kb, "managed": managed_kb})])


def test_bound_at_oom_from_the_oom_reports_movable_zone():
    a = _analysis(_memory())
    arith = []
    bound = bound_at_oom(_event(131072, 131072), a, arith)
    assert (bound.lower_bytes, bound.upper_bytes) == (128 * MIB, 128 * MIB)
    assert any("Movable managed 131072 kB" in line for line in arith)


def test_bound_at_oom_from_the_log_when_the_zone_does_not_match():
    a = _analysis(_memory())
    bound = bound_at_oom(_event(262144, 131072), a, [])
    assert (bound.lower_bytes, bound.upper_bytes) == (0, 128 * MIB)


def test_bound_at_oom_before_any_config_change_is_none():
    a = _analysis(_memory())
    ev = _event(131072, 131072)
    ev.monotonic = 5.0
    assert bound_at_oom(ev, a, []) is None
