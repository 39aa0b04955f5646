# SPDX-License-Identifier: GPL-2.0-or-later
"""The criterion: but-for (would the allocation have succeeded with an empty
balloon?) and materiality (is the balloon a material share of the guest, or at
least what the kill freed?).

but-for reads the zones the allocation could use: the highest zone from the
low four bits of ``gfp_mask`` (``__GFP_DMA`` 0x01, ``__GFP_HIGHMEM`` 0x02,
``__GFP_DMA32`` 0x04, ``__GFP_MOVABLE`` 0x08: GFP_ZONEMASK, the same in every
kernel generation; ``gfp_zone()`` maps HIGHMEM|MOVABLE to ZONE_MOVABLE),
the nodes from ``nodemask``, and each node's top populated eligible zone,
whose own ``lowmem_reserve`` entry is 0 (lower zones keep a reserve against
higher-zone requests that the report's zone line does not sum in).  The
shortfall of a zone is ``min + 2^order pages - free``.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Set

from ..model import ButFor, Materiality, OomEvent, OomZone
from .size import SizeEstimate, mib
from .thresholds import Thresholds

ZONE_ORDER = ("DMA", "DMA32", "Normal", "HighMem", "Movable")


def highest_zone(gfp_mask: Optional[str]) -> Optional[str]:
    """The highest zone an allocation may use (``gfp_zone()``).

    >>> highest_zone("0x140dca"), highest_zone("0x0"), highest_zone("0x6000c0")
    ('Movable', 'Normal', 'Normal')
    >>> highest_zone("0x200d4"), highest_zone("0x201d2")
    ('DMA32', 'HighMem')
    """
    if not gfp_mask:
        return None
    try:
        bits = int(gfp_mask, 16) & 0xF
    except ValueError:
        return None
    if bits & 0x1:
        return "DMA"
    if bits & 0x4:
        return "DMA32"
    if bits & 0x2:
        return "Movable" if bits & 0x8 else "HighMem"
    return "Normal"


def parse_nodelist(text: Optional[str]) -> Optional[Set[int]]:
    """``0-1,3`` -> {0, 1, 3}; ``(null)`` or nothing -> None (all nodes).

    >>> sorted(parse_nodelist("0-1,3")), parse_nodelist("(null)")
    ([0, 1, 3], None)
    """
    if not text or text.strip() in ("(null)", ""):
        return None
    out: Set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*", part)
        if not m:
            return None
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        out.update(range(a, b + 1))
    return out


def _sane(z: OomZone, guest_kb: Optional[int]) -> bool:
    """A watermark above the zone (or the whole guest) is a corrupted managed count."""
    v = z.values_kb
    if "free" not in v or "min" not in v:
        return False
    size = v.get("managed", v.get("present", guest_kb))
    if size is None:
        return False
    return v["min"] <= size and v.get("high", v["min"]) <= size


def but_for(ev: OomEvent, est: SizeEstimate, th: Thresholds, page: int) -> ButFor:
    """Had the balloon been empty, would this allocation have succeeded?"""
    arith: List[str] = []
    top_name = highest_zone(ev.gfp_mask)
    if not ev.zones or top_name is None:
        return ButFor("unknown", arithmetic=["no zone lines (or no gfp_mask) in the report: "
                                             "but-for cannot be evaluated"])
    top_idx = ZONE_ORDER.index(top_name)
    nodes = parse_nodelist(ev.nodemask)
    by_node: Dict[int, OomZone] = {}
    for z in ev.zones:
        if z.zone not in ZONE_ORDER or ZONE_ORDER.index(z.zone) > top_idx:
            continue
        if nodes is not None and z.node not in nodes:
            continue
        cur = by_node.get(z.node)
        if cur is None or ZONE_ORDER.index(z.zone) > ZONE_ORDER.index(cur.zone):
            by_node[z.node] = z
    eligible = [f"Node {n} {z.zone}" for n, z in sorted(by_node.items())]
    arith.append(f"gfp_mask {ev.gfp_mask}: zones up to {top_name}"
                 + (f", nodes {sorted(nodes)}" if nodes is not None else ", any node")
                 + f"; top eligible zone per node: {', '.join(eligible) or 'none'}")
    if not by_node:
        return ButFor("unknown", eligible_zones=eligible, arithmetic=arith)
    guest_kb = ev.pages_ram * page // 1024 if ev.pages_ram else None
    insane = [f"Node {z.node} {z.zone}" for z in by_node.values() if not _sane(z, guest_kb)]
    if insane:
        arith.append(f"zone lines inconsistent ({', '.join(insane)}: a watermark above the "
                     "zone's memory, a corrupted managed count; or no size to check it "
                     "against): but-for not evaluated")
        return ButFor("unknown", eligible_zones=eligible, arithmetic=arith)
    alloc_kb = (2 ** max(ev.order or 0, 0)) * page // 1024
    shortfalls = []
    headrooms = []
    for n, z in sorted(by_node.items()):
        v = z.values_kb
        short = max(v["min"] + alloc_kb - v["free"], 0)
        high = v.get("high", v["min"])
        size_kb = v.get("managed", v.get("present", 0))
        margin_kb = max(th.watermark_margin_bytes // 1024,
                        int(size_kb * th.watermark_margin_fraction))
        headroom = v["free"] - high - alloc_kb - margin_kb
        shortfalls.append(short * 1024)
        headrooms.append(headroom)
        arith.append(f"Node {n} {z.zone}: free {v['free']}kB, min {v['min']}kB, high {high}kB, "
                     f"2^order = {alloc_kb}kB: shortfall max(min + 2^order - free, 0) = "
                     f"{short}kB; headroom over high + 2^order + margin {margin_kb}kB = "
                     f"{headroom}kB")
    shortfall = min(shortfalls)
    if shortfall == 0 and max(headrooms) >= 0:
        if (ev.order or 0) > 3:
            arith.append("above the watermarks, but an order > 3 allocation can fail on "
                         "fragmentation, where deflated balloon pages may help: unknown")
            return ButFor("unknown", 0, eligible, arith)
        arith.append("an eligible zone was well above its watermarks: the allocation did not "
                     "fail for lack of free memory, so an empty balloon would not have saved it")
        return ButFor("fails", 0, eligible, arith)
    lower, upper = est.lower, est.upper
    if len(by_node) > 1 or (nodes is not None and any(z.node not in nodes for z in ev.zones)):
        per_node = {n.node: n.balloon_kb for n in ev.nodes if n.balloon_kb is not None}
        if nodes is not None and per_node:
            on = sum(kb for n, kb in per_node.items() if n in nodes) * 1024
            arith.append(f"balloon on the allowed nodes (per-node Balloon:) = {mib(on)}")
            lower, upper = min(lower, on), on if upper is None else min(upper, on)
        elif nodes is not None:
            arith.append("several nodes and the balloon's split between them is unknown: its "
                         "lower bound on the allowed nodes is 0")
            lower = 0
    need = max(shortfall, 1)
    if shortfall == 0:
        need = min(th.watermark_margin_bytes, th.near_watermark_need_bytes)
        arith.append(f"free within the snapshot noise of the watermark: an empty balloon "
                     f"covers it if it held at least {mib(need)}")
    if lower >= need:
        arith.append(f"balloon lower bound {mib(lower)} >= shortfall {mib(need)}: but-for holds")
        return ButFor("holds", shortfall, eligible, arith)
    # Lower zones keep a lowmem_reserve the zone line does not show: their
    # min + 2^order - free is only a floor of what they lacked.
    floor_kb = min(max(z.values_kb["min"] + alloc_kb - z.values_kb["free"], 0)
                   for z in ev.zones
                   if z.zone in ZONE_ORDER and ZONE_ORDER.index(z.zone) <= top_idx
                   and (nodes is None or z.node in nodes) and _sane(z, guest_kb))
    floor = floor_kb * 1024
    if upper is not None and upper < floor:
        arith.append(f"balloon upper bound {mib(upper)} < the smallest shortfall of any "
                     f"eligible zone {mib(floor)}: even an empty balloon would not have covered "
                     "it, but-for fails")
        return ButFor("fails", shortfall, eligible, arith)
    arith.append(f"balloon {mib(lower)}..{mib(upper)} against shortfall {mib(need)}: unknown")
    return ButFor("unknown", shortfall, eligible, arith)


def kill_freed_bytes(ev: OomEvent, page: int) -> Optional[int]:
    """What the kill freed: anon-rss + shmem-rss + page tables + swap entries (not file-rss)."""
    v = ev.victim
    if v is None or v.anon_rss_kb is None:
        return None
    kb = (v.anon_rss_kb or 0) + (v.shmem_rss_kb or 0) + (v.pgtables_kb or 0)
    if ev.tasks is not None:
        row = next((t for t in ev.tasks.top if t.pid == v.pid), None)
        if row is not None:
            kb += row.swapents * page // 1024
    return kb * 1024


def materiality(ev: OomEvent, est: SizeEstimate, th: Thresholds, guest: Optional[int],
                guest_basis: str, page: int) -> Materiality:
    """Material: >= ``fraction`` of the guest, or >= what the kill freed."""
    arith: List[str] = []
    if guest is None:
        return Materiality("unknown", arithmetic=["guest memory unknown: no pages RAM, boot "
                                                  "Memory: line or MemTotal"])
    share = int(guest * th.fraction)
    arith.append(f"share bar = {th.fraction:.0%} of the guest ({guest_basis} = {mib(guest)}) = "
                 f"{mib(share)}")
    freed = kill_freed_bytes(ev, page)
    bar = share
    if freed is not None:
        v = ev.victim
        arith.append(f"kill freed = anon-rss {v.anon_rss_kb}kB + shmem-rss {v.shmem_rss_kb or 0}kB"
                     f" + pgtables {v.pgtables_kb or 0}kB + swap = {mib(freed)} (file-rss "
                     f"{v.file_rss_kb}kB is page cache the kill does not free)")
        if th.victim_rss:
            bar = min(share, freed)
        else:
            arith.append("--no-victim-rule: the kill arm is off")
    arith.append(f"materiality bar = {mib(bar)}")
    if est.lower >= bar and est.lower > 0:
        status = "material"
    elif est.upper is not None and est.upper < bar:
        status = "not-material"
    else:
        status = "straddles"
    arith.append(f"balloon {mib(est.lower)}..{mib(est.upper)} vs bar {mib(bar)}: {status}")
    return Materiality(status, bar, guest, th.fraction, share, freed, arith)
