"""host_facts: the hypervisor named by a kernel report's Hardware name line."""

from pathlib import Path

from balloon_oom.host_facts import hypervisor_info
from balloon_oom.parsers.dmi import hypervisor_from_dmi
from balloon_oom.parsers.kernel_log import scan_log
from balloon_oom.readers.files import ReportFiles

DATA = Path(__file__).parent / "data" / "oom"


def test_hardware_name_of_a_report_is_the_basis():
    scan = scan_log((DATA / "db1000n-555-5.13-oracle-qemu-head-dmesg.txt").open("rb"), "messages")
    hv = hypervisor_info(ReportFiles(), scan.hypervisor, [])
    assert (hv.name, hv.basis) == ("KVM/QEMU", "kernel log: Hardware name (DMI) of a kernel report")
    assert hv.evidence.line == 3 and "QEMU Standard PC" in hv.evidence.text


def test_dmi_strings_of_real_reports():
    # DMI / Hardware name strings as real logs print them: the wild logs and
    # tests/data/oom, and public syzbot and lkml reports (found with find_string).
    assert hypervisor_from_dmi("Microsoft Corporation Virtual Machine/Virtual Machine, BIOS Hyper-V UEFI Release v4.0 01/30/2019") == "Microsoft Hyper-V"
    assert hypervisor_from_dmi("VMware, Inc. VMware Virtual Platform/440BX Desktop Reference Platform, BIOS 6.00 07/02/2015") == "VMware"
    assert hypervisor_from_dmi("OpenStack Foundation OpenStack Nova, BIOS 1.10.2-1ubuntu1 04/01/2014") == "KVM (OpenStack)"
    assert hypervisor_from_dmi("Google Google Compute Engine/Google Compute Engine, BIOS Google 01/01/2011") == "KVM (Google Compute Engine)"
    assert hypervisor_from_dmi("Amazon EC2 t3a.nano/, BIOS 1.0 10/16/2017") == "KVM (Amazon EC2)"
    assert hypervisor_from_dmi("Amazon EC2 i3.metal/Not Specified, BIOS 1.0 10/16/2017") is None
    assert hypervisor_from_dmi("Xen HVM domU, BIOS 4.2.amazon 08/24/2006") == "Xen HVM (Amazon EC2)"
    assert hypervisor_from_dmi("System Manufacturer System Product Name/KFSN4-DRE, BIOS 1013 11/18/2008") is None


def test_dmi_files_beat_a_hypervisor_named_only_by_balloon_messages():
    scan = scan_log(["[   66.917948] hv_balloon: Max. dynamic memory size: 2222 MB"], "dmesg")
    assert scan.hypervisor[0] == "Microsoft Hyper-V"
    files = ReportFiles()
    files.add("sys/class/dmi/id/sys_vendor", "QEMU\n")
    hv = hypervisor_info(files, scan.hypervisor, [])
    assert (hv.name, hv.basis) == ("KVM/QEMU", "DMI")
    hv = hypervisor_info(ReportFiles(), scan.hypervisor, [])
    assert hv.name == "Microsoft Hyper-V" and "QEMU's hv-balloon" in hv.basis
