# SPDX-License-Identifier: GPL-2.0-or-later
"""
Memory figures
--------------

The ``balloon_drgn.memory`` module reads the kernel's own memory totals:
``totalram_pages``, free pages, per-zone present/managed pages, the
``balloon_inflate``/``balloon_deflate``/``balloon_migrate`` vm events and
(6.15+) ``NR_BALLOON_PAGES``.  Everything here needs only ``vmlinux``
debugging information, so it is the fallback when a balloon driver's module
debugging information is missing.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from drgn import Object, ObjectNotFoundError, Program
from drgn.helpers.linux.mm import totalram_pages
from drgn.helpers.linux.mmzone import for_each_online_pgdat
from drgn.helpers.linux.vmstat import (
    global_node_page_state,
    global_vm_event_state,
    nr_free_pages,
    zone_page_state,
)

__all__ = (
    "BALLOON_EVENTS",
    "MemoryState",
    "ZoneState",
    "balloon_vm_events",
    "memory_state",
    "nr_balloon_pages",
    "page_size",
    "zone_managed_pages",
    "zones",
)

#: ``enum vm_event_item`` members counted by balloon_compaction users.
BALLOON_EVENTS = ("BALLOON_INFLATE", "BALLOON_DEFLATE", "BALLOON_MIGRATE")


@dataclass
class ZoneState:
    """One ``struct zone`` (counts in pages)."""

    node: int
    name: str
    present_pages: int
    managed_pages: int
    spanned_pages: int
    free_pages: int


@dataclass
class MemoryState:
    """The kernel's memory totals (pages of ``page_size`` bytes)."""

    page_size: int
    totalram_pages: int
    free_pages: Optional[int]
    zones: List[ZoneState] = field(default_factory=list)
    #: ``BALLOON_INFLATE`` etc. summed over online CPUs; a name is missing
    #: if the kernel was built without it (``CONFIG_MEMORY_BALLOON``,
    #: ``CONFIG_BALLOON_COMPACTION``).
    vm_events: Dict[str, int] = field(default_factory=dict)
    #: ``NR_BALLOON_PAGES`` (6.15+), ``None`` where the enum lacks it.
    nr_balloon_pages: Optional[int] = None

    @property
    def reserved_pages(self) -> int:
        """Sum of ``present - managed`` over zones, as show_mem()'s ``pages reserved``."""
        return sum(z.present_pages - z.managed_pages for z in self.zones)


def page_size(prog: Program) -> int:
    """The kernel's ``PAGE_SIZE`` in bytes."""
    try:
        return prog["PAGE_SIZE"].value_()
    except (KeyError, LookupError):
        return 4096


def zone_managed_pages(zone: Object) -> int:
    """
    ``zone_managed_pages(zone)``.

    :param zone: ``struct zone``
    """
    managed = zone.managed_pages
    try:
        # Since Linux kernel commit 9705bea5f833 ("mm: convert
        # zone->managed_pages to atomic variable") (in v5.0).
        return managed.counter.value_()
    except AttributeError:
        return managed.value_()


def zones(prog: Program) -> List[ZoneState]:
    """
    Every populated zone of every online node (``contig_page_data`` on
    non-NUMA kernels, ``node_data[]`` otherwise).
    """
    free_item = prog["NR_FREE_PAGES"]
    result = []
    for pgdat in for_each_online_pgdat(prog):
        nid = pgdat.node_id.value_() if pgdat.type_.type.has_member("node_id") else 0
        for zone in pgdat.node_zones:
            present = zone.present_pages.value_()
            if not present:
                continue
            result.append(
                ZoneState(
                    node=nid,
                    name=zone.name.string_().decode(),
                    present_pages=present,
                    managed_pages=zone_managed_pages(zone),
                    spanned_pages=zone.spanned_pages.value_(),
                    free_pages=zone_page_state(zone, free_item),
                )
            )
    return result


def balloon_vm_events(prog: Program) -> Dict[str, int]:
    """
    The balloon vm events, summed over online CPUs like ``/proc/vmstat``.

    >>> balloon_vm_events(prog)  # doctest: +SKIP
    {'BALLOON_INFLATE': 65536, 'BALLOON_DEFLATE': 0, 'BALLOON_MIGRATE': 0}
    """
    events = {}
    for name in BALLOON_EVENTS:
        try:
            item = prog.constant(name)
        except LookupError:
            continue
        events[name] = global_vm_event_state(prog, item)
    return events


def nr_balloon_pages(prog: Program) -> Optional[int]:
    """
    ``global_node_page_state(NR_BALLOON_PAGES)``, or ``None`` before the
    item existed: Linux kernel commit 835de37603ef ("meminfo: add a per node
    counter for balloon drivers") (in v6.15).
    """
    try:
        item = prog.constant("NR_BALLOON_PAGES")
    except LookupError:
        return None
    return global_node_page_state(prog, item)


def memory_state(prog: Program) -> MemoryState:
    """All memory figures of :mod:`balloon_drgn.memory` at once."""
    try:
        free: Optional[int] = nr_free_pages(prog)
    except ObjectNotFoundError:
        free = None
    return MemoryState(
        page_size=page_size(prog),
        totalram_pages=totalram_pages(prog),
        free_pages=free,
        zones=zones(prog),
        vm_events=balloon_vm_events(prog),
        nr_balloon_pages=nr_balloon_pages(prog),
    )
