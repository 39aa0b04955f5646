# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.readers.vmcore on real vmcores of ballooned Debian guests.

The lab (tests/lab) boots the guest under QEMU/TCG, inflates a 256 MiB
virtio balloon over QMP, dumps memory (``dump-guest-memory``), runs a memory
hog to a global OOM and dumps again.  Ground truth is QEMU's own
``query-balloon``, the serial console and the guest's /proc at the dump.
Every test runs on each lab kernel (Debian 11's 5.10, 12's 6.1, 13's 6.12 and
trixie-backports' 7.x: four generations of ``struct virtio_balloon`` and of the
OOM report).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from balloon_oom.errors import DebuginfoError, InputError
from balloon_oom.model import Accounting, Driver
from balloon_oom.readers.vmcore import is_vmcore, read_vmcore
from tests.lab.kernel import KERNELS

pytestmark = pytest.mark.lab

#: MemTotal (kB) of the real 6.1 capture (shared real-captures/kvm-6.1) after
#: inflating 256 MiB, by deflate-on-oom: the lab's 6.1 guest must match it.
REAL_CAPTURE_MEMTOTAL_KB = {"6.1": {False: 206272, True: 468416}}


def _run(scenario, kernel):
    from tests.lab import ensure_run

    try:
        return ensure_run(scenario, kernel=kernel)
    except Exception as e:  # noqa: BLE001 - LabUnavailable and friends
        pytest.skip(f"lab unavailable: {e}")


def _memtotal_kb(run, phase):
    """MemTotal of the guest's own /proc/meminfo captured in ``phase``."""
    for line in (run.tree(phase) / "proc" / "meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    raise AssertionError(f"no MemTotal in {run.tree(phase)}")


@pytest.fixture(scope="module", params=list(KERNELS))
def kernel(request):
    return request.param


@pytest.fixture(scope="module")
def off(kernel):
    return _run("deflate-off", kernel)


@pytest.fixture(scope="module")
def on(kernel):
    return _run("deflate-on", kernel)


def _debuginfo(run):
    return [str(run.vmlinux), str(run.debuginfo_dir)]


@pytest.mark.parametrize("scenario,deflate", [("deflate-off", False), ("deflate-on", True)])
def test_inflated_size_matches_qemu(kernel, scenario, deflate):
    run = _run(scenario, kernel)
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
    # MemTotal effect: the guest's own MemTotal at the dump; with deflate off
    # it is MemTotal before inflating less the balloon.
    inflated_kb = _memtotal_kb(run, "after-inflate")
    assert snap.memory.mem_total_kb == inflated_kb
    assert inflated_kb == _memtotal_kb(run, "before") - (0 if deflate else 256 << 10)
    if kernel in REAL_CAPTURE_MEMTOTAL_KB:
        assert inflated_kb == REAL_CAPTURE_MEMTOTAL_KB[kernel][deflate]
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


def test_totalram_cross_checked_with_crash(kernel, off):
    """Against crash, or on 6.12 (which Debian 12's crash 8.0.2 cannot open)
    the drgn library read directly (tests/lab/coreread.py)."""
    from tests.lab.coreread import READER, totalram_pages

    if READER[kernel] == "crash" and shutil.which("crash") is None:
        pytest.skip("crash not installed")
    vmcore = off.vmcore("inflated")
    pages = totalram_pages(kernel, off.vmlinux, vmcore)
    snap = read_vmcore(str(vmcore), _debuginfo(off))
    assert snap.memory.mem_total_kb == pages * 4 == _memtotal_kb(off, "after-inflate")


def test_module_debuginfo_withheld_gives_fallback(off):
    snap = read_vmcore(str(off.vmcore("inflated")), [str(off.vmlinux)])
    (balloon,) = snap.balloons
    assert balloon.driver == Driver.VIRTIO
    assert balloon.details["inflated_basis"] == "vm events"
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
