# SPDX-License-Identifier: GPL-2.0-or-later
"""The ``virtio-mem`` scenario on every lab kernel: guest, vmcore and analyzer against QMP.

QMP's ``size`` (the device's plugged size), ``requested-size`` and
``block-size`` per phase are the ground truth (``groundtruth.json``
``virtio_mem``). Taken back = plugged before the unplug - plugged at the OOM.
"""

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab import KERNELS, ensure_run

REPO = Path(__file__).resolve().parents[2]
KiB = 1024
pytestmark = pytest.mark.lab
ALL_KERNELS = list(KERNELS)


@functools.lru_cache(maxsize=None)
def run(kernel):
    return ensure_run("virtio-mem", kernel=kernel)


def qmp(kernel, phase):
    return run(kernel).groundtruth["virtio_mem"][phase]


def taken_back(kernel):
    return qmp(kernel, "before")["size"] - qmp(kernel, "at_oom")["size"]


def meminfo_kb(kernel, phase, key):
    for line in (run(kernel).tree(phase) / "proc" / "meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def movable(kernel, phase):
    """(present, managed) pages of the zoneinfo's Movable zone."""
    text = (run(kernel).tree(phase) / "proc" / "zoneinfo").read_text()
    block = text.split("zone  Movable", 1)[1].split("Node ", 1)[0]
    vals = {}
    for line in block.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("present", "managed"):
            vals[parts[0]] = int(parts[1])
    return vals["present"], vals["managed"]


def analyze(*args):
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", *map(str, args),
                           "--format", "json"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def vmem_entry(doc):
    (b,) = [b for b in doc["balloons"] if b["driver"] == "virtio_mem"]
    return b


@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_qmp_reached_every_request(kernel):
    gt = run(kernel).groundtruth
    assert qmp(kernel, "before")["size"] == gt["scenario"]["vmem_plug_mib"] << 20
    assert qmp(kernel, "after-unplug")["size"] == gt["scenario"]["vmem_unplug_to_mib"] << 20
    assert qmp(kernel, "at_oom")["size"] == qmp(kernel, "after-unplug")["size"]
    assert qmp(kernel, "before")["block-size"] == 2 << 20


@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_guest_side_plugged_size_equals_qmp(kernel):
    """MemTotal drops by exactly what QMP says was unplugged; ZONE_MOVABLE (online_movable)
    holds exactly the plugged memory, all managed."""
    drop_kb = meminfo_kb(kernel, "before", "MemTotal") - meminfo_kb(kernel, "after-unplug", "MemTotal")
    assert drop_kb * KiB == qmp(kernel, "before")["size"] - qmp(kernel, "after-unplug")["size"]
    for phase, qphase in (("before", "before"), ("after-unplug", "after-unplug"),
                          ("after-oom", "at_oom")):
        present, managed = movable(kernel, phase)
        assert managed * 4096 == qmp(kernel, qphase)["size"], phase
        assert present == managed, phase
    iomem = (run(kernel).tree("after-oom") / "proc" / "iomem").read_text()
    start = f"{qmp(kernel, 'before')['memaddr']:x}-"
    assert any(line.strip().startswith(start) and line.endswith("System RAM (virtio_mem)")
               for line in iomem.splitlines())


@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_log_prints_the_requests(kernel):
    """Each config change prints the plugged size before it and the new request."""
    lines = [ln for ln in (run(kernel).tree("after-oom") / "sos_commands" / "kernel" / "dmesg")
             .read_text().splitlines() if "virtio_mem virtio" in ln]
    req = [int(ln.rsplit(" ", 1)[1], 16) for ln in lines if "requested size:" in ln]
    plugged = [int(ln.rsplit(" ", 1)[1], 16) for ln in lines if "plugged size:" in ln]
    assert req == [qmp(kernel, "before")["size"], qmp(kernel, "after-unplug")["requested-size"]]
    assert plugged == [0, qmp(kernel, "before")["size"]]


@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_analyzer_size_and_verdict_from_the_report(kernel):
    r = run(kernel)
    doc = analyze(r.tree("after-oom"))
    b = vmem_entry(doc)
    assert b["accounting"] == "memtotal-reduced"
    assert b["inflated_bytes"] == taken_back(kernel)
    assert b["details"]["plugged_bytes"] == qmp(kernel, "at_oom")["size"]
    assert b["details"]["region_bytes"] == r.groundtruth["scenario"]["vmem_region_mib"] << 20
    got = [(e["victim"]["pid"], e["victim"]["comm"]) for e in doc["oom_events"]]
    assert got == [(e["victim_pid"], e["victim_comm"]) for e in r.groundtruth["oom"]["events"]]
    (ev,) = doc["oom_events"]
    assert ev["balloon_bytes_at_oom"] == taken_back(kernel)
    assert "virtio-mem" in ev["balloon_basis"]
    # Unplugged blocks are not in pages RAM: the memory picture shows no balloon
    # (the guest's virtio balloon stayed empty) and keeps pages reserved.
    assert ev["picture"]["balloon"] == 0 and ev["picture"]["reserved"] > 0
    # 128 MiB taken back of a 384 MiB guest covers an order-0 shortfall and is material.
    assert doc["verdict"] == "contributed"
    assert any(r["setting"] == "virtio-mem requested-size" for r in doc["recommendations"])
    # The guest's virtio balloon stayed empty: its deflate-on-OOM is not advised.
    assert not any("deflate-on-oom" in r["setting"] or "autodeflate" in r["setting"]
                   for r in doc["recommendations"])


@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_vmcore_plugged_size_equals_qmp(kernel):
    r = run(kernel)
    doc = analyze(r.vmcore("after-oom"), "--debuginfo", r.kernel.dir / "dbg")
    b = vmem_entry(doc)
    d = b["details"]
    assert d["plugged_bytes"] == qmp(kernel, "at_oom")["size"]
    assert d["requested_bytes"] == qmp(kernel, "at_oom")["requested-size"]
    assert d["device_block_bytes"] == qmp(kernel, "at_oom")["block-size"]
    assert d["region_bytes"] == r.groundtruth["scenario"]["vmem_region_mib"] << 20
    assert b["inflated_bytes"] == taken_back(kernel)
    got = [(e["victim"]["pid"], e["victim"]["comm"]) for e in doc["oom_events"]]
    assert got == [(e["victim_pid"], e["victim_comm"]) for e in r.groundtruth["oom"]["events"]]
