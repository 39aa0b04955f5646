"""looks_like_kernel_log: the test the readers use to accept a text file."""

import csv
import io
import json
from pathlib import Path

from balloon_oom.parsers.kernel_log import looks_like_kernel_log
from tests import shared as _shared

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "oom"


def test_every_real_excerpt_is_a_kernel_log():
    for p in DATA.glob("*.txt"):
        assert looks_like_kernel_log(p.open("rb")) == (p.name != "earlyoom-218-journal-json-not-kernel.txt"), p


def test_real_captures_dmesg_and_serial_console():
    for p in list(_shared.CAPTURES.glob("kvm-6.1/dmesg-*.txt")) + list(_shared.CAPTURES.glob("kvm-6.1/serial-*.log")):
        assert looks_like_kernel_log(p.open("rb")), p


def test_other_text_is_not():
    assert not looks_like_kernel_log((REPO / "README.md").open("rb"))
    assert not looks_like_kernel_log((REPO / "balloon_oom" / "schema.json").open("rb"))
    assert not looks_like_kernel_log((DATA / "PROVENANCE.md").open("rb"))
    rows = io.StringIO()
    csv.writer(rows).writerows([["time", "pid", "comm", "rss_kb"], ["1.5", "112", "hog", "173388"]])
    assert not looks_like_kernel_log(rows.getvalue().splitlines())
    assert not looks_like_kernel_log([json.dumps({"MESSAGE": "Out of memory", "level": "warn"})])
    assert not looks_like_kernel_log(["Nov 26 05:27:25 vm systemd[1]: Started foo.",
                                      "[12:00:01] <bob> out of memory again?"])
    assert not looks_like_kernel_log([])


def test_a_pasted_excerpt_of_a_few_lines():
    assert looks_like_kernel_log(["Hi, our VM died:", "",
                                  "     Killed process 4015 (python) total-vm:32812kB, anon-rss:23588kB, file-rss:1684kB, shmem-rss:0kB"])
    assert looks_like_kernel_log(["[Thu May 14 23:17:24 2020] docker0: port 1(vethe1d71b1) entered blocking state"])
    assert looks_like_kernel_log(["<6>DMI present."])
