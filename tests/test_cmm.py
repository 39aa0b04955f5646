"""s390 and pseries CMM files (no such guest here: values written as the kernel prints them)."""

import doctest

import pytest

import balloon_oom.parsers.cmm as cm
from balloon_oom.errors import ParseError
from balloon_oom.parsers.cmm import parse_cmm_timeout, parse_cmm_value


def test_doctests():
    assert doctest.testmod(cm).failed == 0


def test_values():
    assert parse_cmm_value("2048\n", "sys/devices/system/cmm/cmm0/loaned_kb").value == 2048
    v = parse_cmm_value("0\r\n", "proc/sys/vm/cmm_timed_pages")
    assert v.value == 0 and v.evidence.source == "proc/sys/vm/cmm_timed_pages"


def test_timeout():
    t = parse_cmm_timeout("%ld %ld\n" % (256, 3600), "proc/sys/vm/cmm_timeout")
    assert (t.pages, t.seconds) == (256, 3600)


@pytest.mark.parametrize("text", ["", "abc\n", "1 2\n", "1\n2\n", "-5\n"])
def test_bad_values(text):
    with pytest.raises(ParseError):
        parse_cmm_value(text, "proc/sys/vm/cmm_pages")


@pytest.mark.parametrize("text", ["", "256\n", "a b\n", "1 2 3\n"])
def test_bad_timeout(text):
    with pytest.raises(ParseError):
        parse_cmm_timeout(text, "proc/sys/vm/cmm_timeout")
