# SPDX-License-Identifier: GPL-2.0-or-later
"""Ground truth of the lab itself: what the guest shows agrees with the host.

Lab tests (``-m lab``) boot the real Debian guests under QEMU/TCG the first
time (``ensure_run``), then reuse the cached runs. Every lab test runs on each
of the lab's kernels (:data:`tests.lab.KERNELS`: 5.10, 6.1, 6.12 and 7.x);
values that differ between them (MemTotal, boot reservations) are
taken from that kernel's own captures, never written in. They fail, not skip, when
the lab cannot run: :class:`tests.lab.LabUnavailable` propagates.
The unmarked tests at the end check the lab's pure helpers on real inputs.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict

import pytest

from tests.lab import KERNELS, SCENARIOS, ensure_run, kernel_cache
from tests.lab.coreread import READER, totalram_pages, unflatten
from tests.lab.guest import parse_replies
from tests.lab.drift import node_stat_drift_pages
from tests.lab.oomlog import oom_events, report_node_balloon_kb
from tests import shared as _shared

PAGE = 4096          # x86-64 PAGE_SIZE; virtio-balloon pages are 4 KiB too
VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2
REAL = (_shared.CAPTURES / "kvm-6.1")

lab = pytest.mark.lab
ALL_KERNELS = list(KERNELS)
ALL_PHASES = [(k, s.name, p) for k in ALL_KERNELS for s in SCENARIOS.values() for p in s.phases]
ALL_VMCORES = [(k, s.name, tag, fmt) for k in ALL_KERNELS for s in SCENARIOS.values()
               for tag in s.vmcores
               for fmt in (("elf", "kdump-zlib") if tag == "inflated" and s.kdump_zlib else ("elf",))]
ALL_RUNS = [(k, s) for k in ALL_KERNELS for s in SCENARIOS]
#: Runs ending in one OOM kill (sysrq-f may kill nothing: see its test).
KILL_RUNS = [(k, s.name) for k in ALL_KERNELS for s in SCENARIOS.values() if s.oom != "sysrq-f"]
DUMP_RUNS = [(k, s.name) for k in ALL_KERNELS for s in SCENARIOS.values() if s.dumps]
BALLOONED_RUNS = [(k, s.name) for k in ALL_KERNELS for s in SCENARIOS.values() if s.balloon_mib]
VMCORE_PHASE = {"inflated": "after-inflate", "after-oom": "after-oom"}


@functools.lru_cache(maxsize=None)
def run(kernel: str, name: str):
    return ensure_run(name, kernel=kernel)


def kv(path: Path) -> Dict[str, int]:
    """``key value`` (vmstat) or ``Key: value kB`` (meminfo) lines as ints."""
    out = {}
    for line in path.read_text().splitlines():
        parts = line.replace(":", " ").split()
        if len(parts) >= 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def meminfo(kernel: str, name: str, phase: str) -> Dict[str, int]:
    return kv(run(kernel, name).tree(phase) / "proc" / "meminfo")


def vmstat(kernel: str, name: str, phase: str) -> Dict[str, int]:
    return kv(run(kernel, name).tree(phase) / "proc" / "vmstat")


def query_balloon(kernel: str, name: str, phase: str) -> int:
    return run(kernel, name).groundtruth["phases"][phase]["query-balloon"]["actual"]


@lab
@pytest.mark.parametrize("kernel,name,phase", ALL_PHASES)
def test_vmstat_balloon_pages_equal_qmp_balloon_size(kernel, name, phase):
    """Guest vmstat (inflate - deflate) pages x 4 KiB == QEMU mem - actual, to the page."""
    vm = vmstat(kernel, name, phase)
    gt = run(kernel, name).groundtruth
    in_guest = (vm["balloon_inflate"] - vm["balloon_deflate"]) * PAGE
    assert in_guest == gt["mem_bytes"] - query_balloon(kernel, name, phase)
    if phase == "after-inflate":
        assert in_guest == SCENARIOS[name].balloon_mib << 20
        assert query_balloon(kernel, name, phase) == gt["balloon_target_bytes"]


@lab
@pytest.mark.parametrize("kernel,name", BALLOONED_RUNS)
def test_memtotal_drops_by_balloon_iff_deflate_off(kernel, name):
    scen = SCENARIOS[name]
    before = meminfo(kernel, name, "before")["MemTotal"]
    inflated = meminfo(kernel, name, "after-inflate")["MemTotal"]
    if scen.deflate_on_oom:
        assert inflated == before
        # The balloon shows as used memory instead: MemFree drops by its size,
        # give or take the guest's own churn between the two captures (per-cpu
        # page lists, slab, the capture's tmpfs file): measured 1.5 MiB on 6.1,
        # 4.2-4.3 MiB on 6.12 and 7.3 (a fresh-cache run: 4348 and 4336 kB).
        # MemTotal above is exact; vmstat gives the balloon to the page elsewhere.
        drop = meminfo(kernel, name, "before")["MemFree"] - meminfo(kernel, name, "after-inflate")["MemFree"]
        assert abs(drop - scen.balloon_mib * 1024) <= 8 * 1024
    else:
        assert before - inflated == scen.balloon_mib * 1024


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_empty_scenario_keeps_memtotal(kernel):
    assert meminfo(kernel, "empty", "after-oom")["MemTotal"] == meminfo(kernel, "empty", "before")["MemTotal"]
    assert vmstat(kernel, "empty", "after-oom")["balloon_inflate"] == 0


@lab
@pytest.mark.parametrize("kernel,name,phase", ALL_PHASES)
def test_features_bit2_iff_deflate_on_oom(kernel, name, phase):
    tree = run(kernel, name).tree(phase)
    link = tree / "sys/bus/virtio/drivers/virtio_balloon/virtio0"
    assert link.is_symlink()
    target = os.readlink(link)
    assert re.fullmatch(r"\.\./\.\./\.\./\.\./devices/pci0000:00/0000:00:[0-9a-f]{2}\.0/virtio0", target)
    assert link.resolve().is_relative_to(tree.resolve())
    features = (link / "features").read_text().strip()
    # 64 feature bits; 128 on 7.3 (virtio's feature bits were extended).
    assert len(features) in (64, 128) and set(features) <= {"0", "1"}
    assert (features[VIRTIO_BALLOON_F_DEFLATE_ON_OOM] == "1") == SCENARIOS[name].deflate_on_oom
    assert (link / "device").read_text().strip() == "0x0005"   # VIRTIO_ID_BALLOON
    assert (link / "vendor").read_text().strip() == "0x1af4"   # Red Hat, Inc. (QEMU)


@lab
@pytest.mark.parametrize("kernel,name", KILL_RUNS)
def test_serial_console_shows_exactly_the_groundtruth_oom_events(kernel, name):
    r = run(kernel, name)
    gt = r.groundtruth
    serial = [line.rstrip("\r") for line in r.serial_log.read_text(errors="replace").splitlines()]
    invoked = [line for line in serial if " invoked oom-killer: " in line]
    killed = [line for line in serial if re.search(r"(?i:out of memory): Killed process \d+ ", line)]
    assert gt["oom"]["count"] == len(invoked) == len(killed) == 1
    event = gt["oom"]["events"][0]
    assert event["invoked_line"] == invoked[0] and event["killed_line"] == killed[0]
    assert (event["victim_comm"], event["invoker"]) == ("hog", "hog")
    assert f"Killed process {event['victim_pid']} (hog)" in killed[0]
    assert gt["hog_exit_status"] == 128 + 9   # SIGKILL
    # The guest's own dmesg (collected over ttyS1) has the same kill.
    dmesg = (r.tree("after-oom") / "sos_commands/kernel/dmesg").read_text()
    assert event["killed_line"] in dmesg.splitlines()
    assert "Killed process" not in (r.tree("before") / "sos_commands/kernel/dmesg").read_text()


@lab
@pytest.mark.parametrize("kernel,name", KILL_RUNS)
def test_memcg_scenario_is_a_memcg_oom_and_others_global(kernel, name):
    r = run(kernel, name)
    event = r.groundtruth["oom"]["events"][0]
    dmesg = (r.tree("after-oom") / "sos_commands/kernel/dmesg").read_text()
    if SCENARIOS[name].oom == "memcg-hog":
        assert (event["kind"], event["constraint"]) == ("memcg", "CONSTRAINT_MEMCG")
        assert event["killed_line"].split("] ", 1)[1].startswith("Memory cgroup out of memory: Killed process")
        assert "task_memcg=/lab," in dmesg
        assert kv(r.tree("after-oom") / "sys/fs/cgroup/lab/memory.events")["oom_kill"] == 1
        assert (r.tree("after-oom") / "sys/fs/cgroup/lab/memory.max").read_text().strip() == str(64 << 20)
        # A memcg OOM never calls the balloon's OOM notifier: balloon kept.
        assert vmstat(kernel, name, "after-oom")["balloon_deflate"] == 0
    elif SCENARIOS[name].oom == "cpuset-hog":
        assert (event["kind"], event["constraint"]) == ("global", "CONSTRAINT_CPUSET")
        assert "Memory cgroup out of memory" not in dmesg
    else:
        assert (event["kind"], event["constraint"]) == ("global", "CONSTRAINT_NONE")
        assert "Memory cgroup out of memory" not in dmesg


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_deflate_on_oom_gives_the_balloon_back_to_the_hog(kernel):
    """The OOM notifier deflated the whole balloon; the hog got ~256 MiB further."""
    assert vmstat(kernel, "deflate-on", "after-oom")["balloon_deflate"] == 65536
    assert query_balloon(kernel, "deflate-on", "after-oom") == run(kernel, "deflate-on").groundtruth["mem_bytes"]
    assert vmstat(kernel, "deflate-off", "after-oom")["balloon_deflate"] == 0
    assert query_balloon(kernel, "deflate-off", "after-oom") == run(kernel, "deflate-off").groundtruth["balloon_target_bytes"]

    def anon_rss_kb(name):
        line = run(kernel, name).groundtruth["oom"]["events"][0]["killed_line"]
        return int(re.search(r"anon-rss:(\d+)kB", line).group(1))

    assert anon_rss_kb("deflate-on") - anon_rss_kb("deflate-off") >= 200 * 1024


@functools.lru_cache(maxsize=None)
def totalram_by_reader(kernel: str) -> Dict[tuple, int]:
    """``_totalram_pages`` of every lab vmcore of ``kernel``, read by crash
    (6.1; ~6 s each, run in parallel) or the drgn library (6.12: crash 8.0.2
    cannot open it), see :mod:`tests.lab.coreread`."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {key: pool.submit(totalram_pages, kernel, run(key[0], key[1]).vmlinux,
                                    run(key[0], key[1]).vmcore(key[2], key[3]))
                   for key in ALL_VMCORES if key[0] == kernel}
        return {key: f.result() for key, f in futures.items()}


