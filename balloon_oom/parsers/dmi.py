# SPDX-License-Identifier: GPL-2.0-or-later
"""The hypervisor a DMI vendor/product string names.

The same strings reach us as ``sys/class/dmi/id/*``, dmidecode output, the
boot ``DMI: …`` line and the ``Hardware name: …`` line of every kernel
report (dump_stack_print_info()).

>>> hypervisor_from_dmi("QEMU Standard PC (i440FX + PIIX, 1996), BIOS rel-1.12.0-59-gc9ba5276e321-prebuilt.qemu4")
'KVM/QEMU'
>>> hypervisor_from_dmi("Xen HVM domU, BIOS 4.2.amazon 08/24/2006")
'Xen HVM (Amazon EC2)'
>>> hypervisor_from_dmi("Dell Inc. PowerEdge R640/0W23H8, BIOS 2.10.2 02/24/2021") is None
True
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

__all__ = ["DMI_HYPERVISORS", "hardware_name", "hypervisor_from_dmi"]

#: Substring of a DMI vendor/product/BIOS string -> hypervisor (first match wins).
DMI_HYPERVISORS: Tuple[Tuple[str, str], ...] = (
    ("Microsoft Corporation", "Microsoft Hyper-V"),
    ("VMware", "VMware"),
    ("Amazon EC2", "KVM (Amazon EC2)"),
    ("Google Compute Engine", "KVM (Google Compute Engine)"),
    ("OpenStack", "KVM (OpenStack)"),
    ("QEMU", "KVM/QEMU"),
    ("Xen HVM domU, BIOS 4.2.amazon", "Xen HVM (Amazon EC2)"),
    ("Xen", "Xen"),
    ("Google", "KVM (Google Compute Engine)"),
    ("innotek GmbH", "VirtualBox"),
    ("VirtualBox", "VirtualBox"),
    ("Parallels", "Parallels"),
    ("Red Hat", "KVM (Red Hat)"),
    ("Nutanix", "KVM (Nutanix AHV)"),
    ("Alibaba Cloud", "KVM (Alibaba Cloud)"),
    ("DigitalOcean", "KVM (DigitalOcean)"),
    ("Hetzner", "KVM (Hetzner)"),
    ("Bochs", "KVM/QEMU (Bochs BIOS)"),
)

_HARDWARE = re.compile(r"^(?:Hardware name|DMI): (?P<dmi>\S.*?)\s*$")


def hypervisor_from_dmi(text: str) -> Optional[str]:
    """The hypervisor ``text`` names, or None (bare metal, unknown).

    An EC2 ``*.metal`` instance is bare metal, whoever sells it.

    >>> hypervisor_from_dmi("Amazon EC2 i3.metal/Not Specified, BIOS 1.0 10/16/2017") is None
    True
    """
    low = text.lower()
    if re.search(r"amazon ec2 \S+\.metal", low):
        return None
    for needle, name in DMI_HYPERVISORS:
        if needle.lower() in low:
            return name
    return None


def hardware_name(text: str) -> Optional[str]:
    """The DMI string of a ``Hardware name: …`` or boot ``DMI: …`` message.

    >>> hardware_name("Hardware name: Microsoft Corporation Virtual Machine/Virtual Machine, BIOS Hyper-V UEFI Release v4.1 05/13/2024")
    'Microsoft Corporation Virtual Machine/Virtual Machine, BIOS Hyper-V UEFI Release v4.1 05/13/2024'
    """
    m = _HARDWARE.match(text.strip())
    return m.group("dmi") if m else None
