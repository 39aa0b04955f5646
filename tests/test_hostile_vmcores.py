# SPDX-License-Identifier: GPL-2.0-or-later
"""Broken and mismatched vmcores through the command line: one line or a weaker answer.

Real dumps of the lab's Debian 6.1 guest (``tests/lab``, QEMU/TCG,
``dump-guest-memory``): truncated, opened with the wrong "vmlinux" (the lab's
own static ``hog`` binary: only one kernel is cached here), without module
debuginfo, without any debuginfo, and the ``empty`` scenario's dump (a guest
that never inflated its balloon) without virtio_balloon.ko debuginfo, so only
the zero vm events speak.  A 64-byte ELF core header stands in for a dump
that holds nothing at all.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.lab


def _run(scenario):
    from tests.lab import ensure_run

    try:
        return ensure_run(scenario)
    except Exception as e:  # noqa: BLE001 - LabUnavailable and friends
        pytest.skip(f"lab unavailable: {e}")


@pytest.fixture(scope="module")
def off():
    return _run("deflate-off")


def cli(*args):
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def one_line_error(rc, out, err, *fragments):
    assert (rc, out) == (2, ""), err
    assert err.count("\n") == 1 and err.startswith("balloon-oom: "), err
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in err, (frag, err)


@pytest.mark.parametrize("size", [4096, 64 << 20])
def test_truncated_dump(off, tmp_path, size):
    """Cut in the program headers (4 KiB) or in memory (64 MiB of 512)."""
    cut = tmp_path / "cut.elf"
    with open(off.vmcore("inflated"), "rb") as f, open(cut, "wb") as g:
        g.write(f.read(size))
    one_line_error(*cli(cut, "--debuginfo", off.vmlinux, "--debuginfo", off.debuginfo_dir),
                   str(cut), "vmcore")


def test_vmlinux_of_another_program(off):
    from tests.lab.initramfs import build_hog

    hog = build_hog(off.kernel.dir / "hog")   # the lab's statically linked memory hog
    one_line_error(*cli(off.vmcore("inflated"), "--debuginfo", hog),
                   "no vmlinux debuginfo matching this vmcore", str(hog))


def test_no_debuginfo_at_all(off):
    rc, out, err = cli(off.vmcore("inflated"))
    one_line_error(rc, out, err, "no vmlinux debuginfo matching this vmcore", "build ID")


def test_tiny_fake_elf_core(tmp_path):
    """An ELF64 x86-64 ET_CORE header with no program headers: opens as nothing."""
    core = tmp_path / "fake.core"
    core.write_bytes(b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
                     + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, 0, 64, 0, 0))
    one_line_error(*cli(core, "--debuginfo", tmp_path), str(core), "cannot open as a vmcore")


def test_module_debuginfo_withheld_is_a_weaker_answer(off):
    rc, out, err = cli(off.vmcore("inflated"), "--debuginfo", off.vmlinux, "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    (b,) = doc["balloons"]
    assert (b["driver"], b["inflated_bytes"], b["accounting"]) == (
        "virtio_balloon", 256 << 20, "unknown")
    assert b["details"]["inflated_basis"] == "vm events" and b["details"]["confidence"] == "low"
    assert any("virtio_balloon.ko debuginfo is missing" in w for w in doc["warnings"])


def test_guest_that_never_ballooned_without_module_debuginfo():
    """The `empty` scenario: OOM with a balloon device that was never inflated."""
    run = _run("empty")
    rc, out, err = cli(run.vmcore("after-oom"), "--debuginfo", run.vmlinux, "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    (b,) = doc["balloons"]
    assert b["inflated_bytes"] == 0 and b["details"]["balloon_inflate"] == 0
    (ev,) = doc["oom_events"]
    assert ev["trigger_comm"] == "hog" and ev["constraint"] == "global"
    assert doc["verdict"] == "not-contributed"


def test_debug_flag_shows_the_traceback(tmp_path):
    core = tmp_path / "fake.core"
    core.write_bytes(b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
                     + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, 0, 64, 0, 0))
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "--debug", "analyze", str(core)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr and "InputError" in proc.stderr
