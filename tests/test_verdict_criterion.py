# SPDX-License-Identifier: GPL-2.0-or-later
"""but-for and materiality, on the real 6.1 OOM report and on the issue's examples."""

import pytest

from balloon_oom.model import Confidence, OomEvent, OomVictim, OomZone
from balloon_oom.parsers.kernel_log import scan_log
from balloon_oom.verdict import Thresholds, but_for, highest_zone, kill_freed_bytes, materiality
from balloon_oom.verdict.size import SizeEstimate

from .shared import CAPTURES

MIB = 1024 * 1024
GIB = 1024 * MIB
REPORT = CAPTURES / "kvm-6.1" / "dmesg-oom-report-deflate-off.txt"


def est(lo, hi):
    return SizeEstimate(lo, hi, "test", Confidence.HIGH, bounded=True)


@pytest.mark.skipif(not REPORT.is_file(), reason="real capture absent")
def test_real_report_shortfall_and_kill():
    (ev,) = scan_log(REPORT.read_text().splitlines(), "sos_commands/kernel/dmesg").events
    bf = but_for(ev, est(256 * MIB, 256 * MIB), Thresholds(), 4096)
    # DMA32 (the top zone for GFP_HIGHUSER_MOVABLE here): min 4664kB + 4kB - free 2572kB
    assert (bf.status, bf.shortfall_bytes, bf.eligible_zones) == (
        "holds", 2096 * 1024, ["Node 0 DMA32"])
    # anon-rss 173388kB + shmem-rss 648kB + pgtables 376kB; file-rss is not freed by a kill
    assert kill_freed_bytes(ev, 4096) == (173388 + 648 + 376) * 1024
    # 1 MiB is under DMA32's shortfall, but DMA had 1816kB free over a min of 88kB and its
    # lowmem_reserve (433 pages here) is not in its zone line: never "fails" on that
    assert but_for(ev, est(0, 1 * MIB), Thresholds(), 4096).status == "unknown"
    # with every eligible zone short by more than the balloon's upper bound: fails
    ev.zones[0].values_kb["free"] = 40  # DMA now short by 88 + 4 - 40 = 52kB at least
    assert but_for(ev, est(0, 32 * 1024), Thresholds(), 4096).status == "fails"
    assert but_for(ev, est(0, 64 * 1024), Thresholds(), 4096).status == "unknown"


def _event(ram_bytes, freed_anon_kb):
    return OomEvent(source="x", line=1, pages_ram=ram_bytes // 4096,
                    victim=OomVictim(pid=1, comm="v", anon_rss_kb=freed_anon_kb,
                                     file_rss_kb=500_000, shmem_rss_kb=0))


def test_issue_examples_of_materiality():
    # 1 GiB balloon, 3 GiB guest, the victim freed 1.2 GiB: a third of the guest
    m = materiality(_event(3 * GIB, int(1.2 * 1024 * 1024)), est(GIB, GIB), Thresholds(),
                    3 * GIB, "pages RAM", 4096)
    assert (m.status, m.bar_bytes) == ("material", int(3 * GIB * 0.10))
    # 32 MiB balloon, 768 MiB guest, the victim freed 600 MiB: not material
    m = materiality(_event(768 * MIB, 600 * 1024), est(32 * MIB, 32 * MIB), Thresholds(),
                    768 * MIB, "pages RAM", 4096)
    assert (m.status, m.bar_bytes) == ("not-material", int(768 * MIB * 0.10))


def test_kill_arm_and_its_override():
    ev = _event(8 * GIB, 40 * 1024)  # the kill freed 40 MiB (file-rss 488 MiB is not counted)
    m = materiality(ev, est(100 * MIB, 100 * MIB), Thresholds(), 8 * GIB, "pages RAM", 4096)
    assert (m.status, m.bar_bytes, m.kill_freed_bytes) == ("material", 40 * MIB, 40 * MIB)
    m = materiality(ev, est(100 * MIB, 100 * MIB), Thresholds(victim_rss=False), 8 * GIB,
                    "pages RAM", 4096)
    assert (m.status, m.bar_bytes) == ("not-material", int(8 * GIB * 0.10))
    assert materiality(ev, est(0, GIB), Thresholds(), 8 * GIB, "", 4096).status == "straddles"


def test_zones_well_above_their_watermarks_fail_but_for():
    ev = OomEvent(source="x", line=1, gfp_mask="0x0", order=0, pages_ram=33554298,
                  zones=[OomZone(0, "DMA32", {"free": 1_000_000, "min": 1000, "high": 1500,
                                              "managed": 3_000_000}),
                         OomZone(0, "Normal", {"free": 120_000_000, "min": 60_000,
                                               "high": 90_000, "managed": 128_000_000})])
    bf = but_for(ev, est(0, 2 * GIB), Thresholds(), 4096)
    assert (bf.status, bf.eligible_zones) == ("fails", ["Node 0 Normal"])
    # near the watermark (snapshot noise): never "fails"
    ev.zones[1].values_kb["free"] = 95_000
    assert but_for(ev, est(0, 2 * GIB), Thresholds(), 4096).status == "unknown"


def test_gfp_zone_bits():
    assert [highest_zone(m) for m in ("0x140dca", "0x6200ca", "0x0", "0x200da", "0xd1",
                                      "0x2d4", "nonsense")] == [
        "Movable", "Movable", "Normal", "Movable", "DMA", "DMA32", None]


def test_hugetlb_pool_leaves_the_guest_share():
    """A boot-time 1 GiB hugetlb page (the lab's gigantic scenario: 3 GiB guest,
    Node 0 hugepages_total=1 hugepages_size=1048576kB) is not memory an
    OOM-killing allocation could have had: the 10 % share is of the rest."""
    from balloon_oom.model import Analysis, Source, SourceKind
    from balloon_oom.verdict.context import guest_bytes as _guest_bytes

    a = Analysis(source=Source(SourceKind.LOG, "x"))
    ev = OomEvent(source="dmesg", line=1, pages_ram=786302,
                  hugetlb=[{"node": 0, "hugepages_total": 1, "hugepages_free": 1,
                            "hugepages_surp": 0, "hugepages_size_kb": 1048576},
                           {"node": 0, "hugepages_total": 0, "hugepages_free": 0,
                            "hugepages_surp": 0, "hugepages_size_kb": 2048}])
    guest, basis = _guest_bytes(ev, a)
    assert guest == 786302 * 4096 - GIB
    assert basis.startswith("pages RAM 786302 x 4096 - hugetlb pool 1024.0 MiB")
    mat = materiality(ev, est(256 * MIB, 256 * MIB), Thresholds(), guest, basis, 4096)
    assert mat.status == "material"          # 256 MiB >= 10 % of 2047.5 MiB
    ev.hugetlb = []
    guest, _ = _guest_bytes(ev, a)
    mat = materiality(ev, est(256 * MIB, 256 * MIB), Thresholds(), guest, "ram", 4096)
    assert mat.status == "not-material"      # 256 MiB < 10 % of 3071.5 MiB
