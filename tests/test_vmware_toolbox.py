"""vmware-toolbox-cmd stat output (no ESXi here: shapes from the Guest SDK docs and toolboxcmd-stat.c)."""

import doctest

import pytest

import balloon_oom.parsers.vmware_toolbox as vt
from balloon_oom.errors import ParseError
from balloon_oom.parsers.vmware_toolbox import parse_stat_balloon, parse_stat_raw_text

P = "sos_commands/vmware/vmware-toolbox-cmd_stat_raw_text_resources"


def test_doctests():
    assert doctest.testmod(vt).failed == 0


def test_guest_sdk_vnet_example():
    text = "size.tx = 38137\nnum.rx = 10920\nsize.rx = 1312789\nreservation = 0\nlimit = -1\n"
    s = parse_stat_raw_text(text, "x")
    assert s.ints == {"size.tx": 38137, "num.rx": 10920, "size.rx": 1312789, "reservation": 0, "limit": -1}
    assert s.ballooned is None and s.evidence["limit"].line == 5


def test_session_example_keeps_strings():
    text = ("session = 4004861987670969122\nuptime = 1036293956\nversion = VMware ESXi 6.0.0 build-12345\n"
            "provider =\nuuid.bios = 56 4d 2c 53 43 56 66 8e-7c 05 fd 7e 51 1e 23 f3\n")
    s = parse_stat_raw_text(text, "x")
    assert s.values["version"] == "VMware ESXi 6.0.0 build-12345" and s.values["provider"] == ""
    assert "version" not in s.ints and s.ints["uptime"] == 1036293956


def test_resources_ballooned_row_value_as_printed():
    s = parse_stat_raw_text("mem.target = 1048576\r\nmem.ballooned = 262144\r\n", P)
    assert s.ballooned == 262144 and s.ballooned_key == "mem.ballooned"


def test_stat_list():
    s = parse_stat_raw_text("session\nhost\nresources\nvscsi scsi0:0\nvnet 00:0c:29:1e:23:f3\n", "x")
    assert s.names == ["session", "host", "resources", "vscsi scsi0:0", "vnet 00:0c:29:1e:23:f3"]


def test_failure_and_empty():
    with pytest.raises(ParseError, match="vmware-toolbox-cmd failed"):
        parse_stat_raw_text("Failed to get stat: Host is not ESX\n", P)
    with pytest.raises(ParseError, match="empty"):
        parse_stat_raw_text("", P)
    with pytest.raises(ParseError) as err:
        parse_stat_raw_text("a = 1\n= 2\n", P)
    assert err.value.line == 2


def test_stat_balloon_mb_and_old_mhz_slip():
    assert parse_stat_balloon("256 MB\n", "x").bytes == 256 * 1024 * 1024
    assert parse_stat_balloon("256 MHz\n", "x").mb == 256
    for bad in ("", "lots\n", "OpenHandle failed: x\n"):
        with pytest.raises(ParseError):
            parse_stat_balloon(bad, "x")
