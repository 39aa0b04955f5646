# SPDX-License-Identifier: GPL-2.0-or-later
"""Fake guest root file systems, built from the real captures, for running sos.

Each builder writes a small tree (``proc/…``, ``sys/…``, ``var/log/…``) that
``sos report --sysroot ROOT`` collects as if it were the guest.  Every file
records where it came from (:attr:`FakeRoot.provenance`): a real capture in
``/work/shared/real-captures`` (``$BALLOON_OOM_CAPTURES``), a capture edited
in a stated way, or — only where no capture exists — hand-made values written
exactly in the kernel's format strings (drivers/misc/vmw_balloon.c, drivers/hv/hv_balloon.c, drivers/xen/xen-balloon.c, the two cmm.c).

>>> import tempfile
>>> root = build("xen", tempfile.mkdtemp())
>>> open(root.path + "/sys/devices/system/xen_memory/xen_memory0/info/low_kb").read()
'524288\\n'

One module per kind of guest (:mod:`.virtio`, :mod:`.journal`, :mod:`.hyperv`,
:mod:`.vmware`, :mod:`.others`; the tree itself in :mod:`.fakeroot`); this module
is the registry of roots by name.  Used by the sos plugin's tests and
``samples/generate.py``.
"""

from __future__ import annotations

import os
import stat
from typing import Callable, Dict, List, Optional

from tests.sosroots.fakeroot import (  # noqa: F401  (the names importers use)
    CAPTURES, DEFAULT_VIRTIO_DEVICE, FIRECRACKER, HOST_VIRTIO_LINK, KVM, SEED_DOC, VIRTIO_DRV,
    FakeRoot, virtio_device_path)
from tests.sosroots.hyperv import hyperv_upstream, hyperv_virtuozzo
from tests.sosroots.journal import (  # noqa: F401
    CURRENT_BOOT_ID, CURRENT_BOOT_USEC, JOURNAL_REMOTE, KDUMP_DIR, KDUMP_TOOLS_DIR, MACHINE_ID,
    PREVIOUS_BOOT_ID, PREVIOUS_BOOT_USEC, journal_only, journal_remote, kdump,
    kernel_export_entries, write_journal)
from tests.sosroots.others import unreadable, xen
from tests.sosroots.virtio import firecracker, kvm, no_balloon
from tests.sosroots.vmware import (  # noqa: F401
    vmmemctl_new, vmmemctl_old, vmware_new, vmware_old, vmware_tools)


#: name -> (builder, description)
BUILDERS: Dict[str, Callable[[FakeRoot], FakeRoot]] = {
    "kvm-deflate-off-inflated": lambda r: kvm(r, "deflate-off", "after-inflate"),
    "kvm-deflate-off-after-oom": lambda r: kvm(r, "deflate-off", "after-oom"),
    "kvm-deflate-on-inflated": lambda r: kvm(r, "deflate-on", "after-inflate"),
    "kvm-deflate-on-after-oom": lambda r: kvm(r, "deflate-on", "after-oom"),
    "firecracker-6.18": firecracker,
    "hyperv": hyperv_upstream,
    "hyperv-virtuozzo": hyperv_virtuozzo,
    "vmware-new": vmware_new,
    "vmware-old": vmware_old,
    "vmware-tools": vmware_tools,
    "xen": xen,
    "no-balloon": no_balloon,
    "debugfs-unmounted": lambda r: vmware_new(r, debugfs=False),
    "unreadable": unreadable,
    "no-virtio-bus": lambda r: firecracker(r, virtio_bus=False),
    "kdump-previous-boot-oom": kdump,
    "journal-previous-boot-oom": journal_only,
    "volatile-journal-previous-boot-oom": lambda r: journal_only(r, "run/log/journal"),
}


def names() -> List[str]:
    return list(BUILDERS)


def build(name: str, parent: str) -> FakeRoot:
    """Build root ``name`` as ``parent/name`` (a fresh directory) and return it."""
    path = os.path.join(parent, name)
    if os.path.lexists(path):
        raise FileExistsError(path)
    os.makedirs(path)
    return BUILDERS[name](FakeRoot(name, path))


def is_mode_000(path: str) -> bool:
    return stat.S_IMODE(os.lstat(path).st_mode) == 0


def captures_available() -> Optional[str]:
    """``None`` when the real captures are there, else why not."""
    for need in (KVM, FIRECRACKER, SEED_DOC):
        if not os.path.exists(need):
            return f"{need} is missing (set BALLOON_OOM_CAPTURES)"
    return None


#: Roots whose journal is made by systemd-journal-remote.
JOURNAL_ROOTS = ("journal-previous-boot-oom", "volatile-journal-previous-boot-oom")


def unavailable(name: str) -> Optional[str]:
    """``None`` when root ``name`` can be built here, else why not."""
    if name in JOURNAL_ROOTS and journal_remote() is None:
        return "systemd-journal-remote is missing (apt-get install systemd-journal-remote)"
    return captures_available()
