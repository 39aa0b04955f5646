# SPDX-License-Identifier: GPL-2.0-or-later
"""The cached Debian guest kernel: image, modules and debug info.

Fetched once with apt into ``${BALLOON_OOM_CACHE:-~/.cache/balloon-oom}/kernels/<release>/``::

    boot/vmlinuz-<release>, boot/config-<release>
    lib/modules/<release>/kernel/.../<module>.ko        (only the modules the lab loads)
    dbg/usr/lib/debug/boot/vmlinux-<release>             (debug vmlinux)
    dbg/usr/lib/debug/lib/modules/<release>/kernel/...   (debug .ko of loaded + balloon modules)
    package.json, complete

The Debian image package ships no ``modules.dep`` (``depmod`` runs at install
time), so dependencies come from each module's ``.modinfo`` ``depends=`` field,
which is what ``depmod`` itself reads for them.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from .errors import LabUnavailable

__all__ = [
    "BALLOON_MODULES",
    "GUEST_MODULES",
    "KernelCache",
    "cache_root",
    "kernel_cache",
    "lab_lock",
    "load_order",
    "modinfo",
]

# What /init loads: virtio-pci transport, the balloon driver, and qemu_fw_cfg
# (exposes /sys/firmware/qemu_fw_cfg and the vmcoreinfo fw_cfg entry, which
# QEMU's -device vmcoreinfo needs to write the VMCOREINFO note into dumps).
GUEST_MODULES = ("qemu_fw_cfg", "virtio_pci", "virtio_balloon")
# Debug files of other balloon drivers, for DWARF-based unit tests elsewhere.
# Xen's balloon is built into vmlinux on Debian (CONFIG_XEN_BALLOON=y), so a
# module file for it exists only on kernels that build it as a module.
BALLOON_MODULES = ("virtio_balloon", "hv_balloon", "vmw_balloon", "xen_balloon", "xen-balloon")

_ABI_RE = re.compile(r"^linux-image-(6\.1\.0-(\d+)-amd64)-dbg\b")


def cache_root() -> Path:
    """``$BALLOON_OOM_CACHE`` or ``~/.cache/balloon-oom``."""
    env = os.environ.get("BALLOON_OOM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "balloon-oom"


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


@contextmanager
def lab_lock(name: str = "lab") -> Iterator[None]:
    """Exclusive ``flock`` on ``<cache>/<name>.lock`` (blocks until free)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def modinfo(ko: bytes) -> Dict[str, str]:
    """The ``key=value`` strings of an ELF64 module's ``.modinfo`` section.

    Later duplicates (``alias=``) keep the first value; ``depends`` may be empty.
    """
    if ko[:4] != b"\x7fELF" or ko[4] != 2:
        raise ValueError("not an ELF64 file")
    end = "<" if ko[5] == 1 else ">"
    shoff, = struct.unpack_from(end + "Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", ko, 0x3A)

    def section(i: int):
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            end + "IIQQQQ", ko, shoff + i * shentsize)
        return name, offset, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, offset, size = section(i)
        sname = ko[stroff + name:ko.index(b"\0", stroff + name)]
        if sname == b".modinfo":
            info: Dict[str, str] = {}
            for entry in ko[offset:offset + size].split(b"\0"):
                key, sep, value = entry.decode("utf-8", "replace").partition("=")
                if sep:
                    info.setdefault(key, value)
            return info
    raise ValueError("no .modinfo section")


def load_order(roots: Sequence[str], depends: Callable[[str], List[str]]) -> List[str]:
    """Modules to insmod, dependencies first (depth-first, stable).

    >>> deps = {"virtio_balloon": ["virtio", "virtio_ring"], "virtio": [], "virtio_ring": []}
    >>> load_order(["virtio_balloon"], deps.__getitem__)
    ['virtio', 'virtio_ring', 'virtio_balloon']
    """
    order: List[str] = []
    visiting: set = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"module dependency cycle at {name}")
        visiting.add(name)
        for dep in depends(name):
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for root in roots:
        visit(root)
    return order


def _modname(path: str) -> str:
    return os.path.basename(path)[:-3].replace("-", "_")


