# SPDX-License-Identifier: GPL-2.0-or-later
"""``--format markdown``: the answer, events, memory picture with percentages, evidence."""

import subprocess
import sys

from balloon_oom.render.markdown import md_inline, md_table
from tests.test_samples import REPO, SAMPLES


def _markdown(sample):
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", str(SAMPLES / sample),
                           "--format", "markdown"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_contributed_sample():
    md = _markdown("kvm-deflate-off")
    lines = md.splitlines()
    assert lines[0] == "## balloon-oom: contributed"
    assert lines[2].startswith("The guest ran out of memory once. It happened at 2026-11-26T")
    # settings are code spans (a Markdown viewer would eat <memballoon …/> as HTML)
    assert "libvirt `<memballoon model='virtio' autodeflate='on'/>`" in lines[2]
    assert ("| 1 | 2026-11-26T06:40:16.941+00:00 | 0.1 s before collection | hog | global | "
            "hog (112), RSS 170.0 MiB | 256.0 MiB | contributed | high |") in lines
    assert "### Memory at OOM #1 (total 511.5 MiB)" in lines
    assert "| balloon | 256.0 MiB | 50.0 % |" in lines
    assert "| anon | 172.3 MiB | 33.7 % |" in lines
    assert "| **total** | **511.5 MiB** | **100.0 %** |" in lines
    assert "| virtio_balloon | virtio0 | 256.0 MiB | - | memtotal-reduced | no |" in lines
    ev = md.split("### Key evidence\n\n```\n", 1)[1].split("```", 1)[0].splitlines()
    assert ev[0].startswith("OOM #1: var/log/dmesg:353: [    8.352026] hog invoked oom-killer")
    assert "OOM #1: pages reserved at the OOM 79374 - 13838 = 65536 pages = 256.0 MiB" in ev


def test_no_oom_sample_has_no_events_table():
    md = _markdown("xen")
    assert ("No kernel log was read: OOM events can be neither seen nor ruled out" in md
            and "### OOM events" not in md)
    assert "| xen_balloon |" in md


def test_helpers_escape():
    assert md_table(["a"], [["x|y"]]).splitlines()[2] == "| x\\|y |"
    assert md_inline("a <b> c_d") == "a \\<b> c\\_d"
