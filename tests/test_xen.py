"""Xen: sysfs one-value attributes and /proc/xen/balloon in the three xenlinux layouts.

No Xen guest can run here; samples are rendered from the kernel format strings
(``balloon_read()`` of the xenlinux trees, ``BALLOON_SHOW`` of drivers/xen).
"""

import doctest

import pytest

import balloon_oom.parsers.xen as xm
from balloon_oom.errors import ParseError
from balloon_oom.parsers.xen import parse_proc_xen_balloon, parse_xen_value

P = "proc/xen/balloon"
HEAD = ("Current allocation: %8lu kB\n"
        "Requested target:   %8lu kB\n"
        "Low-mem balloon:    %8lu kB\n"
        "High-mem balloon:   %8lu kB\n").replace("%8lu", "%8d")


def test_doctests():
    assert doctest.testmod(xm).failed == 0


def test_layout_with_driver_pages_and_no_hard_limit():
    text = HEAD % (204800, 204800, 566784, 0) + "Driver pages:       %8d kB\n" % 1024 + "Xen hard limit:          ??? kB\n"
    p = parse_proc_xen_balloon(text, P)
    assert (p.current_kb, p.target_kb, p.low_kb, p.high_kb, p.driver_kb) == (204800, 204800, 566784, 0, 1024)
    assert p.hard_limit_kb is None and p.ballooned_kb == 566784
    assert p.evidence["low_kb"].line == 3


def test_layout_with_headroom_in_hard_limit():
    text = HEAD % (1048576, 524288, 262144, 262144) + "Xen hard limit:     %8d kB (inc. %8d kB driver headroom)\n" % (
        2097152, 4096)
    p = parse_proc_xen_balloon(text.replace("\n", "\r\n"), P)
    assert p.hard_limit_kb == 2097152 and p.driver_kb == 4096 and p.ballooned_kb == 524288


@pytest.mark.parametrize("text,line", [("Current allocation: lots kB\n", 1),
                                       ("Current allocation: 1 kB\nXen hard limit: what\n", 2),
                                       ("Current allocation: 1 kB\nrandom\n", 2)])
def test_bad_proc_rows(text, line):
    with pytest.raises(ParseError) as err:
        parse_proc_xen_balloon(text, P)
    assert err.value.line == line


def test_proc_empty_or_foreign():
    with pytest.raises(ParseError, match="empty"):
        parse_proc_xen_balloon("", P)
    with pytest.raises(ParseError, match="not /proc/xen/balloon"):
        parse_proc_xen_balloon("Foo: 1 kB\n", P)


def test_sysfs_values():
    v = parse_xen_value("1048576\n", "sys/devices/system/xen_memory/xen_memory0/target_kb")
    assert v.value == 1048576 and v.evidence.line == 1
    assert parse_xen_value("1073741824\r\n", "target").value == 1073741824
    for bad in ("", "-1\n", "1 2\n", "1\n2\n"):
        with pytest.raises(ParseError):
            parse_xen_value(bad, "x")
