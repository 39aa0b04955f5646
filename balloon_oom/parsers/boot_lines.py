# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot lines and the facts a report's own lines give, for the scanner.

:class:`BootLines` is the part of
:class:`~balloon_oom.parsers.kernel_log.KernelLogScanner` that reads the
boot banner, ``Memory:``, ``Freeing … memory``, ``Hypervisor detected``,
balloon driver signatures, and the release and hardware an OOM report
prints (the kinds and their patterns are declared in
:mod:`balloon_oom.parsers.logkinds`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

from balloon_oom.model import BootMemory, Evidence, Signature
from balloon_oom.parsers.dmi import hardware_name, hypervisor_from_dmi
from balloon_oom.parsers.logkinds import (
    _DRIVER_HYPERVISOR,
    _SIGNATURE_HINTS,
    _SIGNATURES,
    FREEING,
    HYPERVISOR,
    LINUX_VERSION,
    parse_boot_memory,
)
from balloon_oom.parsers.oom import parse_release

if TYPE_CHECKING:
    from balloon_oom.parsers.kernel_log import LogScan

__all__ = ["EVIDENCE_CHARS", "MAX_SIGNATURES_PER_KIND", "BootLines"]

#: Signatures kept per kind (the rest are only counted).
MAX_SIGNATURES_PER_KIND = 100
#: Characters of a line kept as evidence text.
EVIDENCE_CHARS = 1024


class BootLines:
    """Boot facts, signatures and report facts of one log (a mixin: the
    scanner owns ``scan`` and the state set up by :meth:`_init_boot_lines`)."""

    scan: "LogScan"

    def _init_boot_lines(self) -> None:
        self._boot_memory: Optional[BootMemory] = None
        self._release: Optional[Tuple[str, Evidence]] = None
        self._hardware: Optional[Tuple[str, Evidence]] = None

    def _evidence(self, lineno: int, raw: str) -> Evidence:
        return Evidence(self.scan.source, line=lineno, text=raw[:EVIDENCE_CHARS])

    def _report_facts(self, text: str, lineno: int, raw: str) -> None:
        """Kernel release and hardware from a report's own lines (the
        ``CPU: … Comm: … <release> #1`` and ``Hardware name:`` lines), kept
        for when the log has no ``Linux version`` / ``Hypervisor detected``."""
        if self._release is None and "ainted" in text:
            rel = parse_release(text)
            if rel is not None:
                self._release = (rel, self._evidence(lineno, raw))
        if self._hardware is None and text.startswith(("Hardware name: ", "DMI: ")):
            dmi = hardware_name(text)
            hv = hypervisor_from_dmi(dmi) if dmi else None
            if hv is not None:
                self._hardware = (hv, self._evidence(lineno, raw))

    def _boot_fact(self, text: str, lineno: int, raw: str, monotonic,
                   journal_boot: bool = False) -> None:
        scan = self.scan
        if text.startswith("Linux version "):
            m = LINUX_VERSION.match(text)
            if m:
                if not journal_boot:  # a journal record's boot counts by _BOOT_ID
                    scan.boots += 1
                scan.kernel_release = (m.group(1), self._evidence(lineno, raw))
                self._boot_memory = None
            return
        if text.startswith("Memory: "):
            mem = parse_boot_memory(text)
            if mem is not None:
                bm = BootMemory(available_kb=mem[0], total_kb=mem[1], reserved_kb=mem[2],
                                evidence=self._evidence(lineno, raw),
                                boot=scan.boots - 1 if scan.boots else None,
                                source=scan.source)
                scan.boot_memory.append(bm)
                self._boot_memory = bm
            return
        if text.startswith(("Freeing ", "efi: Freeing ")) and self._boot_memory is not None:
            m = FREEING.match(text)
            if m:
                self._boot_memory.freed_later_kb += int(m.group(1))
                self._boot_memory.freed_evidence.append(self._evidence(lineno, raw))
            return
        if text.startswith("Hypervisor detected: "):
            m = HYPERVISOR.match(text)
            if m:
                scan.hypervisor = (m.group(1), self._evidence(lineno, raw))
            return
        if any(h in text for h in _SIGNATURE_HINTS):
            for kind, rx in _SIGNATURES:
                if rx.search(text):
                    n = scan.signature_counts.get(kind, 0) + 1
                    scan.signature_counts[kind] = n
                    if n <= MAX_SIGNATURES_PER_KIND:
                        scan.signatures.append(Signature(
                            kind=kind, message=text[:EVIDENCE_CHARS],
                            evidence=self._evidence(lineno, raw), timestamp=monotonic,
                            boot=scan.boots - 1 if scan.boots else None))
                    return

    def _fallback_facts(self) -> None:
        """At the end: a report's release and hardware when the boot lines
        gave none, else the hypervisor a driver's signature names."""
        scan = self.scan
        if scan.kernel_release is None and self._release is not None:
            scan.kernel_release = self._release
        if scan.hypervisor is None and self._hardware is not None:
            scan.hypervisor = self._hardware
        if scan.hypervisor is None:
            # A driver that only binds on one hypervisor's device (VMBus, the
            # VMware backdoor, xenbus) names it; virtio names none.
            for sig in scan.signatures:
                name = _DRIVER_HYPERVISOR.get(sig.kind.split(".")[0])
                if name is not None:
                    scan.hypervisor = (name, sig.evidence)
                    break
