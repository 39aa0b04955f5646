# SPDX-License-Identifier: GPL-2.0-or-later
"""
Balloon drgn helpers
--------------------

The ``balloon_drgn`` package reads memory-balloon state from a Linux kernel
(a vmcore or the running kernel) with drgn: one kernel concept per function,
each taking the :class:`drgn.Program` first and returning a structured value.

* :mod:`balloon_drgn.virtio`: ``struct virtio_balloon`` behind every device
  bound to the ``virtio_balloon`` driver.
* :mod:`balloon_drgn.hyperv`: ``struct hv_dynmem_device dm_device``.
* :mod:`balloon_drgn.vmware`: ``struct vmballoon balloon``.
* :mod:`balloon_drgn.xen`: ``struct balloon_stats balloon_stats``.
* :mod:`balloon_drgn.cmm`: s390 and pseries Collaborative Memory Management.
* :mod:`balloon_drgn.memory`: totalram, zones, balloon vm events.
* :mod:`balloon_drgn.kmsg`: the kernel log and the panic reason.
* :mod:`balloon_drgn.snapshot`: all of the above in one JSON-ready value.
* :mod:`balloon_drgn.features`: virtio feature-bit names (no drgn import).
"""
