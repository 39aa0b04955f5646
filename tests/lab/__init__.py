# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon-oom's real-guest lab: a ballooned Debian guest under QEMU/TCG.

Four real kernel generations (:data:`KERNELS`): Debian 11's 5.10, Debian 12's
6.1 (the default), Debian 13's 6.12 and trixie-backports' 7.x;
``ensure_run(scenario, kernel="7")`` picks one.

It produces real captures for other tests: sosreport-shaped trees of the
guest's /proc and /sys before and after inflating the virtio balloon and
after an OOM kill, ELF (and kdump-zlib) vmcores, the serial console, and the
host's ground truth from QMP. Everything lives outside the repository in
``${BALLOON_OOM_CACHE:-~/.cache/balloon-oom}``; see ``tests/lab/README.md``.

>>> from tests.lab import ensure_run                          # doctest: +SKIP
>>> run = ensure_run("deflate-off")                           # doctest: +SKIP
>>> (run.tree("after-inflate") / "proc" / "meminfo").read_text()[:27]  # doctest: +SKIP
'MemTotal:         206272 kB'
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from .errors import LabUnavailable
from .kernel import DEFAULT_KERNEL, KERNELS, KernelCache, cache_root, kernel_cache, lab_lock, log
from .scenarios import LAB_VERSION, PHASES, SCENARIOS, Scenario, run_scenario

__all__ = [
    "DEFAULT_KERNEL",
    "KERNELS",
    "LAB_VERSION",
    "LabUnavailable",
    "KernelCache",
    "PHASES",
    "Run",
    "SCENARIOS",
    "Scenario",
    "cache_root",
    "ensure_run",
    "kernel_cache",
    "run_dir",
]


@dataclass
class Run:
    """A completed scenario run (see :mod:`tests.lab.scenarios` for the layout)."""

    dir: Path
    kernel: KernelCache

    @property
    def scenario(self) -> Scenario:
        return SCENARIOS[self.dir.name]

    @property
    def groundtruth(self) -> Dict:
        return json.loads((self.dir / "groundtruth.json").read_text())

    @property
    def serial_log(self) -> Path:
        return self.dir / "serial.log"

    @property
    def vmlinux(self) -> Path:
        return self.kernel.vmlinux

    @property
    def debuginfo_dir(self) -> Path:
        return self.kernel.debuginfo_dir

    def tree(self, phase: str) -> Path:
        """The sosreport-shaped tree of ``phase`` (before, after-inflate, after-oom)."""
        path = self.dir / f"sos-{phase}"
        if phase not in PHASES or not path.is_dir():
            raise KeyError(f"scenario {self.dir.name} has no phase {phase!r}")
        return path

    def vmcore(self, tag: str, fmt: str = "elf") -> Path:
        """The vmcore ``tag`` (inflated, after-oom) in ``fmt`` (elf, kdump-zlib)."""
        path = self.dir / f"{tag}.{fmt}"
        if not path.is_file():
            raise KeyError(f"scenario {self.dir.name} has no {fmt} vmcore {tag!r}")
        return path


def run_dir(scenario: str, kc: Optional[KernelCache] = None) -> Path:
    """Where ``scenario``'s run lives (whether or not it exists yet)."""
    kc = kc or kernel_cache()
    return cache_root() / "runs" / kc.release / scenario


def ensure_run(scenario: str, force: bool = False, kernel: Optional[str] = None) -> Run:
    """The completed run of ``scenario`` on ``kernel``, running it first if needed (or ``force``).

    ``kernel``: a :data:`KERNELS` name: ``"5.10"``, ``"6.1"`` (the default), ``"6.12"``, ``"7"``.
    Raises :class:`LabUnavailable` when QEMU, apt or the guest fail.
    """
    if scenario not in SCENARIOS:
        raise KeyError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    kc = kernel_cache(kernel=kernel)
    final = run_dir(scenario, kc)
    done = final / "done"
    if not force and done.exists() and done.read_text().strip() == LAB_VERSION:
        return Run(final, kc)
    with lab_lock(f"run-{kc.release}-{scenario}"):
        if not force and done.exists() and done.read_text().strip() == LAB_VERSION:
            return Run(final, kc)  # another process just made it
        partial = final.with_name(final.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            run_scenario(kc, SCENARIOS[scenario], partial)
        except LabUnavailable:
            raise
        except Exception as e:
            raise LabUnavailable(f"scenario {scenario} failed: {type(e).__name__}: {e} "
                                 f"(partial run left in {partial})") from e
        (partial / "done").write_text(LAB_VERSION + "\n")
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        log(f"{scenario}: run in {final}")
        return Run(final, kc)
