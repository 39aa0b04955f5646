# SPDX-License-Identifier: GPL-2.0-or-later
"""Every number the verdict and the accounting decision compare against, in one place, each
with the measurement or the reason behind it."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Thresholds:
    """The thresholds (bytes unless named otherwise); ``--threshold`` and
    ``--no-victim-rule`` set the first two."""

    #: Materiality's share arm: a balloon of at least this share of the
    #: guest's memory (``pages RAM``, which includes the balloon) is material.
    #: A convention, not a measurement: below 10 % giving the balloon back
    #: changes the guest's memory by less than a workload's day-to-day variation.
    fraction: float = 0.10
    #: Materiality's kill arm: a balloon holding at least what the kill freed
    #: (the victim's anon-rss + shmem-rss + page tables + swap entries; not
    #: file-rss, page cache the kill does not free) is material, since
    #: deflating it would have freed as much as the kill did.
    victim_rss: bool = True
    #: An unaccounted gap (or a reserved delta, or MemTotal growth) up to this
    #: size says nothing: a real 512 MiB Debian 6.1 guest with an empty balloon
    #: had a gap of 2283-2284 pages (8.9 MiB: vmalloc, percpu, driver pages);
    #: 16 MiB leaves room.  Also the size up to which a not-material verdict is
    #: high-confidence whatever the bar.
    gap_noise_bytes: int = 16 * MIB
    #: Two sources' bounds this close agree: the real 6.1 guest's ``pages RAM -
    #: pages reserved`` at the OOM (51568 pages = 206272 kB) equalled MemTotal
    #: after it (206272 kB) to the page, and its reserved delta equalled QMP's
    #: balloon (65536 pages); 4 MiB absorbs per-cpu and rounding differences.
    agree_bytes: int = 4 * MIB
    #: A zone is "above its watermarks" (but-for fails) only when its free
    #: memory exceeds the high watermark plus the allocation by the larger of
    #: these two: in the real OOM reports read, the top eligible zone's free
    #: memory was within 2.1 MiB of ``min`` (6.1: DMA32 free 2572 kB, min 4664
    #: kB; RHEL 6 VMware: DMA32 free 4644 kB, min 4000 kB): a snapshot taken
    #: after the allocator gave up moves by a few MiB; 64 MiB and 10 % are wide
    #: of that on small and large guests.
    watermark_margin_bytes: int = 64 * MIB
    watermark_margin_fraction: float = 0.10
    #: With free memory within that noise of the watermark (no shortfall to
    #: cover), an empty balloon "covers" it when it held at least the smaller
    #: of the margin and this: the same 64 MiB, so a larger margin never asks
    #: the balloon for more than the snapshot noise it stands for.
    near_watermark_need_bytes: int = 64 * MIB
    #: A decision is high-confidence only when the deciding bound clears its
    #: bar by this factor (and no source contradicts another): half or double
    #: the bar keeps an estimate off by a factor of two (a 2 MiB-page VMware
    #: balloon counted in 4 KiB pages, one of two NUMA nodes) on its side.
    clear_factor: float = 2.0
    #: ``pages reserved`` above this share of ``pages RAM`` is shown as the
    #: signature of a MemTotal-reducing balloon when the driver is unknown:
    #: measured 1.7 % (128 GiB OpenStack guest), 10.6 % (512 MiB 6.1 guest),
    #: 21 % (1 GiB EC2 Xen guest with a 128 MiB+ crashkernel), 29 % (4 GiB
    #: guest holding a 1 GiB virtio balloon).
    reserved_signature_fraction: float = 0.25
    #: The accounting decision at collection (drivers/common.py ``gap_tolerance_kb``):
    #: MemTotal this close to the unballooned figure (boot ``Memory:`` total -
    #: reserved + freed later) counts as equal to it, so MemTotal still holds
    #: the balloon (counted as used), or it is short by exactly the balloon
    #: (MemTotal-reduced).  The real 6.1 guest's unballooned figure (523768 -
    #: (64776 - 9424) = 468416 kB) equalled its MemTotal before inflating to
    #: the kB; 4 MiB absorbs init memory freed after the count.
    memtotal_gap_noise_bytes: int = 4 * MIB
    #: ... or within this share of the balloon, when larger (drivers/common.py
    #: ``gap_tolerance_kb``).  A reason, not a measurement (none recorded): a
    #: balloon that moves while the report is collected (meminfo and the driver
    #: file are read at different moments) moves the gap with it, in
    #: proportion to its size; 5 % keeps "reduced" and "used" apart (a gap
    #: near 0 vs near the balloon) for any balloon.
    memtotal_gap_fraction: float = 0.05
