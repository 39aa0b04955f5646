# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.parsers.oom.show_mem on real show_mem() output."""

from balloon_oom.parsers.logline import split_prefix
from balloon_oom.parsers.oom import (
    parse_hugepages,
    parse_mem_info_pairs,
    parse_node,
    parse_total,
    parse_vz_balloon,
    parse_zone,
)
from tests.oomdata import KVM


def _kvm_lines():
    return (KVM / "dmesg-oom-report-deflate-off.txt").read_text().splitlines()


def test_node_and_zone_lines_real_6_1():
    lines = _kvm_lines()
    node = parse_node(split_prefix(lines[37]).text)
    assert (node.node, node.values_kb["inactive_anon"], node.values_kb["shmem_thp"]) == (0, 174124, 0)
    assert node.all_unreclaimable is True and node.balloon_kb is None
    dma32 = parse_zone(split_prefix(lines[40]).text)
    assert (dma32.node, dma32.zone) == (0, "DMA32")
    assert (dma32.values_kb["present"], dma32.values_kb["managed"], dma32.values_kb["reserved_highatomic"]) == (507776, 190912, 0)
    assert parse_zone(split_prefix(lines[42]).text) is None  # "Node 0 DMA: 2*4kB …" buddy line


def test_node_balloon_field_v6_15():
    # Linux kernel commit 835de37603ef ("meminfo: add a per node counter for
    # balloon drivers") (in v6.15) appends " Balloon:%lukB" after
    # "all_unreclaimable? %s": the real 6.1 node line with that field added.
    lines = _kvm_lines()
    node = parse_node(split_prefix(lines[37]).text + " Balloon:262144kB")
    assert node.balloon_kb == 262144 and node.all_unreclaimable is True
    # Read by name: a field printed after it does not hide it.
    node = parse_node(split_prefix(lines[37]).text + " Balloon:4096kB later_field:0kB")
    assert node.balloon_kb == 4096


def test_mem_info_pairs_and_totals_real_6_1():
    texts = [split_prefix(line).text for line in _kvm_lines()]
    pairs = {}
    for text in texts[texts.index("Mem-Info:") + 1:]:
        got = parse_mem_info_pairs(text)
        if got is None:
            break
        pairs.update(got)
    assert "active_anon" in pairs and "free" in pairs and all(v >= 0 for v in pairs.values())
    totals = dict(t for t in map(parse_total, texts) if t)
    assert totals["pages_ram"] > totals["pages_reserved"] > 0
    assert parse_total("Free swap  = 0kB") == ("swap_free_kb", 0)
    assert parse_total("Freeing unused kernel memory: 2048K") is None


def test_hugepages_line():
    huge = parse_hugepages("Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB")
    assert huge == {"node": 0, "hugepages_total": 0, "hugepages_free": 0, "hugepages_surp": 0,
                    "hugepages_size_kb": 2048}


def test_vz_balloon_line():
    # Virtuozzo's vzkernel prints this at the end of show_mem (its own
    # documentation; Alexander Atanasov's series that proposed it upstream
    # was not merged).  No public capture was found.
    assert parse_vz_balloon("Balloon InflatedTotal:0kB InflatedFree:262144kB") == (0, 262144)
    assert parse_vz_balloon("Balloon: 4kB") is None
