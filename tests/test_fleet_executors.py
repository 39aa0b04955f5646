# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet executors: a report per process under limits, locally and on Dask."""

from __future__ import annotations

import json
import os
import time

import pytest

from balloon_oom.fleet import FleetOptions, Limits, analyze_one, expand_inputs, run_dask, run_local
from tests.fleet_reports import needs_samples, paths_of


pytestmark = needs_samples


def crash_on_b(path, options):
    """A worker whose process dies on one report (stands in for a crash in a C library:
    no real report crashes the analyzer, so this one is simulated)."""
    if "b-kvm-off-copy" in path:
        os._exit(9)
    return analyze_one(path, options)


def test_dead_worker_takes_only_its_report(fleet_dir, single):
    paths = [str(fleet_dir / n) for n in ("a-kvm-off", "b-kvm-off-copy", "d-xen", "d-hyperv")]
    got = list(run_local(paths, FleetOptions(), jobs=2, worker=crash_on_b))
    assert [r["source"]["path"] for r in got] == paths
    assert "died" in got[1]["error"]
    assert got[0] == single[paths[0]] and got[2] == single[paths[2]]
    assert got[3] == single[paths[3]]


def test_analyze_one_never_raises(tmp_path):
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(b"\x1f\x8b" + b"\0" * 100)
    r = analyze_one(str(bad), FleetOptions())
    assert set(r) == {"source", "error"} and r["source"] == {"path": str(bad)}


def test_dask_local_cluster_equals_local(fleet_dir, jsonl_run):
    distributed = pytest.importorskip("distributed")
    paths = paths_of(fleet_dir)
    inputs = [i.path for i in expand_inputs(paths) if i.error is None]
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            futures = client.map(analyze_one, inputs, options=FleetOptions(), pure=False)
            results = client.gather(futures)
    finally:
        cluster.close()
    local = {r["source"]["path"]: r for r in map(json.loads, jsonl_run[1].splitlines())}
    assert [r["source"]["path"] for r in results] == inputs
    for r in results:
        assert r == local[r["source"]["path"]]


def allocating_analyze(path, options):
    """analyze_one with ``analyze`` monkeypatched (in the worker) to allocate
    without end on one report: a runaway in memory."""
    from balloon_oom import analysis

    if "b-huge-log" in path:
        def hog(*_a, **_k):
            keep = []
            while True:
                keep.append(b"x" * (16 << 20))
                time.sleep(0.005)
        analysis.analyze = hog
    return analyze_one(path, options)


def test_max_rss_kills_a_report_that_allocates(runaway_dir):
    paths = sorted(str(p) for p in runaway_dir.iterdir())
    got = list(run_local(paths, FleetOptions(), jobs=2, worker=allocating_analyze,
                         limits=Limits(timeout=60, max_rss_mb=300)))
    assert [r["source"]["path"] for r in got] == paths
    assert "error" not in got[0] and "error" not in got[2]
    assert "--max-rss 300 MB" in got[1]["error"], got[1]
    assert got[1]["error"].startswith("killed:")


def test_dask_time_limit_kills_a_runaway(runaway_dir):
    pytest.importorskip("distributed")
    paths = sorted(str(p) for p in runaway_dir.iterdir())
    got = list(run_dask(paths, FleetOptions(), "local", jobs=2, timeout=10.0))
    assert got[1]["error"] == "killed: still running after --timeout 10 s"
    assert "error" not in got[0] and "error" not in got[2]


def pipe_write_ends(path, options):
    """In the worker's process: how many pipes it holds open for writing (its
    own result pipe only, if no other report's pipe leaked into it)."""
    time.sleep(0.05)
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            flags = int(open(f"/proc/self/fdinfo/{fd}").read().split("flags:")[1].split()[0], 8)
        except (OSError, IndexError, ValueError):
            continue
        if target.startswith("pipe:") and flags & os.O_ACCMODE == os.O_WRONLY:
            n += 1
    return {"source": {"path": path}, "write_pipes": n}


def test_no_report_pipe_leaks_into_another_reports_process(tmp_path):
    """A report's result pipe must not be inherited by a report forked at the same
    moment by the other job's thread: a runaway holding it would hide the EOF of a
    report that had finished, which was then reported as timed out (seen once on a
    loaded CI run)."""
    inherited = pipe_write_ends("here", None)["write_pipes"]  # this process's own (capture)
    paths = [str(tmp_path / f"r{i}") for i in range(60)]
    got = list(run_local(paths, FleetOptions(), jobs=2, worker=pipe_write_ends,
                         limits=Limits(timeout=60, max_rss_mb=None)))
    assert [r.get("write_pipes") for r in got] == [inherited + 1] * len(paths), got


def _busy(path, options):
    from balloon_oom.readers.decompressors import busy_cpus

    return {"path": path, "busy": busy_cpus()}


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_each_report_counts_the_others_as_busy_cpus(jobs):
    """With ``jobs`` reports at a time, each report's scan leaves the CPUs of
    the other ``jobs - 1`` to them (no helper thread it has no CPU for)."""
    got = list(run_local(["a", "b", "c"], FleetOptions(), jobs=jobs, worker=_busy))
    assert [g["busy"] for g in got] == [jobs - 1] * 3
