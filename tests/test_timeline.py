# SPDX-License-Identifier: GPL-2.0-or-later
"""The timeline across boots, from a real published syslog (Xen HVM on EC2, 4 OOMs)."""

import json
import subprocess
import sys

import pytest

from balloon_oom.analysis import analyze
from tests import shared
from tests.test_samples import REPO, SAMPLES

WILD = shared.SHARED / "real-logs" / "wild"
XEN = WILD / "fs-aws-ec2-xen-hvm-rhel8.3-messages-4oom.log"

needs_xen = pytest.mark.skipif(not XEN.is_file(), reason="shared wild logs not present")


def _tree(root, date=None, localtime=None):
    (root / "var/log").mkdir(parents=True)
    (root / "var/log/messages").write_text(XEN.read_text())
    (root / "version.txt").write_text("sosreport: 4.0\n")
    if date:
        (root / "sos_commands/date").mkdir(parents=True)
        (root / "sos_commands/date/date").write_text(date + "\n")
    if localtime:
        (root / "etc").mkdir()
        (root / "etc/localtime").symlink_to(f"../usr/share/zoneinfo/{localtime}")
    return root


@needs_xen
def test_syslog_oom_times_take_the_collection_year(tmp_path):
    a = analyze(str(_tree(tmp_path / "r", date="Fri Mar  5 12:00:00 UTC 2021")))
    ooms = [e for e in a.timeline if e.kind == "oom"]
    assert [e.oom for e in ooms] == [1, 2, 3, 4]
    assert ooms[0].at == "2021-03-02T08:32:44+00:00"
    assert ooms[1].at == "2021-03-02T08:49:11+00:00"
    assert "year from the collection date" in ooms[0].at_basis
    # 2021-03-05 12:00 - 2021-03-02 08:32:44 = 3 days 3 h 27 min 16 s
    assert ooms[0].before_collection_seconds == 3 * 86400 + 3 * 3600 + 27 * 60 + 16
    assert a.clock.zone == "UTC" and a.clock.zone_known
    # in order, oldest first; the boot (a dated syslog line) comes before the first OOM
    dated = [e.at for e in a.timeline if e.at]
    assert dated == sorted(dated)
    kinds = [e.kind for e in a.timeline]
    assert kinds.index("boot") < kinds.index("oom") and kinds[-1] == "collection"
    boot = next(e for e in a.timeline if e.kind == "boot")
    assert boot.at.startswith("2021-03-02T") and boot.stamp.startswith("Mar  2")


@needs_xen
def test_without_a_collection_date_the_year_is_unknown(tmp_path):
    a = analyze(str(_tree(tmp_path / "r")))
    ooms = [e for e in a.timeline if e.kind == "oom"]
    assert all(e.at is None for e in ooms)
    assert ooms[0].stamp == "Mar  2 08:32:44" and "year is unknown" in ooms[0].at_basis
    assert "UTC assumed" in a.clock.zone_basis
    from balloon_oom.render.table import render
    text = render(a)
    assert "Mar  2 08:32:44 (year unknown)" in text


@needs_xen
def test_guest_zone_from_localtime_link_gives_the_offset(tmp_path):
    pytest.importorskip("zoneinfo").ZoneInfo("Europe/Berlin")
    a = analyze(str(_tree(tmp_path / "r", date="Fri Mar  5 13:00:00 CET 2021",
                          localtime="Europe/Berlin")))
    assert a.clock.zone == "Europe/Berlin" and a.clock.zone_known
    assert a.clock.collected_at == "2021-03-05T13:00:00+01:00"
    assert [e.at for e in a.timeline if e.kind == "oom"][0] == "2021-03-02T08:32:44+01:00"


def test_sample_timeline_in_json(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze",
                           str(SAMPLES / "kvm-deflate-off"), "--format", "json"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    doc = json.loads(proc.stdout)
    kinds = [e["kind"] for e in doc["timeline"]]
    assert kinds == ["boot", "oom", "balloon-size", "balloon-size", "collection"]
    oom = doc["timeline"][1]
    # the balloon plugin read proc/uptime (9.47 s) at 06:40:18.059731: boot at 06:40:08.589,
    # OOM 8.352026 s later
    assert doc["clock"]["booted_at"] == "2026-11-26T06:40:08.589+00:00"
    assert oom["at"] == "2026-11-26T06:40:16.941+00:00"
    assert oom["before_collection_seconds"] == pytest.approx(0.14, abs=0.001)
    assert doc["timeline"][2]["balloon_bytes"] == 268435456
    assert doc["collected_at"] == "2026-11-26T06:40:17.081+00:00"


def test_every_json_event_carries_its_wall_clock_time():
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze",
                           str(SAMPLES / "kvm-deflate-off"), "--format", "json"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    (event,) = json.loads(proc.stdout)["oom_events"]
    assert event["at"] == "2026-11-26T06:40:16.941+00:00"
    assert event["at_basis"] == "collection time - uptime 9.5 s + 8.352 s since boot"
    assert event["before_collection_seconds"] == pytest.approx(0.14, abs=0.001)
