# SPDX-License-Identifier: GPL-2.0-or-later
"""Reading a kernel's Debian packages: module metadata and the files the lab keeps.

The Debian image package ships no ``modules.dep`` (``depmod`` runs at install
time), so dependencies come from each module's ``.modinfo`` ``depends=`` field,
which is what ``depmod`` itself reads for them. What the package holds is
probed, not assumed from the version: modules under ``lib/modules`` (bookworm)
or ``usr/lib/modules`` (trixie's merged /usr), plain ``.ko`` or compressed
(trixie: ``CONFIG_MODULE_COMPRESS_XZ``, ``.ko.xz``; written decompressed here,
since busybox ``insmod`` passes the file as is to ``init_module``), and a
wanted module listed in ``modules.builtin`` is built in (trixie builds
``virtio_pci`` in), so there is nothing to load for it.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from .cache import cache_root, log
from .debs import KernelSpec, _download, _image_packages, _run, apt_options
from .errors import LabUnavailable

__all__ = ["BALLOON_MODULES", "EXTRA_MODULES", "GUEST_MODULES", "load_order", "modinfo"]

# What /init loads: virtio-pci transport, the balloon driver, and qemu_fw_cfg
# (exposes /sys/firmware/qemu_fw_cfg and the vmcoreinfo fw_cfg entry, which
# QEMU's -device vmcoreinfo needs to write the VMCOREINFO note into dumps).
GUEST_MODULES = ("qemu_fw_cfg", "virtio_pci", "virtio_balloon")
# Debug files of other balloon drivers, for DWARF-based unit tests elsewhere.
# Xen's balloon is built into vmlinux on Debian (CONFIG_XEN_BALLOON=y), so a
# module file for it exists only on kernels that build it as a module.
BALLOON_MODULES = ("virtio_balloon", "hv_balloon", "vmw_balloon", "xen_balloon", "xen-balloon")
# Modules only some scenarios load (the virtio-mem scenario's virtio_mem):
# extracted with the kernel, with their debug files, and recorded in
# extra-modules.json (see extramods.py, which adds them to kernels cached
# without them).
EXTRA_MODULES = ("virtio_mem",)


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


# Compressed modules (CONFIG_MODULE_COMPRESS_*, kbuild's scripts/Makefile.modinst).
_KO_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")


def _ko_name(name: str) -> Optional[str]:
    """``name`` without its compression suffix if it is a module, else None.

    >>> _ko_name("kernel/drivers/virtio/virtio_balloon.ko.xz"), _ko_name("modules.order")
    ('kernel/drivers/virtio/virtio_balloon.ko', None)
    """
    for suffix in _KO_SUFFIXES:
        if name.endswith(suffix):
            return name[:len(name) - len(suffix)] + ".ko"
    return None


def _decompress(name: str, data: bytes) -> bytes:
    """A module file's ELF bytes, whatever compression its name says."""
    if name.endswith(".xz"):
        return lzma.decompress(data)
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".zst"):   # no zstd in Python 3.11's standard library
        return subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
    return data


