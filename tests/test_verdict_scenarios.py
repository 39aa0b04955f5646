# SPDX-License-Identifier: GPL-2.0-or-later
"""Evidence-gap scenarios as data, built from the real Debian 6.1 captures.

Every scenario starts from the real guest (shared/real-captures/kvm-6.1: a
512 MiB guest, a 256 MiB virtio balloon without DEFLATE_ON_OOM, QMP's
``actual`` = 268435456 bytes at the OOM) and changes only what the gap
changes, the way the kernel would:

- ``rotated``: the ring buffer lost the boot lines (the OOM report alone);
- ``deflated``: the host deflated the balloon after the OOM, so MemTotal at
  collection is the unballooned 468416 kB (the real ``before`` meminfo) and
  vmstat shows ``balloon_deflate`` = ``balloon_inflate``;
- ``uefi``: the boot also printed ``efi: Freeing EFI boot services memory:
  43612K`` (the lab's OVMF guest's figure), memory the ``Memory:`` line's
  reserved count included;
- ``gigantic``: a 1 GiB boot hugepage (``hugepagesz=1G hugepages=1``):
  memblock-reserved in the ``Memory:`` line (total and reserved + 1 GiB),
  managed later by gather_bootmem_prealloc() with no ``Freeing`` line, so
  ``pages RAM`` + 262144 and ``pages reserved`` unchanged at the OOM, and a
  ``hugepages_size=1048576kB`` line in the report;
- ``two-boots``: a /var/log/messages holding an earlier boot (with its own
  Memory: line, 256 MiB more reserved: a larger crashkernel) and the current
  boot whose Memory: line rotated out;
- ``no-plugin``: no balloon driver files; ``no-log``: no kernel log.

The scenarios are data (tests/data/verdict_scenarios.json: excerpt, files,
balloons, verdict, confidence, truth); this module holds the named edits
they apply to the capture's log and one parametrised test that runs them.
"""

import json
from pathlib import Path

import pytest

from balloon_oom.analysis import Collected, build
from balloon_oom.model import Source, SourceKind
from balloon_oom.parsers.kernel_log import scan_log
from balloon_oom.readers.files import ReportFiles
from balloon_oom.verdict import Thresholds, judge

from .shared import CAPTURES

KVM = CAPTURES / "kvm-6.1"
TRUTH = 268435456  # QMP query-balloon: 512 MiB guest, target 256 MiB
FEATURES = "sys/bus/virtio/drivers/virtio_balloon/virtio0/features"

pytestmark = pytest.mark.skipif(not KVM.is_dir(), reason="shared/real-captures/kvm-6.1 absent")


def _read(name):
    return (KVM / name).read_text().splitlines()


def _full_dmesg():
    return _read("dmesg-deflate-off.txt")


def _uefi(lines):
    out = []
    for line in lines:
        if "] Memory: " in line:
            line = line.replace("64776K reserved", f"{64776 + 43612}K reserved")
            out.append(line)
            out.append("[    0.090000] efi: Freeing EFI boot services memory: 43612K")
            continue
        out.append(line)
    return out


def _gigantic(lines):
    out = []
    for line in lines:
        if "] Memory: " in line:
            line = (line.replace("/523768K", f"/{523768 + 1048576}K")
                    .replace("64776K reserved", f"{64776 + 1048576}K reserved"))
        elif line.endswith("] 130942 pages RAM"):
            line = line.replace("130942", str(130942 + 262144))
        elif "hugepages_size=2048kB" in line:
            out.append(line)
            line = line.replace("hugepages_total=0 hugepages_free=0",
                                "hugepages_total=1 hugepages_free=1").replace(
                "hugepages_size=2048kB", "hugepages_size=1048576kB")
        out.append(line)
    return out


def _earlier_boot(report):
    earlier = [line.replace("64776K reserved", f"{64776 + 262144}K reserved")
               for line in _full_dmesg()[:352]]  # the earlier boot, up to before its OOM
    banner = _full_dmesg()[0]
    return earlier + [banner] + report


def _meminfo(total_kb):
    rest = "\n".join(_read("meminfo-after-oom-deflate-off.txt")[1:])
    return f"MemTotal:       {total_kb} kB\n{rest}\n"


