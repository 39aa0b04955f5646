"""vmmemctl: samples generated from the kernel's own format strings (no VMware host here).

``_v1`` renders drivers/misc/vmw_balloon.c at c08b240d5eaa (v4.18), ``_v2`` at
the post-rework state (9b44fff655e2) with Python's printf, so widths and
padding are exactly what the kernel prints.
"""

import doctest
import re

import pytest

import balloon_oom.parsers.vmmemctl as vm
from balloon_oom.errors import ParseError
from balloon_oom.parsers.vmmemctl import capability_names, parse_vmmemctl

def printf(fmt, *args):
    """C printf: Python's % lacks the ll/l length modifiers, so drop them."""
    return re.sub(r"(%[-#0-9]*)(?:ll|l)([dux])", r"\1\2", fmt) % args


V1_COMMANDS = ["start", "guestType", "2m-lock", "lock", "2m-unlock", "unlock", "target",
               "prim2mAlloc", "primNoSleepAlloc", "primCanSleepAlloc"]
V1_PLAIN = ["prim2mFree", "primFree", "err2mAlloc", "errAlloc", "err2mFree", "errFree",
            "doorbellSet", "doorbellUnset"]


def _v1(target=65536, current=65024, rate=2048):
    s = ("balloon capabilities:   %#4x\n"
         "used capabilities:      %#4lx\n"
         "is resetting:           %c\n") % (0x1e, 0x1e, "n")
    s += ("target:             %8d pages\n"
          "current:            %8d pages\n") % (target, current)
    s += printf("rateSleepAlloc:     %8d pages/sec\n", rate)
    s += printf("\ntimer:              %8u\ndoorbell:           %8u\n", 1234, 7)
    for i, name in enumerate(V1_COMMANDS):
        s += printf("%-20s%8u (%4u failed)\n", name + ":", 10 + i, i % 2)
    for i, name in enumerate(V1_PLAIN):
        s += printf("%-20s%8u\n", name + ":", 100 + i)
    return s


CMD_NAMES = ["start", "target", "lock", "unlock", "guestType", "batchLock", "batchUnlock",
             "2m-lock", "2m-unlock", "doorbellSet"]
STAT_NAMES = ["timer", "doorbell", "reset", "shrink", "shrinkFree"]
PAGE_STATS = ["alloc", "allocFail", "errAlloc", "errFree", "free"]


def _v2(target=131072, current=130560, zero=False):
    s = printf("%-22s: %#16x\n", "balloon capabilities", 0x3e)
    s += printf("%-22s: %#16lx\n", "used capabilities", 0x3e)
    s += printf("%-22s: %16s\n", "is resetting", "n")
    s += printf("%-22s: %16lu\n", "target", target)
    s += printf("%-22s: %16llu\n", "current", current)
    for i, name in enumerate(CMD_NAMES):
        s += printf("%-22s: %16llu (%llu failed)\n", name, 0 if zero else 5 + i, 0 if zero else i % 3)
    for i, name in enumerate(STAT_NAMES):
        s += printf("%-22s: %16llu\n", name, 0 if zero else 40 + i)
    for i, name in enumerate(PAGE_STATS):
        for j, size in enumerate(["4k", "2M"]):
            s += printf("%-18s(%s): %16llu\n", name, size, 0 if zero else 1000 * (i + 1) + j)
    return s


def test_doctests():
    assert doctest.testmod(vm).failed == 0


def test_v1_takes_first_target_and_keeps_the_counter():
    v = parse_vmmemctl(_v1(), "proc/vmmemctl")
    assert v.generation == "v1-pages"
    assert (v.target_frames, v.current_frames) == (65536, 65024)
    assert v.commands["target"] == (16, 0)
    assert v.commands["2m-lock"] == (12, 0) and v.commands["lock"] == (13, 1)
    assert v.capabilities == 0x1e and v.used_capabilities == 0x1e and v.is_resetting is False
    assert v.rate_alloc == 2048
    assert v.stats["timer"] == 1234 and v.stats["doorbellUnset"] == 107
    assert v.stats_zero is False
    assert v.evidence["target_frames"].line == 4
    assert v.evidence["target_frames"].text == "target:                65536 pages"
    assert v.evidence["commands.target"].line == 16


def test_v2_table_and_page_size_rows():
    text = _v2()
    v = parse_vmmemctl(text, "sys/kernel/debug/vmmemctl")
    assert v.generation == "v2-table"
    assert (v.target_frames, v.current_frames) == (131072, 130560)
    assert v.commands["target"] == (6, 1)
    assert v.commands["doorbellSet"] == (14, 0)
    assert v.stats["alloc(4k)"] == 1000 and v.stats["alloc(2M)"] == 1001 and v.stats["free(2M)"] == 5001
    assert v.stats["shrinkFree"] == 44
    assert v.capabilities == 0x3e and capability_names(v.used_capabilities)[-1] == "64_BIT_TARGET"
    assert v.is_resetting is False and v.rate_alloc is None
    assert v.other == {}
    assert v.evidence["current_frames"].line == 5


def test_v2_first_read_all_zero():
    v = parse_vmmemctl(_v2(zero=True), "sys/kernel/debug/vmmemctl")
    assert v.stats_zero is True
    assert v.target_frames == 131072  # target/current are real even on the first read


def test_v2_zero_capabilities_print_as_plain_zero():
    # C's "%#16lx" prints a zero without the 0x prefix (Python's would print 0x0).
    text = _v2().replace(printf("%#16lx", 0x3e), printf("%16s", "0"))
    assert "used capabilities     :                0\n" in text
    assert parse_vmmemctl(text, "x").used_capabilities == 0


def test_intermediate_generation():
    head = _v1().split("\n\n")[0] + "\n"
    body = "".join(printf("%-22s: %16lu (%lu failed)\n", n, 3, 0) for n in CMD_NAMES)
    body += "\n" + "".join(printf("%-20s%8u\n", n + ":", 9) for n in
                           ["timer", "doorbell", "prim2mAlloc", "prim4kAlloc", "prim2mFree", "primFree"])
    v = parse_vmmemctl(head + body, "x")
    assert v.generation == "v1-pages"
    assert v.target_frames == 65536 and v.commands["target"] == (3, 0)
    assert v.stats["prim4kAlloc"] == 9


def test_crlf():
    v = parse_vmmemctl(_v2().replace("\n", "\r\n"), "x")
    assert v.current_frames == 130560 and v.evidence["current_frames"].text.endswith("130560")


def test_unknown_rows_kept():
    v = parse_vmmemctl(_v2() + printf("%-22s: %16s\n", "newThing", "abc"), "x")
    assert v.other == {"newThing": "abc"}


@pytest.mark.parametrize("text,line,msg", [
    ("target: 12 pages\ngarbage without colon\n", 2, "name: value"),
    ("target: lots pages\n", 1, "not a number"),
    ("target: 1 pages\ntarget: 2 pages\n", 2, "second 'target'"),
    ("is resetting: maybe\ntarget: 1\n", 1, "neither"),
    ("used capabilities: zz\ntarget: 1\n", 1, "hex"),
])
def test_bad_rows(text, line, msg):
    with pytest.raises(ParseError) as err:
        parse_vmmemctl(text, "sys/kernel/debug/vmmemctl")
    assert err.value.line == line and msg in err.value.message


def test_empty_and_missing_target():
    with pytest.raises(ParseError, match="empty"):
        parse_vmmemctl("", "x")
    with pytest.raises(ParseError, match="not a vmmemctl"):
        parse_vmmemctl("timer: 3\n", "x")
