# SPDX-License-Identifier: GPL-2.0-or-later
"""Modules only some scenarios load (``virtio_mem``): their place in a cached kernel.

A kernel fetched by :mod:`tests.lab.kernel` holds the modules every scenario
loads and, since the fetch extracts :data:`~tests.lab.extract.EXTRA_MODULES`
too, the ``virtio-mem`` scenario's ``virtio_mem`` (stripped, to load) and its
debug file (for drgn), recorded in ``extra-modules.json``::

    {"virtio_mem": {"path": "kernel/drivers/virtio/virtio_mem.ko",
                    "depends": ["virtio", "virtio_ring"], "debug": "usr/lib/debug/..."}}

A kernel cached before that (or a module not in that list) gets it here,
once per release: the image package(s) and the ``-dbg`` package are
downloaded again and only that module and its debug file are written.

The initramfs carries every extra module of its kernel; ``/init`` loads those
named by ``lab_modules=a,b`` on the kernel command line, so the other
scenarios boot exactly as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from .errors import LabUnavailable
from .cache import cache_root, lab_lock, log
from .debs import _download, _image_packages, apt_options, spec_of
from .extract import _extract, _ko_name, _modname, modinfo
from .kernel import KernelCache

__all__ = ["ensure_extra_module", "extra_modules"]


def extra_modules(kc: KernelCache) -> Dict[str, Dict]:
    """The extra modules already added to ``kc`` (name -> path, depends, debug)."""
    path = kc.dir / "extra-modules.json"
    return json.loads(path.read_text()) if path.exists() else {}


def ensure_extra_module(kc: KernelCache, name: str) -> Dict:
    """Add module ``name`` (and its debug file) to ``kc`` unless it is there.

    Raises :class:`LabUnavailable` when the release builds it in (nothing to
    load: the caller may boot anyway), has no such module, or a dependency is
    neither loaded by the lab nor built in.
    """
    have = extra_modules(kc)
    if name in have:
        return have[name]
    if name in _builtin(kc):
        return {"builtin": True}
    with lab_lock("fetch"):
        have = extra_modules(kc)
        if name in have:
            return have[name]
        entry = _fetch_module(kc, name)
        have[name] = entry
        tmp = kc.dir / "extra-modules.json.tmp"
        tmp.write_text(json.dumps(have, indent=2) + "\n")
        tmp.replace(kc.dir / "extra-modules.json")
        return entry


def _builtin(kc: KernelCache) -> List[str]:
    path = kc.modules_dir / "modules.builtin"
    return [_modname(line) for line in path.read_text().split()] if path.exists() else []


def _fetch_module(kc: KernelCache, name: str) -> Dict:
    release = kc.release
    opts = apt_options(spec_of(release))
    image_pkgs = _image_packages(opts, release)
    dbg_pkg = f"linux-image-{release}-dbg"
    downloads = cache_root() / "downloads"
    debs = _download([*image_pkgs, dbg_pkg], downloads, opts)
    prefixes = (f"lib/modules/{release}/", f"usr/lib/modules/{release}/")

    def rel(member: str) -> str:
        for p in prefixes:
            if member.startswith(p):
                return _ko_name(member[len(p):]) or ""
        return ""

    def want(member: str) -> bool:
        return _modname(rel(member) or "x.ko") == name

    entry: Dict = {}
    for pkg in image_pkgs:
        log(f"extracting {name} from {debs[pkg].name}")
        got = _extract(debs[pkg], kc.modules_dir, want, rel)
        if got:
            entry["path"] = rel(got[0])
            break
    if "path" not in entry:
        raise LabUnavailable(f"{', '.join(image_pkgs)} have no module {name}")
    info = modinfo((kc.modules_dir / entry["path"]).read_bytes())
    entry["depends"] = [d for d in info.get("depends", "").split(",") if d]
    present = set(kc.guest_modules) | set(_builtin(kc))
    missing = [d for d in entry["depends"] if d not in present]
    if missing:
        raise LabUnavailable(f"{name} on {release} needs {missing}, which the lab does not load")
    dbg_prefix = f"usr/lib/debug/lib/modules/{release}/"
    log(f"extracting {name}'s debug info from {debs[dbg_pkg].name} (minutes: the whole archive is read)")
    got = _extract(debs[dbg_pkg], kc.dir / "dbg",
                   lambda m: m.startswith(dbg_prefix) and m.endswith(".ko") and _modname(m) == name)
    if not got:
        raise LabUnavailable(f"{dbg_pkg} has no debug file for {name}")
    entry["debug"] = got[0]
    for deb in debs.values():
        deb.unlink()
    return entry


def module_file(kc: KernelCache, name: str) -> Path:
    """The loadable ``.ko`` of an extra module."""
    return kc.modules_dir / extra_modules(kc)[name]["path"]
