# SPDX-License-Identifier: GPL-2.0-or-later
"""Kept for old imports: the balloon builders live in :mod:`balloon_oom.drivers`."""

from .drivers import find_balloons, memtotal_gap_kb
from .drivers.pseries_cmm import PSERIES_ACCOUNTING_BASIS

__all__ = ["PSERIES_ACCOUNTING_BASIS", "find_balloons", "memtotal_gap_kb"]
