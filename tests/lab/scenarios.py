# SPDX-License-Identifier: GPL-2.0-or-later
"""The lab's scenarios and how one is run, captured and recorded.

A run directory ``<cache>/runs/<release>/<scenario>/`` holds::

    serial.log            the whole ttyS0 console
    qemu.stderr
    sos-<phase>/          sosreport-shaped trees (phase: before, after-inflate, after-oom)
    <tag>.elf             dump-guest-memory ELF vmcores (tag: inflated, after-oom)
    inflated.kdump-zlib   QEMU's kdump-zlib dump (QEMU 7.2 writes the *flattened* format)
    groundtruth.json      host-side facts (QMP, command line, dumps, OOM lines)
    done                  "<LAB_VERSION>\\n" once complete
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Tuple

from .errors import LabUnavailable
from .guest import MEM_MIB, Guest
from .initramfs import ensure_initramfs
from .kernel import KernelCache, log
from .oomlog import oom_events
from .sostree import write_tree
from . import vmem
from .extramods import ensure_extra_module

__all__ = ["LAB_VERSION", "PHASES", "SCENARIOS", "Scenario", "run_scenario"]

# Bump when init.sh, the capture set or the run layout changes: runs with an
# older version in their ``done`` marker are redone.
LAB_VERSION = "balloon-oom-lab-1"
PHASES = ("before", "after-inflate", "after-unplug", "after-oom")
MIB = 1 << 20
#: Debian's ovmf package: UEFI firmware for the uefi scenario.
OVMF = "/usr/share/ovmf/OVMF.fd"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    deflate_on_oom: bool
    balloon_mib: int            # 0: never inflate
    oom: str                    # "hog" or "memcg-hog"
    memcg_max: str = ""
    oom_arg: str = ""           # the argument of other OOM commands (sysrq-f: MiB the hog holds)
    kdump_zlib: bool = True     # also write inflated.kdump-zlib (~30 MB, <1 s)
    dumps: bool = True          # write vmcores at all (the evidence-gap scenarios need none)
    pre_oom: str = ""           # a guest command run just before the OOM (e.g. "flood 4000")
    append: str = ""            # more kernel command line
    balloon_options: str = ""   # more virtio-balloon-pci properties
    host_deflate_after_oom: bool = False   # QMP balloon back to mem_bytes before collecting
    mem_mib: int = MEM_MIB
    qemu_extra: Tuple[str, ...] = ()       # more QEMU arguments (firmware, CPU model)
    needs: Tuple[str, ...] = ()            # host files the scenario needs (OVMF)
    # virtio-mem (tests/lab/vmem.py): device region, plugged at boot, then unplugged down to
    vmem_region_mib: int = 0
    vmem_plug_mib: int = 0
    vmem_unplug_to_mib: int = 0

    @property
    def phases(self) -> List[str]:
        return [p for p in PHASES if (p != "after-inflate" or self.balloon_mib)
                and (p != "after-unplug" or self.vmem_region_mib)]

    @property
    def vmcores(self) -> List[str]:
        if not self.dumps:
            return []
        return (["inflated"] if self.balloon_mib else []) + ["after-oom"]


SCENARIOS: Dict[str, Scenario] = {s.name: s for s in (
    Scenario("deflate-off", "256 MiB balloon in a 512 MiB guest, deflate-on-oom=off, hog to global OOM",
             deflate_on_oom=False, balloon_mib=256, oom="hog"),
    Scenario("deflate-on", "256 MiB balloon, deflate-on-oom=on (OOM notifier deflates 1 MiB per call), hog",
             deflate_on_oom=True, balloon_mib=256, oom="hog"),
    Scenario("empty", "no balloon inflation, hog to global OOM",
             deflate_on_oom=False, balloon_mib=0, oom="hog"),
    Scenario("memcg", "256 MiB balloon (deflate off), hog in a cgroup v2 with memory.max=64M: memcg OOM",
             deflate_on_oom=False, balloon_mib=256, oom="memcg-hog", memcg_max="64M"),
    # Evidence-gap scenarios: what the analyzer gets is missing something.
    Scenario("flood", "as deflate-off, but 4000 records written to /dev/kmsg before the OOM: "
             "the boot lines (Memory:, the balloon's probe) rotate out of the ring buffer",
             deflate_on_oom=False, balloon_mib=256, oom="hog", dumps=False,
             pre_oom="flood 4000", append="printk.devkmsg=on"),
    Scenario("deflate-after", "as deflate-off, but the host deflates the balloon (QMP balloon "
             "value=mem) between the OOM and the collection",
             deflate_on_oom=False, balloon_mib=256, oom="hog", dumps=False,
             host_deflate_after_oom=True),
    Scenario("sysrq-f", "256 MiB deflate-on-oom balloon, a hog holding 64 MiB, OOM by SysRq f: "
             "the notifier deflates 1 MiB but a sysrq OOM kills anyway",
             deflate_on_oom=True, balloon_mib=256, oom="sysrq-f", oom_arg="64", dumps=False),
    Scenario("fpr", "as deflate-off with free-page-reporting=on: reported free pages are not balloon pages",
             deflate_on_oom=False, balloon_mib=256, oom="hog", dumps=False,
             balloon_options="free-page-reporting=on"),
    Scenario("uefi", "as deflate-off, booted through UEFI firmware (OVMF, -bios): EFI memory map, "
             "different boot reservations",
             deflate_on_oom=False, balloon_mib=256, oom="hog", dumps=False,
             qemu_extra=("-bios", OVMF), needs=(OVMF,)),
    Scenario("gigantic", "3 GiB guest with one 1 GiB hugepage reserved at boot (hugepagesz=1G "
             "hugepages=1, -cpu max,+pdpe1gb), 256 MiB balloon, deflate off, hog",
             deflate_on_oom=False, balloon_mib=256, oom="hog", dumps=False, mem_mib=3072,
             append="hugepagesz=1G hugepages=1", qemu_extra=("-cpu", "max,+pdpe1gb")),
    Scenario("numa-cpuset", "two-node guest (2 x 256 MiB, -numa), 256 MiB deflate-on-oom balloon, "
             "hog in a cgroup v2 cpuset with cpuset.mems=1: CONSTRAINT_CPUSET OOM",
             deflate_on_oom=True, balloon_mib=256, oom="cpuset-hog", oom_arg="1", dumps=False,
             qemu_extra=("-object", "memory-backend-ram,id=m0,size=256M",
                         "-object", "memory-backend-ram,id=m1,size=256M",
                         "-numa", "node,nodeid=0,memdev=m0,cpus=0",
                         "-numa", "node,nodeid=1,memdev=m1")),
    Scenario("virtio-mem", "256 MiB guest with a 256 MiB virtio-mem device, all plugged at boot "
             "(online_movable), 128 MiB unplugged over QMP (requested-size), no balloon, hog",
             deflate_on_oom=False, balloon_mib=0, oom="hog", kdump_zlib=False, mem_mib=256,
             vmem_region_mib=256, vmem_plug_mib=256, vmem_unplug_to_mib=128),
)}


def _balloon_state(guest: Guest) -> Dict:
    assert guest.qmp is not None
    state = {"query-balloon": guest.qmp.cmd("query-balloon")}
    try:
        state["guest-stats"] = guest.qmp.cmd("qom-get", path="balloon0", property="guest-stats")
    except Exception as e:  # stats are optional (no STATS_VQ, or not polled yet)
        state["guest-stats-error"] = str(e)
    return state


def _capture(guest: Guest, run_dir: Path, scenario: Scenario, phase: str) -> Dict:
    start = datetime.now()
    cap = guest.command("capture")
    end = datetime.now()
    if cap.rc != 0:
        raise LabUnavailable(f"guest capture failed in phase {phase}")
    write_tree(cap, run_dir / f"sos-{phase}", version=LAB_VERSION,
               label=f"scenario={scenario.name} phase={phase}", start_time=start, end_time=end)
    return {"collected_at": str(start), "guest_uptime_s": cap.uptime,
            "missing": sorted(cap.missing)}


def _dump(guest: Guest, run_dir: Path, tag: str, fmt: str) -> Dict:
    assert guest.qmp is not None
    suffix = "elf" if fmt == "elf" else fmt
    path = run_dir / f"{tag}.{suffix}"
    t = time.monotonic()
    guest.qmp.cmd("dump-guest-memory", timeout=300, paging=False,
                  protocol=f"file:{path}", format=fmt)
    seconds = round(time.monotonic() - t, 2)
    path.chmod(0o644)  # QEMU creates dumps 0400
    with open(path, "rb") as f:
        head = f.read(16)
    magic = ("elf" if head.startswith(b"\x7fELF") else
             "makedumpfile-flattened" if head.startswith(b"makedumpfile") else
             "kdump" if head.startswith(b"KDUMP") else head.hex())
    log(f"  dump {path.name}: {path.stat().st_size >> 20} MiB in {seconds}s ({magic})")
    return {"tag": tag, "format": fmt, "file_magic": magic, "path": str(path),
            "bytes": path.stat().st_size, "seconds": seconds}


def _qemu_version() -> str:
    out = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else ""


def run_scenario(kc: KernelCache, scenario: Scenario, run_dir: Path) -> Dict:
    """Boot, drive and capture ``scenario`` into ``run_dir`` (must not exist).

    Returns the ground truth also written to ``groundtruth.json``.
    """
    for need in scenario.needs:
        if not Path(need).exists():
            raise LabUnavailable(f"scenario {scenario.name} needs {need} (apt-get install ovmf)")
    run_dir.mkdir(parents=True)
    append, mem_opts, qemu_extra = scenario.append, "", scenario.qemu_extra
    if scenario.vmem_region_mib:
        ensure_extra_module(kc, "virtio_mem")
        # Added memory blocks onlined by the kernel into ZONE_MOVABLE (5.10 and 6.1
        # build no default online policy: CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE unset).
        append = " ".join(filter(None, (append, "memhp_default_state=online_movable",
                                        "lab_modules=virtio_mem")))
        mem_opts = f"slots=1,maxmem={scenario.mem_mib + scenario.vmem_region_mib}M"
        qemu_extra = (*qemu_extra, *vmem.qemu_args(scenario.vmem_region_mib, scenario.vmem_plug_mib))
    initrd = ensure_initramfs(kc)
    t0 = time.monotonic()
    gt: Dict = {"lab_version": LAB_VERSION, "scenario": asdict(scenario),
                "kernel": {"release": kc.release, "version": kc.version},
                "qemu_version": _qemu_version(), "mem_bytes": scenario.mem_mib * MIB,
                "balloon_target_bytes": None, "phases": {}, "dumps": [], "timings_s": {}}
    log(f"{scenario.name}: booting {kc.release} under TCG")
    with Guest(kc, initrd, run_dir, scenario.deflate_on_oom, append_extra=append,
               balloon_options=scenario.balloon_options, mem_mib=scenario.mem_mib,
               qemu_extra=qemu_extra, mem_opts=mem_opts) as guest:
        assert guest.qmp is not None
        gt["qemu_cmdline"] = guest.cmdline
        gt["qemu_sockets_dir"] = str(guest.sock_dir)
        gt["timings_s"]["boot_to_ready"] = guest.boot_seconds
        gt["guest_release"] = guest.guest_release
        guest.qmp.cmd("qom-set", path="balloon0", property="guest-stats-polling-interval", value=2)

        if scenario.vmem_region_mib:
            gt["virtio_mem"] = {"plug_wait": vmem.wait_size(guest.qmp, scenario.vmem_plug_mib * MIB)}
            gt["virtio_mem"]["before"] = vmem.state(guest.qmp)
        gt["phases"]["before"] = {**_capture(guest, run_dir, scenario, "before"), **_balloon_state(guest)}
        if scenario.vmem_region_mib:
            target = scenario.vmem_unplug_to_mib * MIB
            log(f"{scenario.name}: virtio-mem requested-size {target} (unplug)")
            guest.qmp.cmd("qom-set", path=vmem.DEVICE, property="requested-size", value=target)
            gt["virtio_mem"]["unplug_wait"] = vmem.wait_size(guest.qmp, target)
            gt["virtio_mem"]["after-unplug"] = vmem.state(guest.qmp)
            gt["phases"]["after-unplug"] = {**_balloon_state(guest),
                                            **_capture(guest, run_dir, scenario, "after-unplug")}

        if scenario.balloon_mib:
            target = (scenario.mem_mib - scenario.balloon_mib) * MIB
            gt["balloon_target_bytes"] = target
            log(f"{scenario.name}: balloon value={target} ({scenario.balloon_mib} MiB balloon)")
            t = time.monotonic()
            guest.qmp.cmd("balloon", value=target)
            polls = 0
            while guest.qmp.cmd("query-balloon")["actual"] != target:
                polls += 1
                if time.monotonic() - t > 120:
                    raise LabUnavailable(f"balloon never reached {target} bytes")
                time.sleep(0.05)
            gt["timings_s"]["inflate"] = round(time.monotonic() - t, 2)
            gt["inflate_polls"] = polls
            gt["phases"]["after-inflate"] = {**_balloon_state(guest),
                                             **_capture(guest, run_dir, scenario, "after-inflate")}
            if scenario.dumps:
                gt["dumps"].append(_dump(guest, run_dir, "inflated", "elf"))
            if scenario.dumps and scenario.kdump_zlib:
                gt["dumps"].append(_dump(guest, run_dir, "inflated", "kdump-zlib"))

        if scenario.pre_oom:
            log(f"{scenario.name}: {scenario.pre_oom}")
            if guest.command(scenario.pre_oom, timeout=600).rc != 0:
                raise LabUnavailable(f"guest command {scenario.pre_oom!r} failed")

        log(f"{scenario.name}: {scenario.oom} until OOM-killed")
        t = time.monotonic()
        arg = scenario.memcg_max or scenario.oom_arg
        cmd = scenario.oom + (f" {arg}" if arg else "")
        done = guest.command(cmd, timeout=600)
        gt["timings_s"]["oom_phase"] = round(time.monotonic() - t, 2)
        gt["hog_exit_status"] = done.rc
        # QEMU's balloon when the OOM is over, before anything the host does next.
        gt["at_oom"] = _balloon_state(guest)
        if scenario.vmem_region_mib:
            gt["virtio_mem"]["at_oom"] = vmem.state(guest.qmp)
        if scenario.host_deflate_after_oom:
            mem = gt["mem_bytes"]
            log(f"{scenario.name}: host deflates the balloon (value={mem})")
            guest.qmp.cmd("balloon", value=mem)
            t = time.monotonic()
            while guest.qmp.cmd("query-balloon")["actual"] != mem:
                if time.monotonic() - t > 120:
                    raise LabUnavailable(f"balloon never went back to {mem} bytes")
                time.sleep(0.05)
        gt["phases"]["after-oom"] = {**_balloon_state(guest),
                                     **_capture(guest, run_dir, scenario, "after-oom")}
        if scenario.dumps:
            gt["dumps"].append(_dump(guest, run_dir, "after-oom", "elf"))
        gt["qmp_events"] = guest.qmp.events
        guest.command("ping")  # flush: all console output of the OOM phase is in serial.log
    gt["timings_s"]["total"] = round(time.monotonic() - t0, 2)

    serial = (run_dir / "serial.log").read_text(errors="replace").splitlines()
    events = oom_events(serial)
    hog_lines = [line.strip() for line in serial if line.startswith("hog: ")]
    gt["oom"] = {"count": len(events), "events": events}
    gt["hog_last_progress"] = hog_lines[-1] if hog_lines else None
    (run_dir / "groundtruth.json").write_text(json.dumps(gt, indent=2) + "\n")
    log(f"{scenario.name}: {len(events)} OOM kill(s), done in {gt['timings_s']['total']}s")
    return gt