def _extract(deb: Path, dest: Path, want: Callable[[str], bool],
             rename: Callable[[str], str] = lambda n: n) -> List[str]:
    """Stream ``dpkg-deb --fsys-tarfile deb`` and write the regular files ``want``s.

    Each is written to ``dest / rename(name)``, decompressed if it is a
    compressed module. Returns the member names written (without the leading
    ``./``). Python's tarfile reads the stream instead of ``tar -x MEMBERS`` so
    that optional members that do not exist (e.g. a Xen balloon module) are not
    an error.
    """
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    written = []
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
        for member in tf:
            name = member.name[2:] if member.name.startswith("./") else member.name
            if not member.isfile() or ".." in name.split("/") or not want(name):
                continue
            target = dest / rename(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            assert src is not None
            with open(target, "wb") as out:
                if name.endswith(_KO_SUFFIXES[1:]):
                    out.write(_decompress(name, src.read()))
                else:
                    shutil.copyfileobj(src, out, 1 << 20)
            written.append(name)
    if proc.wait() != 0:
        raise LabUnavailable(f"dpkg-deb --fsys-tarfile {deb} failed")
    return written


def _fetch(spec: KernelSpec, release: str, dest: Path) -> None:
    """Download, extract and index ``release`` into ``dest`` (a fresh directory)."""
    downloads = cache_root() / "downloads"
    opts = apt_options(spec)
    image_pkgs = _image_packages(opts, release)
    dbg_pkg = f"linux-image-{release}-dbg"
    debs = _download([*image_pkgs, dbg_pkg], downloads, opts)
    version = _run(["dpkg-deb", "-f", str(debs[image_pkgs[0]]), "Version"]).stdout.strip()

    # Modules live in lib/modules (bookworm) or usr/lib/modules (trixie, merged
    # /usr); either way they are written to lib/modules/<release>/ here. The
    # kernel and its config are boot/vmlinuz-<rel>, boot/config-<rel> up to
    # 6.12 and usr/lib/modules/<rel>/{vmlinuz,config} in 7.x's split packages:
    # written to boot/ here.
    mod_prefixes = (f"lib/modules/{release}/", f"usr/lib/modules/{release}/")
    boot_files = {f"boot/vmlinuz-{release}": f"boot/vmlinuz-{release}",
                  f"boot/config-{release}": f"boot/config-{release}"}
    for prefix in mod_prefixes:
        boot_files[prefix + "vmlinuz"] = f"boot/vmlinuz-{release}"
        boot_files[prefix + "config"] = f"boot/config-{release}"

    def mod_rel(name: str) -> Optional[str]:
        for prefix in mod_prefixes:
            if name.startswith(prefix):
                return name[len(prefix):]
        return None

    # Pass 1 over the image package(s): kernel, config, module indexes, and
    # every module's depends= (read from the stream, nothing else written).
    depends: Dict[str, List[str]] = {}
    paths: Dict[str, str] = {}
    holder: Dict[str, str] = {}     # module -> package whose .deb holds it
    builtin: set = set()
    for pkg in image_pkgs:
        log(f"reading {debs[pkg].name}")
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[pkg])], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            for member in tf:
                name = member.name[2:] if member.name.startswith("./") else member.name
                if not member.isfile():
                    continue
                rel = mod_rel(name)
                ko = _ko_name(rel) if rel is not None else None
                if ko is not None:
                    data = _decompress(name, tf.extractfile(member).read())  # type: ignore[union-attr]
                    info = modinfo(data)
                    mod = info.get("name") or _modname(ko)
                    depends[mod] = [d for d in info.get("depends", "").split(",") if d]
                    paths[mod] = ko
                    holder[mod] = pkg
                elif name in boot_files or (rel is not None and "/" not in rel):
                    data = tf.extractfile(member).read()  # type: ignore[union-attr]
                    if rel == "modules.builtin":   # "kernel/drivers/virtio/virtio_pci.ko" lines
                        builtin |= {_modname(line) for line in data.decode().split()}
                    target = dest / (boot_files.get(name) or f"lib/modules/{release}/{rel}")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
        if proc.wait() != 0:
            raise LabUnavailable(f"dpkg-deb --fsys-tarfile {debs[pkg]} failed")
    for want in boot_files.values():
        if not (dest / want).is_file():
            raise LabUnavailable(f"{', '.join(image_pkgs)}: no {want} (nor its usr/lib/modules form)")
    (dest / f"lib/modules/{release}/vmlinuz").unlink(missing_ok=True)   # 7.x: a copy of boot/'s
    missing = [m for m in GUEST_MODULES if m not in paths and m not in builtin]
    if missing:
        raise LabUnavailable(f"{image_pkgs} have no module(s) {missing} (neither a file nor in modules.builtin)")
    roots = [m for m in GUEST_MODULES if m in paths]
    order = load_order(roots, lambda m: [d for d in depends[m] if d not in builtin])
    # Extra modules whose dependencies are loaded or built in (a release with
    # one built in has nothing to load; extramods.py says why when asked).
    extras = [m for m in EXTRA_MODULES if m in paths and m not in builtin
              and all(d in order or d in builtin for d in depends[m])]
    # Pass 2: only the modules to load, decompressed.
    for pkg in image_pkgs:
        wanted = {paths[m] for m in (*order, *extras) if holder[m] == pkg}
        if wanted:
            _extract(debs[pkg], dest, lambda n: _ko_name(mod_rel(n) or "") in wanted,
                     lambda n: f"lib/modules/{release}/{_ko_name(mod_rel(n) or '')}")

    # The -dbg package: vmlinux and debug .ko of the loaded, extra and balloon
    # modules. The debug vmlinux is usr/lib/debug/boot/vmlinux-<rel> up to
    # 6.12; 7.x's -dbg has it as usr/lib/debug/lib/modules/<rel>/vmlinux with
    # boot/vmlinux-<rel> a symlink to it. Written to the boot/ path here.
    dbg_names = set(order) | set(extras) | {m.replace("-", "_") for m in BALLOON_MODULES}
    dbg_mod_prefix = f"usr/lib/debug/lib/modules/{release}/"
    vmlinux_names = (f"usr/lib/debug/boot/vmlinux-{release}", dbg_mod_prefix + "vmlinux")

    def want_dbg(name: str) -> bool:
        if name in vmlinux_names:
            return True
        return name.startswith(dbg_mod_prefix) and name.endswith(".ko") and _modname(name) in dbg_names

    log(f"extracting vmlinux and module debug info from {debs[dbg_pkg].name} (minutes)")
    got = _extract(debs[dbg_pkg], dest / "dbg", want_dbg,
                   lambda n: vmlinux_names[0] if n in vmlinux_names else n)
    if not set(vmlinux_names) & set(got):
        raise LabUnavailable(f"{dbg_pkg} has no vmlinux ({' or '.join(vmlinux_names)})")
    (dest / "package.json").write_text(json.dumps({
        "release": release,
        "version": version,
        "kernel": spec.name,
        "suite": spec.suite,
        "image_package": image_pkgs[0],
        "image_packages": image_pkgs,
        "dbg_package": dbg_pkg,
        "load_order": order,
        "builtin": sorted(m for m in GUEST_MODULES if m in builtin and m not in paths),
        "modules": {m: paths[m] for m in order},
        "depends": {m: depends[m] for m in order},
        "debug_files": sorted(got),
    }, indent=2) + "\n")
    extra = {}
    for m in extras:
        debug = [n for n in got if n.startswith(dbg_mod_prefix) and _modname(n) == m]
        if debug:   # else extramods.py fetches it (and says why it cannot)
            extra[m] = {"path": paths[m], "depends": depends[m], "debug": debug[0]}
    if extra:
        (dest / "extra-modules.json").write_text(json.dumps(extra, indent=2) + "\n")
    (dest / "complete").write_text("ok\n")
    for deb in debs.values():
        deb.unlink()
