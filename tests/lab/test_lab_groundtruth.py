# SPDX-License-Identifier: GPL-2.0-or-later
"""Ground truth of the lab itself: what the guest shows agrees with the host.

Lab tests (``-m lab``) boot the real Debian guests under QEMU/TCG the first
time (``ensure_run``), then reuse the cached runs. Every lab test runs on each
of the lab's kernels (:data:`tests.lab.KERNELS`: 5.10, 6.1, 6.12 and 7.x);
values that differ between them (MemTotal, boot reservations) are
taken from that kernel's own captures, never written in. They fail, not skip, when
the lab cannot run: :class:`tests.lab.LabUnavailable` propagates.
The vmcores are checked in ``test_lab_vmcores.py``, the evidence-gap scenarios in
``test_lab_evidence_gaps.py``, the kernel cache and the pure helpers in
``test_lab_kernels.py``.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.lab import SCENARIOS, ensure_run
from tests.lab.oomlog import report_node_balloon_kb

from tests.lab.truthcases import (ALL_KERNELS, ALL_PHASES, BALLOONED_RUNS, KILL_RUNS, PAGE,
                                  VIRTIO_BALLOON_F_DEFLATE_ON_OOM, drift_bytes, kv, lab, meminfo,
                                  query_balloon, run, vmstat)


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
        # 4.2-4.3 MiB on 6.12 and 7.3, 8.1 MiB on 6.12 in a fresh-cache run
        # (8300 kB less than the balloon, no meminfo counter moved by more than
        # 80 kB). 5 % of the balloon still tells "counted as used" (a drop of
        # about the balloon) from "MemTotal-reduced" (no drop); MemTotal above
        # is exact, and vmstat gives the balloon to the page elsewhere.
        drop = meminfo(kernel, name, "before")["MemFree"] - meminfo(kernel, name, "after-inflate")["MemFree"]
        assert abs(drop - scen.balloon_mib * 1024) <= scen.balloon_mib * 1024 // 20
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

@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_tree_is_sosreport_shaped(kernel):
    tree = run(kernel, "deflate-off").tree("after-inflate")
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


# The printed Balloon: path (meminfo, vmstat nr_balloon_pages, the OOM
# report's per-node Balloon:, all from Linux v6.15), probed in each capture.


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