@dataclass
class KernelCache:
    """One cached kernel release (see module docstring for the layout)."""

    dir: Path

    @property
    def info(self) -> dict:
        return json.loads((self.dir / "package.json").read_text())

    @property
    def release(self) -> str:
        """e.g. ``"6.1.0-56-amd64"``."""
        return self.info["release"]

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
        """Module names in insmod order."""
        return list(self.info["load_order"])

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


def _run(cmd: Sequence[str], **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)
    except FileNotFoundError as e:
        raise LabUnavailable(f"{cmd[0]} is not installed: {e}") from e
    except subprocess.CalledProcessError as e:
        raise LabUnavailable(f"{' '.join(cmd)} failed ({e.returncode}): {e.stderr.strip()[-500:]}") from e


def newest_available_release() -> str:
    """The newest ``6.1.0-N-amd64`` release apt offers with a ``-dbg`` package."""
    out = _run(["apt-cache", "search", "--names-only", r"^linux-image-6\.1\.0-[0-9]+-amd64-dbg$"]).stdout
    found = [(int(m.group(2)), m.group(1)) for m in map(_ABI_RE.match, out.splitlines()) if m]
    if not found:
        raise LabUnavailable("apt offers no linux-image-6.1.0-*-amd64-dbg package (apt-get update?)")
    return max(found)[1]


def cached_releases() -> List[str]:
    kernels = cache_root() / "kernels"
    if not kernels.is_dir():
        return []
    done = [p.name for p in kernels.iterdir() if (p / "complete").exists()]
    return sorted(done, key=lambda r: [int(x) if x.isdigit() else x for x in re.split(r"[.-]", r)])


def _download(packages: Sequence[str], into: Path) -> Dict[str, Path]:
    """``apt-get download`` each package into ``into``; reuse complete .debs there."""
    into.mkdir(parents=True, exist_ok=True)
    result = {}
    for pkg in packages:
        have = sorted(into.glob(f"{pkg}_*.deb"))
        if have and subprocess.run(["dpkg-deb", "--info", str(have[-1])],
                                   capture_output=True).returncode == 0:
            result[pkg] = have[-1]
            continue
        log(f"apt-get download {pkg}")
        # Into a private directory first: an interrupted download never
        # leaves a truncated .deb where the next run would reuse it.
        part = Path(tempfile.mkdtemp(prefix=".partial-", dir=into))
        try:
            _run(["apt-get", "download", pkg], cwd=part)
            for deb in part.glob("*.deb"):
                os.replace(deb, into / deb.name)
        finally:
            shutil.rmtree(part, ignore_errors=True)
        have = sorted(into.glob(f"{pkg}_*.deb"))
        if not have:
            raise LabUnavailable(f"apt-get download {pkg} produced no .deb")
        result[pkg] = have[-1]
    return result


def _extract(deb: Path, dest: Path, want: Callable[[str], bool]) -> List[str]:
    """Stream ``dpkg-deb --fsys-tarfile deb`` and write the regular files ``want``s.

    Returns the member names written (without the leading ``./``). Python's
    tarfile reads the stream instead of ``tar -x MEMBERS`` so that optional
    members that do not exist (e.g. a Xen balloon module) are not an error.
    """
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    written = []
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
        for member in tf:
            name = member.name[2:] if member.name.startswith("./") else member.name
            if not member.isfile() or ".." in name.split("/") or not want(name):
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            assert src is not None
            with open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            written.append(name)
    if proc.wait() != 0:
        raise LabUnavailable(f"dpkg-deb --fsys-tarfile {deb} failed")
    return written


