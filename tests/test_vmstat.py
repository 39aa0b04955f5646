"""/proc/vmstat: the QEMU/6.1 balloon excerpts (every phase) and Firecracker/6.18's full file."""

import doctest

import pytest

import balloon_oom.parsers.vmstat as vs
from balloon_oom.errors import ParseError
from balloon_oom.parsers.vmstat import parse_vmstat
from tests import shared as _shared

KVM = (_shared.CAPTURES / "kvm-6.1")


def test_doctests():
    assert doctest.testmod(vs).failed == 0


@pytest.mark.parametrize("mode,phase,inflate,deflate", [
    ("off", "before", 0, 0),
    ("off", "after-inflate", 65536, 0),
    ("off", "after-oom", 65536, 0),
    ("on", "after-inflate", 65536, 0),
    ("on", "after-oom", 65536, 65536),  # the OOM notifier deflated it all
])
def test_kvm_phases(mode, phase, inflate, deflate):
    v = parse_vmstat((KVM / f"vmstat-balloon-{phase}-deflate-{mode}.txt").read_text(), "proc/vmstat")
    assert v.values["balloon_inflate"] == inflate and v.values["balloon_deflate"] == deflate
    assert v.values["balloon_migrate"] == 0 and "nr_balloon_pages" not in v.values


def test_firecracker_full_file():
    text = (_shared.CAPTURES / "firecracker-6.18/proc-vmstat.txt").read_text()
    v = parse_vmstat(text, "proc/vmstat")
    assert v.values["nr_balloon_pages"] == 0 and v.values["balloon_inflate"] == 0
    assert len(v.values) == len([ln for ln in text.splitlines() if ln.strip()])
    line = v.evidence["nr_balloon_pages"].line
    assert text.splitlines()[line - 1] == "nr_balloon_pages 0"


@pytest.mark.parametrize("text,line", [("balloon_inflate 1\nnonsense\n", 2), ("a b c\n", 1),
                                       ("x 1\nx 2\n", 2)])
def test_bad_rows(text, line):
    with pytest.raises(ParseError) as err:
        parse_vmstat(text, "proc/vmstat")
    assert err.value.line == line


def test_crlf_and_empty():
    assert parse_vmstat("balloon_inflate 3\r\n", "p").values == {"balloon_inflate": 3}
    with pytest.raises(ParseError, match="empty"):
        parse_vmstat("\n", "p")
