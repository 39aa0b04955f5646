# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.readers.vmcore on real vmcores of a ballooned Debian 6.1 guest.

The lab (tests/lab) boots the guest under QEMU/TCG, inflates a 256 MiB
virtio balloon over QMP, dumps memory (``dump-guest-memory``), runs a memory
hog to a global OOM and dumps again.  Ground truth is QEMU's own
``query-balloon`` and the serial console.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from balloon_oom.errors import DebuginfoError, InputError
from balloon_oom.model import Accounting, Driver
from balloon_oom.readers.vmcore import is_vmcore, read_vmcore

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


@pytest.fixture(scope="module")
def on():
    return _run("deflate-on")


def _debuginfo(run):
    return [str(run.vmlinux), str(run.debuginfo_dir)]


@pytest.mark.parametrize("scenario,deflate", [("deflate-off", False), ("deflate-on", True)])
def test_inflated_size_matches_qemu(scenario, deflate):
    run = _run(scenario)
    gt = run.groundtruth
    snap = read_vmcore(str(run.vmcore("inflated")), _debuginfo(run))
    (balloon,) = snap.balloons
    # QEMU: balloon = guest RAM - query-balloon "actual".
    qemu_balloon = gt["mem_bytes"] - gt["phases"]["after-inflate"]["query-balloon"]["actual"]
    assert balloon.inflated_bytes == qemu_balloon == 256 << 20
    assert balloon.details["num_pages"] == 65536
    assert balloon.deflate_on_oom is gt["scenario"]["deflate_on_oom"] is deflate
    assert balloon.accounting == (
        Accounting.COUNTED_AS_USED if deflate else Accounting.MEMTOTAL_REDUCED
    )
    # MemTotal effect (real-captures/kvm-6.1: 206272 kB off, 468416 kB on).
    assert snap.memory.mem_total_kb == (468416 if deflate else 206272)
    assert snap.kernel.release == gt["kernel"]["release"]
    assert snap.warnings == [] and snap.vmcore.debuginfo_missing == []


def test_after_oom_log_has_the_serial_console_oom(off):
    gt = off.groundtruth
    snap = read_vmcore(str(off.vmcore("after-oom")), _debuginfo(off))
    for event in gt["oom"]["events"]:
        assert event["invoked_line"] in snap.log_lines
        assert event["killed_line"] in snap.log_lines
    # Not a panic: QEMU dumped the running guest after the kill.
    assert (snap.vmcore.panic_message, snap.vmcore.taken_at_oom) == (None, False)
    # deflate-on-oom=off keeps the balloon through the OOM.
    assert snap.balloons[0].inflated_bytes == 256 << 20


def test_after_oom_deflate_on_balloon_emptied(on):
    snap = read_vmcore(str(on.vmcore("after-oom")), _debuginfo(on))
    assert snap.balloons[0].details["num_pages"] == 0
    assert snap.memory.balloon_deflate == snap.memory.balloon_inflate == 65536


def test_totalram_cross_checked_with_crash(off):
    crash = shutil.which("crash")
    if crash is None:
        pytest.skip("crash not installed")
    vmcore = str(off.vmcore("inflated"))
    proc = subprocess.run(
        [crash, "-s", str(off.vmlinux), vmcore],
        input="p _totalram_pages.counter\nq\n",
        capture_output=True, text=True, timeout=300,
    )
    match = re.search(r"\$\d+ = (\d+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    snap = read_vmcore(vmcore, _debuginfo(off))
    assert snap.memory.mem_total_kb == int(match.group(1)) * 4 == 206272


def test_module_debuginfo_withheld_gives_fallback(off):
    snap = read_vmcore(str(off.vmcore("inflated")), [str(off.vmlinux)])
    (balloon,) = snap.balloons
    assert balloon.driver == Driver.VIRTIO
    assert balloon.details["basis"] == "vm events"
    assert balloon.inflated_bytes == 65536 * 4096  # balloon_inflate - balloon_deflate
    assert balloon.accounting == Accounting.UNKNOWN
    release = off.groundtruth["kernel"]["release"]
    expected = f"/usr/lib/debug/lib/modules/{release}/kernel/drivers/virtio/virtio_balloon.ko"
    assert snap.vmcore.debuginfo_missing == [expected]
    (warning,) = snap.warnings
    assert expected in warning and f"linux-image-{release}-dbg" in warning


def test_kdump_compressed_dump_same_answer(off):
    try:
        path = off.vmcore("inflated", "kdump-zlib")
    except KeyError:
        pytest.skip("no kdump-zlib dump in this run")
    assert is_vmcore(str(path))
    try:
        snap = read_vmcore(str(path), _debuginfo(off))
    except InputError as e:
        # QEMU's flattened kdump output needs `makedumpfile -R` first.
        assert "vmcore" in str(e)
        return
    assert snap.balloons[0].inflated_bytes == 256 << 20


def test_truncated_vmcore_one_line_error(off, tmp_path):
    src = str(off.vmcore("inflated"))
    cut = tmp_path / "cut.elf"
    with open(src, "rb") as f, open(cut, "wb") as g:
        g.write(f.read(64 << 20))  # headers and the first 64 MiB only
    with pytest.raises((InputError, DebuginfoError)) as info:
        read_vmcore(str(cut), _debuginfo(off))
    assert "\n" not in str(info.value) and str(cut) in str(info.value)


def test_wrong_vmlinux_debuginfo_error(off, tmp_path):
    # Any ELF that is not this kernel's vmlinux: the test's own gcc output.
    src = tmp_path / "x.c"
    src.write_text("int main(void) { return 0; }\n")
    exe = tmp_path / "vmlinux-wrong"
    subprocess.run(["gcc", "-g", "-o", str(exe), str(src)], check=True)
    with pytest.raises(DebuginfoError) as info:
        read_vmcore(str(off.vmcore("inflated")), [str(exe)])
    assert "no vmlinux debuginfo matching" in str(info.value)


def test_not_a_vmcore(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello\n")
    assert not is_vmcore(str(p))
    with pytest.raises(InputError):
        read_vmcore(str(p), None)
