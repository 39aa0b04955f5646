"""Virtuozzo virtio-balloon debugfs (seed document) and the unmerged V6/V1-V4 shapes."""

import doctest

import pytest

import balloon_oom.parsers.virtio_debugfs as vd
from balloon_oom.errors import ParseError
from balloon_oom.parsers.virtio_debugfs import parse_virtio_debugfs

P = "sys/kernel/debug/virtio-balloon"


def test_doctests():
    assert doctest.testmod(vd).failed == 0


def test_seed_example_empty_balloon():
    d = parse_virtio_debugfs("InflatedTotal: 0 kB\nInflatedFree: 0 kB\n", P)
    assert (d.inflated_total_kb, d.inflated_free_kb, d.inflated_kb) == (0, 0, 0)
    assert d.memtotal_reduced is None  # an empty balloon does not tell the mode
    assert d.evidence["inflated_free_kb"].line == 2


def test_deflate_on_oom_side():
    d = parse_virtio_debugfs("InflatedTotal: 0 kB\nInflatedFree: 131072 kB\n", P)
    assert d.inflated_kb == 131072 and d.memtotal_reduced is False


def test_negative_value_keeps_sign():
    d = parse_virtio_debugfs("InflatedTotal: -262144 kB\r\nInflatedFree: 0 kB\r\n", P)
    assert d.inflated_total_kb == -262144 and d.inflated_kb == 262144 and d.memtotal_reduced is True


def test_v6_single_row():
    d = parse_virtio_debugfs("inflated: -1024 kB\n", P)
    assert d.inflated_v6_kb == -1024 and d.inflated_kb == 1024 and d.memtotal_reduced is True
    assert parse_virtio_debugfs("inflated: 1024 kB\n", P).memtotal_reduced is False


def test_v1_v4_rows_kept():
    text = "%-22s: %d\n%-22s: %u\n" % ("page_size", 4096, "ballooned_pages", 512)
    d = parse_virtio_debugfs(text, P)
    assert d.other_ints == {"page_size": 4096, "ballooned_pages": 512} and d.inflated_kb is None


@pytest.mark.parametrize("text,line", [("InflatedTotal: 12\n", 1), ("InflatedFree: 0 kB\nxyz\n", 2)])
def test_bad_rows(text, line):
    with pytest.raises(ParseError) as err:
        parse_virtio_debugfs(text, P)
    assert err.value.line == line


def test_empty_file():
    with pytest.raises(ParseError, match="empty"):
        parse_virtio_debugfs("", P)
