"""Fleet mode on real sample reports: per-report results, summary, jobs, Dask."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from balloon_oom import cli
from balloon_oom.analysis import analyze
from balloon_oom.errors import BalloonOomError
from balloon_oom.fleet import (EXIT_NONE_ANALYSED, FleetOptions, FleetSummary, Limits,
                               analyze_one, expand_inputs, render_summary, run_dask, run_fleet,
                               run_local)
from balloon_oom.render.json_out import document
from balloon_oom.verdict import Thresholds

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
KVM_OFF = SAMPLES / "kvm-deflate-off"
KVM_OFF_TAR = SAMPLES / "kvm-deflate-off.tar.xz"
OTHERS = ("hyperv", "no-balloon", "xen")

pytestmark = pytest.mark.skipif(not KVM_OFF.is_dir() or not KVM_OFF_TAR.is_file(),
                                reason="samples/ not generated (python samples/generate.py)")


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory) -> Path:
    """Copies of the samples, one corrupt tarball, one empty directory."""
    d = tmp_path_factory.mktemp("fleet")
    shutil.copytree(KVM_OFF, d / "a-kvm-off", symlinks=True)
    shutil.copytree(KVM_OFF, d / "b-kvm-off-copy", symlinks=True)
    shutil.copyfile(KVM_OFF_TAR, d / "c-kvm-off.tar.xz")
    for name in OTHERS:
        shutil.copytree(SAMPLES / name, d / f"d-{name}", symlinks=True)
    data = KVM_OFF_TAR.read_bytes()
    (d / "e-corrupt.tar.xz").write_bytes(data[: len(data) // 2])  # cut in the middle
    (d / "f-empty").mkdir()
    (d / "c-kvm-off.tar.xz.md5").write_text("0123 c-kvm-off.tar.xz\n")  # a stray: passed over
    return d


def _paths(d: Path):
    return sorted(str(p) for p in d.iterdir() if not p.name.endswith(".md5"))


def _args(paths, fmt="jsonl", jobs=None, dask=None):
    return argparse.Namespace(paths=list(paths), format=fmt, jobs=jobs, dask=dask,
                              debuginfo=None, explain=False, html=None)


def _run(paths, **kw):
    out, err = io.StringIO(), io.StringIO()
    rc = run_fleet(_args(paths, **kw), Thresholds(), stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def single(fleet_dir):
    """Each good report analysed alone, in this process: what the fleet must reproduce."""
    good = [p for p in _paths(fleet_dir) if "corrupt" not in p and "empty" not in p]
    return {p: document(analyze(p, thresholds=Thresholds())) for p in good}


@pytest.fixture(scope="module")
def jsonl_run(fleet_dir):
    return _run(_paths(fleet_dir), jobs=2)


def test_expand_directory_of_reports(fleet_dir):
    # The collection directory stands for its report children; the .md5 stray is passed over,
    # the empty directory inside a collection is not a report and is passed over too.
    got = expand_inputs([str(fleet_dir)])
    names = [os.path.basename(i.path) for i in got]
    assert names == ["a-kvm-off", "b-kvm-off-copy", "c-kvm-off.tar.xz", "d-hyperv",
                     "d-no-balloon", "d-xen", "e-corrupt.tar.xz"]
    assert all(i.error is None for i in got)


def test_expand_glob_dedupe_and_missing(fleet_dir):
    a = str(fleet_dir / "a-kvm-off")
    got = expand_inputs([str(fleet_dir / "a-*"), a, str(fleet_dir / "nothing-*"),
                         str(fleet_dir / "f-empty")])
    assert [i.path for i in got] == [a, str(fleet_dir / "nothing-*"), str(fleet_dir / "f-empty")]
    assert got[0].error is None
    assert got[1].error.endswith("no file matches this pattern")
    assert "no sosreport here" in got[2].error


def test_results_equal_single_analysis(fleet_dir, single, jsonl_run):
    rc, out, _ = jsonl_run
    assert rc == 0
    lines = [json.loads(x) for x in out.splitlines()]
    paths = _paths(fleet_dir)
    assert [r["source"]["path"] for r in lines] == paths  # input order, one line each
    by_path = {r["source"]["path"]: r for r in lines}
    for p, doc in single.items():
        assert by_path[p] == doc
    # The known answer for the real deflate-off guest: 256 MiB balloon at the OOM.
    kvm = by_path[str(fleet_dir / "a-kvm-off")]
    assert kvm["verdict"] == "contributed"
    assert [e["balloon_bytes_at_oom"] for e in kvm["oom_events"]] == [268435456]


def test_failures_listed_with_error(fleet_dir, jsonl_run):
    _, out, err = jsonl_run
    failed = {r["source"]["path"]: r["error"] for r in map(json.loads, out.splitlines())
              if "error" in r}
    corrupt, empty = str(fleet_dir / "e-corrupt.tar.xz"), str(fleet_dir / "f-empty")
    assert set(failed) == {corrupt, empty}
    assert failed[corrupt].startswith(f"{corrupt}: archive is truncated or corrupt")
    assert "\n" not in failed[corrupt]
    assert failed[empty].startswith(f"{empty}: no sosreport here")
    # The summary goes to stderr with --format jsonl, and names both.
    assert err.startswith(f"{len(_paths(fleet_dir))} reports: 6 analysed, 2 failed")
    assert corrupt in err and empty in err


def test_summary_counts_exact(fleet_dir, single, jsonl_run):
    _, out, _ = jsonl_run
    summary = FleetSummary()
    for line in out.splitlines():
        summary.add(json.loads(line))
    assert summary.reports == 8 and summary.analysed == 6 and len(summary.failures) == 2
    assert summary.by_verdict == Counter(d["verdict"] for d in single.values())
    drivers = Counter()
    for d in single.values():
        names = {b["driver"] for b in d["balloons"]} or {"none"}
        drivers.update(names)
    assert summary.by_driver == drivers
    assert summary.by_driver["virtio_balloon"] >= 3  # the three kvm copies
    # Largest first; ties keep input order.
    top = summary.top_balloons
    assert [t[1] for t in top[:3]] == [str(fleet_dir / n) for n in
                                       ("a-kvm-off", "b-kvm-off-copy", "c-kvm-off.tar.xz")]
    assert top[0][0] == 268435456
    text = render_summary(summary)
    assert "268435456" in text and "virtio_balloon" in text


def test_summary_top_is_ten_largest():
    s = FleetSummary()
    for i in range(25):
        s.add({"source": {"path": f"r{i}"}, "verdict": "contributed", "balloons": [],
               "oom_events": [{"verdict": "contributed", "balloon_bytes_at_oom": i * 4096},
                              {"verdict": "undetermined", "balloon_bytes_at_oom": None}]})
    assert [p for _, p, _ in s.top_balloons] == [f"r{i}" for i in range(24, 14, -1)]
    assert s.by_driver == Counter({"none": 25})


def test_jobs_1_and_2_identical(fleet_dir, jsonl_run):
    _, out2, _ = jsonl_run
    rc, out1, _ = _run(_paths(fleet_dir), jobs=1)
    assert rc == 0
    assert out1 == out2


def test_table_and_json_formats(fleet_dir):
    rc, out, _ = _run([str(fleet_dir)], fmt="json", jobs=2)
    doc = json.loads(out)
    assert rc == 0
    assert doc["summary"]["reports"] == 7 and doc["summary"]["failed"] == 1
    assert doc["summary"]["failures"][0]["path"].endswith("e-corrupt.tar.xz")
    assert len(doc["reports"]) == 7
    rc, out, _ = _run([str(fleet_dir)], fmt="table", jobs=2)
    first = out.splitlines()[2]
    assert first.split()[:3] == [str(fleet_dir / "a-kvm-off"), "contributed", "1"]
    assert "7 reports: 6 analysed, 1 failed" in out


def test_exit_status_when_nothing_analysed(fleet_dir):
    rc, out, _ = _run([str(fleet_dir / "e-corrupt.tar.xz"), str(fleet_dir / "f-empty")])
    assert rc == EXIT_NONE_ANALYSED
    assert len(out.splitlines()) == 2


def test_cli_routes_several_paths_to_fleet(fleet_dir, capsys):
    rc = cli.main(["analyze", "--format", "jsonl", "--jobs", "2",
                   str(fleet_dir / "a-kvm-off"), str(fleet_dir / "d-xen")])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert [json.loads(x)["source"]["path"] for x in out] == [str(fleet_dir / "a-kvm-off"),
                                                              str(fleet_dir / "d-xen")]


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
    paths = _paths(fleet_dir)
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


def test_dask_option_local(fleet_dir, jsonl_run):
    pytest.importorskip("distributed")
    rc, out, _ = _run(_paths(fleet_dir), dask="local", jobs=2)
    assert rc == 0
    assert out == jsonl_run[1]


# --- per-report limits: a runaway report is killed, the run goes on ---------------------------

@pytest.fixture(scope="module")
def runaway_dir(tmp_path_factory) -> Path:
    """A good report, then one whose messages file is 1 TiB of zeros (a sparse file:
    no disk used, but reading it takes far longer than the limit), then a good one."""
    d = tmp_path_factory.mktemp("runaway")
    shutil.copytree(KVM_OFF, d / "a-good", symlinks=True)
    shutil.copytree(KVM_OFF, d / "b-huge-log", symlinks=True)
    log = d / "b-huge-log" / "var" / "log" / "messages"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as f:
        f.truncate(1 << 40)
    shutil.copytree(SAMPLES / "xen", d / "c-good", symlinks=True)
    return d


def _fleet_args(paths, **kw):
    args = _args(paths, jobs=2)
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def test_timeout_kills_a_runaway_report_and_the_run_goes_on(runaway_dir, single, fleet_dir):
    out, err = io.StringIO(), io.StringIO()
    paths = sorted(str(p) for p in runaway_dir.iterdir())
    t0 = time.monotonic()
    # 10 s: far more than a good report takes even on a loaded machine, far less than 1 TiB.
    rc = run_fleet(_fleet_args(paths, timeout=10.0, max_rss=1024.0), Thresholds(),
                   stdout=out, stderr=err)
    took = time.monotonic() - t0
    got = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rc == 0
    assert [r["source"]["path"] for r in got] == paths
    assert got[1] == {"source": {"path": paths[1]},
                      "error": "killed: still running after --timeout 10 s"}
    good = analyze_one(paths[0], FleetOptions())
    assert got[0] == good and got[0]["verdict"] == "contributed"
    assert "error" not in got[2]
    assert took < 60
    assert "killed: still running after --timeout 10 s" in err.getvalue()  # the summary lists it


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


def test_limits_must_be_positive(fleet_dir):
    with pytest.raises(BalloonOomError, match="--timeout must be positive"):
        run_fleet(_fleet_args([str(fleet_dir)], timeout=0.0), Thresholds(),
                  stdout=io.StringIO(), stderr=io.StringIO())


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