def _fetch(release: str, dest: Path) -> None:
    """Download, extract and index ``release`` into ``dest`` (a fresh directory)."""
    downloads = cache_root() / "downloads"
    image_pkg = f"linux-image-{release}-unsigned"
    if subprocess.run(["apt-cache", "show", "--no-all-versions", image_pkg],
                      capture_output=True).returncode != 0:
        image_pkg = f"linux-image-{release}"
    dbg_pkg = f"linux-image-{release}-dbg"
    debs = _download([image_pkg, dbg_pkg], downloads)
    version = _run(["dpkg-deb", "-f", str(debs[image_pkg]), "Version"]).stdout.strip()

    mod_prefix = f"lib/modules/{release}/"
    # Pass 1 over the image: kernel, config, module indexes, and every module's
    # depends= (read from the stream, nothing else written).
    depends: Dict[str, List[str]] = {}
    paths: Dict[str, str] = {}
    log(f"reading {debs[image_pkg].name}")
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[image_pkg])], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
        for member in tf:
            name = member.name[2:] if member.name.startswith("./") else member.name
            if not member.isfile():
                continue
            keep = name in (f"boot/vmlinuz-{release}", f"boot/config-{release}") or (
                name.startswith(mod_prefix) and "/" not in name[len(mod_prefix):])
            if name.startswith(mod_prefix) and name.endswith(".ko"):
                data = tf.extractfile(member).read()  # type: ignore[union-attr]
                info = modinfo(data)
                mod = info.get("name") or _modname(name)
                depends[mod] = [d for d in info.get("depends", "").split(",") if d]
                paths[mod] = name[len(mod_prefix):]
            elif keep:
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as out:
                    shutil.copyfileobj(tf.extractfile(member), out)  # type: ignore[arg-type]
    if proc.wait() != 0:
        raise LabUnavailable(f"dpkg-deb --fsys-tarfile {debs[image_pkg]} failed")
    missing = [m for m in GUEST_MODULES if m not in paths]
    if missing:
        raise LabUnavailable(f"{image_pkg} has no module(s) {missing} (built in?)")
    order = load_order(GUEST_MODULES, lambda m: depends[m])
    # Pass 2: only the modules to load.
    wanted = {mod_prefix + paths[m] for m in order}
    _extract(debs[image_pkg], dest, wanted.__contains__)

    # The -dbg package: vmlinux and debug .ko of the loaded and balloon modules.
    dbg_names = set(order) | {m.replace("-", "_") for m in BALLOON_MODULES}
    dbg_mod_prefix = f"usr/lib/debug/lib/modules/{release}/"

    def want_dbg(name: str) -> bool:
        if name == f"usr/lib/debug/boot/vmlinux-{release}":
            return True
        return name.startswith(dbg_mod_prefix) and name.endswith(".ko") and _modname(name) in dbg_names

    log(f"extracting vmlinux and module debug info from {debs[dbg_pkg].name} (~1 min)")
    got = _extract(debs[dbg_pkg], dest / "dbg", want_dbg)
    if f"usr/lib/debug/boot/vmlinux-{release}" not in got:
        raise LabUnavailable(f"{dbg_pkg} has no vmlinux-{release}")
    (dest / "package.json").write_text(json.dumps({
        "release": release,
        "version": version,
        "image_package": image_pkg,
        "dbg_package": dbg_pkg,
        "load_order": order,
        "modules": {m: paths[m] for m in order},
        "depends": {m: depends[m] for m in order},
        "debug_files": sorted(got),
    }, indent=2) + "\n")
    (dest / "complete").write_text("ok\n")
    for deb in debs.values():
        deb.unlink()


def kernel_cache(release: Optional[str] = None) -> KernelCache:
    """The cached kernel ``release``, fetching it first if needed.

    Without ``release``: the newest kernel already in the cache (no network),
    else the newest one apt offers. Raises :class:`LabUnavailable` when it
    cannot be fetched.
    """
    if release is None:
        env = os.environ.get("BALLOON_OOM_KERNEL")
        cached = cached_releases()
        release = env or (cached[-1] if cached else None)
    kernels = cache_root() / "kernels"
    if release is not None and (kernels / release / "complete").exists():
        return KernelCache(kernels / release)
    with lab_lock("fetch"):
        if release is None:
            release = newest_available_release()
        final = kernels / release
        if (final / "complete").exists():
            return KernelCache(final)
        kernels.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{release}-", dir=kernels))
        try:
            _fetch(release, tmp)
            if final.exists():
                shutil.rmtree(final)
            tmp.chmod(0o755)
            tmp.rename(final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        log(f"kernel {release} cached in {final}")
        return KernelCache(final)
