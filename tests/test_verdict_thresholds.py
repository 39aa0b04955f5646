# SPDX-License-Identifier: GPL-2.0-or-later
"""Every threshold says what it rests on."""

import dataclasses
import inspect
import re

from balloon_oom.verdict import thresholds
from balloon_oom.verdict.thresholds import MIB, Thresholds


def test_every_threshold_has_its_comment():
    source = inspect.getsource(thresholds.Thresholds)
    for f in dataclasses.fields(Thresholds):
        # the field's own line, or the one after a comment that ends with "these two"
        block = re.search(rf"((?:    #:.*\n)+)(?:    \w+: .*\n)*?    {f.name}: ", source)
        assert block, f.name
        assert len(block.group(1)) > 60, f.name


def test_the_defaults_the_verdict_was_measured_with():
    th = Thresholds()
    assert (th.gap_noise_bytes, th.agree_bytes, th.watermark_margin_bytes) == \
        (16 * MIB, 4 * MIB, 64 * MIB)
    # the accounting decision's tolerance: max(4 MiB, 5 % of the balloon)
    assert (th.memtotal_gap_noise_bytes, th.memtotal_gap_fraction) == (4 * MIB, 0.05)
    assert th.near_watermark_need_bytes == th.watermark_margin_bytes
