"""The benchmark's input generator: deterministic, and the OOM reports where it says."""

from __future__ import annotations

import doctest
import hashlib
import json
from pathlib import Path

import pytest

import bench.inputs as inputs
import bench.logs as logs
from balloon_oom.analysis import analyze
from balloon_oom.parsers.kernel_log import scan_log

SIZE_MB = 2


def _digest(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return inputs.build_report(str(tmp_path_factory.mktemp("gen")), size_mb=SIZE_MB, seed=5)


def test_doctests():
    assert doctest.testmod(inputs).failed == 0
    assert doctest.testmod(logs).failed == 0


def test_same_seed_same_bytes(tmp_path, report):
    again = inputs.build_report(str(tmp_path / "again"), size_mb=SIZE_MB, seed=5)
    assert _digest(Path(again.root)) == _digest(Path(report.root))
    assert json.loads(again.to_json())["logs"] == json.loads(report.to_json())["logs"]
    other = inputs.build_report(str(tmp_path / "other"), size_mb=SIZE_MB, seed=6)
    assert (_digest(Path(other.root))[inputs.JOURNAL]
            != _digest(Path(report.root))[inputs.JOURNAL])


def test_tarball_deterministic(tmp_path, report):
    a = inputs.make_tarball(report.root, str(tmp_path / "a.tar.xz"))
    b = inputs.make_tarball(report.root, str(tmp_path / "b.tar.xz"))
    assert Path(a).read_bytes() == Path(b).read_bytes()


def test_size_and_line_counts(report):
    for rel, log in report.logs.items():
        data = (Path(report.root) / rel).read_bytes()
        assert log.bytes == len(data)
        assert log.lines == data.count(b"\n")
    total = sum(log.bytes for log in report.logs.values())
    assert SIZE_MB * (1 << 20) <= total < SIZE_MB * (1 << 20) + 64 * 1024


def test_oom_reports_exactly_where_it_says(report):
    capture = inputs.OOM_REPORT.read_text().splitlines()
    for rel, log in report.logs.items():
        lines = (Path(report.root) / rel).read_text().splitlines()
        invoked = [i + 1 for i, x in enumerate(lines) if " invoked oom-killer: " in x]
        killed = [i + 1 for i, x in enumerate(lines) if "Out of memory: Killed process" in x]
        assert invoked == [e.line for e in log.events]
        assert killed == [e.end_line for e in log.events]
        for ev in log.events:
            assert f"Killed process {ev.pid} (hog)" in lines[ev.end_line - 1]
            assert ev.end_line - ev.line + 1 == len(capture)  # the whole real report
        assert [e.pid for e in log.events] == [112, 1112, 2112]


def test_the_kernel_log_scanner_agrees(report):
    """The project's own scanner finds the same events at the same lines."""
    for rel, log in report.logs.items():
        with open(Path(report.root) / rel, "rb") as f:
            scan = scan_log(f, rel)
        assert [(e.line, e.victim.pid) for e in scan.events] == \
            [(e.line, e.pid) for e in log.events]
        assert scan.boots == 1


def test_analysis_merges_the_copies(report):
    """The journal and messages copies of each event are one event each."""
    analysis = analyze(report.root)
    assert sorted(e.victim.pid for e in analysis.oom_events) == report.pids
