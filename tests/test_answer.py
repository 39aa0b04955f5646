# SPDX-License-Identifier: GPL-2.0-or-later
"""The one-paragraph answer and its recommendations, from real samples and logs."""

import pytest

from balloon_oom.analysis import analyze
from balloon_oom.answer import decisive_event, recommendations
from tests.test_samples import SAMPLES
from tests.test_timeline import XEN, _tree, needs_xen


def test_contributed_virtio_without_deflate_on_oom():
    a = analyze(str(SAMPLES / "kvm-deflate-off"))
    s = a.summary
    assert s.startswith("The guest ran out of memory once. It happened at "
                        "2026-11-26T06:40:16.941+00:00 (the guest's zone is not in the report: "
                        "UTC assumed), 0.1 s before the report was collected")
    assert "the kernel killed hog (pid 112, RSS 170.0 MiB)" in s
    assert "The virtio balloon held 256.0 MiB (50% of the guest's 511.5 MiB)" in s
    assert "Verdict: contributed (high confidence), because the balloon held at least 256.0 MiB" in s
    settings = [r.setting for r in a.recommendations]
    assert settings == ["<memballoon model='virtio' autodeflate='on'/>",
                        "-device virtio-balloon-pci,deflate-on-oom=on", "balloon: <MiB>",
                        "host memory overcommit"]
    assert all("DEFLATE_ON_OOM is not negotiated" in r.finding for r in a.recommendations[:2])
    assert "autodeflate='on'" in s and "deflate-on-oom=on" in s


def test_not_contributed_gives_no_balloon_recommendation():
    a = analyze(str(SAMPLES / "kvm-deflate-on"))
    assert a.verdict == "not-contributed"
    assert a.recommendations == []
    assert "held at most 8.9 MiB" in a.summary
    assert a.summary.endswith("What to do: nothing on the balloon side; the guest needs more "
                              "memory than it has, or the workload less.")


def test_no_oom():
    a = analyze(str(SAMPLES / "vmware-new"))
    # this sample holds no kernel log: an OOM can be neither seen nor ruled out
    assert a.verdict == "no-log"
    assert a.summary.startswith("No kernel log was read from this source (no dmesg, journal, "
                                "messages or vmcore log), so an OOM can be neither seen nor "
                                "ruled out. What to do: collect again with the kernel log (")
    assert a.summary.endswith(" Balloon at collection: vmw_balloon 512.0 MiB.")
    assert [r.platform for r in a.recommendations] == ["collect"]


@needs_xen
def test_four_ooms_name_the_decisive_one(tmp_path):
    a = analyze(str(_tree(tmp_path / "r", date="Fri Mar  5 12:00:00 UTC 2021")))
    number, ev, v = decisive_event(a)
    assert v.verdict == a.verdict
    assert a.summary.startswith(f"The guest ran out of memory 4 times. OOM #{number}, which "
                                "decides the verdict, came at 2021-03-02T")
    assert "3 days 3 h before the report was collected" in a.summary
    assert f"Verdict: {a.verdict} ({v.confidence} confidence), because " in a.summary
    # whatever the verdict engine says, every recommendation has its finding
    assert all(r.finding for r in a.recommendations)


def test_memcg_oom_recommends_the_cgroup_limit():
    from balloon_oom.model import Analysis, EventVerdict, OomEvent, Source, SourceKind
    a = Analysis(source=Source(SourceKind.SOSREPORT, "x"))
    a.oom_events = [OomEvent(source="dmesg", line=1, constraint="memcg", memcg="/kubepods/pod1")]
    a.verdicts = [EventVerdict("not-contributed", "high")]
    recs = recommendations(a)
    assert [r.platform for r in recs] == ["guest"]
    assert "memory.max" in recs[0].setting and "/kubepods/pod1" in recs[0].finding


def test_undetermined_recommends_collecting_again():
    from balloon_oom.model import Analysis, EventVerdict, OomEvent, Source, SourceKind
    a = Analysis(source=Source(SourceKind.SOSREPORT, "x"))
    a.oom_events = [OomEvent(source="dmesg", line=1, constraint="global")]
    a.verdicts = [EventVerdict("undetermined", "low")]
    assert [r.platform for r in recommendations(a)] == ["collect"]


@needs_xen
def test_balloon_messages_without_balloon_state_are_bounded_by_the_report(tmp_path):
    """The Xen log names its balloon driver but the tree holds no balloon state:
    the OOM report itself bounds the balloon (pages reserved = the boot baseline,
    so nothing MemTotal-reducing; the unaccounted gap bounds the rest)."""
    a = analyze(str(_tree(tmp_path / "r", date="Fri Mar  5 12:00:00 UTC 2021")))
    assert not a.balloons
    assert "The balloon held at most 24.5 MiB (2% of the guest's 1,023.6 MiB)" in a.summary
    assert "Verdict: not-contributed (high confidence)" in a.summary


def test_memory_not_short_points_away_from_memory_size():
    """The published OpenStack log (115 GiB free, a page-fault OOM after a failed
    kmem charge): but-for fails with no shortfall, so the advice is not 'more memory'."""
    from tests.shared import SHARED

    log = SHARED / "real-logs" / "wild" / "gh-openstack-nova-5.4-forkbomb-kmem-global-oom.log"
    if not log.is_file():
        pytest.skip(f"{log} not present")
    a = analyze(str(log))
    assert a.verdict == "not-contributed"
    assert "because but-for fails" in a.summary
    assert a.summary.endswith("What to do: nothing on the balloon side; memory was not short "
                              "when the OOM killer ran (free memory above the watermarks), so "
                              "look at what made the allocation fail (a failed cgroup or "
                              "kernel-memory charge escalated by pagefault_out_of_memory() gives "
                              "this picture).")


def test_virtio_mem_alone_gets_no_balloon_advice():
    """A virtio-mem unplug that is the whole size at the OOM: the empty virtio
    balloon's deflate-on-OOM setting changed nothing, so it is not advised."""
    from balloon_oom.model import Balloon, Driver, SizeBound

    a = analyze(str(SAMPLES / "kvm-deflate-off"))
    v = a.verdicts[0]
    upper = v.balloon_upper_bytes if v.balloon_upper_bytes is not None else v.balloon_bytes_at_oom
    a.balloons.append(Balloon(driver=Driver.VIRTIO_MEM, device="virtio9"))
    v.size_sources.append(SizeBound("virtio-mem: most plugged in this boot minus plugged at the OOM",
                                    upper - (1 << 20), upper))
    both = [r.setting for r in recommendations(a)]
    assert both[:2] == ["<memballoon model='virtio' autodeflate='on'/>",
                        "-device virtio-balloon-pci,deflate-on-oom=on"]
    assert "virtio-mem requested-size" in both
    v.size_sources[-1] = SizeBound("virtio-mem: most plugged in this boot minus plugged at the OOM",
                                   upper, upper)
    recs = recommendations(a)
    assert [r.setting for r in recs] == ["virtio-mem requested-size", "host memory overcommit"]
    assert recs[0].finding.startswith("virtio-mem had taken back ")
    assert recs[1].action.endswith("through virtio-mem)")
