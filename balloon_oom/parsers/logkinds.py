# SPDX-License-Identifier: GPL-2.0-or-later
"""The kinds of kernel-log line the scanner acts on: one registry.

Each :class:`LineKind` declares how a line of its kind is recognised
(``matches``, on the message text without its prefix), the ``needle`` every
such line holds (a byte string the block prefilter of
:mod:`balloon_oom.readers.stream` looks for, so lines without one are only
counted), and what it ``feeds``.  :data:`ALWAYS_NEEDLES` and
:data:`BOOT_NEEDLES` are computed from :data:`KINDS`: a new kind is one entry
here (and its test in ``tests/test_logkinds.py``, which checks its needle
against real lines of that kind).  A kind with no needle says why
(``no_needle``): it reaches the scanner another way.

>>> [k.name for k in KINDS if k.boot]
['boot.memory', 'boot.freeing', 'boot.hypervisor']
>>> b"virtio_balloon" in ALWAYS_NEEDLES and b"Memory: " in BOOT_NEEDLES
True
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple, Optional, Tuple

from balloon_oom.drivers import DRIVER_HYPERVISOR as _DRIVER_HYPERVISOR
from balloon_oom.drivers import LOG_SIGNATURES as _LOG_SIGNATURES
from balloon_oom.drivers import SIGNATURES as _DRIVER_SIGNATURES
from balloon_oom.drivers import SIGNATURE_NEEDLES as _SIGNATURE_NEEDLES
from balloon_oom.parsers.dmi import hardware_name
from balloon_oom.parsers.oom import OOM_NEEDLES as _OOM_KIND_NEEDLES
from balloon_oom.parsers.oom.kinds import KINDS as _OOM_KINDS
from balloon_oom.parsers.oom import (
    is_invoked,
    parse_constraint,
    parse_kill,
    parse_panic,
    parse_reaper,
    parse_release,
    parse_selected,
)

__all__ = ["ALWAYS_NEEDLES", "BOOT_NEEDLES", "BOOT_WINDOW", "KINDS", "LineKind", "OOM_NEEDLES",
           "parse_boot_memory"]


class LineKind(NamedTuple):
    """One kind of kernel-log line the scanner acts on."""

    name: str
    #: Bytes every line of this kind holds (None: see ``no_needle``).
    needle: Optional[bytes]
    #: Truthy on the message text (prefix removed, stripped) of a line of this kind.
    matches: Callable[[str], object]
    #: What a line of this kind fills in (a :class:`~balloon_oom.model.LogScan` or
    #: :class:`~balloon_oom.model.OomEvent` field).
    feeds: str
    #: Only looked for near a boot banner (:data:`BOOT_NEEDLES`, :data:`BOOT_WINDOW`).
    boot: bool = False
    #: Why a kind has no needle: how its lines reach the scanner anyway.
    no_needle: str = ""


# -- boot lines ----------------------------------------------------------------------------------

LINUX_VERSION = re.compile(r"^Linux version (\S+) \(")
HYPERVISOR = re.compile(r"^Hypervisor detected: (.+?)\s*$")
MEMORY = re.compile(r"^Memory: (\d+)[kK]/(\d+)[kK] available\b(?P<rest>.*)$")
_RESERVED = re.compile(r"(\d+)[kK] reserved\b")
# ``Freeing … memory: NK`` (4.10+), ``…: NK (ffff… - ffff…)`` (3.11-4.9),
# ``…: Nk freed`` (<= 3.10), and on UEFI guests ``efi: Freeing EFI boot
# services memory: NK`` (efi_free_boot_services(), arch/x86/platform/efi/quirks.c).
FREEING = re.compile(
    r"^(?:efi: )?Freeing [^:]*memory: (\d+)[kK](?: freed| \(\s*[0-9a-fA-Fx]+\s*-\s*[0-9a-fA-Fx]+\s*\))?$")
#: Boot facts (``Memory:``, ``Freeing … memory``, ``Hypervisor detected``) only
#: come right after a boot banner: looked for in the first :data:`BOOT_WINDOW`
#: bytes of the log and after every ``Linux version`` line.
BOOT_WINDOW = 8 * 1024 * 1024


def parse_boot_memory(text: str) -> Optional[Tuple[int, int, Optional[int]]]:
    """``(available_kb, total_kb, reserved_kb)`` of the boot ``Memory:`` line.

    Old kernels print ``k`` and extra fields (``absent``, ``highmem``);
    ``reserved_kb`` is None when the line has no ``reserved`` field.

    >>> parse_boot_memory("Memory: 3218236K/25165432K available (18470K kernel code, 2544K rwdata, 10280K rodata, 3728K init, 1168K bss, 496444K reserved, 0K cma-reserved)")
    (3218236, 25165432, 496444)
    >>> parse_boot_memory("Memory: 3911568k/4718592k available (5417k kernel code, 664404k absent, 142620k reserved, 4318k data, 1300k init)")
    (3911568, 4718592, 142620)
    """
    m = MEMORY.match(text.strip())
    if not m:
        return None
    r = _RESERVED.search(m.group("rest"))
    return int(m.group(1)), int(m.group(2)), int(r.group(1)) if r else None


# -- driver signatures: declared by each driver (balloon_oom/drivers/, its DriverSpec.signatures).
# Every balloon driver prints through a prefix that holds its name:
# dev_info() gives "virtio_balloon virtioN: ", and vmw_balloon, hv_balloon
# (pr_fmt KBUILD_MODNAME, with the messages since Linux kernel commit
# b3bb97b8a49f ("Drivers: hv: balloon: Add logging for dynamic memory
# operations") (in v4.10)) and xen ("xen:balloon: ") set pr_fmt;
# virtio_mem lines start "virtio_mem virtioN:".
_SIGNATURES = _DRIVER_SIGNATURES
#: Substrings one of which every driver message holds (a cheap test before the patterns).
_SIGNATURE_HINTS = tuple(n.decode() for n in _SIGNATURE_NEEDLES)

# -- OOM report entry needles: the OOM parser's kinds that the scanner must see outside a report
# (``invoked oom-killer``, ``oom_reaper:``, kill lines, ``Out of memory`` panics,
# ``memory.oom.group``, the release on ``Tainted``/``Not tainted`` lines).
OOM_NEEDLES = _OOM_KIND_NEEDLES
# -- END OOM report entry needles -----------------------------------------------------------------


def _needle_of(kind: str) -> Optional[bytes]:
    """The needle the driver declares for its signature ``kind``."""
    return next(sig.needle for sig in _LOG_SIGNATURES if sig.kind == kind)


def _starts(prefix: str) -> Callable[[str], bool]:
    return lambda text: text.startswith(prefix)


_OOM = "OomEvent (a report, parsers.oom)"


def _oom_needle(name: str) -> Optional[bytes]:
    """The needle the OOM parser's registry (parsers/oom/kinds.py) gives its kind ``name``."""
    return next(k.needle for k in _OOM_KINDS if k.name == name)

