# SPDX-License-Identifier: GPL-2.0-or-later
"""
VMware balloon
--------------

The ``balloon_drgn.vmware`` module reads ``static struct vmballoon balloon``
of ``drivers/misc/vmw_balloon.c`` (module ``vmw_balloon``).  ``balloon`` is
a generic symbol name, so the lookup is qualified by the source file.
"""

from dataclasses import dataclass
from typing import List, Optional

from drgn import Object, Program, TypeKind
from drgn.helpers.linux.list import list_count_nodes

from balloon_oom.parsers.vmmemctl import CAPABILITY_NAMES

__all__ = (
    "VMW_BALLOON_CAPABILITY_NAMES",
    "VmwBalloon",
    "vmw_balloon_object",
    "vmw_balloon_state",
)

#: ``enum vmwballoon_capabilities`` bits: one table, shared with the vmmemctl parser.
VMW_BALLOON_CAPABILITY_NAMES = CAPABILITY_NAMES


@dataclass
class VmwBalloon:
    """``struct vmballoon`` (``size``/``target`` in 4 KiB frames)."""

    size_frames: int
    target_frames: int
    capabilities: int
    reset_required: bool
    #: 2 MiB pages held (each is 512 frames of ``size_frames``), if known.
    huge_pages: Optional[int]
    #: ``False`` if ``balloon.stats`` is ``NULL`` (nobody read debugfs
    #: ``vmmemctl`` yet), ``True`` if allocated, ``None`` if the struct
    #: embeds the stats (4.18 and older).
    stats_allocated: Optional[bool]
    #: ``True`` where ``size`` is an ``atomic64_t`` (after the 4.20 rework).
    size_is_atomic64: bool

    @property
    def capability_names(self) -> List[str]:
        return [
            VMW_BALLOON_CAPABILITY_NAMES.get(bit, f"bit {bit}")
            for bit in range(self.capabilities.bit_length())
            if self.capabilities >> bit & 1
        ]

    @property
    def inflated_bytes(self) -> int:
        return self.size_frames * 4096


def vmw_balloon_object(prog: Program) -> Object:
    """
    ``balloon`` of module ``vmw_balloon``.

    :return: ``struct vmballoon``
    :raises LookupError: if the module or its debugging information is absent.
    """
    return prog.object("balloon", filename="vmw_balloon.c")


def vmw_balloon_state(prog: Program) -> VmwBalloon:
    """Read the VMware balloon."""
    b = vmw_balloon_object(prog)
    btype = b.type_
    size = b.size
    try:
        # atomic64_t since Nadav Amit's rework series "vmw_balloon:
        # compaction, shrinker, 64-bit, etc." (v4.20/v5.0); unsigned int
        # before.
        size_frames = size.counter.value_()
        atomic = True
    except AttributeError:
        size_frames = size.value_()
        atomic = False
    if btype.has_member("huge_pages"):
        # Current driver: 2 MiB pages on a private list (the 4 KiB ones are
        # on b_dev_info.pages).
        huge: Optional[int] = list_count_nodes(b.huge_pages.address_of_())
    elif btype.has_member("page_sizes"):
        # 4.18 and older: page_sizes[VMW_BALLOON_2M_PAGE].pages.
        huge = list_count_nodes(b.page_sizes[1].pages.address_of_())
    else:
        huge = None
    if btype.has_member("stats"):
        stats = b.stats
        stats_allocated: Optional[bool] = (
            bool(stats.value_()) if stats.type_.unqualified().kind == TypeKind.POINTER else None
        )
    else:
        stats_allocated = None
    return VmwBalloon(
        size_frames=size_frames,
        target_frames=b.target.value_(),
        capabilities=b.capabilities.value_(),
        reset_required=bool(b.reset_required.value_()),
        huge_pages=huge,
        stats_allocated=stats_allocated,
        size_is_atomic64=atomic,
    )
