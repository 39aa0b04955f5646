"""find_balloons() on ReportFiles laid out as sos stores them, from the real captures.

Real: the QEMU/6.1 features/meminfo/vmstat files (both deflate modes) and the
Firecracker/6.18 files.  VMware, Hyper-V, Xen and CMM cannot run here (TCG, no
such hypervisor); their cases use samples rendered from the kernel formats.
"""



from balloon_oom.drivers import find_balloons, memtotal_gap_kb
from balloon_oom.memory import memory_figures
from balloon_oom.model import Accounting, BootMemory, Driver
from balloon_oom.readers.files import ReportFiles
from tests import shared as _shared

REAL = _shared.CAPTURES
KVM = REAL / "kvm-6.1"
DEV = "sys/devices/pci0000:00/0000:00:03.0/virtio0"
# The 6.1 guest's boot line and its "Freeing … memory" total (dmesg-deflate-*.txt).
KVM_BOOT = BootMemory(available_kb=260860, total_kb=523768, reserved_kb=64776, freed_later_kb=9424)


def kvm_files(mode, phase, features=True, device=True):
    files = ReportFiles()
    if features:
        files.add(DEV + "/features", (KVM / f"features-{phase}-deflate-{mode}.txt").read_text())
    if device:
        files.add(DEV + "/device", "0x0005\n")
        files.add_link("sys/bus/virtio/drivers/virtio_balloon/virtio0", "../../../../devices/pci0000:00/0000:00:03.0/virtio0")
    files.add("proc/meminfo", (KVM / f"meminfo-{phase}-deflate-{mode}.txt").read_text())
    files.add("proc/vmstat", (KVM / f"vmstat-balloon-{phase}-deflate-{mode}.txt").read_text())
    return files


def run(files, boot=None):
    memory, _ = memory_figures(files)
    return find_balloons(files, memory, boot)


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


def test_vmware_v2_vmmemctl():
    text = ("%-22s: %16s\n" % ("balloon capabilities", "0x3e") + "%-22s: %16s\n" % ("used capabilities", "0x3e")
            + "%-22s: %16s\n" % ("is resetting", "n") + "%-22s: %16d\n" % ("target", 131072)
            + "%-22s: %16d\n" % ("current", 65536) + "%-22s: %16d (%d failed)\n" % ("target", 0, 0))
    files = ReportFiles()
    files.add("sys/kernel/debug/vmmemctl", text)
    files.add("proc/vmstat", "balloon_inflate 65536\nballoon_deflate 0\n")
    files.add("proc/meminfo", "MemTotal: 8000000 kB\n")
    [b], warnings = run(files)
    assert warnings == []
    assert (b.driver, b.inflated_bytes, b.target_bytes) == (Driver.VMWARE, 65536 * 4096, 131072 * 4096)
    assert b.accounting == Accounting.COUNTED_AS_USED and b.features[-1] == "64_BIT_TARGET"
    assert b.details["stats_zero"] is True and b.details["commands"]["target"] == [0, 0]
    assert b.details["inflated_bytes_by_basis"] == {"sys/kernel/debug/vmmemctl current": 268435456,
                                                    "vmstat balloon_inflate - balloon_deflate": 268435456}


def test_hyperv_debugfs_means_memtotal_reduced():
    files = ReportFiles()
    files.add("sys/kernel/debug/hv-balloon", "state : 2 (Balloon Up)\npage_size : 4096\npages_ballooned : 1024\n")
    [b], _ = run(files)
    assert (b.driver, b.inflated_bytes, b.target_bytes) == (Driver.HYPERV, 4194304, None)
    assert b.accounting == Accounting.MEMTOTAL_REDUCED and "v6.0" in b.accounting_basis


