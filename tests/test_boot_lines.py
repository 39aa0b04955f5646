# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.parsers.boot_lines: boot memory, hypervisor, release and balloon
driver signatures, from the real 6.1 and Firecracker 6.18 guests and the
kernel's format strings."""

from balloon_oom.parsers.kernel_log import scan_log
from tests import shared as _shared

CAPTURES = _shared.CAPTURES
KVM = CAPTURES / "kvm-6.1"


def scan_file(path, source="sos_commands/kernel/dmesg"):
    with open(path, "rb") as fh:
        return scan_log(fh, source)


def test_real_6_1_boot_memory_and_freed_later():
    scan = scan_file(KVM / "dmesg-deflate-off.txt")
    (bm,) = scan.boot_memory
    assert (bm.available_kb, bm.total_kb, bm.reserved_kb) == (260860, 523768, 64776)
    assert bm.evidence.line == 83
    # 36 + 1380 + 2036 + 2824 + 2040 + 1108: the "Freeing … memory" lines after it.
    assert bm.freed_later_kb == 9424
    # = 13838 pages reserved in the empty-balloon (deflate-on) OOM report.
    assert bm.baseline_reserved_kb == 13838 * 4


def test_firecracker_6_18_boot_memory():
    scan = scan_file(CAPTURES / "firecracker-6.18" / "dmesg-excerpt.txt")
    (bm,) = scan.boot_memory
    assert (bm.available_kb, bm.total_kb, bm.reserved_kb) == (3218236, 25165432, 496444)
    # "Freeing SMP alternatives memory: 52K" comes before the Memory: line.
    assert bm.freed_later_kb == 7360 + 3728 + 2008 + 2008


# The driver messages below are the kernel's format strings filled in: no
# ballooned guest that prints them can run here (no Hyper-V; TCG virtio-balloon
# never runs out of puff).  hv_balloon's "Using Dynamic Memory protocol version
# %u.%u", "Max. dynamic memory size: %llu MB" and "Balloon request will be
# partially fulfilled. %s" (with "Balloon floor reached.") come from Linux kernel
# commit b3bb97b8a49f ("Drivers: hv: balloon: Add logging for dynamic memory
# operations") (in v4.10); virtio_balloon's fill_balloon() prints "Out of puff!
# Can't get %u pages" (dev_info_ratelimited) when a page for the balloon cannot
# be allocated; virtio_mem prints "plugged size: 0x%llx" at probe and on every
# config change since it was added, Linux kernel commit 5f1f79bbc9e2
# ("virtio-mem: Paravirtualized memory hotplug") (in v5.8).

def test_hypervisor_release_and_signatures():
    log = [
        "[    0.000000] Linux version 5.14.0-362.el9.x86_64 (mockbuild@x86-vm-07) (gcc (GCC) 11.4.1) #1 SMP",
        "[    0.000000] Hypervisor detected: Microsoft Hyper-V",
        "[    3.100000] hv_balloon: Using Dynamic Memory protocol version 2.0",
        "[    3.100100] hv_balloon: Max. dynamic memory size: 8192 MB",
        "[  100.000000] hv_balloon: Balloon request will be partially fulfilled. Balloon floor reached.",
        "[  200.000000] virtio_balloon virtio3: Out of puff! Can't get 1 pages",
        "[  201.000000] virtio_mem virtio4: plugged size: 0x40000000",
        "[    0.000000] Linux version 5.14.0-362.el9.x86_64 (mockbuild@x86-vm-07) (gcc (GCC) 11.4.1) #1 SMP",
        "[    0.000000] Hypervisor detected: KVM",
    ]
    scan = scan_log(log, "dmesg")
    assert scan.boots == 2
    assert scan.hypervisor[0] == "KVM" and scan.hypervisor[1].line == 9
    assert scan.kernel_release[0] == "5.14.0-362.el9.x86_64"
    assert [s.kind for s in scan.signatures] == [
        "hv_balloon.protocol", "hv_balloon.max_dynamic_memory", "hv_balloon.partial",
        "virtio_balloon.out_of_puff", "virtio_mem.plugged_size"]
    assert (scan.signatures[3].timestamp, scan.signatures[3].evidence.line) == (200.0, 6)


def test_signatures_are_bounded():
    line = "[  200.000000] virtio_balloon virtio3: Out of puff! Can't get 1 pages"
    scan = scan_log([line] * 250, "dmesg")
    assert len(scan.signatures) == 100
    assert scan.signature_counts == {"virtio_balloon.out_of_puff": 250}
