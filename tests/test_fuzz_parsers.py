# SPDX-License-Identifier: GPL-2.0-or-later
"""Every parser, fuzzed: a result or the project's own ParseError, nothing else.

Inputs are byte- and line-level mutations of real samples (the captures in
``/work/shared/real-captures``, the public OOM excerpts in ``tests/data/oom``,
and texts rendered from the kernel's own format strings by
:mod:`tests.sosroots` where no capture exists), plus random text.

Properties:

* a file parser (vmmemctl, hv-balloon, virtio debugfs, features,
  device_features, meminfo, vmstat, zoneinfo, Xen sysfs and /proc/xen/balloon,
  CMM, vmware-toolbox) returns its typed result or raises
  :class:`~balloon_oom.errors.ParseError` whose ``path`` is the path given,
  whose ``line`` is a real line of the text (or None for a whole-file
  complaint such as "empty file") and whose message starts with
  ``path[:line]: ``; every evidence line of a result is a real line too;
* the kernel-log scanner, the OOM line parsers, the log-prefix splitter and
  the boot ``Memory:`` line parser never raise;
* the builders (:func:`~balloon_oom.memory.memory_figures`,
  :func:`~balloon_oom.balloons.find_balloons`, the whole
  :func:`~balloon_oom.analysis.build`), :func:`~balloon_oom.verdict.judge`
  and the JSON/table renderers, over a report whose files are mutated, raise
  nothing but :class:`~balloon_oom.errors.BalloonOomError` subclasses.

Profiles (registered in ``tests/conftest.py``): ``ci`` is the default, 300
examples per property; ``slow`` runs 10 000 per property::

    .venv/bin/python -m pytest tests/test_fuzz_parsers.py --hypothesis-profile=slow
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balloon_oom.analysis import Collected, build
from balloon_oom.balloons import find_balloons
from balloon_oom.errors import BalloonOomError, ParseError
from balloon_oom.memory import memory_figures
from balloon_oom.model import Evidence, Source, SourceKind
from balloon_oom.parsers import oom as oomp
from balloon_oom.parsers.cmm import parse_cmm_timeout, parse_cmm_value
from balloon_oom.parsers.hv_balloon import parse_hv_balloon
from balloon_oom.parsers.kernel_log import KernelLogScanner, parse_boot_memory
from balloon_oom.parsers.logline import decode_line, split_prefix
from balloon_oom.parsers.meminfo import parse_meminfo
from balloon_oom.parsers.virtio_debugfs import parse_virtio_debugfs
from balloon_oom.parsers.virtio_features import (explain_features, parse_device_features,
                                                  parse_features)
from balloon_oom.parsers.vmmemctl import parse_vmmemctl
from balloon_oom.parsers.vmstat import parse_vmstat
from balloon_oom.parsers.vmware_toolbox import parse_stat_balloon, parse_stat_raw_text
from balloon_oom.parsers.xen import parse_proc_xen_balloon, parse_xen_value
from balloon_oom.parsers.zoneinfo import parse_zoneinfo
from balloon_oom.readers.files import ReportFiles
from balloon_oom.readers.members import iter_directory, iter_lines
from balloon_oom.render import json_out, table
from balloon_oom.verdict import Thresholds, judge
from tests import sosroots

KVM = Path(sosroots.KVM)
FC = Path(sosroots.FIRECRACKER)
OOM_DATA = Path(__file__).parent / "data" / "oom"

pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


# --- seeds ----------------------------------------------------------------------------------

def _hv_upstream() -> str:
    """hv_balloon_debug_show()'s rows ("%-22s: ..."), values of a 1 GiB balloon."""
    rows = [("host_version", "2.0"), ("capabilities", "enabled hot_add"),
            ("state", "2 (Balloon Up)"), ("page_size", "4096"), ("pages_added", "0"),
            ("pages_onlined", "0"), ("pages_ballooned", "262144"),
            ("total_pages_committed", "977790"), ("max_dynamic_page_count", "268435456")]
    return "".join("%-22s: %s\n" % row for row in rows)


def _xen_proc() -> str:
    """balloon_read() of the XenLinux trees (drivers/xen/balloon.c there; /proc/xen/balloon)."""
    return ("Current allocation: %8d kB\nRequested target:   %8d kB\n"
            "Low-mem balloon:    %8d kB\nHigh-mem balloon:   %8d kB\n"
            "Driver pages:       %8d kB\nXen hard limit:          ??? kB\n"
            % (204800, 204800, 566784, 0, 1024))


