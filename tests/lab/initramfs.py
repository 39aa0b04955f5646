# SPDX-License-Identifier: GPL-2.0-or-later
"""The guest's initramfs: busybox, the modules, ``hog`` and ``/init``.

Written as a gzip'd cpio "newc" archive by :func:`write_cpio` (no ``cpio``
binary needed; device nodes need no root because they are only cpio headers).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from .errors import LabUnavailable
from .extramods import extra_modules
from .kernel import KernelCache, cache_root, lab_lock, log

__all__ = ["CpioEntry", "build_hog", "busybox_path", "ensure_initramfs", "write_cpio"]

HERE = Path(__file__).resolve().parent

# (path in archive, mode incl. file type, data or None, rdev (major, minor))
CpioEntry = Tuple[str, int, Optional[bytes], Tuple[int, int]]


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


def write_cpio(entries: Iterable[CpioEntry]) -> bytes:
    """A cpio newc archive of ``entries`` (mtime 0, uid/gid 0: reproducible).

    >>> data = write_cpio([("init", 0o100755, b"#!/bin/sh\\n", (0, 0))])
    >>> data[:6], data[110:115]
    (b'070701', b'init\\x00')
    >>> data.endswith(b"\\0") and b"TRAILER!!!" in data
    True
    """
    out = bytearray()
    ino = 1
    for name, mode, data, (rmaj, rmin) in list(entries) + [("TRAILER!!!", 0, b"", (0, 0))]:
        body = data or b""
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fname = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, nlink, 0, len(body), 0, 0, rmaj, rmin, len(fname), 0]
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        out += header + fname + _pad4(len(header) + len(fname))
        out += body + _pad4(len(body))
        ino += 1
    out += _pad4(len(out)) + b"\0" * (-len(out) % 512)
    return bytes(out)


def _is_static(path: Path) -> bool:
    """No ELF interpreter string near the start (PT_INTERP follows the headers)."""
    head = path.read_bytes()[:4096]
    return head[:4] == b"\x7fELF" and b"ld-linux" not in head


def busybox_path() -> Path:
    """The static busybox: Debian's busybox-static, else ``apt-get download`` it once."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        if Path(candidate).exists() and _is_static(Path(candidate)):
            return Path(candidate)
    cached = cache_root() / "busybox"
    with lab_lock("fetch"):
        if cached.exists():
            return cached
        dl = cache_root() / "downloads"
        dl.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(["apt-get", "download", "busybox-static"], cwd=dl,
                             capture_output=True, text=True)
        debs = sorted(dl.glob("busybox-static_*.deb"))
        if res.returncode != 0 or not debs:
            raise LabUnavailable(f"no static busybox; apt-get download busybox-static: {res.stderr[-300:]}")
        tmp = dl / "busybox-x"
        tmp.mkdir(exist_ok=True)
        subprocess.run(f"dpkg-deb --fsys-tarfile '{debs[-1]}' | tar -x -C '{tmp}' ./bin/busybox",
                       shell=True, check=True)
        shutil.move(str(tmp / "bin" / "busybox"), cached)
        shutil.rmtree(tmp)
        debs[-1].unlink()
        return cached


def build_hog(dest: Path) -> Path:
    """Compile ``hog.c`` statically into ``dest`` + ``-<hash of hog.c>``.

    Named by the source's content, not compared by mtime: checkouts with
    different ``hog.c`` sharing one cache each get their own binary.
    """
    src = HERE / "hog.c"
    dest = dest.with_name(f"{dest.name}-{hashlib.sha256(src.read_bytes()).hexdigest()[:12]}")
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["gcc", "-static", "-O2", "-o", str(dest) + ".tmp", str(src)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise LabUnavailable(f"gcc -static hog.c failed: {res.stderr.strip()[-500:]}")
    os.replace(str(dest) + ".tmp", dest)
    return dest


def ensure_initramfs(kc: KernelCache) -> Path:
    """``<kernel dir>/initramfs.cpio.gz``, rebuilt when its inputs change."""
    with lab_lock(f"initramfs-{kc.release}"):
        return _ensure_initramfs(kc)


def _ensure_initramfs(kc: KernelCache) -> Path:
    busybox = busybox_path()
    hog = build_hog(kc.dir / "hog")
    init = (HERE / "init.sh").read_bytes()
    entries: List[CpioEntry] = []
    for d in ("bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules"):
        entries.append((d, 0o40755, None, (0, 0)))
    entries.append(("dev/console", stat.S_IFCHR | 0o600, None, (5, 1)))
    entries.append(("init", 0o100755, init, (0, 0)))
    entries.append(("bin/busybox", 0o100755, busybox.read_bytes(), (0, 0)))
    entries.append(("bin/sh", 0o120777, b"busybox", (0, 0)))
    entries.append(("bin/hog", 0o100755, hog.read_bytes(), (0, 0)))
    for name in kc.guest_modules:
        entries.append((f"lib/modules/{name}.ko", 0o100644, kc.module(name).read_bytes(), (0, 0)))
    # Extra modules (extramods.py): in the archive, loaded only when the
    # kernel command line names them (lab_modules=virtio_mem).
    for name, extra in sorted(extra_modules(kc).items()):
        entries.append((f"lib/modules/{name}.ko", 0o100644,
                        (kc.modules_dir / extra["path"]).read_bytes(), (0, 0)))
    entries.append(("lib/modules/load-order", 0o100644,
                    "".join(m + "\n" for m in kc.guest_modules).encode(), (0, 0)))
    data = write_cpio(entries)
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = kc.dir / "initramfs.cpio.gz"
    stamp = kc.dir / "initramfs.sha"
    if path.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return path
    log(f"writing {path}")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(data, mtime=0))
    os.replace(tmp, path)
    stamp.write_text(digest + "\n")
    return path
