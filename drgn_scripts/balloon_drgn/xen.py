# SPDX-License-Identifier: GPL-2.0-or-later
"""
Xen balloon
-----------

The ``balloon_drgn.xen`` module reads ``struct balloon_stats balloon_stats``
of ``drivers/xen/balloon.c`` (built into the kernel).
"""

from dataclasses import dataclass
from typing import Optional

from drgn import Program

__all__ = ("XenBalloon", "xen_balloon_state")


@dataclass
class XenBalloon:
    """``struct balloon_stats`` (``PAGE_SIZE`` pages)."""

    current_pages: int
    target_pages: int
    balloon_low: int
    balloon_high: int
    total_pages: Optional[int]

    @property
    def ballooned_pages(self) -> int:
        """``balloon_low + balloon_high``: pages out of the guest."""
        return self.balloon_low + self.balloon_high


def xen_balloon_state(prog: Program) -> XenBalloon:
    """
    Read ``balloon_stats``.

    :raises LookupError: on a kernel without ``CONFIG_XEN_BALLOON``.
    """
    s = prog.object("balloon_stats", filename="xen/balloon.c")
    return XenBalloon(
        current_pages=s.current_pages.value_(),
        target_pages=s.target_pages.value_(),
        balloon_low=s.balloon_low.value_(),
        balloon_high=s.balloon_high.value_(),
        total_pages=(
            s.total_pages.value_() if s.type_.has_member("total_pages") else None
        ),
    )