def _seed_texts() -> Dict[str, List[str]]:
    seeds = {
        "vmmemctl": [sosroots.vmmemctl_new(131072, 131072), sosroots.vmmemctl_old(65536, 65024)],
        "hv-balloon": [_hv_upstream(),
                       "pages_ballooned_out : 512 // comment\nvm_pages_commited : 10\n"
                       "state : 2 (Balloon Up)\n"],
        "virtio-debugfs": ["InflatedTotal: 262144 kB\nInflatedFree: 0 kB\n",
                           "inflated: -262144 kB\n",
                           "%-22s: %d\n%-22s: %d\n" % ("page_size", 4096, "ballooned_pages", 65536)],
        "features": [_read(p) for p in sorted(KVM.glob("features-*.txt"))[:2]]
                    + [_read(FC / "virtio0-features.txt")],
        "device_features": ["1\n2\n5\n28\n29\n32\n"],
        "meminfo": [_read(KVM / "meminfo-after-oom-deflate-off.txt"),
                    _read(FC / "proc-meminfo.txt")],
        "vmstat": [_read(FC / "proc-vmstat.txt"),
                   _read(KVM / "vmstat-balloon-after-oom-deflate-on.txt")],
        "zoneinfo": [_read(FC / "proc-zoneinfo.txt")],
        "xen-value": ["1572864\n", "%d\n" % (1572864 * 1024)],
        "xen-proc": [_xen_proc(),
                     "Current allocation:   204800 kB\nLow-mem balloon:      566784 kB\n"
                     "Xen hard limit:          4096 kB (inc. 1024 kB driver headroom)\n"],
        "cmm-value": ["65536\n", "0\n"],
        "cmm-timeout": ["256 3600\n"],
        "toolbox-raw": ["size.tx = 38137\nnum.rx = 10920\nreservation = 0\nlimit = -1\n"
                        "mem.ballooned = 524288\nprovider =\n"],
        "toolbox-balloon": ["512 MB\n", "512 MHz\n"],
    }
    return seeds


SEEDS = _seed_texts()

#: (name, path given to the parser, parser)
FILE_PARSERS: List[Tuple[str, str, Callable[[str, str], object]]] = [
    ("vmmemctl", "sys/kernel/debug/vmmemctl", parse_vmmemctl),
    ("hv-balloon", "sys/kernel/debug/hv-balloon", parse_hv_balloon),
    ("virtio-debugfs", "sys/kernel/debug/virtio-balloon", parse_virtio_debugfs),
    ("features", "sys/bus/virtio/devices/virtio0/features", parse_features),
    ("device_features", "sys/kernel/debug/virtio/virtio0/device_features", parse_device_features),
    ("meminfo", "proc/meminfo", parse_meminfo),
    ("vmstat", "proc/vmstat", parse_vmstat),
    ("zoneinfo", "proc/zoneinfo", parse_zoneinfo),
    ("xen-value", "sys/devices/system/xen_memory/xen_memory0/target_kb", parse_xen_value),
    ("xen-proc", "proc/xen/balloon", parse_proc_xen_balloon),
    ("cmm-value", "proc/sys/vm/cmm_pages", parse_cmm_value),
    ("cmm-timeout", "proc/sys/vm/cmm_timeout", parse_cmm_timeout),
    ("toolbox-raw", "sos_commands/vmware/vmware-toolbox-cmd_stat_raw_text_resources",
     parse_stat_raw_text),
    ("toolbox-balloon", "sos_commands/vmware/vmware-toolbox-cmd_stat_balloon", parse_stat_balloon),
]

LOG_SEEDS = [
    _read(KVM / "dmesg-oom-report-deflate-off.txt"),
    _read(KVM / "dmesg-deflate-on.txt"),
    _read(FC / "dmesg-excerpt.txt"),
] + [_read(p) for p in sorted(OOM_DATA.glob("*.txt"))]


# --- mutations ------------------------------------------------------------------------------

#: Characters that trip parsers: Unicode digits that are not decimal ("²"),
#: other scripts' decimals, line separators str.splitlines() knows, NUL, BOM.
ODD = ["²", "١٢", "\u2028", "\x85", "\x0b", "\x0c", "\x00", "\ufeff", "\ufffd", "\r", "\t",
       "-", "+", "0x", "0X1f", ":", " : ", "(", ")", " kB", " pages", "???", "%", "//",
       "99999999999999999999999999999999", "-1", "nan", "1e9", "١", "𝟗"]

