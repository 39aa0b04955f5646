# SPDX-License-Identifier: GPL-2.0-or-later
"""Wall-clock times: the guest's zone, the collection time, and when a log line happened.

Every time leaves here as ISO 8601 with an offset (``2026-11-26T06:40:16+00:00``).
The guest's zone comes from the evidence (``etc/localtime``'s link, ``etc/timezone``,
``timedatectl``, a ``date`` output that names UTC or an offset, the live system's zone);
without it, UTC is assumed and :attr:`WallClock.zone_known` says so.

An event's time: the log's own stamp when it has a year (``dmesg -T``, RFC 3339);
else collection time − uptime + the printed seconds since boot, for the boot the
report was collected in; else a syslog stamp (no year) with the collection's year
(the previous year when that would put it after the collection).  Without any of
these the time is unknown, and a syslog stamp without a collection date says the
year is unknown.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional, Tuple

from .model import WallClock
from .readers.files import ReportFiles

__all__ = ["EventTime", "collection_time", "event_time", "guest_zone", "iso", "local_zone",
           "make_clock", "parse_stamp", "report_hostname", "uptime_read_at", "zone_of"]

UTC = dt.timezone.utc
_MONTHS = {m: i for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_ZONE_LINK = re.compile(r"(?:^|/)zoneinfo/(?:posix/|right/)?(?P<name>[A-Za-z][\w+\-/]*)$")
_TIMEDATECTL = re.compile(
    r"Time zone:\s*(?P<name>\S+)\s*\((?P<abbr>[^,]*),\s*(?P<off>[+-]\d{4})\)")
# date(1): "Thu Nov 26 06:40:21 UTC 2026", "Thu 26 Nov 2026 07:40:21 AM CET" is locale-bound.
_DATE_OUT = re.compile(
    r"^[A-Z][a-z]{2} (?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)"
    r"(?:\.\d+)? (?P<zone>[A-Za-z]+|[+-]\d{4}) (?P<year>\d{4})$")
_CTIME = re.compile(
    r"^(?:[A-Z][a-z]{2} )?(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)"
    r"(?P<frac>\.\d+)?(?: (?P<year>\d{4}))?$")
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d)[T ](?P<hms>\d\d:\d\d:\d\d)(?P<frac>[.,]\d+)?"
    r"(?P<off>Z|[+-]\d\d:?\d\d)?$")
# TZif v2+ footer: a POSIX TZ string; fixed-offset ones only ("UTC0", "<+03>-3").
_POSIX_FIXED = re.compile(r"^(?:(?P<name>[A-Za-z]{3,})|<(?P<qname>[^>]+)>)(?P<off>[+-]?\d{1,2})$")


def iso(when: dt.datetime) -> str:
    """ISO 8601 with offset, seconds (milliseconds when they are not 0).

    >>> iso(dt.datetime(2026, 11, 26, 6, 40, 16, 352000, tzinfo=UTC))
    '2026-11-26T06:40:16.352+00:00'
    >>> iso(dt.datetime(2026, 11, 26, 6, 40, 16, tzinfo=UTC))
    '2026-11-26T06:40:16+00:00'
    """
    spec = "milliseconds" if when.microsecond // 1000 else "seconds"
    return when.isoformat(timespec=spec)


def _offset_zone(minutes: int) -> dt.tzinfo:
    if minutes == 0:
        return UTC
    return dt.timezone(dt.timedelta(minutes=minutes))


def _zone_name(tz: dt.tzinfo, name: Optional[str] = None) -> str:
    if name:
        return name
    if tz is UTC:
        return "UTC"
    off = tz.utcoffset(None)
    total = int(off.total_seconds() // 60) if off is not None else 0
    sign = "+" if total >= 0 else "-"
    return f"UTC{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


def _named_zone(name: str) -> Optional[dt.tzinfo]:
    try:
        from zoneinfo import ZoneInfo
        return ZoneInfo(name)
    except Exception:  # unknown name, no tz database here, or a malformed name
        return None


def guest_zone(files: ReportFiles) -> Tuple[Optional[dt.tzinfo], str, Optional[str]]:
    """``(tzinfo, basis, name)`` of the guest's zone from a report, or ``(None, why, None)``.

    >>> f = ReportFiles(); f.add_link("etc/localtime", "../usr/share/zoneinfo/UTC")
    >>> tz, basis, name = guest_zone(f); name, basis
    ('UTC', 'etc/localtime links to usr/share/zoneinfo/UTC')
    >>> f = ReportFiles(); f.add("sos_commands/systemd/timedatectl",
    ...     "       Time zone: Asia/Tokyo (JST, +0900)\\n")
    >>> guest_zone(f)[2]
    'Asia/Tokyo'
    """
    target = files.links.get("etc/localtime")
    if target:
        m = _ZONE_LINK.search(target)
        if m:
            tz = _named_zone(m.group("name"))
            if tz is not None:
                return tz, f"etc/localtime links to {target}", m.group("name")
    for f in files.glob("sos_commands/systemd/timedatectl*"):
        m = _TIMEDATECTL.search(f.text)
        if m:
            tz = _named_zone(m.group("name"))
            off = m.group("off")
            minutes = (1 if off[0] == "+" else -1) * (int(off[1:3]) * 60 + int(off[3:]))
            line = m.group(0).strip()
            if tz is not None:
                return tz, f"{f.path}: {line}", m.group("name")
            return _offset_zone(minutes), f"{f.path}: {line}", None
    tzfile = files.get("etc/timezone")
    if tzfile is not None and tzfile.text.strip():
        name = tzfile.text.strip().splitlines()[0].strip()
        tz = _named_zone(name)
        if tz is not None:
            return tz, f"etc/timezone: {name}", name
    localtime = files.get("etc/localtime")
    if localtime is not None:
        footer = [ln for ln in localtime.text.splitlines() if ln.strip()]
        m = _POSIX_FIXED.match(footer[-1].strip()) if footer else None
        if m:
            # POSIX offsets are west-positive: "<+03>-3" is three hours east of UTC.
            minutes = -int(m.group("off")) * 60
            return (_offset_zone(minutes), f"etc/localtime (TZif) rule {footer[-1].strip()}",
                    None)
    for f in files.glob("sos_commands/date/date*") + files.glob("sos_commands/balloon/date*"):
        if "utc" in f.path.lower():
            continue  # `date --utc` shows UTC whatever the guest's zone is
        m = _DATE_OUT.match(f.text.strip().splitlines()[0] if f.text.strip() else "")
        if m and m.group("zone") in ("UTC", "GMT"):
            return UTC, f"{f.path}: {m.group(0)}", "UTC"
        if m and m.group("zone")[0] in "+-":
            off = m.group("zone")
            minutes = (1 if off[0] == "+" else -1) * (int(off[1:3]) * 60 + int(off[3:]))
            return _offset_zone(minutes), f"{f.path}: {m.group(0)}", None
    return None, "the report shows no time zone (no etc/localtime, timedatectl or date)", None


def local_zone() -> Tuple[dt.tzinfo, str, Optional[str]]:
    """This system's zone (the live guest is the system the tool runs on)."""
    import os

    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        target = ""
    m = _ZONE_LINK.search(target)
    if m and _named_zone(m.group("name")) is not None:
        return _named_zone(m.group("name")), f"/etc/localtime links to {target}", m.group("name")
    tz = dt.datetime.now().astimezone().tzinfo or UTC
    off = tz.utcoffset(None)
    if off is not None and off.total_seconds() == 0:
        return UTC, "this system's local time is UTC", "UTC"
    return _offset_zone(int(off.total_seconds() // 60) if off else 0), \
        "this system's local time offset", None


def parse_stamp(text: str, zone: dt.tzinfo,
                year_from: Optional[dt.datetime] = None) -> Tuple[Optional[dt.datetime], str]:
    """A time stamp as logs and tools print it, as an aware datetime, and how it was read.

    Stamps without an offset are in ``zone``; a stamp without a year takes
    ``year_from``'s year (the year before when it would fall after ``year_from``).

    >>> c = dt.datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    >>> iso(parse_stamp("Dec 31 23:59:58", UTC, c)[0])
    '2025-12-31T23:59:58+00:00'
    >>> parse_stamp("Dec 31 23:59:58", UTC)
    (None, 'syslog stamp without a year, and no collection date: the year is unknown')
    >>> iso(parse_stamp("2026-11-26T05:27:25.5+0100", UTC)[0])
    '2026-11-26T05:27:25.500+01:00'
    >>> iso(parse_stamp("Thu Nov 26 06:40:21 UTC 2026", UTC)[0])
    '2026-11-26T06:40:21+00:00'
    """
    text = text.strip()
    m = _ISO.match(text)
    if m:
        frac = (m.group("frac") or "").replace(",", ".")
        off = m.group("off")
        naive = dt.datetime.fromisoformat(f"{m.group('date')}T{m.group('hms')}"
                                          + (frac[:7] if frac else ""))
        if off:
            if off == "Z":
                tz: dt.tzinfo = UTC
            else:
                off = off.replace(":", "")
                tz = _offset_zone((1 if off[0] == "+" else -1)
                                  * (int(off[1:3]) * 60 + int(off[3:5])))
            return naive.replace(tzinfo=tz), "the stamp's own offset"
        return _localize(naive, zone), "the stamp, in the guest's zone"
    m = _DATE_OUT.match(text)
    if m:
        naive = _from_parts(m.group("year"), m.group("mon"), m.group("day"), m.group("hms"))
        z = m.group("zone")
        if naive is None:
            return None, f"unreadable date {text!r}"
        if z in ("UTC", "GMT"):
            return naive.replace(tzinfo=UTC), "date output (UTC)"
        if z[0] in "+-":
            return naive.replace(tzinfo=_offset_zone(
                (1 if z[0] == "+" else -1) * (int(z[1:3]) * 60 + int(z[3:])))), "date output"
        return _localize(naive, zone), f"date output ({z}, read in the guest's zone)"
    m = _CTIME.match(text)
    if m:
        year = m.group("year")
        frac = m.group("frac") or ""
        if year:
            naive = _from_parts(year, m.group("mon"), m.group("day"), m.group("hms"), frac)
            if naive is None:
                return None, f"unreadable stamp {text!r}"
            return _localize(naive, zone), "the stamp, in the guest's zone"
        if year_from is None:
            return None, "syslog stamp without a year, and no collection date: the year is unknown"
        ref = year_from.astimezone(zone)
        naive = _from_parts(str(ref.year), m.group("mon"), m.group("day"), m.group("hms"), frac)
        if naive is None:
            return None, f"unreadable stamp {text!r}"
        when = _localize(naive, zone)
        if when - year_from > dt.timedelta(days=1):
            naive = naive.replace(year=ref.year - 1)
            when = _localize(naive, zone)
        return when, "syslog stamp, year from the collection date"
    return None, f"unrecognised time stamp {text!r}"


def _from_parts(year: str, mon: str, day: str, hms: str, frac: str = "") -> Optional[dt.datetime]:
    month = _MONTHS.get(mon)
    if month is None:
        return None
    try:
        h, mi, s = (int(x) for x in hms.split(":"))
        micro = int((frac[1:] + "000000")[:6]) if frac else 0
        return dt.datetime(int(year), month, int(day), h, mi, s, micro)
    except ValueError:
        return None


def _localize(naive: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return naive.replace(tzinfo=zone)


def collection_time(raw: Optional[str], zone: dt.tzinfo) -> Tuple[Optional[dt.datetime], str]:
    """The report's collection time (manifest ``start_time``, ``date``, ISO) as aware datetime.

    >>> iso(collection_time("2026-11-26 06:40:17.081085", UTC)[0])
    '2026-11-26T06:40:17.081+00:00'
    """
    if not raw:
        return None, "the report does not say when it was made"
    when, how = parse_stamp(raw, zone)
    return when, how


def uptime_read_at(files: ReportFiles) -> Optional[str]:
    """When ``proc/uptime`` was read: the start of the sos plugin that copied it
    (sos's manifest), which can be seconds after the report's ``start_time``.

    >>> f = ReportFiles(); f.add("sos_reports/manifest.json", '{"components": {"report": '
    ...     '{"plugins": {"balloon": {"start_time": "2026-11-26 06:40:19.8", "files": '
    ...     '[{"files_copied": ["tmp/x/proc/uptime"]}]}}}}}')
    >>> uptime_read_at(f)
    '2026-11-26 06:40:19.8'
    """
    import json

    manifest = files.get("sos_reports/manifest.json")
    if manifest is None:
        return None
    try:
        plugins = json.loads(manifest.text)["components"]["report"]["plugins"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(plugins, dict):
        return None
    for plugin in plugins.values():
        if not isinstance(plugin, dict) or not isinstance(plugin.get("start_time"), str):
            continue
        for spec in plugin.get("files") or []:
            copied = spec.get("files_copied") if isinstance(spec, dict) else None
            if any(isinstance(c, str) and (c == "proc/uptime" or c.endswith("/proc/uptime"))
                   for c in copied or []):
                return plugin["start_time"]
    return None


def make_clock(raw_collected: Optional[str], uptime: Optional[float],
               zone: Optional[dt.tzinfo], zone_basis: str, zone_name: Optional[str],
               fixed_utc_basis: Optional[str] = None,
               raw_uptime_read: Optional[str] = None) -> WallClock:
    """The :class:`WallClock` of a report (the zone found, or UTC assumed).

    ``fixed_utc_basis``: the source's clock is UTC by construction (a vmcore's
    kernel real time) though the guest's zone is unknown.  ``raw_uptime_read``:
    when the uptime was read, if it is known better than the collection time.
    """
    known = zone is not None
    if zone is None:
        zone = UTC
        zone_basis = (fixed_utc_basis or
                      f"UTC assumed: {zone_basis}")
    clock = WallClock(zone=_zone_name(zone, zone_name), zone_basis=zone_basis, zone_known=known)
    when, how = collection_time(raw_collected, zone)
    if when is not None:
        clock.collected_at = iso(when.astimezone(zone))
        clock.collected_basis = f"{raw_collected} ({how})"
        read, _ = collection_time(raw_uptime_read, zone)
        if uptime is not None:
            clock.booted_at = iso((((read or when) - dt.timedelta(seconds=uptime))
                                   .astimezone(zone)))
    return clock


def zone_of(clock: WallClock) -> dt.tzinfo:
    """The tzinfo a :class:`WallClock` names."""
    if clock.zone == "UTC":
        return UTC
    m = re.fullmatch(r"UTC([+-])(\d\d):(\d\d)", clock.zone)
    if m:
        return _offset_zone((1 if m.group(1) == "+" else -1)
                            * (int(m.group(2)) * 60 + int(m.group(3))))
    return _named_zone(clock.zone) or UTC


@dataclass
class EventTime:
    """When something in a log happened."""

    at: Optional[dt.datetime]
    basis: str


def event_time(clock: WallClock, wallclock: Optional[str], monotonic: Optional[float],
               current_boot: Optional[bool], uptime: Optional[float]) -> EventTime:
    """An event's wall-clock time (see the module docstring for the order of preference).

    >>> c = make_clock("2026-11-26 06:40:17", 9.0, UTC, "test", "UTC")
    >>> t = event_time(c, None, 8.352, True, 9.0); iso(t.at), t.basis
    ('2026-11-26T06:40:16.352+00:00', 'collection time - uptime 9.0 s + 8.352 s since boot')
    """
    zone = zone_of(clock)
    collected = (dt.datetime.fromisoformat(clock.collected_at)
                 if clock.collected_at else None)
    stamp_at, stamp_how = (None, "")
    if wallclock:
        stamp_at, stamp_how = parse_stamp(wallclock, zone, collected)
        if stamp_at is not None and "year from" not in stamp_how:
            return EventTime(stamp_at.astimezone(zone), f"log stamp {wallclock!r} ({stamp_how})")
    if (monotonic is not None and current_boot and clock.booted_at is not None
            and uptime is not None and monotonic <= uptime + 1):
        at = dt.datetime.fromisoformat(clock.booted_at) + dt.timedelta(seconds=monotonic)
        return EventTime(at.astimezone(zone), f"collection time - uptime {uptime:.1f} s + "
                                              f"{monotonic:.3f} s since boot")
    if stamp_at is not None:
        return EventTime(stamp_at.astimezone(zone), f"log stamp {wallclock!r} ({stamp_how})")
    if wallclock:
        return EventTime(None, f"log stamp {wallclock!r}: {stamp_how}")
    if monotonic is not None:
        why = ("no collection time or uptime" if collected is None or uptime is None
               else "not in the boot the report was collected in" if current_boot is False
               else "its boot is not known to be the collected one")
        return EventTime(None, f"wall clock unknown: {why}")
    return EventTime(None, "the log line has no time stamp")


def report_hostname(files: ReportFiles) -> Optional[str]:
    """The guest's host name: ``hostname`` output, else ``etc/hostname``.

    >>> f = ReportFiles(); f.add("sos_commands/host/hostname", "db1.example.com\\n")
    >>> report_hostname(f)
    'db1.example.com'
    """
    for name in ("hostname", "sos_commands/host/hostname", "sos_commands/general/hostname",
                 "etc/hostname"):
        f = files.get(name)
        if f is not None and f.text.strip():
            first = f.text.strip().splitlines()[0].strip()
            if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-_]{0,252}", first):
                return first
    for f in files.glob("sos_commands/host/hostname*") + files.glob(
            "sos_commands/general/hostname*"):
        first = f.text.strip().splitlines()[0].strip() if f.text.strip() else ""
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-_]{0,252}", first):
            return first
    return None

