"""`balloon-oom analyze` on every shipped sample: bytes, accounting, verdict, schema."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
SCHEMA = json.loads((REPO / "balloon_oom/schema.json").read_text())

# sample -> (verdict, [(driver, device, inflated_bytes, target_bytes, accounting, deflate)])
EXPECTED = {
    "kvm-deflate-off": ("contributed",
                        [("virtio_balloon", "virtio0", 268435456, None, "memtotal-reduced",
                          False)]),
    "kvm-deflate-on": ("not-contributed",
                       [("virtio_balloon", "virtio0", 0, None, "counted-as-used", True)]),
    "firecracker-6.18": ("no-oom",
                         [("virtio_balloon", "virtio0", 0, None, "counted-as-used", True)]),
    "hyperv": ("no-log", [("hv_balloon", "hv-balloon", 268435456, None, "memtotal-reduced",
                           None)]),
    "hyperv-virtuozzo": ("no-log", [("hv_balloon", "hv-balloon", 0, None, "memtotal-reduced",
                                     None)]),
    "vmware-new": ("no-log", [("vmw_balloon", "vmmemctl", 536870912, 536870912,
                               "counted-as-used", None)]),
    "vmware-old": ("no-log", [("vmw_balloon", "vmmemctl", 536870912, 536870912,
                               "counted-as-used", None)]),
    # low+high 524288 kB ballooned; target_kb == current_kb: the balloon is at its target
    "xen": ("no-log", [("xen_balloon", "xen_memory0", 536870912, 536870912,
                        "memtotal-reduced", None)]),
    "no-balloon": ("no-log", []),
}


def analyze_json(path):
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", str(path),
                           "--format", "json"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_sample_is_covered():
    assert sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample(name):
    doc = analyze_json(SAMPLES / name)
    jsonschema.validate(doc, SCHEMA)
    verdict, balloons = EXPECTED[name]
    assert doc["verdict"] == verdict
    got = [(b["driver"], b["device"], b["inflated_bytes"], b["target_bytes"], b["accounting"],
            b["deflate_on_oom"]) for b in doc["balloons"]]
    assert got == balloons
    for b in doc["balloons"]:
        assert b["evidence"], "every balloon names the file it came from"


def test_table_leads_with_the_verdict():
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze",
                           str(SAMPLES / "kvm-deflate-off")], cwd=REPO, capture_output=True,
                          text=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "VERDICT: contributed"
    # then the answer paragraph, then the details
    assert lines[1].startswith("The guest ran out of memory once. It happened at 2026-11-26T06:40:16")
    assert lines.index("  OOM #1: contributed (high confidence)") > lines.index("") > 1


def test_tarball_sample_equals_its_directory():
    d1 = analyze_json(SAMPLES / "kvm-deflate-off")
    d2 = analyze_json(SAMPLES / "kvm-deflate-off.tar.xz")
    assert d1.pop("source")["path"].endswith("samples/kvm-deflate-off")
    assert d2.pop("source")["path"].endswith("samples/kvm-deflate-off.tar.xz")
    assert d1 == d2
