# SPDX-License-Identifier: GPL-2.0-or-later
"""Evidence-gap scenarios: the ground truth the analyzer's verdict is judged against.

Each scenario (flood, deflate-after, sysrq-f, fpr, uefi, gigantic,
numa-cpuset) on every lab kernel; the analyzer's side is
``tests/test_lab_analyze.py::test_evidence_gap_tree``.
"""

from __future__ import annotations

import re

import pytest

from tests.lab.truthcases import (ALL_KERNELS, PAGE, lab, meminfo, query_balloon, run, vmstat)


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_flood_rotates_the_boot_lines_out_but_keeps_the_oom(kernel):
    r = run(kernel, "flood")
    before = (r.tree("before") / "sos_commands/kernel/dmesg").read_text()
    after = (r.tree("after-oom") / "sos_commands/kernel/dmesg").read_text()
    for boot_line in ("Linux version ", "Memory: ", "Command line: "):
        assert boot_line in before and boot_line not in after
    assert after.count("lab-flood ") > 1000
    event = r.groundtruth["oom"]["events"][0]
    assert event["killed_line"] in after.splitlines()
    assert event["invoked_line"] in after.splitlines()


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_host_deflate_after_the_oom(kernel):
    """The balloon was 256 MiB at the OOM; the collection sees it deflated by the host."""
    r = run(kernel, "deflate-after")
    gt = r.groundtruth
    assert gt["at_oom"]["query-balloon"]["actual"] == gt["balloon_target_bytes"]
    assert query_balloon(kernel, "deflate-after", "after-oom") == gt["mem_bytes"]
    vm = vmstat(kernel, "deflate-after", "after-oom")
    assert (vm["balloon_inflate"], vm["balloon_deflate"]) == (65536, 65536)
    assert meminfo(kernel, "deflate-after", "after-oom")["MemTotal"] \
        == meminfo(kernel, "deflate-after", "before")["MemTotal"]
    # QEMU rate-limits BALLOON_CHANGE (one a second): the deflation shows as
    # at least one event above the target, not necessarily the last value.
    assert any(e["event"] == "BALLOON_CHANGE" and e["data"]["actual"] > gt["balloon_target_bytes"]
               for e in gt["qmp_events"])


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_sysrq_f_oom_with_a_deflate_on_oom_balloon(kernel):
    """SysRq f with an inflated deflate-on-oom balloon: the notifier gives back
    one call's worth (virtio_balloon's oom_pages, 256 pages); since Linux kernel commit
    f530243a172d ("mm, oom: OOM sysrq should always kill a process") (in v5.17)
    the OOM killer then kills anyway; before it, freed pages end the OOM with no
    kill and no report (the lab's /init then ends the hog with SIGTERM)."""
    r = run(kernel, "sysrq-f")
    gt = r.groundtruth
    serial = r.serial_log.read_text(errors="replace")
    assert "sysrq: Manual OOM execution" in serial
    assert "hog: reached limit 64 MiB" in serial
    vm = vmstat(kernel, "sysrq-f", "after-oom")
    given_back = vm["balloon_deflate"] * PAGE
    assert given_back == gt["at_oom"]["query-balloon"]["actual"] - gt["balloon_target_bytes"]
    assert given_back == 256 * PAGE
    if gt["oom"]["count"] == 0:     # the pre-v5.17 behaviour
        assert gt["hog_exit_status"] == 128 + 15
        assert " invoked oom-killer: " not in serial and "still alive after 20 s" in serial
        return
    (event,) = gt["oom"]["events"]
    assert gt["hog_exit_status"] == 128 + 9
    assert event["constraint"] == "CONSTRAINT_NONE" and event["victim_comm"] == "hog"
    assert "order=-1" in event["invoked_line"]   # a sysrq OOM has no allocation (oc->order = -1)
    # It runs in a workqueue (moom_callback): a kworker invokes the killer.
    assert event["invoker"].startswith("kworker/")


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_free_page_reporting_pages_are_not_balloon_pages(kernel):
    """free-page-reporting=on (VIRTIO_BALLOON_F_REPORTING, bit 5): the balloon counters are the inflated pages only."""
    r = run(kernel, "fpr")
    link = r.tree("after-inflate") / "sys/bus/virtio/drivers/virtio_balloon/virtio0"
    assert (link / "features").read_text()[5] == "1"
    for phase in ("after-inflate", "after-oom"):
        vm = vmstat(kernel, "fpr", phase)
        assert (vm["balloon_inflate"] - vm["balloon_deflate"]) * PAGE == 256 << 20
        assert query_balloon(kernel, "fpr", phase) == r.groundtruth["balloon_target_bytes"]
    off = run(kernel, "deflate-off")
    assert (off.tree("after-inflate") / "sys/bus/virtio/drivers/virtio_balloon/virtio0/features").read_text()[5] == "0"


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_uefi_boot_through_ovmf(kernel):
    """Booted by OVMF: the kernel saw an EFI system table and the EFI memory map;
    the balloon is still QEMU's to the page (the generic phase tests), and the
    boot reservations differ from the BIOS boot of deflate-off."""
    r = run(kernel, "uefi")
    before = (r.tree("before") / "sos_commands/kernel/dmesg").read_text()
    assert re.search(r"^\[[\s\d.]+\] efi: EFI v\S+ by ", before, re.M)
    bios = (run(kernel, "deflate-off").tree("before") / "sos_commands/kernel/dmesg").read_text()
    assert "efi: EFI v" not in bios
    assert meminfo(kernel, "uefi", "before")["MemTotal"] != meminfo(kernel, "deflate-off", "before")["MemTotal"]
    assert "-bios" in r.groundtruth["qemu_cmdline"]


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_gigantic_hugepage_reserved_at_boot(kernel):
    """One 1 GiB hugepage (hugepagesz=1G hugepages=1) in a 3 GiB guest: meminfo
    Hugetlb: 1 GiB, the OOM report's node line hugepages_total=1 of 1048576kB,
    and the balloon is QEMU's to the page (the generic phase tests)."""
    r = run(kernel, "gigantic")
    assert r.groundtruth["mem_bytes"] == 3 << 30
    assert meminfo(kernel, "gigantic", "after-oom")["Hugetlb"] == 1 << 20
    serial = r.serial_log.read_text(errors="replace")
    assert re.search(r"Node 0 hugepages_total=1 hugepages_free=1 hugepages_surp=0 hugepages_size=1048576kB", serial)
    vm = vmstat(kernel, "gigantic", "after-oom")
    assert (vm["balloon_inflate"] - vm["balloon_deflate"]) * PAGE == 256 << 20


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_numa_cpuset_oom_with_a_deflate_on_oom_balloon(kernel):
    """A CONSTRAINT_CPUSET OOM (hog confined to node 1) still calls the OOM
    notifier (only memcg OOMs skip it): the balloon is deflated, all of it or in
    1 MiB steps, and vmstat's events say exactly what QEMU lost."""
    r = run(kernel, "numa-cpuset")
    gt = r.groundtruth
    (event,) = gt["oom"]["events"]
    assert "mems_allowed=1," in next(line for line in r.serial_log.read_text(errors="replace").splitlines()
                                     if "oom-kill:constraint=" in line)
    assert (r.tree("after-oom") / "sys/fs/cgroup/lab/cpuset.mems.effective").read_text().strip() == "1"
    zoneinfo = (r.tree("before") / "proc/zoneinfo").read_text()
    assert "Node 1, zone" in zoneinfo
    vm = vmstat(kernel, "numa-cpuset", "after-oom")
    given_back = vm["balloon_deflate"] * PAGE
    assert given_back == gt["at_oom"]["query-balloon"]["actual"] - gt["balloon_target_bytes"]
    assert given_back > 0 and given_back % (256 * PAGE) == 0
