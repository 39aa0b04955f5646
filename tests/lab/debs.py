# SPDX-License-Identifier: GPL-2.0-or-later
"""The lab's kernel generations and the Debian packages holding them, through apt.

:data:`KERNELS` names each generation's suite; the host's own apt fetches
bookworm's, a private configuration under ``<cache>/apt-<suite>/`` the others
(the system's apt setup is left alone).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from .cache import cache_root, log
from .errors import LabUnavailable

__all__ = [
    "DEFAULT_KERNEL",
    "KERNELS",
    "KernelSpec",
    "apt_options",
    "newest_available_release",
    "spec_of",
]


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
