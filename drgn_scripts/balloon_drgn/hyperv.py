# SPDX-License-Identifier: GPL-2.0-or-later
"""
Hyper-V dynamic memory
----------------------

The ``balloon_drgn.hyperv`` module reads ``static struct hv_dynmem_device
dm_device`` of ``drivers/hv/hv_balloon.c`` (module ``hv_balloon``).
"""

from dataclasses import dataclass
from typing import Optional

from drgn import Object, Program
from drgn.helpers.linux.mm import totalram_pages

from balloon_oom.parsers.hv_balloon import STATE_NAMES

__all__ = (
    "HV_DM_STATE_NAMES",
    "HvBalloon",
    "compute_balloon_floor",
    "hv_balloon_state",
    "hv_dm_device",
    "vm_memory_committed",
)

#: ``enum hv_dm_state``, as the debugfs ``state`` line names them: one table, shared with
#: the hv-balloon debugfs parser.
HV_DM_STATE_NAMES = tuple(STATE_NAMES[i] for i in sorted(STATE_NAMES))


@dataclass
class HvBalloon:
    """``struct hv_dynmem_device`` (counts in 4 KiB pages)."""

    state: int
    state_name: str
    #: ``dm->version``: ``DYNMEM_MAJOR_VERSION``/``DYNMEM_MINOR_VERSION``.
    version: str
    num_pages_ballooned: int
    num_pages_added: int
    num_pages_onlined: int
    #: ``dm->max_dynamic_page_count`` (added with the debugfs file in 6.0).
    max_dynamic_page_count: Optional[int]
    #: Recomputed as ``get_pages_committed()`` does; the kernel does not
    #: store it.
    total_pages_committed: int


def hv_dm_device(prog: Program) -> Object:
    """
    ``dm_device`` of module ``hv_balloon``.

    :return: ``struct hv_dynmem_device``
    :raises LookupError: if the module or its debugging information is absent.
    """
    return prog.object("dm_device", filename="hv_balloon.c")


def vm_memory_committed(prog: Program) -> int:
    """
    ``vm_memory_committed()``: drgn's helper, the per-CPU counter summed as the
    kernel does since Linux kernel commit 4e2ee51e8251 ("mm/util.c: make
    vm_memory_committed() more accurate") (in v5.9); before it the kernel read
    ``percpu_counter_read_positive()``, which lags the sum by less than the
    counter's batch per CPU.
    """
    from drgn.helpers.linux.mm import vm_memory_committed as committed

    return committed(prog)


def compute_balloon_floor(totalram: int, page_shift: int = 12) -> int:
    """
    hv_balloon's ``compute_balloon_floor()``: pages it never balloons below.

    >>> compute_balloon_floor(117104)   # 457 MiB of RAM: 40 MiB + nr/4
    39516
    """

    def mb2pages(mb: int) -> int:
        return mb << (20 - page_shift)

    if totalram < mb2pages(128):
        return mb2pages(8) + (totalram >> 1)
    if totalram < mb2pages(512):
        return mb2pages(40) + (totalram >> 2)
    if totalram < mb2pages(2048):
        return mb2pages(104) + (totalram >> 3)
    if totalram < mb2pages(8192):
        return mb2pages(232) + (totalram >> 4)
    return mb2pages(488) + (totalram >> 5)


def hv_balloon_state(prog: Program) -> HvBalloon:
    """
    Read ``dm_device``.

    ``total_pages_committed`` is recomputed like the kernel's
    ``get_pages_committed()`` (what the debugfs ``hv-balloon`` file prints
    and ``post_status()`` sends to the host): ``vm_memory_committed() +
    num_pages_ballooned + max(added - onlined, 0) + compute_balloon_floor()``.
    """
    dm = hv_dm_device(prog)
    state = dm.state.value_()
    version = dm.version.value_()
    ballooned = dm.num_pages_ballooned.value_()
    added = dm.num_pages_added.value_()
    onlined = dm.num_pages_onlined.value_()
    try:
        page_shift = prog["PAGE_SHIFT"].value_()
    except (KeyError, LookupError):
        page_shift = 12
    committed = (
        vm_memory_committed(prog)
        + ballooned
        + (added - onlined if added > onlined else 0)
        + compute_balloon_floor(totalram_pages(prog), page_shift)
    )
    return HvBalloon(
        state=state,
        state_name=(
            HV_DM_STATE_NAMES[state] if 0 <= state < len(HV_DM_STATE_NAMES) else "Unknown"
        ),
        version=f"{version >> 16}.{version & 0xFFFF}",
        num_pages_ballooned=ballooned,
        num_pages_added=added,
        num_pages_onlined=onlined,
        # Since Linux kernel commit d180e0a1be6c ("Drivers: hv: Create debugfs file
        # with hyper-v balloon usage information") (in v6.0).
        max_dynamic_page_count=(
            dm.max_dynamic_page_count.value_()
            if dm.type_.has_member("max_dynamic_page_count")
            else None
        ),
        total_pages_committed=committed,
    )
