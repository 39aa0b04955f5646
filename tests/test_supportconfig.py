# SPDX-License-Identifier: GPL-2.0-or-later
"""SUSE supportconfig, directory and ``.txz``/``.tbz``/``.tgz``, made from real captures.

The tree is written here the way supportconfig writes it: the writer
functions of openSUSE/supportutils at commit 84ae92adcb5d ("Version 3.2.14"),
``bin/supportconfig.rc``: ``conf_files`` (``#==[ Configuration File ]…#``,
``# PATH``, the file without ``#``/``;`` comment lines and blank lines, then
two blank lines; ``# PATH - File not found`` and one blank line when absent),
``_log_cmd`` (``#==[ Command ]…#``, ``# `` and the command line with its
first word made a full path, the output, a blank line) and ``log_files``
(``#==[ Log File ]…#``, ``# PATH``, the file, two blank lines); and
``bin/supportconfig``: ``memory_info`` (memory.txt: ``/proc/meminfo
/proc/pagetypeinfo /proc/vmstat``, then ``/proc/buddyinfo /proc/slabinfo
/proc/zoneinfo``), ``modules.txt`` (``lsmod | sort``), ``crash_info``
(crash.txt: ``uname -r``, …, ``/var/crash/*/vmcore-dmesg.txt``),
``messages_file`` (messages.txt: ``/var/log/messages`` through
``log_files``) and the tarball ``tar Jcf scc_….txz scc_…/*`` (``tgz``:
``zcf``, ``tbz``: ``jcf``).

Contents are the real captures (:mod:`tests.sosroots`'s 6.1 guest after its
OOM: ``/proc/meminfo``, ``/proc/vmstat``, busybox ``lsmod``) and real logs.
Commands whose output was never captured (``vmstat 1 4``, ``free -k``, …) are
left out rather than made up.  The guest's kernel log goes where kdump's
``vmcore-dmesg.txt`` would be (crash.txt): vmcore-dmesg prints the log buffer
in dmesg's ``[seconds] message`` format, the format of the capture.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Dict, Optional

import pytest

from balloon_oom.analysis import analyze
from balloon_oom.readers.supportconfig import section_path
from tests import sosroots
from tests.shared import SHARED

AWS = SHARED / "real-logs" / "wild" / "fs-aws-ec2-xen-hvm-rhel8.3-messages-4oom.log"
CONF = "#==[ Configuration File ]===========================#\n"
CMD = "#==[ Command ]======================================#\n"
LOG = "#==[ Log File ]=====================================#\n"
CRASH_DIR = "/var/crash/127.0.0.1-2026-11-26-05:27:33"

needs_captures = pytest.mark.skipif(sosroots.captures_available() is not None,
                                    reason=str(sosroots.captures_available()))


def conf_files(files: Dict[str, Optional[str]]) -> str:
    """supportconfig.rc ``conf_files`` (ADD_OPTION_LOGS off)."""
    out = []
    for path, text in files.items():
        out.append(CONF)
        if text is None:
            out.append(f"# {path} - File not found\n\n")
            continue
        kept = [line for line in text.replace("\r", "").splitlines()
                if line.strip() and not line.lstrip().startswith(("#", ";"))]
        out.append(f"# {path}\n" + "".join(line + "\n" for line in kept) + "\n\n")
    return "".join(out)


def log_cmd(command: str, output: str) -> str:
    """supportconfig.rc ``_log_cmd``: the output as the command printed it."""
    return f"{CMD}# {command}\n{output}" + ("" if output.endswith("\n") else "\n") + "\n"


def log_files(path: str, text: str) -> str:
    return f"{LOG}# {path}\n{text.replace(chr(13), '')}\n\n"


def scc_tree(parent: Path, root: Path, name: str = "scc_guest_261126_0527") -> Path:
    """A supportconfig directory of the sosroots guest ``root``."""
    d = parent / name
    d.mkdir(parents=True)
    read = lambda rel: (root / rel).read_text() if (root / rel).is_file() else None  # noqa: E731
    (d / "memory.txt").write_text(conf_files({
        "/proc/meminfo": read("proc/meminfo"), "/proc/pagetypeinfo": None,
        "/proc/vmstat": read("proc/vmstat")}) + conf_files({
            "/proc/buddyinfo": None, "/proc/slabinfo": None, "/proc/zoneinfo": read("proc/zoneinfo")}))
    lsmod = (Path(sosroots.KVM) / "lsmod-deflate-off.txt").read_text()
    (d / "modules.txt").write_text(log_cmd("/sbin/lsmod | sort",
                                           "".join(sorted(lsmod.splitlines(keepends=True)))))
    (d / "crash.txt").write_text(
        log_cmd("/usr/bin/uname -r", read("proc/sys/kernel/osrelease"))
        + conf_files({f"{CRASH_DIR}/vmcore-dmesg.txt": read("var/log/dmesg")}))
    (d / "basic-environment.txt").write_text(
        log_cmd("/usr/bin/uname -r", read("proc/sys/kernel/osrelease")))
    return d


def _tar(d: Path, suffix: str) -> Path:
    mode = {"txz": "w:xz", "tgz": "w:gz", "tbz": "w:bz2"}[suffix]
    dest = d.parent / f"{d.name}.{suffix}"
    with tarfile.open(dest, mode) as tar:
        for f in sorted(d.iterdir()):  # tar … ${BASE}/*
            tar.add(str(f), arcname=f"{d.name}/{f.name}")
    return dest


def events(a) -> list:
    return [(e.victim.pid if e.victim else None, e.constraint, e.trigger_comm, e.order,
             e.monotonic, e.pages_reserved, e.pages_ram) for e in a.oom_events]


def test_section_paths():
    assert section_path("Configuration File", "/proc/vmstat") == "proc/vmstat"
    assert section_path("Configuration File", "/proc/pagetypeinfo") is None
    assert section_path("Configuration File", "/proc/zoneinfo - File not found") is None
    assert section_path("Command", "/usr/bin/dmesg -T") == "sos_commands/kernel/dmesg_-T"
    assert section_path("Command", "/sbin/lsmod | sort") == "sos_commands/kernel/lsmod"
    assert section_path("Log File", "/var/log/messages - Last 500 Lines") == "var/log/messages"
    assert section_path("Configuration File", f"{CRASH_DIR}/vmcore-dmesg.txt") == \
        f"{CRASH_DIR[1:]}/vmcore-dmesg.txt"


@needs_captures
@pytest.mark.parametrize("shape", ["dir", "txz", "tgz", "tbz"])
def test_supportconfig_of_the_real_guest(tmp_path, shape):
    root = Path(sosroots.build("kvm-deflate-off-after-oom", str(tmp_path / "src")).path)
    d = scc_tree(tmp_path / "out", root)
    path = d if shape == "dir" else _tar(d, shape)
    a, sos = analyze(str(path)), analyze(str(root))
    assert a.source.kind.value == "supportconfig"
    assert events(a) == events(sos) and len(events(a)) == 1
    # from a kdump-saved log: the OOM is of the crashed boot, not the collection's
    assert [e.current_boot for e in a.oom_events] == [False]
    assert a.memory.mem_total_kb == sos.memory.mem_total_kb == 206272
    assert a.memory.balloon_inflate == sos.memory.balloon_inflate == 65536
    assert a.memory.meminfo == sos.memory.meminfo
    assert a.kernel.release == "6.1.0-56-amd64"
    # lsmod | sort reached the model: virtio_balloon is loaded, so its vm events
    # (65536 pages inflated) stand for the balloon
    assert [(b.driver.value, b.inflated_bytes) for b in a.balloons] == \
        [("virtio_balloon", 268435456)]


@pytest.mark.skipif(not AWS.is_file(), reason="wild logs missing")
def test_messages_txt_gives_the_events_of_var_log_messages(tmp_path):
    """A real RHEL 8 /var/log/messages (rsyslog, ``#012`` joins) as messages_file()
    writes it: the same events as the file itself, the last boot current."""
    d = tmp_path / "scc_ip-172-31-34-102_210302_0800"
    d.mkdir()
    (d / "messages.txt").write_text(log_files("/var/log/messages", AWS.read_text()))
    (d / "basic-environment.txt").write_text(log_cmd("/usr/bin/uname -r",
                                                     "4.18.0-240.1.1.el8_3.x86_64\n"))
    plain = analyze(str(AWS))
    for path in (d, _tar(d, "txz")):
        a = analyze(str(path))
        assert a.source.kind.value == "supportconfig"
        assert events(a) == events(plain) and len(events(a)) == 4
        assert [e.current_boot for e in a.oom_events] == [True] * 4
        assert a.memory.boot.reserved_kb == plain.memory.boot.reserved_kb == 274232


def test_single_supportconfig_file(tmp_path):
    """memory.txt handed alone is read (detected by its ``#==[`` sections)."""
    meminfo = "MemTotal:         206272 kB\nMemFree:          175500 kB\n"
    f = tmp_path / "memory.txt"
    f.write_text(conf_files({"/proc/meminfo": meminfo, "/proc/vmstat": None}))
    a = analyze(str(f))
    assert a.source.kind.value == "supportconfig"
    assert (a.memory.mem_total_kb, a.memory.mem_free_kb) == (206272, 175500)
    # No messages.txt: no kernel log was read, so no OOM could have been seen.
    assert a.verdict == "no-log"
