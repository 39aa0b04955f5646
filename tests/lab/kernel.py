# SPDX-License-Identifier: GPL-2.0-or-later
"""The cached Debian guest kernels: image, modules and debug info.

Four generations (:data:`KERNELS`): ``"5.10"`` (Debian 11 bullseye and
bullseye-security), ``"6.1"`` (Debian 12 bookworm, the default, fetched with
the system's apt), ``"6.12"`` (Debian 13 trixie) and ``"7"`` (trixie-backports'
newest 7.N with a ``-dbg``), the others fetched with a private apt
configuration under ``<cache>/apt-<suite>/`` that leaves the system's apt
setup alone. Each is fetched once into
``${BALLOON_OOM_CACHE:-~/.cache/balloon-oom}/kernels/<release>/``::

    boot/vmlinuz-<release>, boot/config-<release>
    lib/modules/<release>/kernel/.../<module>.ko        (only the modules the lab loads)
    dbg/usr/lib/debug/boot/vmlinux-<release>             (debug vmlinux)
    dbg/usr/lib/debug/lib/modules/<release>/kernel/...   (debug .ko of loaded + balloon modules)
    package.json, complete
    extra-modules.json + virtio_mem's .ko and debug .ko   (:data:`EXTRA_MODULES`)

The packages and apt are :mod:`tests.lab.debs`, reading them is
:mod:`tests.lab.extract`; this module is the cache of fetched releases.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from .cache import cache_root, lab_lock, log
from .debs import DEFAULT_KERNEL, KERNELS, KernelSpec, newest_available_release, spec_of
from .errors import LabUnavailable
from .extract import BALLOON_MODULES, EXTRA_MODULES, GUEST_MODULES, _fetch, _modname, load_order, modinfo

__all__ = [
    "BALLOON_MODULES",
    "DEFAULT_KERNEL",
    "EXTRA_MODULES",
    "GUEST_MODULES",
    "KERNELS",
    "KernelCache",
    "KernelSpec",
    "cache_root",
    "cached_releases",
    "kernel_cache",
    "lab_lock",
    "load_order",
    "modinfo",
    "spec_of",
]


@dataclass
class KernelCache:
    """One cached kernel release (see module docstring for the layout)."""

    dir: Path

    @property
    def info(self) -> dict:
        return json.loads((self.dir / "package.json").read_text())

    @property
    def release(self) -> str:
        """e.g. ``"6.1.0-56-amd64"``, ``"6.12.117+deb13-amd64"``."""
        return self.info["release"]

    @property
    def name(self) -> str:
        """The :data:`KERNELS` name of this release (``"6.1"``, ``"6.12"``)."""
        return spec_of(self.release).name

    @property
    def version(self) -> str:
        """Debian package version, e.g. ``"6.1.192-2"``."""
        return self.info["version"]

    @property
    def vmlinuz(self) -> Path:
        return self.dir / "boot" / f"vmlinuz-{self.release}"

    @property
    def config(self) -> Path:
        return self.dir / "boot" / f"config-{self.release}"

    @property
    def vmlinux(self) -> Path:
        """The debug ``vmlinux`` (DWARF), for drgn and crash."""
        return self.dir / "dbg" / "usr" / "lib" / "debug" / "boot" / f"vmlinux-{self.release}"

    @property
    def debuginfo_dir(self) -> Path:
        """``.../usr/lib/debug/lib/modules/<release>``: debug ``.ko`` files below it."""
        return self.dir / "dbg" / "usr" / "lib" / "debug" / "lib" / "modules" / self.release

    @property
    def modules_dir(self) -> Path:
        return self.dir / "lib" / "modules" / self.release

    @property
    def guest_modules(self) -> List[str]:
        """Module names in insmod order (built-in ones are not in it)."""
        return list(self.info["load_order"])

    @property
    def builtin_modules(self) -> List[str]:
        """Wanted modules the kernel has built in (e.g. ``virtio_pci`` on 6.12)."""
        return list(self.info.get("builtin", []))

    def module(self, name: str) -> Path:
        """Path of the (stripped, loadable) ``.ko`` of module ``name``."""
        return self.modules_dir / self.info["modules"][name]

    def module_debug(self, name: str) -> Path:
        """Path of the debug ``.ko`` of ``name`` (e.g. ``"hv_balloon"``).

        Raises ``FileNotFoundError`` if the -dbg package has no such module
        (Xen's balloon is built in: its types are in :attr:`vmlinux`).
        """
        name = name[:-3] if name.endswith(".ko") else name
        for path in self.debuginfo_dir.rglob("*.ko"):
            if _modname(str(path)) == name.replace("-", "_"):
                return path
        raise FileNotFoundError(f"no debug module {name!r} under {self.debuginfo_dir}")



def cached_releases(spec: Optional[KernelSpec] = None) -> List[str]:
    """Complete cached releases (of ``spec`` only, if given), oldest first."""
    kernels = cache_root() / "kernels"
    if not kernels.is_dir():
        return []
    done = [p.name for p in kernels.iterdir() if (p / "complete").exists()
            and (spec is None or spec.matches(p.name))]
    return sorted(done, key=lambda r: [int(x) if x.isdigit() else x for x in re.split(r"[.+-]", r)])


def kernel_cache(release: Optional[str] = None, kernel: Optional[str] = None) -> KernelCache:
    """The cached kernel ``release`` of generation ``kernel``, fetching it first if needed.

    ``kernel``: a :data:`KERNELS` name (``"5.10"``, ``"6.1"`` (the default), ``"6.12"``, ``"7"``);
    implied by ``release`` when that is given. Without ``release``: the newest
    release of that generation already in the cache (no network), else the
    newest one apt offers. ``$BALLOON_OOM_KERNEL=<release>`` pins the release
    of its generation. Raises :class:`LabUnavailable` when it cannot be fetched.
    """
    if release is not None:
        spec = spec_of(release)
        if kernel is not None and kernel != spec.name:
            raise LabUnavailable(f"release {release} is not of kernel {kernel}")
    else:
        if kernel is not None and kernel not in KERNELS:
            raise LabUnavailable(f"unknown kernel {kernel!r}; known: {', '.join(KERNELS)}")
        spec = KERNELS[kernel or DEFAULT_KERNEL]
        env = os.environ.get("BALLOON_OOM_KERNEL")
        cached = cached_releases(spec)
        release = env if env and spec.matches(env) else (cached[-1] if cached else None)
    kernels = cache_root() / "kernels"
    if release is not None and (kernels / release / "complete").exists():
        return KernelCache(kernels / release)
    with lab_lock("fetch"):
        if release is None:
            release = newest_available_release(spec)
        final = kernels / release
        if (final / "complete").exists():
            return KernelCache(final)
        kernels.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{release}-", dir=kernels))
        try:
            _fetch(spec, release, tmp)
            if final.exists():
                shutil.rmtree(final)
            tmp.chmod(0o755)
            tmp.rename(final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        log(f"kernel {release} cached in {final}")
        return KernelCache(final)
