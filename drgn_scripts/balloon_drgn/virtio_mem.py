# SPDX-License-Identifier: GPL-2.0-or-later
"""
virtio-mem
----------

The ``balloon_drgn.virtio_mem`` module reads ``struct virtio_mem`` for every
device bound to the ``virtio_mem`` driver (Linux kernel commit 5f1f79bbc9e2
("virtio-mem: Paravirtualized memory hotplug") (in v5.8)).  As for the
balloon, the devices are found through the ``virtio`` bus and each
device's ``driver``; ``vdev->priv`` is the ``struct virtio_mem *``.

Members read, present since v5.8: ``plugged_size`` (what the guest has
plugged: the driver adds a request's size when the device acks it, in
``virtio_mem_send_plug_request()``, and subtracts it on an unplug ack),
``requested_size`` (the host's request, re-read on every config change),
``device_block_size``, ``addr``, ``region_size``, ``nid``.  Probed, not
assumed: ``in_sbm`` and ``sbm.sb_size`` / ``bbm.bb_size`` exist since Linux
kernel commit 4ba50cd3355d ("virtio-mem: Big Block Mode (BBM) memory
hotplug") (in v5.12); before it (5.10 measured) the struct has
``subblock_size`` at the top level (sub-block mode only).

The types come from the debugging information of ``virtio_mem.ko``;
without it these helpers raise :class:`LookupError`.
"""

from dataclasses import dataclass
from typing import List, Optional

from drgn import Object, Program, cast, container_of

from balloon_drgn.virtio import for_each_bus_device

__all__ = ("VirtioMem", "for_each_virtio_mem_device", "virtio_mem_state", "virtio_mems")


@dataclass
class VirtioMem:
    """One ``struct virtio_mem``."""

    #: ``dev_name(&vdev->dev)``, e.g. ``"virtio1"``.
    device: str
    vm_address: int
    plugged_size: int
    requested_size: int
    device_block_size: int
    addr: int
    region_size: int
    nid: int
    #: ``"sbm"`` or ``"bbm"`` (v5.12+), ``"sbm"`` before (the only mode).
    mode: str
    #: Sub-block size (SBM) or big-block size (BBM), bytes.
    unit_size: Optional[int]


def for_each_virtio_mem_device(prog: Program):
    """The ``struct virtio_device *`` bound to the ``virtio_mem`` driver.

    :raises LookupError: without the type ``struct virtio_device``.
    """
    vdev_type = prog.type("struct virtio_device")
    for dev in for_each_bus_device(prog, "virtio"):
        driver = dev.driver.read_()
        if driver and driver.name.string_() == b"virtio_mem":
            yield container_of(dev, vdev_type, "dev")


def virtio_mem_state(vdev: Object) -> VirtioMem:
    """Read the ``struct virtio_mem`` behind one virtio device."""
    vm = cast("struct virtio_mem *", vdev.priv)
    vm_type = vm.type_.type
    if vm_type.has_member("in_sbm"):
        mode = "sbm" if vm.in_sbm.value_() else "bbm"
        unit = vm.sbm.sb_size.value_() if mode == "sbm" else vm.bbm.bb_size.value_()
    else:   # v5.8 to v5.11: sub-block mode only, ``subblock_size``
        mode = "sbm"
        unit = vm.subblock_size.value_() if vm_type.has_member("subblock_size") else None
    return VirtioMem(
        device=vdev.dev.kobj.name.string_().decode(),
        vm_address=vm.value_(),
        plugged_size=vm.plugged_size.value_(),
        requested_size=vm.requested_size.value_(),
        device_block_size=vm.device_block_size.value_(),
        addr=vm.addr.value_(),
        region_size=vm.region_size.value_(),
        nid=vm.nid.value_(),
        mode=mode,
        unit_size=unit,
    )


def virtio_mems(prog: Program) -> List[VirtioMem]:
    """Every virtio-mem device's state (``LookupError`` without the module's types)."""
    prog.type("struct virtio_mem")
    return [virtio_mem_state(v) for v in for_each_virtio_mem_device(prog)]
