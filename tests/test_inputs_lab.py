# SPDX-License-Identifier: GPL-2.0-or-later
"""Inputs that need a real vmcore: a kdump directory, and a sosreport plus its vmcore.

The lab's Debian 6.1 guest (``tests/lab``, deflate-on-oom off): its vmcore
taken after the OOM and its sosreport-shaped tree of the same moment.  The
kdump directory is laid out as kdump saves it (``/var/crash/<ip>-<date>/``
with ``vmcore`` and ``vmcore-dmesg.txt``): the vmcore is linked, the dmesg is
the guest's own ``dmesg`` of that boot (vmcore-dmesg prints the same buffer in
the same format).
"""

from __future__ import annotations

import os
import shutil

import pytest

from balloon_oom.analysis import analyze, analyze_many

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def run():
    from tests.lab import ensure_run

    return ensure_run("deflate-off")


def _debuginfo(run):
    return [str(run.vmlinux), str(run.debuginfo_dir)]


def _events(a):
    return [(e.victim.pid if e.victim else None, e.constraint, e.trigger_comm, e.order,
             e.pages_reserved) for e in a.oom_events]


def test_kdump_directory_uses_vmcore_and_dmesg_as_one_guest(run, tmp_path):
    crash = tmp_path / "var" / "crash" / "127.0.0.1-2026-11-26-05:27:33"
    crash.mkdir(parents=True)
    os.symlink(run.vmcore("after-oom"), crash / "vmcore")
    shutil.copyfile(run.tree("after-oom") / "sos_commands" / "kernel" / "dmesg",
                    crash / "vmcore-dmesg.txt")
    a = analyze(str(crash), debuginfo=_debuginfo(run))
    core = analyze(str(run.vmcore("after-oom")), debuginfo=_debuginfo(run))
    assert a.source.kind.value == "kdump"
    assert a.vmcore is not None and a.vmcore == core.vmcore
    assert _events(a) == _events(core) and len(a.oom_events) == 1
    assert [(b.driver, b.inflated_bytes) for b in a.balloons] == \
        [(b.driver, b.inflated_bytes) for b in core.balloons]
    assert a.verdict == core.verdict == "contributed"
    # the event was seen in both logs: its evidence names both
    assert {ev.source for ev in a.oom_events[0].evidence} >= {"vmcore-dmesg.txt",
                                                             "vmcore:kernel log"}


def test_sosreport_and_its_vmcore_as_one_guest(run):
    tree, core = run.tree("after-oom"), run.vmcore("after-oom")
    a = analyze_many([str(tree), str(core)], debuginfo=_debuginfo(run))
    assert [p.kind.value for p in a.source.parts] == ["sosreport", "vmcore"]
    assert a.source.kind.value == "vmcore"      # the figures at the crash come first
    assert len(a.oom_events) == 1
    # QEMU's target: 512 MiB guest ballooned to 256 MiB (tree and vmcore agree to the page)
    assert {b.inflated_bytes for b in a.balloons} == {run.groundtruth["balloon_target_bytes"]}
    assert not [d for d in a.disagreements if "between sources" in d.what], a.disagreements
    assert a.verdict == "contributed"
