"""The command line: exit codes, one-line errors, --debug tracebacks, formats."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args, cwd=REPO):
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", *args], cwd=cwd,
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def test_features_command_names_bits():
    rc, out, err = run("features",
                       "0110000000000000000000000000110010000000000000000000000000000000")
    assert rc == 0
    rows = [line.split()[:2] for line in out.splitlines()[2:]]
    assert rows == [["1", "STATS_VQ"], ["2", "DEFLATE_ON_OOM"], ["28", "RING_INDIRECT_DESC"],
                    ["29", "RING_EVENT_IDX"], ["32", "VERSION_1"]]


def test_features_bad_string_is_one_line_error():
    rc, out, err = run("features", "0110")
    assert rc == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("balloon-oom: features:")
    assert "Traceback" not in err


def test_missing_path():
    rc, out, err = run("analyze", "/nonexistent/report")
    assert (rc, out) == (2, "")
    assert err == "balloon-oom: /nonexistent/report: no such file or directory\n"


def test_not_a_report_file(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    rc, out, err = run("analyze", str(junk))
    assert rc == 2
    assert "not a kernel log (text with no kernel log line)" in err and err.count("\n") == 1


def test_debug_shows_traceback():
    rc, out, err = run("--debug", "analyze", "/nonexistent/report")
    assert rc == 1
    assert "Traceback" in err and "InputError" in err


def test_bad_threshold():
    rc, out, err = run("analyze", "--threshold", "1.5", "/")
    assert rc == 2 and "--threshold must be between 0 and 1" in err


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs /proc")
def test_live_guest_analysis_runs_here():
    """This machine is itself a guest (virtio balloon present or not): / must analyse."""
    rc, out, err = run("analyze", "/", "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    assert (doc["source"]["kind"], doc["source"]["path"], doc["source"]["parts"]) == ("live", "/", [])
    with open("/proc/meminfo") as f:
        first = f.readline().split()
    # MemTotal never changes while a guest runs (unless the balloon moves, which it does not here)
    assert doc["memory"]["mem_total_kb"] == int(first[1])
    with open("/proc/sys/kernel/osrelease") as f:
        assert doc["kernel"]["release"] == f.read().strip()


def test_directory_without_reports_is_one_line_error(tmp_path):
    rc, out, err = run("analyze", str(tmp_path))
    assert rc == 2
    assert err.count("\n") == 1
    assert err.startswith(f"balloon-oom: no report could be analysed: {tmp_path}: no sosreport here")
