# SPDX-License-Identifier: GPL-2.0-or-later
"""
virtio balloon feature bits
---------------------------

The feature-bit names are shared with the sysfs ``features`` parser: the
table and the decoder live in :mod:`balloon_oom.parsers.virtio_features`
(which imports nothing, not even drgn), and this module only gives them the
names the drgn helpers use.

>>> decode_features(0x10120000006)
['STATS_VQ', 'DEFLATE_ON_OOM', 'RING_EVENT_IDX', 'VERSION_1', 'RING_RESET']
"""

from balloon_oom.parsers.virtio_features import (
    DEFLATE_ON_OOM as VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
    FEATURE_NAMES,
    decode_bits as decode_features,
)

__all__ = (
    "FEATURE_NAMES",
    "VIRTIO_BALLOON_F_DEFLATE_ON_OOM",
    "VIRTIO_F_VERSION_1",
    "decode_features",
)

#: ``VIRTIO_F_VERSION_1`` (``include/uapi/linux/virtio_config.h``).
VIRTIO_F_VERSION_1 = 32
