# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile sosreport directories: links out, FIFOs and device nodes, a directory that is no report.

Every case runs the real command line (``python -m balloon_oom analyze``) in a
subprocess (:func:`tests.hostile.run_cli`) and checks: a result or exactly one
line on stderr, never a traceback; and, under ``strace``, that nothing outside
the report was opened and nothing was created anywhere
(:func:`tests.hostile.assert_stayed_inside`).
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests import sosroots
from tests.hostile import (CANARY_TEXT, assert_stayed_inside, canary, json_of, kvm_root,
                           needs_strace, run_cli)

pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))


@needs_strace
def test_symlinks_out_of_a_report_directory_are_not_followed(tmp_path):
    root = kvm_root(tmp_path / "src")
    can = canary(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "vmmemctl").write_text(f"target: 1 pages\ncurrent: 1 pages\n{CANARY_TEXT}\n")
    (outside / "dmesg").write_text(f"[ 1.0] {CANARY_TEXT} invoked oom-killer: gfp_mask=0x0, order=0\n")
    (root / "proc/meminfo").rename(root / "proc/meminfo.real")
    os.symlink(str(can), root / "proc/meminfo")                     # absolute, out
    os.symlink("../../../canary", root / "proc/vmstat.tmp")
    (root / "proc/vmstat").unlink()
    os.rename(root / "proc/vmstat.tmp", root / "proc/vmstat")       # relative, out
    shutil.rmtree(root / "sys/kernel/debug")
    os.symlink(str(outside), root / "sys/kernel/debug")             # a directory, out
    (root / "sos_commands").mkdir()
    os.symlink(str(outside), root / "sos_commands/balloon")         # logs and files, out
    os.symlink("/etc/shadow", root / "proc/zoneinfo")
    o = run_cli(["analyze", "--format", "json", str(root)], tmp_path / "run")
    doc = json_of(o)
    assert_stayed_inside(o, root, can, outside / "vmmemctl", outside / "dmesg")
    assert not any(str(outside) in p for p in o.named)
    assert doc["memory"]["mem_total_kb"] is None
    assert [b["driver"] for b in doc["balloons"]] == ["virtio_balloon"]
    assert doc["verdict"] != "no-oom"                 # var/log/dmesg is still read


@needs_strace
def test_fifo_and_device_nodes_in_a_report_directory_are_skipped(tmp_path):
    root = kvm_root(tmp_path / "src")
    dbg = root / "sys/kernel/debug"
    os.mkfifo(dbg / "vmmemctl")                                      # opening would block
    os.mknod(dbg / "hv-balloon", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero
    (root / "sos_commands/balloon").mkdir(parents=True)
    os.mknod(root / "sos_commands/balloon/dmesg", 0o600 | 0o020000, os.makedev(1, 3))  # /dev/null
    o = run_cli(["analyze", "--format", "json", str(root)], tmp_path / "run")
    doc = json_of(o)
    assert_stayed_inside(o, root)
    for node in (dbg / "vmmemctl", dbg / "hv-balloon", root / "sos_commands/balloon/dmesg"):
        assert str(node) in o.named and str(node) not in o.opened, node  # looked at, not opened
    assert [b["driver"] for b in doc["balloons"]] == ["virtio_balloon"]
    assert doc["verdict"] == "contributed"



@needs_strace
def test_directory_that_is_not_a_sosreport(tmp_path):
    """A plain directory (here: a home directory with a canary) is refused, never walked
    for balloon files; analyze() says so in one line."""
    from balloon_oom.analysis import analyze
    from balloon_oom.errors import InputError

    plain = tmp_path / "in" / "photos"
    plain.mkdir(parents=True)
    (plain / "holiday.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)
    with pytest.raises(InputError) as info:
        analyze(str(plain))
    assert str(info.value) == (f"{plain}: not a sosreport, supportconfig or kdump directory "
                               "(no version.txt, sos_commands/, proc/, sys/, basic-environment.txt, "
                               "vmcore-dmesg.txt, vmcore or var/log/ kernel log)")

