# SPDX-License-Identifier: GPL-2.0-or-later
"""``show_mem()`` as an OOM report prints it: the Mem-Info summary (pages),
the per-node and per-zone lines (kB), hugepages, the totals and
Virtuozzo's balloon line.

>>> parse_total("1048445 pages RAM")
('pages_ram', 1048445)
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

from balloon_oom.model import OomNode, OomZone

__all__ = [
    "parse_hugepages",
    "parse_mem_info_pairs",
    "parse_node",
    "parse_total",
    "parse_vz_balloon",
    "parse_zone",
]

_PAIR_PAGES = re.compile(r"([a-z_]+):(\d+)")
_PAIRS_ONLY = re.compile(r"^\s*(?:[a-z_]+:\d+\s*)+$")


def parse_mem_info_pairs(text: str) -> Optional[Dict[str, int]]:
    """A Mem-Info summary line (``active_anon:567 inactive_anon:43531 …``, pages).

    Every generation's keys are kept as printed (``unstable`` up to
    Linux kernel commit 8d92890bd6b8 ("mm/writeback: discard NR_UNSTABLE_NFS,
    use NR_WRITEBACK instead") (in v5.8),
    ``kernel_misc_reclaimable``, ``sec_pagetables`` ≥6.0, ...).

    >>> parse_mem_info_pairs(" sec_pagetables:0 bounce:0")
    {'sec_pagetables': 0, 'bounce': 0}
    >>> parse_mem_info_pairs("Node 0 DMA free:1816kB") is None
    True
    """
    if not _PAIRS_ONLY.match(text):
        return None
    return {k: int(v) for k, v in _PAIR_PAGES.findall(text)}


_KB_PAIR = re.compile(r"([A-Za-z_()]+):\s?(\d+)[kK]B")
_NODE = re.compile(r"^Node (\d+) active_anon:")
# "Node 0 DMA32 free:…" (CONFIG_NUMA) or "DMA free:…" (show_node() prints
# nothing without NUMA).
_ZONE = re.compile(r"^(?:Node (?P<node>\d+) )?(?P<zone>[A-Za-z][\w]*) free:\d+kB")
_HUGE = re.compile(r"^Node (\d+) hugepages_total=")


def parse_node(text: str) -> Optional[OomNode]:
    """A per-node ``Node N active_anon:…kB … all_unreclaimable? yes [Balloon:…kB]``.

    ``Balloon:`` (NR_BALLOON_PAGES) follows ``all_unreclaimable?`` from
    Linux kernel commit 835de37603ef ("meminfo: add a per node counter for
    balloon drivers") (in v6.15); fields are read by name, not position.

    >>> n = parse_node("Node 0 active_anon:2268kB shmem_thp: 0kB all_unreclaimable? yes Balloon:262144kB")
    >>> n.values_kb["shmem_thp"], n.all_unreclaimable, n.balloon_kb
    (0, True, 262144)
    """
    text = text.strip()
    m = _NODE.match(text)
    if not m:
        return None
    values = {k: int(v) for k, v in _KB_PAIR.findall(text)}
    unrec = re.search(r"all_unreclaimable\? (yes|no)", text)
    return OomNode(
        node=int(m.group(1)),
        values_kb=values,
        balloon_kb=values.get("Balloon"),
        all_unreclaimable=(unrec.group(1) == "yes") if unrec else None,
    )


def parse_zone(text: str) -> Optional[OomZone]:
    """A per-zone ``Node 0 DMA32 free:2572kB boost:… present:…kB managed:…kB …``.

    >>> z = parse_zone("Node 0 DMA32 free:2572kB boost:2048kB min:4664kB present:507776kB managed:190912kB")
    >>> z.zone, z.values_kb["present"] - z.values_kb["managed"]
    ('DMA32', 316864)
    """
    text = text.strip()
    m = _ZONE.match(text)
    if not m or m.group("zone") == "Node":
        return None
    return OomZone(
        node=int(m.group("node") or 0),
        zone=m.group("zone"),
        values_kb={k: int(v) for k, v in _KB_PAIR.findall(text[m.start("zone"):])},
    )


def parse_hugepages(text: str) -> Optional[Dict[str, int]]:
    """``Node 0 hugepages_total=0 … hugepages_size=2048kB`` as a dict (size in kB)."""
    text = text.strip()
    m = _HUGE.match(text)
    if not m:
        return None
    out = {"node": int(m.group(1))}
    for key, value in re.findall(r"(\w+)=(\d+)(?:kB)?", text):
        out[key + "_kb" if key == "hugepages_size" else key] = int(value)
    return out


_TOTALS = [
    (re.compile(r"^(\d+) total pagecache pages$"), "total_pagecache_pages"),
    (re.compile(r"^(\d+) pages in swap cache$"), "swap_cache_pages"),
    (re.compile(r"^Free swap\s+=\s*(\d+)kB$"), "swap_free_kb"),
    (re.compile(r"^Total swap\s+=\s*(\d+)kB$"), "swap_total_kb"),
    (re.compile(r"^(\d+) pages RAM$"), "pages_ram"),
    (re.compile(r"^(\d+) pages HighMem/MovableOnly$"), "pages_highmem"),
    (re.compile(r"^(\d+) pages reserved$"), "pages_reserved"),
    (re.compile(r"^(\d+) pages cma reserved$"), "pages_cma_reserved"),
    (re.compile(r"^(\d+) pages hwpoisoned$"), "pages_hwpoisoned"),
    # The pre-3.14 show_mem (PageReserved counting) only.
    (re.compile(r"^(\d+) pages shared$"), "pages_shared"),
    (re.compile(r"^(\d+) pages non-shared$"), "pages_non_shared"),
]
_VZ_BALLOON = re.compile(r"^Balloon InflatedTotal:\s*(-?\d+)\s*kB InflatedFree:\s*(-?\d+)\s*kB")


def parse_total(text: str) -> Optional[Tuple[str, int]]:
    """``(OomEvent field, value)`` for the show_mem totals lines.

    >>> parse_total("79374 pages reserved")
    ('pages_reserved', 79374)
    >>> parse_total("Free swap  = 0kB")
    ('swap_free_kb', 0)
    """
    text = text.strip()
    if not text or not (text[0].isdigit() or text[0] in "FT"):
        return None
    for rx, name in _TOTALS:
        m = rx.match(text)
        if m:
            return name, int(m.group(1))
    return None



def parse_vz_balloon(text: str) -> Optional[Tuple[int, int]]:
    """``(inflated_total_kb, inflated_free_kb)`` of Virtuozzo's show_mem
    ``Balloon InflatedTotal:NkB InflatedFree:NkB`` line.

    >>> parse_vz_balloon("Balloon InflatedTotal:0kB InflatedFree:262144kB")
    (0, 262144)
    """
    m = _VZ_BALLOON.match(text)
    return (int(m.group(1)), int(m.group(2))) if m else None
