# SPDX-License-Identifier: GPL-2.0-or-later
"""Ground truth of the lab itself: what the guest shows agrees with the host.

Lab tests (``-m lab``) boot the real Debian 6.1 guest under QEMU/TCG the first
time (``ensure_run``), then reuse the cached runs. They fail, not skip, when
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
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict

import pytest

from tests.lab import SCENARIOS, ensure_run, kernel_cache
from tests.lab.guest import parse_replies
from tests.lab.oomlog import oom_events
from tests import shared as _shared

PAGE = 4096          # x86-64 PAGE_SIZE; virtio-balloon pages are 4 KiB too
VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2
REAL = (_shared.CAPTURES / "kvm-6.1")

lab = pytest.mark.lab
ALL_PHASES = [(s.name, p) for s in SCENARIOS.values() for p in s.phases]
ALL_VMCORES = [(s.name, tag, fmt) for s in SCENARIOS.values() for tag in s.vmcores
               for fmt in (("elf", "kdump-zlib") if tag == "inflated" and s.kdump_zlib else ("elf",))]
VMCORE_PHASE = {"inflated": "after-inflate", "after-oom": "after-oom"}


@functools.lru_cache(maxsize=None)
def run(name: str):
    return ensure_run(name)


def kv(path: Path) -> Dict[str, int]:
    """``key value`` (vmstat) or ``Key: value kB`` (meminfo) lines as ints."""
    out = {}
    for line in path.read_text().splitlines():
        parts = line.replace(":", " ").split()
        if len(parts) >= 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def meminfo(name: str, phase: str) -> Dict[str, int]:
    return kv(run(name).tree(phase) / "proc" / "meminfo")


def vmstat(name: str, phase: str) -> Dict[str, int]:
    return kv(run(name).tree(phase) / "proc" / "vmstat")


def query_balloon(name: str, phase: str) -> int:
    return run(name).groundtruth["phases"][phase]["query-balloon"]["actual"]


@lab
@pytest.mark.parametrize("name,phase", ALL_PHASES)
def test_vmstat_balloon_pages_equal_qmp_balloon_size(name, phase):
    """Guest vmstat (inflate - deflate) pages x 4 KiB == QEMU mem - actual, to the page."""
    vm = vmstat(name, phase)
    gt = run(name).groundtruth
    in_guest = (vm["balloon_inflate"] - vm["balloon_deflate"]) * PAGE
    assert in_guest == gt["mem_bytes"] - query_balloon(name, phase)
    if phase == "after-inflate":
        assert in_guest == SCENARIOS[name].balloon_mib << 20
        assert query_balloon(name, phase) == gt["balloon_target_bytes"]


@lab
@pytest.mark.parametrize("name", [s.name for s in SCENARIOS.values() if s.balloon_mib])
def test_memtotal_drops_by_balloon_iff_deflate_off(name):
    scen = SCENARIOS[name]
    before = meminfo(name, "before")["MemTotal"]
    inflated = meminfo(name, "after-inflate")["MemTotal"]
    if scen.deflate_on_oom:
        assert inflated == before
        # The balloon shows as used memory instead: MemFree drops by its size,
        # give or take the guest's own churn between the two captures (per-cpu
        # page lists, slab, the capture's tmpfs file): measured 1.5 MiB.
        drop = meminfo(name, "before")["MemFree"] - meminfo(name, "after-inflate")["MemFree"]
        assert abs(drop - scen.balloon_mib * 1024) <= 4 * 1024
    else:
        assert before - inflated == scen.balloon_mib * 1024


@lab
def test_empty_scenario_keeps_memtotal():
    assert meminfo("empty", "after-oom")["MemTotal"] == meminfo("empty", "before")["MemTotal"]
    assert vmstat("empty", "after-oom")["balloon_inflate"] == 0


@lab
@pytest.mark.parametrize("name,phase", ALL_PHASES)
def test_features_bit2_iff_deflate_on_oom(name, phase):
    tree = run(name).tree(phase)
    link = tree / "sys/bus/virtio/drivers/virtio_balloon/virtio0"
    assert link.is_symlink()
    target = os.readlink(link)
    assert re.fullmatch(r"\.\./\.\./\.\./\.\./devices/pci0000:00/0000:00:[0-9a-f]{2}\.0/virtio0", target)
    assert link.resolve().is_relative_to(tree.resolve())
    features = (link / "features").read_text().strip()
    assert len(features) == 64 and set(features) <= {"0", "1"}
    assert (features[VIRTIO_BALLOON_F_DEFLATE_ON_OOM] == "1") == SCENARIOS[name].deflate_on_oom
    assert (link / "device").read_text().strip() == "0x0005"   # VIRTIO_ID_BALLOON
    assert (link / "vendor").read_text().strip() == "0x1af4"   # Red Hat, Inc. (QEMU)


@lab
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_serial_console_shows_exactly_the_groundtruth_oom_events(name):
    r = run(name)
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
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_memcg_scenario_is_a_memcg_oom_and_others_global(name):
    r = run(name)
    event = r.groundtruth["oom"]["events"][0]
    dmesg = (r.tree("after-oom") / "sos_commands/kernel/dmesg").read_text()
    if SCENARIOS[name].oom == "memcg-hog":
        assert (event["kind"], event["constraint"]) == ("memcg", "CONSTRAINT_MEMCG")
        assert event["killed_line"].split("] ", 1)[1].startswith("Memory cgroup out of memory: Killed process")
        assert "task_memcg=/lab," in dmesg
        assert kv(r.tree("after-oom") / "sys/fs/cgroup/lab/memory.events")["oom_kill"] == 1
        assert (r.tree("after-oom") / "sys/fs/cgroup/lab/memory.max").read_text().strip() == str(64 << 20)
        # A memcg OOM never calls the balloon's OOM notifier: balloon kept.
        assert vmstat(name, "after-oom")["balloon_deflate"] == 0
    else:
        assert (event["kind"], event["constraint"]) == ("global", "CONSTRAINT_NONE")
        assert "Memory cgroup out of memory" not in dmesg


@lab
def test_deflate_on_oom_gives_the_balloon_back_to_the_hog():
    """The OOM notifier deflated the whole balloon; the hog got ~256 MiB further."""
    assert vmstat("deflate-on", "after-oom")["balloon_deflate"] == 65536
    assert query_balloon("deflate-on", "after-oom") == run("deflate-on").groundtruth["mem_bytes"]
    assert vmstat("deflate-off", "after-oom")["balloon_deflate"] == 0
    assert query_balloon("deflate-off", "after-oom") == run("deflate-off").groundtruth["balloon_target_bytes"]

    def anon_rss_kb(name):
        line = run(name).groundtruth["oom"]["events"][0]["killed_line"]
        return int(re.search(r"anon-rss:(\d+)kB", line).group(1))

    assert anon_rss_kb("deflate-on") - anon_rss_kb("deflate-off") >= 200 * 1024


def crash_print(vmcore: Path, expr: str) -> int:
    """``crash -s vmlinux vmcore`` running ``p -d EXPR``; the decimal value."""
    with tempfile.NamedTemporaryFile("w", suffix=".crash") as cmds:
        cmds.write(f"p -d {expr}\nquit\n")
        cmds.flush()
        out = subprocess.run(["crash", "-s", str(kernel_cache().vmlinux), str(vmcore), "-i", cmds.name],
                             capture_output=True, text=True, timeout=300).stdout
    m = re.search(r"^\$1 = (\d+)$", out, re.M)
    assert m, f"crash gave no value for {expr} in {vmcore}:\n{out[-2000:]}"
    return int(m.group(1))


@functools.lru_cache(maxsize=None)
def totalram_by_crash() -> Dict[tuple, int]:
    """``_totalram_pages`` of every lab vmcore, crash runs in parallel (~6 s each)."""
    # Since Linux commit ca79b0c211af ("mm: convert totalram_pages and
    # totalhigh_pages variables to atomic") (v5.0) it is an atomic_long_t.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {key: pool.submit(crash_print, run(key[0]).vmcore(key[1], key[2]),
                                    "_totalram_pages.counter") for key in ALL_VMCORES}
        return {key: f.result() for key, f in futures.items()}


@lab
@pytest.mark.parametrize("name,tag,fmt", ALL_VMCORES)
def test_vmcore_totalram_pages_matches_memtotal_crash(name, tag, fmt):
    r = run(name)
    vmcore = r.vmcore(tag, fmt)
    dump = next(d for d in r.groundtruth["dumps"] if (d["tag"], d["format"]) == (tag, fmt))
    assert dump["bytes"] == vmcore.stat().st_size
    totalram = totalram_by_crash()[(name, tag, fmt)]
    phase = VMCORE_PHASE[tag]
    assert totalram * 4 == meminfo(name, phase)["MemTotal"]
    if not SCENARIOS[name].deflate_on_oom:
        taken = (meminfo(name, "before")["MemTotal"] - totalram * 4) * 1024
        assert taken == r.groundtruth["mem_bytes"] - query_balloon(name, phase)


@lab
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_vmcore_elf_carries_vmcoreinfo_of_the_guest_kernel(name):
    r = run(name)
    with open(r.vmcore("after-oom"), "rb") as f:
        head = f.read(1 << 16)
    assert head[:4] == b"\x7fELF"
    assert b"OSRELEASE=" + r.groundtruth["kernel"]["release"].encode() + b"\n" in head
    assert (r.tree("after-oom") / "proc/sys/kernel/osrelease").read_text().strip() \
        == r.groundtruth["kernel"]["release"] == r.groundtruth["guest_release"]


@lab
def test_tree_is_sosreport_shaped():
    tree = run("deflate-off").tree("after-inflate")
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
    # debugfs was mounted (its listing is real) but 6.1 has no virtio-balloon file.
    assert "slab" in (tree / "sos_commands/lab/ls_.sys.kernel.debug").read_text().split()
    assert not (tree / "sys/kernel/debug/virtio-balloon").exists()


@lab
def test_rerun_reuses_the_cached_run():
    r = run("empty")
    stamp = (r.dir / "groundtruth.json").stat().st_mtime_ns
    again = ensure_run("empty")
    assert again.dir == r.dir and (again.dir / "groundtruth.json").stat().st_mtime_ns == stamp


@lab
def test_kernel_cache_has_balloon_module_debuginfo():
    kc = kernel_cache()
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


# Pure helpers, on real inputs (no QEMU).

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


@pytest.mark.parametrize("module", ["kernel", "initramfs", "guest", "oomlog"])
def test_doctests(module):
    mod = importlib.import_module(f"tests.lab.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0
