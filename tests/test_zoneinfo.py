"""/proc/zoneinfo from the Firecracker/6.18 guest, plus an older-kernel shape."""

import doctest

import pytest

import balloon_oom.parsers.zoneinfo as zi
from balloon_oom.errors import ParseError
from balloon_oom.parsers.zoneinfo import parse_zoneinfo
from tests import shared as _shared

FC = (_shared.CAPTURES / "firecracker-6.18/proc-zoneinfo.txt")


def test_doctests():
    assert doctest.testmod(zi).failed == 0


def test_firecracker_zones():
    z = parse_zoneinfo(FC.read_text(), "proc/zoneinfo")
    assert [(x.node, x.zone) for x in z.zones] == [(0, "DMA"), (0, "DMA32"), (0, "Normal"), (0, "Movable"),
                                                   (0, "Device")]
    dma32 = z.zones[1]
    assert (dma32.free, dma32.min, dma32.low, dma32.high) == (772854, 6565, 8206, 9847)
    assert (dma32.spanned, dma32.present, dma32.managed) == (1044480, 782336, 772917)
    assert dma32.reserved == 782336 - 772917
    assert dma32.stats["nr_free_pages"] == 772854 and dma32.stats["boost"] == 0
    normal = z.zones[2]
    assert (normal.present, normal.managed) == (5505024, 1212416)
    assert z.zones[0].node_stats["nr_balloon_pages"] == 0
    assert "nr_balloon_pages" not in z.zones[1].node_stats
    assert z.totals() == {"present": 6291358, "managed": 1989173, "spanned": 6553599, "free": 1865460}
    assert z.zones[1].evidence["managed"].text == "managed  772917"
    model = dma32.to_model()
    assert (model.present_pages, model.managed_pages, model.free_pages) == (782336, 772917, 772854)


OLD = """Node 0, zone      DMA
  pages free     3977
        min      5
        low      6
        high     7
        scanned  0
        spanned  4095
        present  3998
        managed  3977
    nr_free_pages 3977
        protection: (0, 1832, 1832, 1832)
  pagesets
    cpu: 0
              count: 0
              high:  0
              batch: 1
  vm stats threshold: 4
  all_unreclaimable: 0
  start_pfn:         1
  inactive_ratio:    1
"""


def test_older_kernel_shape_and_crlf():
    z = parse_zoneinfo(OLD.replace("\n", "\r\n"), "proc/zoneinfo")
    dma = z.zones[0]
    assert (dma.free, dma.present, dma.managed, dma.min) == (3977, 3998, 3977, 5)
    assert dma.stats["scanned"] == 0 and dma.stats["nr_free_pages"] == 3977
    assert "count" not in dma.stats


@pytest.mark.parametrize("text,line", [
    ("garbage first\nNode 0, zone DMA\n", 1),
    ("Node 0, zone DMA\n  pages free 1\n  what is this\n", 3),
])
def test_bad_rows(text, line):
    with pytest.raises(ParseError) as err:
        parse_zoneinfo(text, "proc/zoneinfo")
    assert err.value.line == line


def test_empty():
    with pytest.raises(ParseError, match="no 'Node N, zone X'"):
        parse_zoneinfo("", "proc/zoneinfo")