def test_hyperv_without_debugfs_and_debugfs_marker_warning():
    files = ReportFiles()
    files.add("proc/modules", "hv_balloon 40960 0 - Live 0x0\n")
    files.add("proc/meminfo", "MemTotal: 468416 kB\n")
    files.add("sos_strings/balloon/debugfs.txt", "not-mounted\n")
    [b], warnings = run(files, KVM_BOOT)
    assert b.driver == Driver.HYPERV and b.inflated_bytes is None
    assert b.accounting == Accounting.UNKNOWN and b.details["memtotal_gap_kb"] == 0
    assert any("mount -t debugfs none /sys/kernel/debug" in w and "Hyper-V" in w for w in warnings)
    files.add("proc/meminfo", "MemTotal: 206272 kB\n")
    [b], _ = run(files, KVM_BOOT)
    assert b.accounting == Accounting.MEMTOTAL_REDUCED and "262144 kB below" in b.accounting_basis


def test_debugfs_marker_silent_for_a_fully_known_kvm_guest():
    files = kvm_files("off", "after-inflate")
    files.add("sos_strings/balloon/debugfs.txt", "not-mounted\n")
    _, warnings = run(files)
    assert warnings == []


def test_xen_sysfs():
    files = ReportFiles()
    d = "sys/devices/system/xen_memory/xen_memory0/"
    for name, value in (("target_kb", 1048576), ("info/current_kb", 1048576), ("info/low_kb", 131072),
                        ("info/high_kb", 0), ("schedule_delay", 1)):
        files.add(d + name, f"{value}\n")
    [b], _ = run(files)
    # target_kb is the guest allocation the host wants (= current here): the balloon stays as it is
    assert (b.driver, b.inflated_bytes, b.target_bytes) == (Driver.XEN, 131072 * 1024, 131072 * 1024)
    assert b.details["target_guest_kb"] == 1048576
    assert b.accounting == Accounting.MEMTOTAL_REDUCED and "extra PFNs" in b.details["caveat"]
    assert b.details["current_kb"] == 1048576 and b.details["schedule_delay"] == 1


def test_xen_target_below_current_means_the_balloon_must_grow():
    files = ReportFiles()
    d = "sys/devices/system/xen_memory/xen_memory0/"
    for name, value in (("target_kb", 786432), ("info/current_kb", 1048576), ("info/low_kb", 131072),
                        ("info/high_kb", 0)):
        files.add(d + name, f"{value}\n")
    [b], _ = run(files)
    assert b.target_bytes == (131072 + 1048576 - 786432) * 1024


def test_s390_and_pseries_cmm():
    files = ReportFiles()
    files.add("proc/sys/vm/cmm_pages", "1000\n")
    files.add("proc/sys/vm/cmm_timed_pages", "24\n")
    files.add("proc/sys/vm/cmm_timeout", "256 3600\n")
    files.add("sys/devices/system/cmm/cmm0/loaned_kb", "8192\n")
    files.add("sys/devices/system/cmm/cmm0/loaned_target_kb", "16384\n")
    balloons, _ = run(files)
    by = {b.driver: b for b in balloons}
    assert by[Driver.S390_CMM].inflated_bytes == 1024 * 4096
    assert by[Driver.S390_CMM].accounting == Accounting.COUNTED_AS_USED
    assert (by[Driver.PSERIES_CMM].inflated_bytes, by[Driver.PSERIES_CMM].target_bytes) == (8192 * 1024, 16384 * 1024)
    assert by[Driver.PSERIES_CMM].accounting == Accounting.MEMTOTAL_REDUCED


def test_broken_file_is_a_warning_not_a_traceback():
    files = kvm_files("off", "after-inflate")
    files.add(DEV + "/features", "0101\n")
    [b], warnings = run(files)
    assert b.accounting == Accounting.UNKNOWN
    assert any(w.startswith("sys/bus/virtio/drivers/virtio_balloon/virtio0/features:1: features string has 4")
               for w in warnings)


def test_nothing_found():
    assert run(ReportFiles()) == ([], [])
