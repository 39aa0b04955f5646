# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet command on real sample reports: per-report results, formats, exit status, limits."""

from __future__ import annotations

import io
import json
import time

import pytest

from balloon_oom import cli
from balloon_oom.errors import BalloonOomError
from balloon_oom.fleet import EXIT_NONE_ANALYSED, FleetOptions, analyze_one, run_fleet
from balloon_oom.verdict import Thresholds
from tests.fleet_reports import fleet_args, needs_samples, paths_of, run


pytestmark = needs_samples


def test_results_equal_single_analysis(fleet_dir, single, jsonl_run):
    rc, out, _ = jsonl_run
    assert rc == 0
    lines = [json.loads(x) for x in out.splitlines()]
    paths = paths_of(fleet_dir)
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
    assert err.startswith(f"{len(paths_of(fleet_dir))} reports: 6 analysed, 2 failed")
    assert corrupt in err and empty in err


def test_jobs_1_and_2_identical(fleet_dir, jsonl_run):
    _, out2, _ = jsonl_run
    rc, out1, _ = run(paths_of(fleet_dir), jobs=1)
    assert rc == 0
    assert out1 == out2


def test_table_and_json_formats(fleet_dir):
    rc, out, _ = run([str(fleet_dir)], fmt="json", jobs=2)
    doc = json.loads(out)
    assert rc == 0
    assert doc["summary"]["reports"] == 7 and doc["summary"]["failed"] == 1
    assert doc["summary"]["failures"][0]["path"].endswith("e-corrupt.tar.xz")
    assert len(doc["reports"]) == 7
    rc, out, _ = run([str(fleet_dir)], fmt="table", jobs=2)
    first = out.splitlines()[2]
    assert first.split()[:3] == [str(fleet_dir / "a-kvm-off"), "contributed", "1"]
    assert "7 reports: 6 analysed, 1 failed" in out


def test_exit_status_when_nothing_analysed(fleet_dir):
    rc, out, _ = run([str(fleet_dir / "e-corrupt.tar.xz"), str(fleet_dir / "f-empty")])
    assert rc == EXIT_NONE_ANALYSED
    assert len(out.splitlines()) == 2


def test_cli_routes_several_paths_to_fleet(fleet_dir, capsys):
    rc = cli.main(["analyze", "--format", "jsonl", "--jobs", "2",
                   str(fleet_dir / "a-kvm-off"), str(fleet_dir / "d-xen")])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert [json.loads(x)["source"]["path"] for x in out] == [str(fleet_dir / "a-kvm-off"),
                                                              str(fleet_dir / "d-xen")]


def test_dask_option_local(fleet_dir, jsonl_run):
    pytest.importorskip("distributed")
    rc, out, _ = run(paths_of(fleet_dir), dask="local", jobs=2)
    assert rc == 0
    assert out == jsonl_run[1]


def test_timeout_kills_a_runaway_report_and_the_run_goes_on(runaway_dir, single, fleet_dir):
    out, err = io.StringIO(), io.StringIO()
    paths = sorted(str(p) for p in runaway_dir.iterdir())
    t0 = time.monotonic()
    # 10 s: far more than a good report takes even on a loaded machine, far less than 1 TiB.
    rc = run_fleet(fleet_args(paths, jobs=2, timeout=10.0, max_rss=1024.0), Thresholds(),
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


def test_limits_must_be_positive(fleet_dir):
    with pytest.raises(BalloonOomError, match="--timeout must be positive"):
        run_fleet(fleet_args([str(fleet_dir)], jobs=2, timeout=0.0), Thresholds(),
                  stdout=io.StringIO(), stderr=io.StringIO())
