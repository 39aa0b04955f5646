# SPDX-License-Identifier: GPL-2.0-or-later
"""
Kernel log
----------

The ``balloon_drgn.kmsg`` module turns the kernel's printk buffer into
``dmesg`` lines and tells whether the kernel panicked, and whether it was an
OOM panic (``panic_on_oom``).
"""

import re
from dataclasses import dataclass
from typing import List, Optional

from drgn import Program
from drgn.helpers.linux.printk import get_dmesg

__all__ = ("PanicInfo", "kernel_log_lines", "panic_info")

# panic() texts from mm/oom_kill.c.
_OOM_PANIC = re.compile(
    r"Out of memory: .*panic_on_oom is enabled"
    r"|Out of memory and no killable processes"
    r"|System is deadlocked on memory"
)
_PANIC = re.compile(r"Kernel panic - not syncing: (.*)")


@dataclass
class PanicInfo:
    """Why the kernel stopped, as far as the log and sysctls tell."""

    #: The ``Kernel panic - not syncing: …`` text, or ``None``.
    message: Optional[str]
    #: ``sysctl_panic_on_oom`` (0, 1 or 2), ``None`` if unreadable.
    panic_on_oom: Optional[int]
    #: ``True`` if the panic was an OOM panic.
    taken_at_oom: bool


def kernel_log_lines(prog: Program) -> List[str]:
    """
    The kernel log as ``dmesg`` prints it: ``[%5lu.%06lu] message``.

    >>> kernel_log_lines(prog)[0]  # doctest: +SKIP
    '[    0.000000] Linux version 6.1.0-56-amd64 ...'
    """
    return get_dmesg(prog).decode(errors="replace").splitlines()


def panic_info(prog: Program, lines: Optional[List[str]] = None) -> PanicInfo:
    """
    The panic message, the ``panic_on_oom`` sysctl, and whether the dump was
    taken at an OOM panic.

    :param lines: :func:`kernel_log_lines()`, if already read.
    """
    if lines is None:
        lines = kernel_log_lines(prog)
    message = None
    for line in lines:
        match = _PANIC.search(line)
        if match:
            message = match.group(1).strip()
    try:
        panic_on_oom: Optional[int] = prog["sysctl_panic_on_oom"].value_()
    except (KeyError, LookupError):
        panic_on_oom = None
    return PanicInfo(
        message=message,
        panic_on_oom=panic_on_oom,
        taken_at_oom=bool(message and _OOM_PANIC.search(message)),
    )
