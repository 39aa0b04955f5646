# SPDX-License-Identifier: GPL-2.0-or-later
"""The driver registry and the tables derived from it."""

import re

import pytest

from balloon_oom import drivers
from balloon_oom.drivers.common import DriverSpec
from balloon_oom.model import Driver

#: One real-format line per signature kind (kernel printk formats).
SAMPLE_LINES = {
    "virtio_balloon.out_of_puff": "virtio_balloon virtio2: Out of puff! Can't get 1 page",
    "hv_balloon.partial": "hv_balloon: Balloon request will be partially fulfilled. Balloon floor reached.",
    "hv_balloon.floor_reached": "hv_balloon: Balloon floor reached",
    "hv_balloon.hot_add_failed": "hv_balloon: Memory hot add failed",
    "hv_balloon.max_dynamic_memory": "hv_balloon: Max. dynamic memory size: 4096 MB",
    "hv_balloon.protocol": "hv_balloon: Using Dynamic Memory protocol version 2.0",
    "vmw_balloon": "vmw_balloon: vmballoon_send_get_target - failed",
    "xen_balloon": "xen:balloon: Initialising balloon driver",
    "virtio_mem.plugged_size": "virtio_mem virtio5: plugged size: 0x40000000",
    "virtio_mem.requested_size": "virtio_mem virtio5: requested size: 0x80000000",
}


def test_registry_covers_every_driver_once_in_find_balloons_order():
    assert [s.driver for s in drivers.REGISTRY] == [
        Driver.VIRTIO, Driver.VMWARE, Driver.HYPERV, Driver.XEN, Driver.S390_CMM, Driver.PSERIES_CMM,
        Driver.VIRTIO_MEM]
    assert all(isinstance(s, DriverSpec) for s in drivers.REGISTRY)
    assert drivers.spec(Driver.XEN).modules == ("xen_balloon",)


def test_specs_are_frozen():
    with pytest.raises(Exception):
        drivers.spec(Driver.VIRTIO).hypervisor = "x"


@pytest.mark.parametrize("kind,line", sorted(SAMPLE_LINES.items()))
def test_each_line_matches_its_signature_first_and_no_other_drivers(kind, line):
    """Drivers' signatures are disjoint, so only the order within one driver matters
    (hv_balloon prints "partially fulfilled. Balloon floor reached." as one line)."""
    matched = [k for k, rx in drivers.SIGNATURES if rx.search(line)]
    assert matched[0] == kind
    assert {k.split(".")[0] for k in matched} == {kind.split(".")[0]}
    sig = next(s for spec in drivers.REGISTRY for s in spec.signatures
               if s.kind == kind)
    assert sig.needle in line.encode()


def test_every_accounting_rule_cites_in_drgns_format_or_says_never():
    cite = re.compile(r'Linux kernel commit [0-9a-f]{12} \("[^"]+"\) \(in v\d+\.\d+\)')
    for s in drivers.REGISTRY:
        assert cite.search(s.accounting) or "never" in s.accounting, s.driver


def test_the_scanner_and_the_verdict_use_the_registry_tables():
    """The log scanner's signature kinds and the verdict's allocation frames are
    the registry's, not tables of their own."""
    from balloon_oom.parsers import logkinds
    from balloon_oom.verdict import rules

    assert logkinds._SIGNATURES == drivers.SIGNATURES
    assert {k.needle for k in logkinds.KINDS if k.name.startswith("signature.")} == set(drivers.SIGNATURE_NEEDLES)
    assert logkinds._DRIVER_HYPERVISOR == drivers.DRIVER_HYPERVISOR
    assert rules.BALLOON_FRAMES == drivers.ALLOCATION_FRAMES and "fill_balloon" in rules.BALLOON_FRAMES


def test_debuginfo_modules():
    assert drivers.DEBUGINFO_MODULES == {"virtio_balloon": Driver.VIRTIO, "hv_balloon": Driver.HYPERV,
                                         "vmw_balloon": Driver.VMWARE, "cmm": Driver.S390_CMM}


