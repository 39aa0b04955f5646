# SPDX-License-Identifier: GPL-2.0-or-later
"""The fake root tree (:class:`FakeRoot`), where the captures are, and the virtio slot."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Dict

from tests import shared as _shared

CAPTURES = os.environ.get("BALLOON_OOM_CAPTURES", str(_shared.CAPTURES))
KVM = os.path.join(CAPTURES, "kvm-6.1")
FIRECRACKER = os.path.join(CAPTURES, "firecracker-6.18")
SEED_DOC = str(_shared.DOCS / "seed-balloon-usage-information-visible-by-guest.txt")

VIRTIO_DRV = "sys/bus/virtio/drivers/virtio_balloon"
#: Used when the build host has no virtio balloon of its own: the slot the
#: Firecracker capture's balloon sits in.
DEFAULT_VIRTIO_DEVICE = "devices/pci0000:00/0000:00:01.0/virtio0"
HOST_VIRTIO_LINK = "/sys/bus/virtio/drivers/virtio_balloon/virtio0"


def virtio_device_path() -> str:
    """``sys``-relative path of the fake ``virtio0`` device directory.

    sos 4.0 under ``--sysroot`` resolves leading symlinks of archive paths
    against the *host's* ``/sys``: a fake link to another PCI
    slot than the host's own balloon makes sos raise FileExistsError.  So
    reuse the host's slot when it has a virtio balloon.
    """
    try:
        target = os.readlink(HOST_VIRTIO_LINK)
    except OSError:
        return DEFAULT_VIRTIO_DEVICE
    parts = [p for p in target.split("/") if p not in ("..", "")]
    return "/".join(parts)


@dataclass
class FakeRoot:
    """A built tree and where each of its files came from."""

    name: str
    path: str
    description: str = ""
    provenance: Dict[str, str] = field(default_factory=dict)

    def _dest(self, rel: str) -> str:
        dest = os.path.join(self.path, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        return dest

    def text(self, rel: str, content: str, how: str) -> None:
        with open(self._dest(rel), "w") as fobj:
            fobj.write(content)
        self.provenance[rel] = how

    def copy(self, rel: str, capture: str, how: str = "") -> None:
        shutil.copyfile(capture, self._dest(rel))
        self.provenance[rel] = how or f"real capture {os.path.relpath(capture, CAPTURES)}, unedited"

    def link(self, rel: str, target: str, how: str) -> None:
        dest = self._dest(rel)
        if os.path.lexists(dest):
            os.unlink(dest)
        os.symlink(target, dest)
        self.provenance[rel] = how

    def mkdir(self, rel: str, how: str) -> None:
        os.makedirs(os.path.join(self.path, rel), exist_ok=True)
        self.provenance[rel + "/"] = how


def read(path: str) -> str:
    with open(path) as fobj:
        return fobj.read()

