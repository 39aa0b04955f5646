"""hv-balloon debugfs: upstream layout (rendered from the show function's format
strings) and the Virtuozzo document's example, comments included."""

import doctest
import re

import pytest

import balloon_oom.parsers.hv_balloon as hvmod
from balloon_oom.errors import ParseError
from balloon_oom.parsers.hv_balloon import parse_hv_balloon
from tests import shared as _shared

def printf(fmt, *args):
    """C printf: Python's % lacks the ll/l length modifiers, so drop them."""
    return re.sub(r"(%[-#0-9]*)(?:ll|l)([dux])", r"\1\2", fmt) % args


SEED = (_shared.DOCS / "seed-balloon-usage-information-visible-by-guest.txt")


def _upstream(ballooned=262144):
    s = printf("%-22s: %u.%u\n", "host_version", 2, 0)
    s += printf("%-22s:", "capabilities") + " enabled" + " hot_add" + "\n"
    s += printf("%-22s: %u", "state", 2) + printf(" (%s)\n", "Balloon Up")
    s += printf("%-22s: %ld\n", "page_size", 4096)
    s += printf("%-22s: %u\n", "pages_added", 0)
    s += printf("%-22s: %u\n", "pages_onlined", 0)
    s += printf("%-22s: %u\n", "pages_ballooned", ballooned)
    s += printf("%-22s: %lu\n", "total_pages_committed", 977790)
    s += printf("%-22s: %llu\n", "max_dynamic_page_count", 268435456)
    return s


def _seed_example():
    """The '# cat /sys/kernel/debug/hv-balloon' block of the seed document."""
    lines = SEED.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if "cat /sys/kernel/debug/hv-balloon" in ln)
    out = []
    for ln in lines[start + 1:]:
        body = ln[1:] if ln.startswith("+") else ln
        if body.strip() == "" and out:
            break
        if body.strip():
            out.append(body.strip())
    return "\n".join(out) + "\n"


def test_doctests():
    assert doctest.testmod(hvmod).failed == 0


def test_upstream_layout():
    hv = parse_hv_balloon(_upstream(), "sys/kernel/debug/hv-balloon")
    assert hv.host_version == "2.0"
    assert hv.capabilities == ["enabled", "hot_add"]
    assert (hv.state, hv.state_name) == (2, "Balloon Up")
    assert hv.page_size == 4096 and hv.pages_ballooned == 262144
    assert hv.ballooned_bytes == 262144 * 4096
    assert hv.total_pages_committed == 977790 and hv.max_dynamic_page_count == 268435456
    assert hv.spelling == "upstream"
    assert hv.evidence["pages_ballooned"].line == 7
    assert hv.evidence["pages_ballooned"].text == "pages_ballooned       : 262144"


def test_seed_document_example_with_comments():
    text = _seed_example()
    assert "// Hyper-V version" in text  # the sample really carries comments
    hv = parse_hv_balloon(text, "sys/kernel/debug/hv-balloon")
    assert hv.host_version == "2.0" and (hv.state, hv.state_name) == (1, "Initialized")
    assert hv.pages_ballooned == 0 and hv.spelling == "virtuozzo-doc"
    assert hv.vm_pages_committed == 795365 and hv.total_pages_committed == 977790
    assert hv.max_dynamic_page_count == 268435456
    assert hv.other == {}


def test_state_without_name_uses_the_kernel_table():
    hv = parse_hv_balloon("state : 5\n", "x")
    assert hv.state_name == "Error"


def test_crlf_and_unknown_keys():
    hv = parse_hv_balloon(_upstream().replace("\n", "\r\n") + "new_key : 7\r\n", "x")
    assert hv.pages_ballooned == 262144 and hv.other == {"new_key": "7"}


@pytest.mark.parametrize("text,line", [
    ("pages_ballooned : many\n", 1),
    ("state : 1 (Initialized)\nhost_version : two\n", 2),
    ("state : x\n", 1),
    ("state : 1\nno colon here\n", 2),
])
def test_bad_rows(text, line):
    with pytest.raises(ParseError) as err:
        parse_hv_balloon(text, "sys/kernel/debug/hv-balloon")
    assert err.value.line == line and err.value.path == "sys/kernel/debug/hv-balloon"


def test_empty_and_foreign():
    with pytest.raises(ParseError, match="empty"):
        parse_hv_balloon("\n\n", "x")
    with pytest.raises(ParseError, match="not an hv-balloon"):
        parse_hv_balloon("page_size : 4096\n", "x")
