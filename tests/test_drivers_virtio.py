# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.drivers.virtio on the real QEMU/6.1 and Firecracker/6.18 captures."""

from balloon_oom.drivers import memtotal_gap_kb
from balloon_oom.memory import memory_figures
from balloon_oom.model import Accounting, Driver
from balloon_oom.readers.files import ReportFiles
from tests.test_drivers import DEV, KVM, KVM_BOOT, REAL, kvm_files, run


def test_kvm_deflate_off_after_inflate():
    balloons, warnings = run(kvm_files("off", "after-inflate"))
    assert warnings == []
    [b] = balloons
    assert (b.driver, b.device) == (Driver.VIRTIO, "virtio0")
    assert b.inflated_bytes == 268435456
    assert b.accounting == Accounting.MEMTOTAL_REDUCED and b.deflate_on_oom is False
    assert b.details["inflated_basis"] == "vmstat balloon_inflate - balloon_deflate"
    assert b.details["inflated_bytes_by_basis"] == {"vmstat balloon_inflate - balloon_deflate": 268435456}
    assert "bit 2 (DEFLATE_ON_OOM) = 0" in b.accounting_basis
    assert b.target_bytes is None
    assert b.features == ["STATS_VQ", "RING_EVENT_IDX", "VERSION_1", "RING_RESET"]
    sources = {e.source for e in b.evidence}
    assert "sys/bus/virtio/drivers/virtio_balloon/virtio0/features" in sources and "proc/vmstat" in sources


def test_kvm_deflate_on_after_inflate():
    [b], _ = run(kvm_files("on", "after-inflate"))
    assert b.inflated_bytes == 268435456
    assert b.accounting == Accounting.COUNTED_AS_USED and b.deflate_on_oom is True


def test_kvm_deflate_on_after_oom_is_empty():
    [b], _ = run(kvm_files("on", "after-oom"))
    assert b.inflated_bytes == 0 and b.accounting == Accounting.COUNTED_AS_USED


def test_device_found_through_device_id_only():
    files = ReportFiles()
    files.add(DEV + "/device", "0x0005\n")
    files.add(DEV + "/features", (KVM / "features-after-inflate-deflate-off.txt").read_text())
    files.add("sys/devices/pci0000:00/0000:00:04.0/virtio1/device", "0x0002\n")  # a block device
    [b], _ = run(files)
    assert b.device == "virtio0" and b.accounting == Accounting.MEMTOTAL_REDUCED


def test_no_features_file_memtotal_gap_decides():
    files = kvm_files("off", "after-inflate", features=False)
    [b], warnings = run(files, KVM_BOOT)
    # 523768 - (64776 - 9424) - 206272 = 262144 kB: exactly the 256 MiB balloon.
    assert memtotal_gap_kb(memory_figures(files)[0], KVM_BOOT) == 262144
    assert b.accounting == Accounting.MEMTOTAL_REDUCED and b.deflate_on_oom is None
    assert "262144 kB below" in b.accounting_basis
    files = kvm_files("on", "after-inflate", features=False)
    [b], _ = run(files, KVM_BOOT)
    assert b.accounting == Accounting.COUNTED_AS_USED


def test_no_features_no_boot_is_unknown_with_reason():
    [b], _ = run(kvm_files("off", "after-inflate", features=False))
    assert b.accounting == Accounting.UNKNOWN
    assert "no features file" in b.accounting_basis and "boot Memory" in b.accounting_basis


def test_virtuozzo_debugfs_tells_mode_and_size():
    files = kvm_files("off", "after-inflate", features=False)
    files.add("sys/kernel/debug/virtio-balloon", "InflatedTotal: 262144 kB\nInflatedFree: 0 kB\n")
    [b], _ = run(files)
    assert b.accounting == Accounting.MEMTOTAL_REDUCED and b.deflate_on_oom is False
    assert b.details["inflated_basis"] == "virtio-balloon debugfs"
    assert b.details["inflated_bytes_by_basis"] == {"virtio-balloon debugfs": 268435456,
                                                    "vmstat balloon_inflate - balloon_deflate": 268435456}


def test_firecracker():
    files = ReportFiles()
    fc = REAL / "firecracker-6.18"
    base = "sys/devices/pci0000:00/0000:00:01.0/virtio0"
    files.add(base + "/features", (fc / "virtio0-features.txt").read_text())
    files.add(base + "/device", (fc / "virtio0-device.txt").read_text())
    files.add(base + "/vendor", (fc / "virtio0-vendor.txt").read_text())
    files.add_link("sys/bus/virtio/drivers/virtio_balloon/virtio0", "../../../../devices/pci0000:00/0000:00:01.0/virtio0")
    files.add("proc/meminfo", (fc / "proc-meminfo.txt").read_text())
    files.add("proc/vmstat", (fc / "proc-vmstat.txt").read_text())
    files.add("proc/zoneinfo", (fc / "proc-zoneinfo.txt").read_text())
    [b], warnings = run(files)
    assert warnings == []
    assert b.inflated_bytes == 0 and b.accounting == Accounting.COUNTED_AS_USED and b.deflate_on_oom is True
    assert b.details["inflated_basis"] == "meminfo Balloon"
    assert b.details["inflated_bytes_by_basis"] == {"meminfo Balloon": 0, "vmstat nr_balloon_pages": 0,
                                                    "vmstat balloon_inflate - balloon_deflate": 0}


def test_virtio_only_through_counters():
    files = kvm_files("off", "after-inflate", features=False, device=False)
    files.add("proc/modules", "virtio_balloon 28672 0 - Live 0x0000000000000000\n")
    [b], warnings = run(files)
    assert b.driver == Driver.VIRTIO and b.device is None and b.inflated_bytes == 268435456
    assert "module list" in b.details["reason"]
    assert any("virtio balloon inferred" in w for w in warnings)
