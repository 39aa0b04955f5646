# SPDX-License-Identifier: GPL-2.0-or-later
"""The virtio-mem device of the ``virtio-mem`` scenario: QEMU arguments and QMP.

QEMU gets ``-m <base>,slots=1,maxmem=<base + region>`` (device memory above
the boot RAM), ``-object memory-backend-ram,id=vmem0,size=<region>`` and
``-device virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=<plug>``. The
guest's ``virtio_mem`` driver plugs ``requested-size`` at probe (the kernel
command line's ``memhp_default_state=online_movable`` onlines the added
memory blocks into ZONE_MOVABLE, so their memory can be unplugged again);
``qom-set vm0 requested-size`` then asks for less, and QEMU's ``size``
property says what is plugged (the device's ``plugged_size``).
"""

from __future__ import annotations

import time
from typing import Dict, List

from .errors import LabUnavailable

__all__ = ["DEVICE", "qemu_args", "state", "wait_size"]

DEVICE = "vm0"
MIB = 1 << 20


def qemu_args(region_mib: int, plug_mib: int) -> List[str]:
    """The ``-object``/``-device`` arguments (``-m``'s maxmem is the caller's)."""
    return ["-object", f"memory-backend-ram,id=vmem0,size={region_mib}M",
            "-device", f"virtio-mem-pci,id={DEVICE},memdev=vmem0,requested-size={plug_mib}M"]


def state(qmp) -> Dict[str, int]:
    """QEMU's ``size``, ``requested-size``, ``block-size`` and ``memaddr`` of the device (bytes)."""
    return {prop: int(qmp.cmd("qom-get", path=DEVICE, property=prop))
            for prop in ("size", "requested-size", "block-size", "memaddr")}


def wait_size(qmp, target: int, timeout: float = 300.0) -> Dict:
    """Poll ``size`` until it equals ``target``; the polls and seconds taken.

    virtio-mem unplugs only memory the guest can free (alloc_contig_range on
    the blocks), so an unplug may lag or stop short: :class:`LabUnavailable`
    after ``timeout`` with the size reached.
    """
    t = time.monotonic()
    polls = 0
    while True:
        size = int(qmp.cmd("qom-get", path=DEVICE, property="size"))
        if size == target:
            return {"polls": polls, "seconds": round(time.monotonic() - t, 2)}
        if time.monotonic() - t > timeout:
            raise LabUnavailable(f"virtio-mem size stayed {size} bytes, not {target}, for {timeout:.0f}s")
        polls += 1
        time.sleep(0.1)
