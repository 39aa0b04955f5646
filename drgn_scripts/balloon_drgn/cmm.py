# SPDX-License-Identifier: GPL-2.0-or-later
"""
Collaborative Memory Management
-------------------------------

The ``balloon_drgn.cmm`` module reads the s390 CMM (``arch/s390/mm/cmm.c``)
and pseries CMM (``arch/powerpc/platforms/pseries/cmm.c``) page counts.
"""

from dataclasses import dataclass
from typing import Optional

from drgn import Object, Program

__all__ = ("PseriesCmm", "S390Cmm", "pseries_cmm_state", "s390_cmm_state")


@dataclass
class S390Cmm:
    """s390 ``cmm_pages``/``cmm_timed_pages`` (4 KiB pages)."""

    cmm_pages: int
    cmm_timed_pages: int


@dataclass
class PseriesCmm:
    """pseries ``loaned_pages`` and friends (``PAGE_SIZE`` pages)."""

    loaned_pages: int
    loaned_pages_target: Optional[int]
    oom_freed_pages: Optional[int]


def _long(obj: Object) -> int:
    try:
        # atomic_long_t, e.g. loaned_pages since Linux kernel commit
        # fe030c9b85e6 ("powerpc/pseries/cmm: Implement balloon compaction")
        # (in v5.5).
        return obj.counter.value_()
    except AttributeError:
        return obj.value_()


def s390_cmm_state(prog: Program) -> S390Cmm:
    """:raises LookupError: when the kernel has no s390 CMM."""
    return S390Cmm(
        cmm_pages=_long(prog.object("cmm_pages", filename="s390/mm/cmm.c")),
        cmm_timed_pages=_long(prog.object("cmm_timed_pages", filename="s390/mm/cmm.c")),
    )


def pseries_cmm_state(prog: Program) -> PseriesCmm:
    """:raises LookupError: when the kernel has no pseries CMM."""
    source = "pseries/cmm.c"

    def optional(name: str) -> Optional[int]:
        try:
            return _long(prog.object(name, filename=source))
        except LookupError:
            return None

    return PseriesCmm(
        loaned_pages=_long(prog.object("loaned_pages", filename=source)),
        loaned_pages_target=optional("loaned_pages_target"),
        oom_freed_pages=optional("oom_freed_pages"),
    )
