"""find_balloons() on ReportFiles laid out as sos stores them, from the real captures.

The per-driver cases are in tests/test_drivers_<driver>.py; the helpers here are theirs.

Real: the QEMU/6.1 features/meminfo/vmstat files (both deflate modes) and the
Firecracker/6.18 files.  VMware, Hyper-V, Xen and CMM cannot run here (TCG, no
such hypervisor); their cases use samples rendered from the kernel formats.
"""

from balloon_oom.drivers import find_balloons
from balloon_oom.memory import memory_figures
from balloon_oom.model import Accounting, BootMemory
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

def test_broken_file_is_a_warning_not_a_traceback():
    files = kvm_files("off", "after-inflate")
    files.add(DEV + "/features", "0101\n")
    [b], warnings = run(files)
    assert b.accounting == Accounting.UNKNOWN
    assert any(w.startswith("sys/bus/virtio/drivers/virtio_balloon/virtio0/features:1: features string has 4")
               for w in warnings)

def test_nothing_found():
    assert run(ReportFiles()) == ([], [])
