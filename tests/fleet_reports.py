# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet test helpers: the sample reports a fleet runs over (fixtures in conftest.py)."""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

import pytest

from balloon_oom.fleet import run_fleet
from balloon_oom.verdict import Thresholds

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
KVM_OFF = SAMPLES / "kvm-deflate-off"
KVM_OFF_TAR = SAMPLES / "kvm-deflate-off.tar.xz"
OTHERS = ("hyperv", "no-balloon", "xen")

needs_samples = pytest.mark.skipif(not KVM_OFF.is_dir() or not KVM_OFF_TAR.is_file(),
                                   reason="samples/ not generated (python samples/generate.py)")


def make_fleet_dir(d: Path) -> Path:
    """Copies of the samples, one corrupt tarball, one empty directory."""
    shutil.copytree(KVM_OFF, d / "a-kvm-off", symlinks=True)
    shutil.copytree(KVM_OFF, d / "b-kvm-off-copy", symlinks=True)
    shutil.copyfile(KVM_OFF_TAR, d / "c-kvm-off.tar.xz")
    for name in OTHERS:
        shutil.copytree(SAMPLES / name, d / f"d-{name}", symlinks=True)
    data = KVM_OFF_TAR.read_bytes()
    (d / "e-corrupt.tar.xz").write_bytes(data[: len(data) // 2])  # cut in the middle
    (d / "f-empty").mkdir()
    (d / "c-kvm-off.tar.xz.md5").write_text("0123 c-kvm-off.tar.xz\n")  # a stray: passed over
    return d


def make_runaway_dir(d: Path) -> Path:
    """A good report, then one whose messages file is 1 TiB of zeros (a sparse file:
    no disk used, but reading it takes far longer than the limit), then a good one."""
    shutil.copytree(KVM_OFF, d / "a-good", symlinks=True)
    shutil.copytree(KVM_OFF, d / "b-huge-log", symlinks=True)
    log = d / "b-huge-log" / "var" / "log" / "messages"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as f:
        f.truncate(1 << 40)
    shutil.copytree(SAMPLES / "xen", d / "c-good", symlinks=True)
    return d


def paths_of(d: Path):
    return sorted(str(p) for p in d.iterdir() if not p.name.endswith(".md5"))


def fleet_args(paths, fmt="jsonl", jobs=None, dask=None, **kw):
    return argparse.Namespace(paths=list(paths), format=fmt, jobs=jobs, dask=dask,
                              debuginfo=None, explain=False, html=None, **kw)


def run(paths, **kw):
    out, err = io.StringIO(), io.StringIO()
    rc = run_fleet(fleet_args(paths, **kw), Thresholds(), stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()
