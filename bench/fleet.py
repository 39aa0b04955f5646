# SPDX-License-Identifier: GPL-2.0-or-later
"""Benchmark fleet cases: copies of a sample (case 4) and 1000 realistic reports (case 6)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import List

from .inputs import build_report, make_tarball
from .measure import REPO, analyzer, measure, timed


def case_fleet(work: Path, copies: int, repeat: int) -> None:
    sample = REPO / "samples" / "kvm-deflate-off"
    if not sample.is_dir():
        print("  case 4 skipped: samples/kvm-deflate-off missing (python samples/generate.py)")
        return
    fleet = work / "fleet"
    shutil.rmtree(fleet, ignore_errors=True)
    for i in range(copies):
        shutil.copytree(sample, fleet / f"report-{i:04d}", symlinks=True)
    out = str(work / "fleet.jsonl")
    from tabulate import tabulate

    rows = []
    for jobs in (1, 2):
        t = measure(analyzer("--format", "jsonl", "--jobs", str(jobs), str(fleet)), stdout=out,
                    repeat=repeat)
        with open(out) as f:
            ok = sum(1 for line in f if "error" not in json.loads(line))
        rows.append([f"--jobs {jobs}", copies, timed(t), f"{copies / t.wall:.1f}",
                     f"{t.rss_mb:.0f} MB", f"{ok}/{copies} analysed"])
    print(tabulate(rows, headers=["fleet", "reports", "wall (CPU)", "reports/s",
                                  "peak RSS (one proc)", "check"], disable_numparse=True))
    shutil.rmtree(fleet)


# --- case 6: a fleet of realistic reports ---------------------------------------------------

#: The ten generated reports: formats of their logs, and whether shipped as a tarball.
FLEET_KINDS = ((None, False), (("journal",), True), (("syslog",), False), (("dmesg",), True),
               (("journal", "dmesg"), False), (None, True), (("syslog", "dmesg"), False),
               (("journal",), False), (("syslog",), True), (("dmesg",), False))


def _link_tree(src: Path, dst: Path) -> None:
    for dirpath, _dirs, files in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            s, d = Path(dirpath) / name, dst / rel / name
            if s.is_symlink():
                os.symlink(os.readlink(s), d)
            else:
                os.link(s, d)


def case_fleet_many(work: Path, reports: int, log_mb: float, seed: int,
                    dask: bool) -> List[List[str]]:
    """``reports`` reports (hard links to ten generated ones of ``log_mb`` MiB of logs
    each, varied formats, half tarballs) analysed with ``--jobs 2`` and on a Dask
    ``LocalCluster`` of 2 workers; reports/s and reports/s per core."""
    base = work / "fleet-base"
    fleet = work / "fleet-many"
    shutil.rmtree(fleet, ignore_errors=True)
    fleet.mkdir(parents=True)
    t0 = time.perf_counter()
    originals = []
    for k, (formats, tar) in enumerate(FLEET_KINDS):
        r = build_report(str(base / f"r{k}"), size_mb=log_mb, seed=seed + k, formats=formats,
                         name=f"sosreport-fleet{k}-2026-11-26-aaaaaaa")
        if tar:
            t = str(base / f"r{k}.tar.xz")
            make_tarball(r.root, t)
            originals.append((Path(t), True, r.pids))
        else:
            originals.append((Path(r.root), False, r.pids))
    for i in range(reports):
        src, tar, _ = originals[i % len(originals)]
        dst = fleet / (f"sosreport-{i:04d}.tar.xz" if tar else f"sosreport-{i:04d}")
        if tar:
            os.link(src, dst)
        else:
            _link_tree(src, dst)
    print(f"  fleet: {reports} reports (hard links to 10 of {log_mb:g} MiB of logs) ready in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    out = str(work / "fleet.jsonl")
    runs = [("local --jobs 2", ["--jobs", "2"])]
    if dask:
        runs.append(("dask LocalCluster, 2 workers", ["--dask", "local", "--jobs", "2"]))
    for label, extra in runs:
        t = measure(analyzer("--format", "jsonl", *extra, str(fleet)), stdout=out)
        with open(out) as f:
            docs = [json.loads(line) for line in f]
        ok = sum(1 for d in docs if "error" not in d and d.get("oom_events"))
        rate = reports / t.wall
        rows.append([label, str(reports), timed(t), f"{rate:.1f}", f"{rate / 2:.1f}",
                     f"{ok}/{reports} analysed with their OOM events"])
        print("  " + " | ".join(rows[-1]), flush=True)
    shutil.rmtree(fleet)
    shutil.rmtree(base)
    return rows


FLEET_HEADERS = ["fleet", "reports", "wall (CPU)", "reports/s", "reports/s per core", "check"]
