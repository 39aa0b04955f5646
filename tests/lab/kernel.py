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

import fcntl
import gzip
import json
import lzma
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
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from .errors import LabUnavailable

__all__ = [
    "BALLOON_MODULES",
    "DEFAULT_KERNEL",
    "GUEST_MODULES",
    "KERNELS",
    "KernelCache",
    "KernelSpec",
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



@dataclass(frozen=True)
class KernelSpec:
    """One kernel generation the lab can boot: a Debian suite's amd64 flavour.

    ``release_re`` matches a release of this generation; its groups are the
    numbers that order releases (the ABI for 5.10 and 6.1, the stable patch
    level for 6.12, minor and patch for 7.x).
    ``system_apt``: fetched with the host's own apt sources (the host is bookworm);
    otherwise with a private apt configuration for ``suites`` (``suite`` and
    any further ones, e.g. bullseye-security) under ``<cache>/apt-<suite>/``.
    """

    name: str
    suite: str
    release_re: str
    system_apt: bool
    extra_suites: Tuple[Tuple[str, str], ...] = ()   # (mirror env var's default, suite)

    def matches(self, release: str) -> bool:
        """
        >>> KERNELS["6.12"].matches("6.12.117+deb13-amd64"), KERNELS["6.1"].matches("6.12.117+deb13-amd64")
        (True, False)
        >>> KERNELS["7"].matches("7.3.4+deb13-amd64"), KERNELS["5.10"].matches("5.10.0-46-amd64")
        (True, True)
        """
        return re.fullmatch(self.release_re, release) is not None

    def order(self, release: str) -> Tuple[int, ...]:
        """
        >>> KERNELS["7"].order("7.10.1+deb13-amd64") > KERNELS["7"].order("7.3.4+deb13-amd64")
        True
        """
        m = re.fullmatch(self.release_re, release)
        return tuple(int(g) for g in m.groups()) if m else (-1,)


#: The kernels of the lab, by name; :data:`DEFAULT_KERNEL` is used when none is named.
KERNELS: Dict[str, KernelSpec] = {k.name: k for k in (
    KernelSpec("5.10", "bullseye", r"5\.10\.0-(\d+)-amd64", system_apt=False,
               extra_suites=(("security", "bullseye-security"),)),
    KernelSpec("6.1", "bookworm", r"6\.1\.0-(\d+)-amd64", system_apt=True),
    KernelSpec("6.12", "trixie", r"6\.12\.(\d+)\+deb13-amd64", system_apt=False),
    KernelSpec("7", "trixie-backports", r"7\.(\d+)\.(\d+)\+deb13-amd64", system_apt=False),
)}
DEFAULT_KERNEL = "6.1"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security"


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


def _run(cmd: Sequence[str], **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)
    except FileNotFoundError as e:
        raise LabUnavailable(f"{cmd[0]} is not installed: {e}") from e
    except subprocess.CalledProcessError as e:
        raise LabUnavailable(f"{' '.join(cmd)} failed ({e.returncode}): {e.stderr.strip()[-500:]}") from e


def spec_of(release: str) -> KernelSpec:
    """The :class:`KernelSpec` a release belongs to (``LabUnavailable`` if none)."""
    for spec in KERNELS.values():
        if spec.matches(release):
            return spec
    raise LabUnavailable(f"release {release!r} is none of the lab's kernels "
                         f"({', '.join(KERNELS)})")


def apt_options(spec: KernelSpec) -> List[str]:
    """``apt-get``/``apt-cache`` options for ``spec``'s suite.

    None for the host's suite; else a private source list, package lists and
    cache under ``<cache>/apt-<suite>/`` (the system's apt setup is untouched),
    whose lists are fetched (``apt-get update``) the first time.
    """
    if spec.system_apt:
        return []
    base = cache_root() / f"apt-{spec.suite}"
    (base / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (base / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get("BALLOON_OOM_DEBIAN_MIRROR", DEBIAN_MIRROR)
    security = os.environ.get("BALLOON_OOM_DEBIAN_SECURITY_MIRROR", DEBIAN_SECURITY_MIRROR)
    sources = base / "sources.list"
    line = f"deb {mirror} {spec.suite} main\n" + "".join(
        f"deb {security if kind == 'security' else mirror} {suite} main\n"
        for kind, suite in spec.extra_suites)
    if not sources.exists() or sources.read_text() != line:
        sources.write_text(line)
    opts = ["-o", f"Dir::Etc::sourcelist={sources}", "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State::Lists={base / 'lists'}", "-o", f"Dir::Cache={base / 'cache'}"]
    if not any((base / "lists").glob("*_Packages*")):
        log(f"apt-get update ({spec.suite}, private lists in {base})")
        _run(["apt-get", *opts, "update"])
    return opts


def newest_available_release(spec: KernelSpec) -> str:
    """The newest release of ``spec`` that apt offers with a ``-dbg`` package."""
    opts = apt_options(spec)
    # apt-cache's regex is POSIX: no \d.
    posix = spec.release_re.replace("(", "").replace(")", "").replace("\\d", "[0-9]")
    pattern = "^linux-image-" + posix + "-dbg$"
    out = _run(["apt-cache", *opts, "search", "--names-only", pattern]).stdout
    found = []
    for line in out.splitlines():
        m = re.match(r"^linux-image-(\S+)-dbg\b", line)
        if m and spec.matches(m.group(1)):
            found.append((spec.order(m.group(1)), m.group(1)))
    if not found:
        raise LabUnavailable(f"apt offers no {pattern} package for {spec.suite} (apt-get update?)")
    return max(found)[1]


def cached_releases(spec: Optional[KernelSpec] = None) -> List[str]:
    """Complete cached releases (of ``spec`` only, if given), oldest first."""
    kernels = cache_root() / "kernels"
    if not kernels.is_dir():
        return []
    done = [p.name for p in kernels.iterdir() if (p / "complete").exists()
            and (spec is None or spec.matches(p.name))]
    return sorted(done, key=lambda r: [int(x) if x.isdigit() else x for x in re.split(r"[.+-]", r)])


def _download(packages: Sequence[str], into: Path, opts: Sequence[str] = ()) -> Dict[str, Path]:
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
            _run(["apt-get", *opts, "download", pkg], cwd=part)
            for deb in part.glob("*.deb"):
                os.replace(deb, into / deb.name)
        finally:
            shutil.rmtree(part, ignore_errors=True)
        have = sorted(into.glob(f"{pkg}_*.deb"))
        if not have:
            raise LabUnavailable(f"apt-get download {pkg} produced no .deb")
        result[pkg] = have[-1]
    return result


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


def _image_packages(opts: Sequence[str], release: str) -> List[str]:
    """The packages holding ``release``'s kernel, modules, config and module indexes.

    Probed in apt: ``linux-image-<rel>-unsigned`` (5.10, 6.1, 6.12), else the
    split of trixie-backports' 7.x, where ``linux-image-<rel>`` is a
    metapackage over ``linux-binary-<rel>`` (``usr/lib/modules/<rel>/vmlinuz``),
    ``linux-modules-<rel>`` (the ``.ko.xz``) and ``linux-base-<rel>`` (``config``,
    ``modules.builtin``), else ``linux-image-<rel>`` itself.
    """
    def offered(pkg: str) -> bool:
        return subprocess.run(["apt-cache", *opts, "show", "--no-all-versions", pkg],
                              capture_output=True).returncode == 0

    if offered(f"linux-image-{release}-unsigned"):
        return [f"linux-image-{release}-unsigned"]
    split = [f"linux-{part}-{release}" for part in ("binary", "modules", "base")]
    if all(offered(p) for p in split):
        return split
    return [f"linux-image-{release}"]


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
    # Pass 2: only the modules to load, decompressed.
    for pkg in image_pkgs:
        wanted = {paths[m] for m in order if holder[m] == pkg}
        if wanted:
            _extract(debs[pkg], dest, lambda n: _ko_name(mod_rel(n) or "") in wanted,
                     lambda n: f"lib/modules/{release}/{_ko_name(mod_rel(n) or '')}")

    # The -dbg package: vmlinux and debug .ko of the loaded and balloon
    # modules. The debug vmlinux is usr/lib/debug/boot/vmlinux-<rel> up to
    # 6.12; 7.x's -dbg has it as usr/lib/debug/lib/modules/<rel>/vmlinux with
    # boot/vmlinux-<rel> a symlink to it. Written to the boot/ path here.
    dbg_names = set(order) | {m.replace("-", "_") for m in BALLOON_MODULES}
    dbg_mod_prefix = f"usr/lib/debug/lib/modules/{release}/"
    vmlinux_names = (f"usr/lib/debug/boot/vmlinux-{release}", dbg_mod_prefix + "vmlinux")

    def want_dbg(name: str) -> bool:
        if name in vmlinux_names:
            return True
        return name.startswith(dbg_mod_prefix) and name.endswith(".ko") and _modname(name) in dbg_names

    log(f"extracting vmlinux and module debug info from {debs[dbg_pkg].name} (~1 min)")
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
    (dest / "complete").write_text("ok\n")
    for deb in debs.values():
        deb.unlink()


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
