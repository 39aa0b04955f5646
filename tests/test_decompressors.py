# SPDX-License-Identifier: GPL-2.0-or-later
"""Decompressor children, and the CPUs they (and a fleet's other reports) keep busy."""

import shutil
import tarfile

import pytest

from balloon_oom.readers import decompressors
from balloon_oom.readers.members import iter_tarball
from tests.test_members import _make_report


def test_a_running_decompressor_counts_as_a_busy_cpu(tmp_path):
    """The stream scan leaves a CPU to each decompressor child (no helper
    thread beside it on two CPUs): counted while it runs, not after, however
    the walk ends."""
    if not shutil.which("xz"):
        pytest.skip("no xz program")
    report = _make_report(tmp_path / "sosreport-guest-2026-11-26-abcdefg")
    tarball = tmp_path / "r.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(report, arcname=report.name)
    assert decompressors.busy_cpus() == 0
    walk = iter_tarball(tarball)
    next(walk)
    assert decompressors.busy_cpus() == 1
    walk.close()
    assert decompressors.busy_cpus() == 0
    assert len(list(iter_tarball(tarball))) > 3
    assert decompressors.busy_cpus() == 0


def test_busy_elsewhere_adds_and_never_goes_negative():
    try:
        decompressors.set_busy_elsewhere(1)
        assert decompressors.busy_cpus() == 1
        decompressors.set_busy_elsewhere(-3)
        assert decompressors.busy_cpus() == 0
    finally:
        decompressors.set_busy_elsewhere(0)
