"""/proc/meminfo from real guests: QEMU/6.1 (both deflate modes, every phase) and Firecracker/6.18."""

import doctest

import pytest

import balloon_oom.parsers.meminfo as mi
from balloon_oom.errors import ParseError
from balloon_oom.parsers.meminfo import parse_meminfo
from tests import shared as _shared

REAL = _shared.CAPTURES


def test_doctests():
    assert doctest.testmod(mi).failed == 0


@pytest.mark.parametrize("name,total,free", [
    ("meminfo-before-deflate-off.txt", 468416, None),
    ("meminfo-after-inflate-deflate-off.txt", 206272, 177004),
    ("meminfo-after-inflate-deflate-on.txt", 468416, 176880),
])
def test_kvm_memtotal(name, total, free):
    m = parse_meminfo((REAL / "kvm-6.1" / name).read_text(), "proc/meminfo")
    assert m.values["MemTotal"] == total
    if free is not None:
        assert m.values["MemFree"] == free
    assert "Balloon" not in m.values  # 6.1 has no Balloon: row
    assert m.values["VmallocTotal"] == 34359738367
    assert m.units["HugePages_Total"] is None and m.units["Hugepagesize"] == "kB"
    assert m.evidence["MemTotal"].line == 1


def test_firecracker_balloon_row():
    m = parse_meminfo((REAL / "firecracker-6.18/proc-meminfo.txt").read_text(), "proc/meminfo")
    assert m.values["Balloon"] == 0 and m.units["Balloon"] == "kB"
    assert m.values["MemTotal"] == 24684092 and m.values["MemAvailable"] == 24191840
    assert m.values["Active(anon)"] == 5616 and m.values["DirectMap1G"] == 25165824
    assert m.evidence["Balloon"].text == "Balloon:               0 kB"
    assert len(m.values) == 54  # every row of the file


def test_crlf_and_missing_keys():
    m = parse_meminfo("MemFree:  5 kB\r\nBalloon:  1024 kB\r\n", "p")
    assert m.get("MemTotal") is None and m.values == {"MemFree": 5, "Balloon": 1024}


@pytest.mark.parametrize("text,line", [
    ("MemTotal: 10 kB\nthis is garbage\n", 2),
    ("MemTotal: ten kB\n", 1),
    ("MemTotal: 1 kB\nMemTotal: 2 kB\n", 2),
    ("MemTotal: 1 MB\n", 1),
])
def test_bad_rows(text, line):
    with pytest.raises(ParseError) as err:
        parse_meminfo(text, "proc/meminfo")
    assert err.value.line == line and err.value.path == "proc/meminfo"


def test_empty():
    with pytest.raises(ParseError, match="empty"):
        parse_meminfo("", "proc/meminfo")