def test_hypervisor_log_prefixes():
    assert set(drivers.HYPERVISOR_LOG_PREFIXES) == {"hv_balloon", "vmw_balloon", "xen:balloon"}


def test_module_and_path_tables():
    assert drivers.MODULES == ("virtio_balloon", "vmw_balloon", "hv_balloon", "xen_balloon", "cmm", "virtio_mem")
    assert "sys/devices/system/cmm/cmm0/*" in drivers.REPORT_PATHS
    assert "/proc/sys/vm/cmm_*" in drivers.LIVE_PATHS
    assert all(p.startswith("/") for p in drivers.LIVE_PATHS)
    assert not any(p.startswith("/") for p in drivers.REPORT_PATHS)


def test_old_import_path_still_works():
    from balloon_oom import balloons

    assert balloons.find_balloons is drivers.find_balloons


def test_layout_and_live_lists_come_from_the_registry():
    from balloon_oom.readers import layout, live

    assert set(drivers.REPORT_PATHS) <= set(layout.SMALL_FILES)
    assert layout.classify("sys/devices/system/cmm/cmm0/loaned_kb") == "small"
    assert layout.classify("sos_commands/vmware/vmware-toolbox-cmd_stat_balloon") == "small"
    assert set(drivers.LIVE_PATHS) <= set(live.LIVE_GLOBS)
    assert "/proc/modules" in live.LIVE_GLOBS and "proc/modules" in layout.SMALL_FILES


def test_drgn_side_shares_the_parsers_tables():
    pytest.importorskip("drgn")
    from balloon_drgn import hyperv, vmware
    from balloon_oom.parsers import hv_balloon, vmmemctl

    assert vmware.VMW_BALLOON_CAPABILITY_NAMES is vmmemctl.CAPABILITY_NAMES
    assert hyperv.HV_DM_STATE_NAMES == ("Initializing", "Initialized", "Balloon Up", "Balloon Down",
                                        "Hot Add", "Error")
    assert hv_balloon.HvBalloonDebugfs is not hyperv.HvBalloon


LOG_SAMPLES = ["var/crash/x/vmcore-dmesg.txt", "var/crash/x/dmesg.202611250000", "sos_commands/kernel/dmesg",
               "sos_commands/kernel/dmesg_-T", "sos_commands/balloon/dmesg", "sos_commands/balloon/journalctl_-k_-b_0",
               "sos_commands/balloon/journalctl_-k_-b_-1", "sos_commands/balloon/journalctl_-k_all_boots",
               "sos_commands/logs/journalctl_--no-pager", "var/log/dmesg.1.gz", "var/log/kern.log",
               "var/log/messages-20240101.xz", "var/log/messages.1", "var/log/syslog", "live:dmesg", "vmcore:x",
               "proc/meminfo", "var/log/boot.log"]


def test_log_locations_declared_once():
    from balloon_oom.readers import layout

    assert layout.LOG_FILES == tuple(s.pattern for s in layout.LOGS)
    ranks = [layout.log_rank(p) for p in LOG_SAMPLES]
    assert ranks == [0, 0, 1, 1, 2, 4, 4, 4, 5, 3, 6, 7, 7, 8, 9, 9, 9, 9]
    assert [layout.classify(p) for p in LOG_SAMPLES[:14]] == ["log"] * 14
    assert layout.classify("var/log/boot.log") is None


def test_the_boot_assembly_uses_the_log_specs():
    """Which boot a log holds comes from readers/layout.py's LogSpecs only."""
    from balloon_oom import analysis_logs
    from balloon_oom.readers import layout

    assert analysis_logs._CURRENT_BOOT_LOGS is layout.CURRENT_BOOT_LOGS
    assert analysis_logs._PAST_BOOT_LOGS is layout.PAST_BOOT_LOGS
    assert "sos_commands/kernel/dmesg" in layout.CURRENT_BOOT_LOGS
    assert "sos_commands/balloon/journalctl_-k_-b_-1" in layout.PAST_BOOT_LOGS
