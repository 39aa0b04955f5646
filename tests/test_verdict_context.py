# SPDX-License-Identifier: GPL-2.0-or-later
"""What the rules read besides the size: which balloon messages bear on which OOM event."""

import re

import pytest

from balloon_oom.analysis import Collected, build
from balloon_oom.model import Source, SourceKind
from balloon_oom.parsers.kernel_log import scan_log
from balloon_oom.verdict import Thresholds, judge

from .shared import CAPTURES

KVM = CAPTURES / "kvm-6.1"
PUFF = "virtio_balloon virtio0: Out of puff! Can't get 1 page"

pytestmark = pytest.mark.skipif(not KVM.is_dir(), reason="shared/real-captures/kvm-6.1 absent")


def _shifted(lines, seconds, pid):
    """The same OOM report ``seconds`` later, killing ``pid`` (another event)."""
    out = []
    for line in lines:
        line = re.sub(r"^\[ *(\d+\.\d+)\]", lambda m: f"[{float(m.group(1)) + seconds:12.6f}]",
                      line)
        out.append(line.replace("pid=112", f"pid={pid}").replace("process 112 ", f"process {pid} "))
    return out


def _analysis(lines):
    scan = scan_log(lines, "sos_commands/kernel/dmesg")
    return judge(build(Collected(logs=[scan]), Source(SourceKind.SOSREPORT, "two-ooms")),
                 Thresholds())


def _puffs(verdict):
    return [r for r in verdict.reasons if "Out of puff!" in r]


def test_a_message_between_two_ooms_bears_only_on_the_second():
    report = (KVM / "dmesg-oom-report-deflate-off.txt").read_text().splitlines()
    lines = report + [f"[   12.000000] {PUFF}"] + _shifted(report, 10.0, 113)
    a = _analysis(lines)
    assert [ev.victim.pid for ev in a.oom_events] == [112, 113]
    first, second = a.verdicts
    assert _puffs(first) == []
    line = len(report) + 1
    assert _puffs(second) == [f"balloon message in the log (1x): {PUFF} "
                              f"[sos_commands/kernel/dmesg:{line}]"]


def test_a_message_of_an_earlier_boot_bears_on_no_oom_of_the_next():
    report = (KVM / "dmesg-oom-report-deflate-off.txt").read_text().splitlines()
    banner = (KVM / "dmesg-deflate-off.txt").read_text().splitlines()[0]
    assert banner.endswith(")") and "Linux version" in banner
    # the earlier boot's message is stamped before the later boot's OOM (2 s < 8.35 s)
    lines = [banner, f"[    2.000000] {PUFF}", banner] + report
    a = _analysis(lines)
    assert a.oom_events[0].boot == 1 and a.signatures[0].boot == 0
    assert _puffs(a.verdicts[0]) == []
    # in the same boot it does
    b = _analysis([banner, f"[    2.000000] {PUFF}"] + report)
    assert len(_puffs(b.verdicts[0])) == 1