def _vmstat(inflate, deflate):
    return f"balloon_inflate {inflate}\nballoon_deflate {deflate}\nballoon_migrate 0\n"


#: The edits a scenario's excerpt names, each a function of the log's lines.
EDITS = {"uefi": _uefi, "gigantic": _gigantic, "earlier-boot": _earlier_boot}

SCENARIOS = {s["name"]: s for s in json.loads(
    (Path(__file__).parent / "data" / "verdict_scenarios.json").read_text())["scenarios"]}


def run(name):
    case = SCENARIOS[name]
    report = ReportFiles()
    files = case["files"]
    if "mem_total_kb" in files:
        report.add("proc/meminfo", _meminfo(files["mem_total_kb"]))
    if "vmstat" in files:
        report.add("proc/vmstat", _vmstat(*files["vmstat"]))
    if case["balloons"]:
        report.add(FEATURES, "\n".join(_read(case["balloons"])) + "\n")
    logs = []
    if case["excerpt"]:
        lines = _read(case["excerpt"]["capture"])
        for edit in case["excerpt"]["edits"]:
            lines = EDITS[edit](lines)
        logs.append(scan_log(lines, case["excerpt"]["path"]))
    return judge(build(Collected(files=report, logs=logs),
                       Source(SourceKind.SOSREPORT, name)), Thresholds())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(name):
    case = SCENARIOS[name]
    a = run(name)
    assert a.verdict == case["verdict"]
    assert len(a.verdicts) == (0 if case["excerpt"] is None else 1)
    truth = case["truth_bytes"]
    for v in a.verdicts:
        assert v.confidence in case["confidence"]
        if truth is not None and v.balloon_lower_bytes is not None:
            hi = v.balloon_upper_bytes
            assert v.balloon_lower_bytes <= truth and (hi is None or truth <= hi), \
                (v.balloon_lower_bytes, hi)


def test_rotated_deflated_is_bounded_by_managed_continuity():
    (v,) = run("rotated-deflated").verdicts
    # the upper bound: the report's 8.9 MiB gap would allow TRUTH + 2283 pages (no zoneinfo
    # shows MemTotal = managed), but vmstat's balloon_inflate 65536 caps it at TRUTH
    assert (v.balloon_lower_bytes, v.balloon_upper_bytes) == (TRUTH, TRUTH)
    assert v.balloon_bytes_at_oom == TRUTH
    assert "vmstat balloon_inflate since boot (upper bound)" in v.balloon_basis
    assert "managed memory at the OOM vs MemTotal" in v.balloon_basis
    assert any("MemTotal growth since the OOM 256.0 MiB" in a for a in v.arithmetic)


def test_no_plugin_shows_the_reserved_signature():
    (v,) = run("rotated-deflated-no-plugin").verdicts
    assert any("pages reserved 79374 is 61% of pages RAM 130942" in r for r in v.reasons)


def test_uefi_boot_services_are_part_of_the_baseline():
    a = run("uefi")
    assert a.oom_events[0].boot_memory.freed_later_kb == 9424 + 43612
    assert a.verdicts[0].balloon_bytes_at_oom == TRUTH


def test_gigantic_hugepage_is_an_error_bar_resolved_by_continuity():
    (v,) = run("gigantic").verdicts
    delta = next(s for s in v.size_sources if s.basis.startswith("pages reserved"))
    assert (delta.lower_bytes, delta.upper_bytes) == (0, TRUTH)
    assert delta.error_bars[0].startswith("+1024.0 MiB: gigantic hugepages")
    assert v.balloon_lower_bytes == TRUTH and v.balloon_upper_bytes < TRUTH + 10 * 1024 * 1024


def test_two_boots_never_borrow_the_earlier_boots_baseline():
    a = run("two-boots")
    (ev,) = a.oom_events
    assert ev.boot == 1 and ev.boot_memory is None and a.memory.boot is None
    # The earlier boot's baseline would have said 0 (an empty balloon): not used.
    assert not any(s.basis.startswith("pages reserved") for s in a.verdicts[0].size_sources)
