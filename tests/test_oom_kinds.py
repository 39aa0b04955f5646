# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_oom.parsers.oom.kinds: the registry of OOM-report line kinds, its
order, its needles, on every real log."""

import io
import json
import re

import pytest

from balloon_oom.model import to_jsonable
from balloon_oom.parsers import kernel_log
from balloon_oom.parsers.oom import KINDS, OOM_NEEDLES, REPORT_KINDS, SCANNER_KINDS, kinds
from balloon_oom.readers.members import iter_lines
from tests.oomdata import GOLDEN, fingerprints, log_key, messages, real_logs

LOGS = real_logs()


def test_the_documented_order_is_the_registry_order():
    table = re.findall(r"^\s*(\d+)\s+(\w+)", kinds.__doc__, re.M)
    assert [(int(n), name) for n, name in table] == [
        (i, k.name) for i, k in enumerate(REPORT_KINDS, 1)]
    assert len({k.name for k in KINDS}) == len(KINDS)
    assert all(k.feed is not None for k in REPORT_KINDS)
    assert all(k.feed is None for k in SCANNER_KINDS)


@pytest.mark.parametrize("path", LOGS, ids=log_key)
def test_the_registry_order_reproduces_the_results_before_it(path):
    """GOLDEN was written by the if-chain OomReportBuilder.feed the registry
    replaced (``python -m tests.oomdata`` on that code)."""
    golden = json.loads(GOLDEN.read_text())
    assert fingerprints(path) == golden[log_key(path)]


def test_every_needle_is_in_every_real_line_of_its_kind():
    seen = {k.name: 0 for k in KINDS if k.needle is not None}
    for path in LOGS:
        for text in messages(path):
            for kind in KINDS:
                if kind.needle is not None and kind.parse(text) is not None:
                    assert kind.needle in text.encode("utf-8"), (kind.name, path.name, text)
                    seen[kind.name] += 1
    # The real logs hold lines of (nearly) every kind with a needle.
    assert {name for name, n in seen.items() if n == 0} <= {"vz_balloon", "exiting", "deadlocked"}


def test_oom_needles_are_the_outside_kinds():
    assert set(OOM_NEEDLES) == {b"invoked oom", b"Killed process", b"Kill process", b"ut of memory",
                                b"oom_reaper", b"Tasks in", b"ainted"}
    # The scanner's prefilter needles are computed from them
    # (parsers/logkinds.py); tests/test_stream.py checks both scans agree.
    assert set(OOM_NEEDLES) <= set(kernel_log.ALWAYS_NEEDLES)
