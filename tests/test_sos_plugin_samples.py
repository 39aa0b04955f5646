# SPDX-License-Identifier: GPL-2.0-or-later
"""The committed samples (``samples/``): sos's layout, and the analyzer's verdict on one."""

from __future__ import annotations

import json
import os

import pytest

from tests import sosroots
from tests.sosreports import EXPECTED_FILES, SOS_OWN, analyze, report_files

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


SAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples")
SAMPLE_ROOTS = {"kvm-deflate-off": "kvm-deflate-off-after-oom",
                "kvm-deflate-on": "kvm-deflate-on-after-oom",
                "firecracker-6.18": "firecracker-6.18", "hyperv": "hyperv",
                "hyperv-virtuozzo": "hyperv-virtuozzo", "vmware-new": "vmware-new",
                "vmware-old": "vmware-old", "xen": "xen", "no-balloon": "no-balloon"}


@pytest.mark.parametrize("sample", sorted(SAMPLE_ROOTS))
def test_sample_layout(sample):
    path = os.path.join(SAMPLES_DIR, sample)
    files = report_files(path)
    # sos's layout, minus the host's dmesg (see samples/PROVENANCE.md)
    assert files == (SOS_OWN - {"sos_commands/balloon/dmesg"}) | EXPECTED_FILES[SAMPLE_ROOTS[sample]]
    with open(os.path.join(path, "sos_reports/manifest.json")) as fobj:
        manifest = json.load(fobj)
    assert manifest["components"]["report"]["sysroot"].endswith("/roots/" + SAMPLE_ROOTS[sample])
    with open(os.path.join(path, "sos_logs/sos.log")) as fobj:
        assert "sosreport-guest-" in fobj.read()


@pytest.mark.parametrize("sample", ["kvm-deflate-off", "kvm-deflate-off.tar.xz"])
def test_sample_kvm_deflate_off_verdict(sample):
    proc = analyze(os.path.join(SAMPLES_DIR, sample))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(b["driver"], b["inflated_bytes"], b["deflate_on_oom"]) for b in result["balloons"]] == [
        ("virtio_balloon", 268435456, False)]
    assert len(result["oom_events"]) == 1
    assert result["verdict"] == "contributed"
