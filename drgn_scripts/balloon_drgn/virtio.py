# SPDX-License-Identifier: GPL-2.0-or-later
"""
virtio balloon
--------------

The ``balloon_drgn.virtio`` module reads ``struct virtio_balloon`` for every
device bound to the ``virtio_balloon`` driver.  The driver keeps no global
pointer to its devices, so they are found through the driver model: the
``virtio`` bus in ``bus_kset``, its ``klist_devices``, and each device's
``driver``; ``vdev->priv`` is the ``struct virtio_balloon *``.

The ``struct virtio_balloon`` and ``struct virtio_device`` types come from
the debugging information of ``virtio_balloon.ko`` (or a kernel with the
driver built in); without it these helpers raise :class:`LookupError`.
"""

from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

from drgn import Object, PlatformFlags, Program, TypeKind, cast, container_of
from drgn.helpers.linux.device import bus_for_each_dev, dev_name
from drgn.helpers.linux.list import list_for_each_entry

from balloon_drgn.features import (
    VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
    VIRTIO_F_VERSION_1,
    decode_features,
)

__all__ = (
    "VIRTIO_BALLOON_STAT_NAMES",
    "VirtioBalloon",
    "for_each_bus_device",
    "for_each_virtio_balloon_device",
    "virtio_balloon_state",
    "virtio_balloons",
    "virtio_features",
)

#: ``VIRTIO_BALLOON_S_*`` tags (``include/uapi/linux/virtio_balloon.h``).
VIRTIO_BALLOON_STAT_NAMES = (
    "SWAP_IN",
    "SWAP_OUT",
    "MAJFLT",
    "MINFLT",
    "MEMFREE",
    "MEMTOT",
    "AVAIL",
    "CACHES",
    "HTLB_PGALLOC",
    "HTLB_PGFAIL",
    "OOM_KILL",
    "ALLOC_STALL",
    "ASYNC_SCAN",
    "DIRECT_SCAN",
    "ASYNC_RECLAIM",
    "DIRECT_RECLAIM",
)

VIRTIO_ID_BALLOON = 5


@dataclass
class VirtioBalloon:
    """One ``struct virtio_balloon`` and its ``struct virtio_device``."""

    #: ``dev_name(&vdev->dev)``, e.g. ``"virtio0"``.
    device: str
    #: Address of the ``struct virtio_device``.
    vdev_address: int
    #: Address of the ``struct virtio_balloon`` (``vdev->priv``).
    vb_address: int
    #: ``vb->num_pages``: pages in the balloon, in 4 KiB units whatever
    #: ``PAGE_SIZE`` is (``VIRTIO_BALLOON_PFN_SHIFT`` is 12).
    num_pages: int
    #: Negotiated feature bits (``vdev->features``).
    features: int
    #: The OOM mechanism the driver's struct carries: ``"oom-notifier"``
    #: (member ``nb`` up to 4.18, ``oom_nb`` from 5.7) or ``"shrinker"``
    #: (4.19 to 5.6).
    deflate_mechanism: str
    #: The struct member that revealed it: ``nb``, ``shrinker`` or ``oom_nb``.
    mechanism_member: str
    #: ``True`` if ``vb->shrinker`` is a pointer (6.7+), ``False`` if
    #: embedded, ``None`` if the struct has no shrinker.
    shrinker_is_pointer: Optional[bool]
    #: Last stats sample sent to the host, by tag name (``vb->stats[]``).
    stats: Dict[str, int] = field(default_factory=dict)
    #: ``vb->num_free_page_blocks`` (free page hinting, 4.20+), if present.
    num_free_page_blocks: Optional[int] = None

    @property
    def feature_names(self) -> List[str]:
        return decode_features(self.features)

    @property
    def deflate_on_oom(self) -> bool:
        """``VIRTIO_BALLOON_F_DEFLATE_ON_OOM`` negotiated."""
        return bool(self.features >> VIRTIO_BALLOON_F_DEFLATE_ON_OOM & 1)

    @property
    def inflated_bytes(self) -> int:
        return self.num_pages * 4096


def for_each_bus_device(prog: Program, bus_name: str) -> Iterator[Object]:
    """
    Iterate over the devices on the bus registered under *bus_name*.

    The bus is found by name in ``bus_kset`` so that no ``struct bus_type``
    symbol is needed (``virtio_bus`` is static in ``virtio.ko``), then its
    devices are drgn's :func:`~drgn.helpers.linux.device.bus_for_each_dev`.
    Both work before and after Linux kernel commit d2bf38c088e0 ("driver
    core: remove private pointer from struct bus_type") (in v6.3), because
    the ``struct subsys_private`` is on ``bus_kset->list`` in both.

    :param bus_name: e.g. ``"virtio"``.
    :return: Iterator of ``struct device *`` objects.
    """
    for sp in list_for_each_entry(
        "struct subsys_private",
        prog["bus_kset"].list.address_of_(),
        "subsys.kobj.entry",
    ):
        if sp.subsys.kobj.name.string_() == bus_name.encode():
            yield from bus_for_each_dev(sp.bus)
            return


