# SPDX-License-Identifier: GPL-2.0-or-later
"""Every parser, fuzzed: a result or the project's own ParseError, nothing else.

Inputs are byte- and line-level mutations of real samples and of texts
rendered from the kernel's own format strings, plus random text
(:mod:`tests.fuzzing`).

Properties:

* a file parser (vmmemctl, hv-balloon, virtio debugfs, features,
  device_features, meminfo, vmstat, zoneinfo, Xen sysfs and /proc/xen/balloon,
  CMM, vmware-toolbox) returns its typed result or raises
  :class:`~balloon_oom.errors.ParseError` whose ``path`` is the path given,
  whose ``line`` is a real line of the text (or None for a whole-file
  complaint such as "empty file") and whose message starts with
  ``path[:line]: ``; every evidence line of a result is a real line too;
* the kernel-log scanner, the OOM line parsers, the log-prefix splitter and
  the boot ``Memory:`` line parser never raise (:mod:`tests.test_fuzz_kernel_log`);
* the builders, the verdict and the renderers over a report whose files are
  mutated raise nothing but the project's errors (:mod:`tests.test_fuzz_reports`).

Profiles (registered in ``tests/conftest.py``): ``ci`` is the default, 300
examples per property; ``slow`` runs 10 000 per property::

    .venv/bin/python -m pytest tests/test_fuzz_*.py --hypothesis-profile=slow
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import pytest
from hypothesis import given

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence
from balloon_oom.parsers.cmm import parse_cmm_timeout, parse_cmm_value
from balloon_oom.parsers.hv_balloon import parse_hv_balloon
from balloon_oom.parsers.meminfo import parse_meminfo
from balloon_oom.parsers.virtio_debugfs import parse_virtio_debugfs
from balloon_oom.parsers.virtio_features import (explain_features, parse_device_features,
                                                  parse_features)
from balloon_oom.parsers.vmmemctl import parse_vmmemctl
from balloon_oom.parsers.vmstat import parse_vmstat
from balloon_oom.parsers.vmware_toolbox import parse_stat_balloon, parse_stat_raw_text
from balloon_oom.parsers.xen import parse_proc_xen_balloon, parse_xen_value
from balloon_oom.parsers.zoneinfo import parse_zoneinfo
from tests import sosroots
from tests.fuzzing import FC, KVM, file_input
from tests.fuzzing import read as _read

pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))


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
