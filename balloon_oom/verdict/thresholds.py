# SPDX-License-Identifier: GPL-2.0-or-later
"""Every number the verdict compares against, in one place, with the measurement behind it."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Thresholds:
    """The verdict's thresholds (bytes unless named otherwise).

    ``fraction`` (``--threshold``): materiality's share arm, a balloon of at
    least this share of the guest's memory (``pages RAM``, which includes the
    balloon) is material.  10 % is a convention, not a measurement: below it
    giving the balloon back changes the guest's memory by less than the
    day-to-day variation of a workload.

    ``victim_rss`` (``--no-victim-rule`` sets it False): materiality's kill
    arm, a balloon holding at least what the kill freed (anon-rss +
    shmem-rss + page tables + swap entries of the victim; not file-rss, the
    page cache the kill does not free) is material, since deflating it would
    have freed as much as the kill did.

    ``gap_noise_bytes``: an unaccounted gap up to this size says nothing: a
    real 512 MiB Debian 6.1 guest with an empty balloon had a gap of 2283-2284
    pages (8.9 MiB: vmalloc, percpu, driver pages); 16 MiB leaves room.

    ``agree_bytes``: two sources' bounds this close agree: the real 6.1
    guest's ``pages RAM - pages reserved`` at the OOM (51568 pages = 206272
    kB) equalled MemTotal after it (206272 kB) to the page, and its reserved
    delta equalled QMP's balloon (65536 pages); 4 MiB absorbs per-cpu and
    rounding differences.

    ``watermark_margin_bytes`` / ``watermark_margin_fraction``: a zone is
    "above its watermarks" (but-for fails) only when its free memory exceeds
    the high watermark plus the allocation by this much (the larger of the
    two): in the real OOM reports read, the top eligible zone's free memory
    was within 2.1 MiB of ``min`` (6.1: DMA32 free 2572 kB, min 4664 kB;
    RHEL 6 VMware: DMA32 free 4644 kB, min 4000 kB) - a snapshot taken after
    the allocator gave up moves by a few MiB.

    ``clear_factor``: a decision is high-confidence only when the deciding
    bound clears its bar by this factor (and no source contradicts another).

    ``reserved_signature_fraction``: ``pages reserved`` above this share of
    ``pages RAM`` is shown as the signature of a MemTotal-reducing balloon
    when the driver is unknown: measured 1.7 % (128 GiB OpenStack guest),
    10.6 % (512 MiB 6.1 guest), 21 % (1 GiB EC2 Xen guest with a 128 MiB+
    crashkernel), 29 % (4 GiB guest holding a 1 GiB virtio balloon).
    """

    fraction: float = 0.10
    victim_rss: bool = True
    gap_noise_bytes: int = 16 * MIB
    agree_bytes: int = 4 * MIB
    watermark_margin_bytes: int = 64 * MIB
    watermark_margin_fraction: float = 0.10
    clear_factor: float = 2.0
    reserved_signature_fraction: float = 0.25
