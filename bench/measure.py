# SPDX-License-Identifier: GPL-2.0-or-later
"""Benchmark measurement: wall time, CPU time and peak RSS of a command, and the table row.

Every time is printed as ``wall s (CPU)``: CPU is user + system seconds of the
command and its children, which a loaded machine inflates far less than wall
time, so ratios of CPU stay meaningful when other jobs share the cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent

GOALS = {"tarball": 1.15, "directory": 3.0, "vmcore": 0.5, "rss_mb": 150}


@dataclass
class Timing:
    wall: float
    rss_mb: float
    status: int
    #: user + system CPU seconds of the best run (the command and its children):
    #: what a loaded machine does not inflate the way it inflates wall time.
    cpu: float = 0.0


def _run(cmd: Sequence[str], stdout=None, env_extra=None) -> Timing:
    """One run: wall time, peak RSS (the child's own, and its children's), CPU."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               **(env_extra or {}))
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    rss_file = tempfile.NamedTemporaryFile("r", suffix=".rss")
    # GNU time reports the command's own peak RSS; wait4() on a child forked from
    # this Python would count the fork's copy of this process's memory.
    argv = ([gnu_time, "-f", "%U %S\n%M", "-o", rss_file.name] if gnu_time else []) + list(cmd)
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, wstatus, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        text = rss_file.read().strip().splitlines()
        kib = int(text[-1]) if gnu_time and text and text[-1].isdigit() else usage.ru_maxrss
    finally:
        rss_file.close()
        if stdout:
            out.close()
    return Timing(wall, kib / 1024.0, os.waitstatus_to_exitcode(wstatus),
                  usage.ru_utime + usage.ru_stime)


def _best(runs: List[Timing]) -> Timing:
    """The best wall time (with its CPU), the largest RSS, the last status."""
    best = min(runs, key=lambda t: t.wall)
    return Timing(best.wall, max(t.rss_mb for t in runs), runs[-1].status, best.cpu)


def measure(cmd: Sequence[str], stdout=None, repeat: int = 1, env_extra=None) -> Timing:
    """Best wall time and largest peak RSS (the child's own, and its children's) over runs."""
    return _best([_run(cmd, stdout, env_extra) for _ in range(repeat)])


def measure_interleaved(runs: Sequence[tuple], repeat: int = 1) -> List[Timing]:
    """:func:`measure` for each ``(cmd, stdout, env_extra)`` of ``runs``, taking
    turns (A, B, A, B, ...): this machine's speed drifts by ±15 % over tens of
    seconds (``xz -dc`` of one file: 2.4-3.7 s), so a command and its baseline
    are compared over the same stretch of time."""
    got: List[List[Timing]] = [[] for _ in runs]
    for _ in range(repeat):
        for i, (cmd, stdout, env_extra) in enumerate(runs):
            got[i].append(_run(cmd, stdout, env_extra))
    return [_best(g) for g in got]


def analyzer(*args: str) -> List[str]:
    return [sys.executable, "-m", "balloon_oom", "analyze", *args]


def engines_available() -> List[str]:
    """Prefilter engines this interpreter can run (``hyperscan`` needs balloon-oom[fast])."""
    from balloon_oom.readers.prefilter import native_available

    return (["hyperscan"] if native_available() else []) + ["python"]


def native_engines() -> str:
    """Which native helpers this interpreter has: Hyperscan (the needles) and
    NumPy (the line count of a big log), both from ``balloon-oom[fast]``."""
    from balloon_oom.readers.prefilter import load_numpy, native_available

    numpy = load_numpy()
    return (f"hyperscan {'yes' if native_available() else 'no (pure-Python needles)'}, "
            f"numpy {numpy.__version__ if numpy else 'no (bytes.count)'}")


def found_pids(json_path: str) -> List[int]:
    with open(json_path) as f:
        doc = json.load(f)
    return sorted(e["victim"]["pid"] for e in doc.get("oom_events", []) if e.get("victim"))


def timed(t: Timing) -> str:
    """``wall s (CPU)``: the best run's wall time and its user + system CPU seconds.

    >>> timed(Timing(wall=2.5, rss_mb=30, status=0, cpu=1.25))
    '2.50 s (1.25)'
    """
    return f"{t.wall:.2f} s ({t.cpu:.2f})"


def ratio(ours: Timing, base: Timing, digits: int = 2) -> str:
    """Wall-time ratio, then the CPU-time ratio (meaningful on a loaded machine too).

    >>> ratio(Timing(10.0, 30, 0, 4.0), Timing(2.0, 2, 0, 2.0))
    '5.00x (CPU 2.00x)'
    """
    wall = ours.wall / base.wall if base.wall > 0 else float("inf")
    cpu = f"{ours.cpu / base.cpu:.{digits}f}x" if base.cpu > 0 else "n/a"
    return f"{wall:.{digits}f}x (CPU {cpu})"


def row(name: str, ours: Timing, floor_name: str, floor: Timing, goal: Optional[float],
        check: str) -> List[str]:
    wall = ours.wall / floor.wall if floor.wall > 0 else float("inf")
    verdict = "" if goal is None else ("ok" if wall <= goal else f"over goal {goal}")
    return [name, timed(ours), f"{ours.rss_mb:.0f} MB", floor_name, timed(floor),
            f"{floor.rss_mb:.0f} MB", ratio(ours, floor), verdict, check]


#: Times are ``wall s (CPU s)``; the goal applies to the wall ratio (an idle machine's).
HEADERS = ["case", "balloon-oom (CPU)", "peak RSS", "baseline", "baseline (CPU)", "baseline RSS",
           "ratio (CPU ratio)", "goal", "events found"]


def print_table(rows: List[List[str]]) -> None:
    from tabulate import tabulate

    print(tabulate(rows, headers=HEADERS, disable_numparse=True), flush=True)