@lab
@pytest.mark.parametrize("kernel,name,tag,fmt", ALL_VMCORES)
def test_vmcore_totalram_pages_matches_memtotal(kernel, name, tag, fmt):
    r = run(kernel, name)
    vmcore = r.vmcore(tag, fmt)
    dump = next(d for d in r.groundtruth["dumps"] if (d["tag"], d["format"]) == (tag, fmt))
    assert dump["bytes"] == vmcore.stat().st_size
    totalram = totalram_by_reader(kernel)[(kernel, name, tag, fmt)]
    phase = VMCORE_PHASE[tag]
    assert totalram * 4 == meminfo(kernel, name, phase)["MemTotal"]
    if not SCENARIOS[name].deflate_on_oom:
        taken = (meminfo(kernel, name, "before")["MemTotal"] - totalram * 4) * 1024
        # virtio-mem's unplugged memory leaves MemTotal too (the virtio-mem scenario)
        vmem = r.groundtruth.get("virtio_mem")
        unplugged = vmem["before"]["size"] - vmem["at_oom"]["size"] if vmem else 0
        assert taken == r.groundtruth["mem_bytes"] - query_balloon(kernel, name, phase) + unplugged


@lab
@pytest.mark.parametrize("kernel,name", DUMP_RUNS)
def test_vmcore_elf_carries_vmcoreinfo_of_the_guest_kernel(kernel, name):
    r = run(kernel, name)
    with open(r.vmcore("after-oom"), "rb") as f:
        head = f.read(1 << 16)
    assert head[:4] == b"\x7fELF"
    assert b"OSRELEASE=" + r.groundtruth["kernel"]["release"].encode() + b"\n" in head
    assert (r.tree("after-oom") / "proc/sys/kernel/osrelease").read_text().strip() \
        == r.groundtruth["kernel"]["release"] == r.groundtruth["guest_release"]


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_tree_is_sosreport_shaped(kernel):
    tree = run(kernel, "deflate-off").tree("after-inflate")
    import json
    manifest = json.loads((tree / "sos_reports/manifest.json").read_text())
    assert manifest["version"] == (tree / "version.txt").read_text().split()[1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+", manifest["start_time"])
    copied = {f for e in manifest["components"]["report"]["plugins"]["lab"]["files"]
              for f in e["files_copied"]}
    assert {"proc/meminfo", "proc/vmstat", "proc/zoneinfo", "proc/uptime"} <= copied
    assert all((tree / f).is_file() for f in copied)
    assert (tree / "sos_commands/kernel/uname_-a").read_text().startswith("Linux ")
    assert (tree / "sos_commands/kernel/dmesg").read_text().count("\n") > 100
    # debugfs was mounted (its listing is real; bdi/ on every lab kernel, slab/
    # only from 5.14) but no lab kernel has a virtio-balloon file there.
    assert "bdi" in (tree / "sos_commands/lab/ls_.sys.kernel.debug").read_text().split()
    assert not (tree / "sys/kernel/debug/virtio-balloon").exists()


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_rerun_reuses_the_cached_run(kernel):
    r = run(kernel, "empty")
    stamp = (r.dir / "groundtruth.json").stat().st_mtime_ns
    again = ensure_run("empty", kernel=kernel)
    assert again.dir == r.dir and (again.dir / "groundtruth.json").stat().st_mtime_ns == stamp


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_kernel_cache_has_balloon_module_debuginfo(kernel):
    kc = kernel_cache(kernel=kernel)
    assert kc.name == kernel
    config = kc.config.read_text()
    for name, option in (("virtio_balloon", "VIRTIO_BALLOON"), ("hv_balloon", "HYPERV_BALLOON"),
                         ("vmw_balloon", "VMWARE_BALLOON"), ("xen_balloon", "XEN_BALLOON")):
        setting = re.search(rf"^CONFIG_{option}=(\w)", config, re.M)
        if setting and setting.group(1) == "m":
            data = kc.module_debug(name).read_bytes()
            assert data[:4] == b"\x7fELF" and b".debug_info" in data
        else:   # built in (or absent): no module file, types are in vmlinux
            with pytest.raises(FileNotFoundError):
                kc.module_debug(name)
    assert kc.vmlinux.stat().st_size > 100 << 20


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_kernel_cache_guest_modules_are_plain_elf_and_builtins_are_listed(kernel):
    """Modules are stored decompressed (6.12 ships .ko.xz) and a wanted module
    missing from the load order is one the kernel builds in (6.12: virtio_pci)."""
    kc = kernel_cache(kernel=kernel)
    assert kc.guest_modules[-1] == "virtio_balloon"
    for name in kc.guest_modules:
        data = kc.module(name).read_bytes()
        assert data[:4] == b"\x7fELF" and kc.module(name).suffix == ".ko"
    builtin = (kc.modules_dir / "modules.builtin").read_text().split() \
        if (kc.modules_dir / "modules.builtin").exists() else []
    for name in kc.builtin_modules:
        assert any(Path(line).name == f"{name}.ko" for line in builtin)
        assert name not in kc.guest_modules
    config = kc.config.read_text()
    assert ("CONFIG_VIRTIO_PCI=y" in config) == ("virtio_pci" in kc.builtin_modules)


# The printed Balloon: path (meminfo, vmstat nr_balloon_pages, the OOM
# report's per-node Balloon:, all from Linux v6.15), probed in each capture.

def drift_bytes(kernel: str, name: str, phase: str) -> int:
    """How far Balloon:/nr_balloon_pages may lag the balloon (tests/lab/drift.py)."""
    return node_stat_drift_pages((run(kernel, name).tree(phase) / "proc/zoneinfo").read_text()) * PAGE


@lab
@pytest.mark.parametrize("kernel,name,phase", ALL_PHASES)
def test_printed_balloon_lines_equal_qmp_balloon_size(kernel, name, phase):
    """meminfo ``Balloon:`` kB and vmstat ``nr_balloon_pages`` == QEMU mem - actual,
    to the page up to the per-CPU vmstat drift (measured: 0, 4 or 6 pages)."""
    mi, vm = meminfo(kernel, name, phase), vmstat(kernel, name, phase)
    assert ("Balloon" in mi) == ("nr_balloon_pages" in vm)
    if "Balloon" not in mi:
        return
    qmp = run(kernel, name).groundtruth["mem_bytes"] - query_balloon(kernel, name, phase)
    drift = drift_bytes(kernel, name, phase)
    assert 0 < drift <= 64 * PAGE
    assert abs(mi["Balloon"] * 1024 - qmp) <= drift
    assert abs(vm["nr_balloon_pages"] * PAGE - qmp) <= drift


@lab
@pytest.mark.parametrize("kernel,name", KILL_RUNS + [(k, "sysrq-f") for k in ALL_KERNELS])
def test_oom_report_node_balloon_equals_qmp_at_the_oom(kernel, name):
    """A global OOM report's per-node ``Balloon:`` sums to QEMU's balloon when the
    OOM was over (up to the vmstat drift); a memcg OOM report prints no node lines."""
    r = run(kernel, name)
    serial = r.serial_log.read_text(errors="replace").splitlines()
    printed = report_node_balloon_kb(serial)
    gt = r.groundtruth
    has_meminfo_line = "Balloon" in meminfo(kernel, name, "before")
    global_ooms = [e for e in gt["oom"]["events"] if e["kind"] == "global"]
    assert len(printed) == (len(global_ooms) if has_meminfo_line else 0)
    if not printed:
        return
    at_oom = gt["at_oom"]["query-balloon"]["actual"] if "at_oom" in gt else \
        gt["phases"]["after-oom"]["query-balloon"]["actual"]
    # The notifier (deflate-on) ran before the report was printed, so the
    # printed value is after its deflation.
    assert abs(sum(printed) * 1024 - (gt["mem_bytes"] - at_oom)) <= drift_bytes(kernel, name, "after-oom")


@lab
def test_some_lab_kernel_prints_balloon_lines():
    """At least one lab kernel has the v6.15 lines, so the tests above are not vacuous."""
    kernels = [k for k in ALL_KERNELS
               if "Balloon" in kv(ensure_run("empty", kernel=k).tree("before") / "proc/meminfo")]
    assert kernels


# Evidence-gap scenarios: the ground truth the analyzer's verdict is judged against.

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


# Pure helpers, on real inputs (no QEMU).

def test_every_lab_kernel_has_a_vmcore_reader():
    assert set(READER) == set(KERNELS) and set(READER.values()) <= {"crash", "drgn"}


def test_unflatten_writes_each_record_at_its_offset(tmp_path):
    import struct
    flat = tmp_path / "flat"
    flat.write_bytes(b"makedumpfile".ljust(4096, b"\0")
                     + struct.pack(">qq", 8, 3) + b"xyz"
                     + struct.pack(">qq", 0, 4) + b"KDUM"
                     + struct.pack(">qq", -1, -1))
    unflatten(flat, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"KDUM\0\0\0\0xyz"
    (tmp_path / "cut").write_bytes(flat.read_bytes()[:-16])
    with pytest.raises(ValueError, match="truncated"):
        unflatten(tmp_path / "cut", tmp_path / "out2")


def test_oom_events_on_the_real_kvm_capture():
    events = oom_events((REAL / "dmesg-oom-report-deflate-off.txt").read_text().splitlines())
    assert [(e["victim_pid"], e["victim_comm"], e["kind"], e["constraint"]) for e in events] \
        == [(112, "hog", "global", "CONSTRAINT_NONE")]


def test_parse_replies_keeps_bytes_and_rc():
    import base64
    blob = bytes(range(256))
    lines = ["@@CMD dmesg", *base64.encodebytes(blob).decode().splitlines(), "@@END 1",
             "@@LINK /sys/bus/virtio/drivers/virtio_balloon/virtio0 ../x", "@@DONE capture 0 uptime=3.5"]
    cap = parse_replies(lines)
    assert cap.commands["dmesg"] == (blob, 1)
    assert cap.links == {"/sys/bus/virtio/drivers/virtio_balloon/virtio0": "../x"}


def test_write_cpio_is_read_by_busybox_cpio(tmp_path):
    from tests.lab.initramfs import write_cpio
    archive = write_cpio([("bin", 0o40755, None, (0, 0)),
                          ("bin/hello", 0o100644, b"hi\n", (0, 0)),
                          ("dev/console", 0o20600, None, (5, 1))])
    (tmp_path / "a.cpio").write_bytes(archive)
    listing = subprocess.run(["busybox", "cpio", "-tv"], stdin=open(tmp_path / "a.cpio", "rb"),
                             capture_output=True, text=True, check=True).stdout
    assert re.search(r"^-rw-r--r-- 0/0 +3 .* bin/hello$", listing, re.M)
    assert re.search(r"^crw------- 0/0 .* dev/console$", listing, re.M)
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["busybox", "cpio", "-id"], stdin=open(tmp_path / "a.cpio", "rb"), cwd=out,
                   capture_output=True)
    assert (out / "bin/hello").read_bytes() == b"hi\n"
    if os.geteuid() == 0:   # mknod needs root
        rdev = (out / "dev/console").stat().st_rdev
        assert (os.major(rdev), os.minor(rdev)) == (5, 1)


@pytest.mark.parametrize("module", ["kernel", "initramfs", "guest", "oomlog", "drift"])
def test_doctests(module):
    mod = importlib.import_module(f"tests.lab.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0