def for_each_virtio_balloon_device(prog: Program) -> Iterator[Object]:
    """
    Iterate over the virtio devices bound to the ``virtio_balloon`` driver.

    :return: Iterator of ``struct virtio_device *`` objects.
    :raises LookupError: without the type ``struct virtio_device``.
    """
    vdev_type = prog.type("struct virtio_device")
    for dev in for_each_bus_device(prog, "virtio"):
        driver = dev.driver.read_()
        if not driver or driver.name.string_() != b"virtio_balloon":
            continue
        yield container_of(dev, vdev_type, "dev")


def virtio_features(vdev: Object) -> int:
    """
    Negotiated feature bits of a virtio device, as one integer.

    :param vdev: ``struct virtio_device *``
    """
    if vdev.type_.type.has_member("features_array"):
        # Since Linux kernel commit e7d4c1c5a546 ("virtio: introduce extended
        # features") (in v6.17), features is a union with u64 features_array[].
        value = 0
        for i, word in enumerate(vdev.features_array):
            value |= word.value_() << (64 * i)
        return value
    return vdev.features.value_()


def _virtio_to_cpu(vb: Object, value: int, size: int, version_1: bool) -> int:
    # __virtio16/__virtio64 are little-endian with VIRTIO_F_VERSION_1 and
    # guest-native otherwise; drgn read them guest-native.
    platform = vb.prog_.platform
    if version_1 and platform and not platform.flags & PlatformFlags.IS_LITTLE_ENDIAN:
        return int.from_bytes(value.to_bytes(size, "big"), "little")
    return value


def _stats(vb: Object, version_1: bool) -> Dict[str, int]:
    stats: Dict[str, int] = {}
    for entry in vb.stats:
        tag = _virtio_to_cpu(vb, entry.tag.value_(), 2, version_1)
        val = _virtio_to_cpu(vb, entry.val.value_(), 8, version_1)
        name = (
            VIRTIO_BALLOON_STAT_NAMES[tag]
            if tag < len(VIRTIO_BALLOON_STAT_NAMES)
            else f"tag {tag}"
        )
        # update_balloon_stats() fills the array from index 0; unused
        # trailing slots are zero and would repeat tag 0.
        if name in stats:
            break
        stats[name] = val
    return stats


def virtio_balloon_state(vdev: Object) -> VirtioBalloon:
    """
    Read the balloon behind one virtio device.

    :param vdev: ``struct virtio_device *`` bound to ``virtio_balloon``
    """
    vb = cast("struct virtio_balloon *", vdev.priv)
    vb_type = vb.type_.type
    if vb_type.has_member("oom_nb"):
        # Since Linux kernel commit "virtio-balloon: Switch back to OOM handler for
        # VIRTIO_BALLOON_F_DEFLATE_ON_OOM" (in v5.7).
        mechanism, member = "oom-notifier", "oom_nb"
    elif vb_type.has_member("shrinker"):
        # Since Linux kernel commit 71994620bb25 ("virtio_balloon: replace oom
        # notifier with shrinker") (in v4.19).
        mechanism, member = "shrinker", "shrinker"
    else:
        # Linux kernel commit 5a10b7dbf904 ("virtio_balloon: free some memory from
        # balloon on OOM") to v4.18.
        mechanism, member = "oom-notifier", "nb"
    if vb_type.has_member("shrinker"):
        # The shrinker became a pointer with the Linux kernel commit "virtio_balloon:
        # dynamically allocate the virtio-balloon shrinker" (in v6.7).
        shrinker_is_pointer: Optional[bool] = (
            vb.shrinker.type_.unqualified().kind == TypeKind.POINTER
        )
    else:
        shrinker_is_pointer = None
    features = virtio_features(vdev)
    version_1 = bool(features >> VIRTIO_F_VERSION_1 & 1)
    return VirtioBalloon(
        device=dev_name(vdev.dev.address_of_()).decode(errors="replace"),
        vdev_address=vdev.value_(),
        vb_address=vb.value_(),
        num_pages=vb.num_pages.value_(),
        features=features,
        deflate_mechanism=mechanism,
        mechanism_member=member,
        shrinker_is_pointer=shrinker_is_pointer,
        stats=_stats(vb, version_1) if vb_type.has_member("stats") else {},
        num_free_page_blocks=(
            vb.num_free_page_blocks.value_()
            if vb_type.has_member("num_free_page_blocks")
            else None
        ),
    )


def virtio_balloons(prog: Program) -> List[VirtioBalloon]:
    """
    Every virtio balloon in the kernel (usually zero or one).

    >>> virtio_balloons(prog)[0].num_pages  # doctest: +SKIP
    65536
    """
    return [virtio_balloon_state(vdev) for vdev in for_each_virtio_balloon_device(prog)]
