# SPDX-License-Identifier: GPL-2.0-or-later
"""Wall-clock times: the guest's zone from the report, stamps with and without a year."""

import datetime as dt

import pytest

from balloon_oom import clock
from balloon_oom.readers.files import ReportFiles

UTC = dt.timezone.utc


def _zoneinfo_has(name):
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(name)
        return True
    except Exception:
        return False


needs_tzdata = pytest.mark.skipif(not _zoneinfo_has("America/New_York"),
                                  reason="no time zone database on this machine")


@needs_tzdata
def test_zone_from_the_localtime_link_is_used_with_dst():
    f = ReportFiles()
    f.add_link("etc/localtime", "../usr/share/zoneinfo/America/New_York")
    tz, basis, name = clock.guest_zone(f)
    assert name == "America/New_York" and "etc/localtime" in basis
    # March 2 is standard time (-05:00), July 2 is daylight time (-04:00)
    assert clock.iso(clock.parse_stamp("2021-03-02 08:32:44", tz)[0]) == \
        "2021-03-02T08:32:44-05:00"
    assert clock.iso(clock.parse_stamp("2021-07-02 08:32:44", tz)[0]) == \
        "2021-07-02T08:32:44-04:00"


def test_zone_from_timedatectl_offset_when_the_name_is_unknown_here():
    f = ReportFiles()
    f.add("sos_commands/systemd/timedatectl",
          "      Local time: Tue 2021-03-02 17:00:00 XYZ\n"
          "       Time zone: Nowhere/Invented (XYZ, +0530)\n")
    tz, basis, name = clock.guest_zone(f)
    assert name is None and "Nowhere/Invented" in basis
    assert tz.utcoffset(None) == dt.timedelta(hours=5, minutes=30)


def test_date_output_naming_utc_shows_the_zone_but_date_utc_does_not():
    f = ReportFiles()
    f.add("sos_commands/date/date_--utc", "Thu Nov 26 06:40:21 UTC 2026\n")
    assert clock.guest_zone(f)[0] is None          # --utc says nothing about the guest
    f.add("sos_commands/date/date", "Thu Nov 26 06:40:21 UTC 2026\n")
    assert clock.guest_zone(f)[0] is UTC


def test_tzif_footer_fixed_offset():
    f = ReportFiles()
    # a TZif file decoded as text: binary noise, then the POSIX TZ footer
    f.add("etc/localtime", "TZif2\ufffd\ufffd\x00\x00\n<+03>-3\n")
    tz, basis, _ = clock.guest_zone(f)
    assert tz.utcoffset(None) == dt.timedelta(hours=3) and "<+03>-3" in basis


def test_no_zone_evidence_assumes_utc_and_says_so():
    c = clock.make_clock("2026-11-26 06:40:17.081085", 9.47, *clock.guest_zone(ReportFiles()))
    assert c.zone == "UTC" and not c.zone_known
    assert c.zone_basis.startswith("UTC assumed")
    assert c.collected_at == "2026-11-26T06:40:17.081+00:00"
    assert c.booted_at == "2026-11-26T06:40:07.611+00:00"


def test_all_collection_time_shapes_give_one_format():
    shapes = {"2026-11-26 06:40:17": "2026-11-26T06:40:17+00:00",        # sos manifest
              "2026-11-26T06:40:17Z": "2026-11-26T06:40:17+00:00",       # live
              "2026-11-26T06:40:17+00:00": "2026-11-26T06:40:17+00:00",  # vmcore
              "Thu Nov 26 06:40:17 UTC 2026": "2026-11-26T06:40:17+00:00"}  # date
    for raw, want in shapes.items():
        assert clock.make_clock(raw, None, None, "none", None).collected_at == want, raw


def test_syslog_stamp_year_from_collection_and_year_rollover():
    collected = dt.datetime(2021, 3, 5, 12, 0, tzinfo=UTC)
    assert clock.iso(clock.parse_stamp("Mar  2 08:32:44", UTC, collected)[0]) == \
        "2021-03-02T08:32:44+00:00"
    # a December stamp in a January report is from the year before
    jan = dt.datetime(2022, 1, 3, tzinfo=UTC)
    assert clock.parse_stamp("Dec 30 23:00:00", UTC, jan)[0].year == 2021
    at, how = clock.parse_stamp("Mar  2 08:32:44", UTC, None)
    assert at is None and "year is unknown" in how


def test_uptime_read_at_is_the_plugin_that_copied_proc_uptime():
    from tests.test_samples import SAMPLES

    f = ReportFiles()
    f.add("sos_reports/manifest.json",
          (SAMPLES / "kvm-deflate-on/sos_reports/manifest.json").read_text())
    # the balloon plugin ran 1.3 s after the report started, and copied proc/uptime
    assert clock.uptime_read_at(f) == "2026-11-26 06:40:19.811967"


def test_event_time_prefers_a_stamp_with_a_year_then_uptime_then_syslog():
    c = clock.make_clock("2021-03-05 12:00:00", 100.0, UTC, "test", "UTC")
    t = clock.event_time(c, "2021-03-05T11:59:00+01:00", 50.0, True, 100.0)
    assert clock.iso(t.at) == "2021-03-05T10:59:00+00:00" and "log stamp" in t.basis
    t = clock.event_time(c, "Mar  5 11:59:00", 50.0, True, 100.0)
    assert clock.iso(t.at) == "2021-03-05T11:59:10+00:00" and "uptime" in t.basis
    t = clock.event_time(c, "Mar  5 11:59:00", 50.0, False, 100.0)   # an earlier boot
    assert clock.iso(t.at) == "2021-03-05T11:59:00+00:00" and "year from" in t.basis
    t = clock.event_time(c, None, 50.0, False, 100.0)
    assert t.at is None and "not in the boot the report was collected in" in t.basis
