# SPDX-License-Identifier: GPL-2.0-or-later
"""The analyzer on the reports the real ``sos report`` makes of the fake roots.

:mod:`tests.test_sos_plugin_latest` collects these tests again on current sos.
"""

from __future__ import annotations

import json
import os

import pytest

from tests import sosroots
from tests.sosreports import (ANALYZER_BALLOONS, ANALYZER_TARGETS, _read, analyze,
                              assert_clean_run, run_report)

pytest.importorskip("sos", reason="needs Debian's sos (apt-get install sosreport)")

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


#: The previous boot's OOM as journalctl -o short-precise prints it (UTC).
JOURNAL_OOM_LINE = ("Nov 26 00:00:08.352026 guest kernel: hog invoked oom-killer: "
                    "gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, "
                    "oom_score_adj=0")


@pytest.mark.sos
@pytest.mark.parametrize("name", sosroots.JOURNAL_ROOTS)
def test_journal_previous_boot_oom_reaches_the_analyzer(name, tmp_path, sos_install):
    """A journald-only guest: the OOM is only in the previous boot's journal."""
    if sosroots.unavailable(name):
        pytest.skip(sosroots.unavailable(name))
    root = sosroots.build(name, str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    previous = _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_-b_-1"))
    current = _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_-b_0"))
    assert previous.splitlines()[0] == JOURNAL_OOM_LINE
    assert "invoked oom-killer" not in current
    assert current.startswith("Nov 27 00:00:00.000000 guest kernel: Linux version 6.1.0-56-amd64 ")
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    (event,) = result["oom_events"]
    assert event["current_boot"] is False
    assert event["source"] == "sos_commands/balloon/journalctl_-k_-b_-1"
    assert [(b["driver"], b["inflated_bytes"]) for b in result["balloons"]] == [
        ("virtio_balloon", 268435456)]


@pytest.mark.sos
def test_kdump_dmesg_reaches_the_analyzer(tmp_path, sos_install):
    """kdump's saved log: its OOM is a past boot's, the current log has none."""
    root = sosroots.build("kdump-previous-boot-oom", str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    (event,) = result["oom_events"]
    assert event["source"] == f"{sosroots.KDUMP_DIR}/vmcore-dmesg.txt"
    assert event["current_boot"] is False
    assert event["trigger_comm"] == "hog"


@pytest.mark.sos
def test_journal_since_and_all_logs_on_the_command_line(tmp_path, sos_install):
    """sos --since cuts the journal; --all-logs adds every boot."""
    name = "journal-previous-boot-oom"
    if sosroots.unavailable(name):
        pytest.skip(sosroots.unavailable(name))
    root = sosroots.build(name, str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path / "since"),
                                    ["--since", "20261126120000"], sos=sos_install)
    assert_clean_run(rc, report, output)
    # nothing of the previous boot (2026-11-26 00:00) is that recent
    previous = _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_-b_-1"))
    assert "kernel:" not in previous
    assert "Linux version" in _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_-b_0"))
    rc, report, output = run_report(root.path, str(tmp_path / "all"), ["--all-logs"],
                                    sos=sos_install)
    assert_clean_run(rc, report, output)
    every = _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_all_boots"))
    assert JOURNAL_OOM_LINE in every.splitlines()
    assert every.count("Linux version 6.1.0-56-amd64") == 1  # the previous boot's log has none
    assert every.index(JOURNAL_OOM_LINE) < every.index("Linux version")
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    (event,) = json.loads(proc.stdout)["oom_events"]
    assert event["current_boot"] is False



@pytest.mark.sos
def test_vmware_toolbox_balloon_size_reaches_the_analyzer(tmp_path, sos_install):
    root = sosroots.build("vmware-tools", str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    (b,) = json.loads(proc.stdout)["balloons"]
    # vmmemctl (512 MiB current) and `vmware-toolbox-cmd stat balloon` (512 MB) agree
    assert b["details"]["inflated_bytes_by_basis"]["vmware-toolbox-cmd stat balloon"] == 512 * 2**20
    assert b["inflated_bytes"] == 512 * 2**20



@pytest.mark.sos
@pytest.mark.parametrize("name", sorted(ANALYZER_BALLOONS))
def test_analyzer_reads_the_report(name, tmp_path, sos_install):
    root = sosroots.build(name, str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    got = [(b["driver"], b["inflated_bytes"], b["accounting"], b["deflate_on_oom"])
           for b in result["balloons"]]
    want = ANALYZER_BALLOONS[name]
    assert len(got) == len(want), got
    for (driver, inflated, accounting, deflate), g in zip(want, got):
        assert g[:3] == (driver, inflated, accounting)
        if deflate is not None:
            assert g[3] is deflate
        assert result["balloons"][0]["evidence"]
    if name in ANALYZER_TARGETS:
        assert result["balloons"][0]["target_bytes"] == ANALYZER_TARGETS[name]
    if name.startswith("kvm"):
        assert result["balloons"][0]["device"] == "virtio0"


@pytest.mark.sos
@pytest.mark.parametrize("name", ["debugfs-unmounted", "unreadable"])
def test_analyzer_on_degraded_reports(name, tmp_path, sos_install):
    root = sosroots.build(name, str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    if name == "debugfs-unmounted":
        # the module parameter shows the driver; its size is unknown without debugfs
        assert [(b["driver"], b["inflated_bytes"]) for b in result["balloons"]] == [
            ("vmw_balloon", None)]
        assert any("debugfs" in w for w in result["warnings"]), result["warnings"]
    else:  # the FIFO was never collected; the mode-000 file arrived empty
        assert result["balloons"] == []
        assert any(w.startswith("proc/vmmemctl") for w in result["warnings"]), result["warnings"]

