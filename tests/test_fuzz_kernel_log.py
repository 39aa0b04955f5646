# SPDX-License-Identifier: GPL-2.0-or-later
"""The kernel-log scanner, the OOM line parsers, the log-prefix splitter and the boot
``Memory:`` line parser, fuzzed: they never raise.

Inputs: mutated real logs and OOM reports (:mod:`tests.fuzzing`), plus random text.
"""

from __future__ import annotations

from typing import List

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balloon_oom.parsers import oom as oomp
from balloon_oom.parsers.kernel_log import KernelLogScanner, parse_boot_memory
from balloon_oom.parsers.logline import decode_line, split_prefix
from balloon_oom.readers.members import iter_lines
from tests import sosroots
from tests.fuzzing import KVM, LOG_SEEDS, OOM_DATA, mutated
from tests.fuzzing import read as _read

pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))


def _log_bytes(draw_text: str) -> bytes:
    return draw_text.encode("utf-8", "surrogatepass")


@given(st.one_of(mutated(LOG_SEEDS),
                 st.lists(st.text(max_size=300), max_size=30).map("\n".join)),
       st.sampled_from(["sos_commands/kernel/dmesg", "var/log/messages",
                        "sos_commands/logs/journalctl_--no-pager"]))
def test_fuzz_kernel_log_scanner_never_raises(text, source):
    """Mutated real logs through iter_lines (as the analyzer streams them): never raises,
    and every line number it reports is a line that was fed."""
    scanner = KernelLogScanner(source)
    fed = 0
    for line in iter_lines(__import__("io").BytesIO(_log_bytes(text))):
        scanner.feed(line)
        fed += 1
    scan = scanner.close()
    assert scan.lines == fed
    for ev in scan.events:
        assert ev.source == source and 1 <= ev.line <= fed
        for e in ev.evidence:
            assert 1 <= e.line <= fed and len(e.text) <= 1024
    for sig in scan.signatures:
        assert 1 <= sig.evidence.line <= fed
    for bm in scan.boot_memory:
        assert bm.available_kb >= 0 and bm.total_kb >= 0


@given(st.lists(st.one_of(st.text(max_size=200), st.binary(max_size=200)), max_size=40))
def test_fuzz_scanner_raw_lines(lines):
    """Lines as str (any code point, lone surrogates too) or bytes, fed directly."""
    scanner = KernelLogScanner("vmcore:kernel log")
    for line in lines:
        scanner.feed(line)
    assert scanner.close().lines == len(lines)


def _report_lines() -> List[str]:
    text = _read(KVM / "dmesg-oom-report-deflate-off.txt")
    for p in sorted(OOM_DATA.glob("*.txt")):
        text += "\n" + _read(p)
    return [split_prefix(decode_line(ln)).text for ln in text.splitlines() if ln.strip()]


REPORT_LINES = _report_lines()
LINE_PARSERS = [oomp.parse_invoked, oomp.parse_trigger, oomp.parse_constraint, oomp.parse_kill,
                oomp.parse_selected, oomp.parse_reaper, oomp.parse_mem_info_pairs,
                oomp.parse_node, oomp.parse_zone, oomp.parse_hugepages, oomp.parse_total,
                oomp.parse_task_header, oomp.parse_frame, oomp.parse_unsure_frame,
                lambda t: parse_boot_memory(t), oomp.is_invoked]


@given(st.one_of(mutated(REPORT_LINES[:200]), st.text(max_size=300)))
def test_fuzz_oom_line_parsers_never_raise(line):
    """Each OOM-report line parser: a value or None for any line."""
    for parse in LINE_PARSERS:
        parse(line)
    header = oomp.parse_task_header("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes "
                                    "swapents oom_score_adj name")
    assert header is not None
    oomp.parse_task_row(line, header)


@given(st.one_of(mutated(["Memory: 260860K/523768K available (14343K kernel code, 64776K "
                          "reserved, 0K cma-reserved)",
                          "Memory: 3911568k/4718592k available (5417k kernel code, 664404k "
                          "absent, 142620k reserved, 4318k data, 1300k init)"]),
                 st.text(max_size=200)))
def test_fuzz_boot_memory_line(text):
    got = parse_boot_memory(text)
    if got is not None:
        avail, total, reserved = got
        assert avail >= 0 and total >= 0 and (reserved is None or reserved >= 0)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_fuzz_log_prefix(raw):
    text = decode_line(raw)
    assert "\x00" not in text and not text.endswith(("\r", "\n"))
    ll = split_prefix(text)
    assert ll.text in text

