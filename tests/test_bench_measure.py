# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/measure.py: the CPU time printed beside wall time is the command's own."""

from __future__ import annotations

import doctest
import sys

import bench.measure as measure


def test_doctests():
    assert doctest.testmod(measure).failed == 0


def test_cpu_time_of_a_busy_and_of_a_sleeping_command():
    busy = measure.measure([sys.executable, "-c",
                            "import time\nt = time.process_time()\n"
                            "while time.process_time() - t < 0.3: pass"])
    # At least the 0.3 s of CPU it burned; wall time is never less than its CPU time.
    assert busy.status == 0 and busy.cpu >= 0.3 and busy.wall >= busy.cpu * 0.95
    idle = measure.measure(["sleep", "0.3"])
    assert idle.status == 0 and idle.wall >= 0.3 and idle.cpu < 0.1


def test_children_are_counted():
    """A command's children count in its CPU time (a tarball's xz child, a fleet's reports)."""
    code = ("import subprocess, sys\n"
            "subprocess.run([sys.executable, '-c', 'import time\\nt = time.process_time()\\n"
            "while time.process_time() - t < 0.3: pass'])")
    t = measure.measure([sys.executable, "-c", code])
    assert t.status == 0 and t.cpu >= 0.3


def test_interleaved_runs_take_turns_and_keep_each_best(tmp_path):
    """Each command's best wall time over its own runs; the runs alternate."""
    log = tmp_path / "order"
    a = [sys.executable, "-c", f"open({str(log)!r}, 'a').write('a')"]
    b = [sys.executable, "-c", f"import time; time.sleep(0.2); open({str(log)!r}, 'a').write('b')"]
    ta, tb = measure.measure_interleaved([(a, None, None), (b, None, None)], repeat=3)
    assert log.read_text() == "ababab"
    assert tb.wall >= 0.2 > ta.wall and ta.status == tb.status == 0