#: Every kind, in the order the scanner tries the boot and signature kinds.
KINDS: Tuple[LineKind, ...] = (
    # OOM report entry lines: they open, end or annotate an event.
    LineKind("oom.invoked", _oom_needle("invoked"), is_invoked, _OOM + ": its head"),
    LineKind("oom.constraint", _oom_needle("constraint"), lambda t: t.startswith("oom-kill:") and parse_constraint(t),
             _OOM + ": constraint, cgroups"),
    LineKind("oom.kill", _oom_needle("kill"), parse_kill, _OOM + ": the victim"),
    LineKind("oom.reaper", _oom_needle("reaper"), lambda t: t.startswith("oom_reaper:") and parse_reaper(t),
             "OomVictim.reaped of a recent victim"),
    LineKind("oom.selected", _oom_needle("selected"), lambda t: " or sacrifice child" in t and parse_selected(t),
             _OOM + ": a report without its head (<= 5.0)"),
    LineKind("oom.panic", _oom_needle("panic"), parse_panic, _OOM + ": a panic_on_oom report"),
    LineKind("oom.group", _oom_needle("oom_group"), _starts("Tasks in "), "OomEvent.notes (memory.oom.group kills)"),
    LineKind("oom.body", None, lambda t: False, _OOM + ": Mem-Info, task list, trace",
             no_needle="every line of an open report is fed (KernelLogScanner.in_report)"),
    # Facts an OOM report (or a warning's trace) prints, kept for a log without boot lines.
    LineKind("report.release", _oom_needle("release"), parse_release,
             "LogScan.kernel_release when no Linux version line"),
    LineKind("report.hardware_name", b"Hardware name", _starts("Hardware name: "),
             "LogScan.hypervisor from the DMI product when no Hypervisor detected line"),
    LineKind("boot.dmi", b"DMI: ", lambda t: t.startswith("DMI: ") and hardware_name(t),
             "LogScan.hypervisor from the DMI product when no Hypervisor detected line"),
    # Boot lines.
    LineKind("boot.linux_version", b"Linux version", LINUX_VERSION.match,
             "LogScan.boots, LogScan.kernel_release; a new boot's BootMemory"),
    LineKind("boot.memory", b"Memory: ", MEMORY.match, "BootMemory (LogScan.boot_memory)",
             boot=True),
    LineKind("boot.freeing", b"Freeing ", FREEING.match, "BootMemory.freed_later_kb", boot=True),
    LineKind("boot.hypervisor", b"Hypervisor detected", HYPERVISOR.match, "LogScan.hypervisor",
             boot=True),
    # Containers of lines.
    LineKind("journal.export", b"__CURSOR=", _starts("__CURSOR="),
             "a journal export record (parsers.journal.ExportRecord), read whole"),
    LineKind("journal.json_bytes", None, lambda t: False, "a journal JSON record (parsers.journal)",
             no_needle="a MESSAGE that is not UTF-8 is a byte list: the prefilter's OPAQUE_MARKERS"),
    LineKind("damage.continuation", None, lambda t: False,
             "the message a hard wrap or a soft break cut (parsers.rejoin)",
             no_needle="a continuation holds no needle: it is fed because the line before it "
                       "holds one and waits for it (KernelLogScanner.in_report)"),
) + tuple(
    LineKind(f"signature.{kind}", _needle_of(kind), rx.search, "LogScan.signatures")
    for kind, rx in _SIGNATURES
)


def _unique(needles) -> Tuple[bytes, ...]:
    return tuple(dict.fromkeys(n for n in needles if n is not None))


#: Substrings at least one of which is in every line the scanner acts on
#: while no OOM report is open: the OOM entry needles and every kind's
#: needle but the boot kinds'.
ALWAYS_NEEDLES = _unique(OOM_NEEDLES + tuple(k.needle for k in KINDS if not k.boot))
#: The boot kinds' needles (looked for in the boot window only).
BOOT_NEEDLES = _unique(k.needle for k in KINDS if k.boot)
