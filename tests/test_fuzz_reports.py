# SPDX-License-Identifier: GPL-2.0-or-later
"""The builders, the verdict and the renderers over fake roots whose files are mutated.

:func:`~balloon_oom.memory.memory_figures`,
:func:`~balloon_oom.balloons.find_balloons`, the whole
:func:`~balloon_oom.analysis.build`, :func:`~balloon_oom.verdict.judge` and
the JSON/table renderers raise nothing but
:class:`~balloon_oom.errors.BalloonOomError` subclasses.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balloon_oom.analysis import Collected, build
from balloon_oom.balloons import find_balloons
from balloon_oom.errors import BalloonOomError
from balloon_oom.memory import memory_figures
from balloon_oom.model import Source, SourceKind
from balloon_oom.parsers.kernel_log import KernelLogScanner
from balloon_oom.readers.files import ReportFiles
from balloon_oom.readers.members import iter_directory
from balloon_oom.render import json_out, table
from balloon_oom.verdict import Thresholds, judge
from tests import sosroots
from tests.fuzzing import LOG_SEEDS, file_input, mutated

pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))


# --- builders, verdict, renderers over mutated reports ---------------------------------------

#: Fake guest roots that are plain files (no FIFO, no mode 000, no busybox copy, no
#: binary journal).
BASE_ROOTS = [n for n in sosroots.names()
              if n not in ("unreadable", "vmware-tools") + sosroots.JOURNAL_ROOTS]


@lru_cache(maxsize=None)
def _base_report(name: str) -> Tuple[Tuple[Tuple[str, str], ...], Tuple[Tuple[str, str], ...]]:
    """A fake root's report files (path, text) and links (path, target), read once."""
    with tempfile.TemporaryDirectory(prefix="balloon-oom-fuzz-") as tmp:
        root = sosroots.build(name, tmp).path
        files, links = [], []
        for m in iter_directory(Path(root)):
            if m.kind == "link":
                links.append((m.path, m.link_target))
            else:
                with m.open() as f:
                    files.append((m.path, f.read().decode("utf-8", "replace")))
    return tuple(files), tuple(links)


@st.composite
def mutated_report(draw):
    name = draw(st.sampled_from(BASE_ROOTS))
    files, links = _base_report(name)
    rf = ReportFiles()
    logs = []
    for path, text in files:
        fate = draw(st.sampled_from(["keep", "keep", "mutate", "drop"]))
        if fate == "drop":
            continue
        if fate == "mutate":
            text = draw(file_input([text] if text else ["\n"]))
        if path.startswith("var/log/"):
            logs.append((path, text))
        else:
            rf.add(path, text)
    for path, target in links:
        if draw(st.booleans()):
            rf.add_link(path, draw(st.sampled_from([target, "../" * 12 + "etc", ".", path])))
    if draw(st.booleans()):
        logs.append(("sos_commands/kernel/dmesg", draw(mutated(LOG_SEEDS[:2]))))
    return name, rf, logs


@given(mutated_report())
def test_fuzz_builders_and_verdict(report):
    """memory_figures, find_balloons, build, judge and the renderers on mutated reports."""
    _name, files, logs = report
    try:
        memory, warnings = memory_figures(files)
        balloons, _ = find_balloons(files, memory, None)
        assert all(isinstance(w, str) for w in warnings)
        collected = Collected(files=files)
        for path, text in logs:
            scanner = KernelLogScanner(path)
            for line in text.split("\n"):
                scanner.feed(line)
            collected.logs.append(scanner.close())
        analysis = judge(build(collected, Source(SourceKind.SOSREPORT, "fuzz")), Thresholds())
        assert len(analysis.verdicts) == len(analysis.oom_events)
        for b in analysis.balloons:
            assert b.inflated_bytes is None or isinstance(b.inflated_bytes, int)
        json_out.render(analysis)
        table.render(analysis, explain=True)
    except BalloonOomError:
        pass


def test_table_boot_line_without_reserved():
    """Found by the slow fuzz: the table formatted a None reserved_kb with ','."""
    scanner = KernelLogScanner("sos_commands/kernel/dmesg")
    scanner.feed("[    0.251336] Memory: 3218236K/25165432K available)")
    analysis = judge(build(Collected(files=ReportFiles(), logs=[scanner.close()]),
                           Source(SourceKind.SOSREPORT, "x")), Thresholds())
    assert analysis.memory.boot.reserved_kb is None
