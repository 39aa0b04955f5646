# SPDX-License-Identifier: GPL-2.0-or-later
"""The lab's one error: the real guest cannot be built or run here."""


class LabUnavailable(RuntimeError):
    """QEMU, apt, the kernel download or the guest boot failed; the message says which.

    Lab tests let it propagate (they fail, they do not skip): CI must run the lab.
    """