_small_text = st.one_of(st.sampled_from(ODD), st.text(max_size=12))
_small_bytes = st.one_of(st.sampled_from([s.encode() for s in ODD]),
                         st.binary(max_size=12),
                         st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\r\n", b"\n\n"]))


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    """Flip, insert, delete, duplicate a range, or truncate."""
    op = draw(st.sampled_from(["flip", "insert", "delete", "dup", "truncate"]))
    n = len(data)
    i = draw(st.integers(0, n))
    j = draw(st.integers(i, min(n, i + 256)))
    if op == "flip" and n:
        i = min(i, n - 1)
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
    if op == "insert":
        return data[:i] + draw(_small_bytes) + data[i:]
    if op == "delete":
        return data[:i] + data[j:]
    if op == "dup":
        return data[:j] + data[i:j] + data[j:]
    return data[:i]


@st.composite
def line_mutation(draw, text: str) -> str:
    """Delete, duplicate, swap lines; put odd tokens into a line; insert a line."""
    lines = text.split("\n")
    op = draw(st.sampled_from(["delete", "dup", "swap", "token", "insert", "long"]))
    i = draw(st.integers(0, len(lines) - 1))
    if op == "delete":
        del lines[i]
    elif op == "dup":
        lines.insert(i, lines[i])
    elif op == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "token":
        line = lines[i]
        k = draw(st.integers(0, len(line)))
        cut = draw(st.integers(0, 20))
        lines[i] = line[:k] + draw(_small_text) + line[k + cut:]
    elif op == "insert":
        lines.insert(i, draw(_small_text))
    else:
        lines[i] = lines[i] + "x" * draw(st.sampled_from([1000, 70_000]))
    return "\n".join(lines)


@st.composite
def mutated(draw, seeds: List[str]) -> str:
    """A seed after 1-6 byte or line mutations, decoded as the readers decode files."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            text = draw(byte_mutation(text.encode("utf-8"))).decode("utf-8", "replace")
        else:
            text = draw(line_mutation(text))
    return text


def file_input(seeds: List[str]):
    return st.one_of(mutated(seeds), st.text(max_size=200),
                     st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")))


# --- checks ---------------------------------------------------------------------------------

def _evidence_in(obj, depth: int = 0):
    """Every Evidence reachable from a parser result (dataclass fields, dicts, lists)."""
    if depth > 4:
        return
    if isinstance(obj, Evidence):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _evidence_in(v, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _evidence_in(v, depth + 1)
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            yield from _evidence_in(getattr(obj, name), depth + 1)


def check_file_parser(parser, path: str, text: str) -> Optional[object]:
    nlines = text.count("\n") + 1
    try:
        result = parser(text, path)
    except ParseError as err:
        assert err.path == path
        assert str(err).startswith(path + ":")
        if err.line is not None:
            assert isinstance(err.line, int) and 1 <= err.line <= nlines, (err.line, nlines)
            assert str(err).startswith(f"{path}:{err.line}: ")
        else:
            assert str(err).startswith(f"{path}: ")
        assert err.message and "\n" not in str(err)
        return None
    for ev in _evidence_in(result):
        assert ev.source == path
        if ev.line is not None:
            assert 1 <= ev.line <= nlines, (ev, nlines)
    return result


@pytest.mark.parametrize("name,path,parser", FILE_PARSERS, ids=[p[0] for p in FILE_PARSERS])
def test_seeds_parse(name, path, parser):
    """The unmutated seeds are good input: each gives a result (else the fuzz proves little)."""
    for text in SEEDS[name]:
        assert check_file_parser(parser, path, text) is not None, text


def _fuzz_test(name: str, path: str, parser):
    @given(file_input(SEEDS[name]))
    def test(text):
        check_file_parser(parser, path, text)
    test.__name__ = f"test_fuzz_{name.replace('-', '_')}"
    test.__doc__ = f"{name}: a result or a ParseError naming {path} and a real line."
    return test


for _name, _path, _parser in FILE_PARSERS:
    globals()[f"test_fuzz_{_name.replace('-', '_')}"] = _fuzz_test(_name, _path, _parser)
del _name, _path, _parser


@given(file_input(["0110\n", SEEDS["features"][0]]))
def test_fuzz_explain_features_value_error_only(text):
    """The `features` command's decoder: rows, or ValueError (the CLI makes it one line)."""
    try:
        rows = explain_features(text)
    except ValueError:
        return
    assert all(isinstance(bit, int) and bit >= 0 for bit, _, _ in rows)


# --- the kernel log -------------------------------------------------------------------------

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
    assert "3,218,236K/25,165,432K available, no reserved field" in table.render(analysis)


# Found by the fuzzer: str.isdigit() is True for "²" (and other non-decimal
# digits) that int() refuses; a ValueError escaped these parsers.
@pytest.mark.parametrize("parser,path,text", [
    (parse_device_features, "sys/kernel/debug/virtio/virtio0/device_features", "²\n1\n"),
    (parse_cmm_timeout, "proc/sys/vm/cmm_timeout", "²256 3600\n"),
    (parse_cmm_value, "proc/sys/vm/cmm_pages", "6553²\n"),
    (parse_xen_value, "sys/devices/system/xen_memory/xen_memory0/target_kb", "²\n"),
    (parse_hv_balloon, "sys/kernel/debug/hv-balloon", "pages_ballooned       : ³\n"),
])
def test_non_decimal_digits_are_parse_errors(parser, path, text):
    with pytest.raises(ParseError) as info:
        parser(text, path)
    assert (info.value.path, info.value.line) == (path, 1)
