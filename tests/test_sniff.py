# SPDX-License-Identifier: GPL-2.0-or-later
"""readers/sniff.py: what a head of bytes is; whether text is a kernel log."""

from __future__ import annotations

import pytest

from balloon_oom.readers.sniff import describe_not_log, is_kernel_line, kind_of
from tests.shared import SHARED

WILD = SHARED / "real-logs" / "wild"


@pytest.mark.parametrize("line", [
    # real lines of the wild logs, as published (indentation and all)
    "  [  238.338585] systemd invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), "
    "order=0, oom_score_adj=0",
    "<6>Initializing cgroup subsys cpuset",
    "[Thu May 14 23:17:23 2020] docker0: port 1(vethe1d71b1) entered blocking state",
    "Mar  2 07:57:50 ip-172-31-34-102 kernel: Linux version 4.18.0-240.1.1.el8_3.x86_64 "
    "(mockbuild@x86-vm-09.build.eng.bos.redhat.com)",
    # a grep-filtered paste with no prefix at all: messages only the kernel prints
    "Out of memory: Kill process 1234 (java) score 912 or sacrifice child",
    "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled",
    "> > [ 1.000000] Linux version 6.1.0 (x@y) #1",
    # journalctl -o json / -o export records of the kernel transport
    '{"_TRANSPORT" : "kernel", "MESSAGE" : "hog invoked oom-killer: gfp_mask=0xcc0"}',
    "_TRANSPORT=kernel",
])
def test_kernel_lines(line):
    assert is_kernel_line(line)


@pytest.mark.parametrize("line", [
    "Mar  2 07:57:50 ip-172-31-34-102 systemd[1]: Started Session 1 of user ec2-user.",
    "hello world",
    "",
    '{"_TRANSPORT" : "syslog", "MESSAGE" : "Out of memory: Killed process 1"}',
    "Out of memory: the customer thinks the VM needs more",
])
def test_not_kernel_lines(line):
    assert not is_kernel_line(line)


@pytest.mark.skipif(not WILD.is_dir(), reason="wild logs missing")
def test_every_wild_log_is_a_kernel_log():
    from balloon_oom.readers.sniff import head_lines, looks_like_kernel_log

    logs = sorted(WILD.glob("*.log"))
    assert logs
    for log in logs:
        assert kind_of(log.read_bytes()[:512]) == "text", log
        assert looks_like_kernel_log(head_lines(log.read_bytes())), log


@pytest.mark.parametrize("head,kind", [
    (b"\xfd7zXZ\x00\x00", "xz"), (b"\x1f\x8b\x08", "gzip"), (b"BZh91AY", "bzip2"),
    (b"\x28\xb5\x2f\xfd\x00", "zstd"), (b"PK\x03\x04", "zip"), (b"\x7fELF\x02\x01", "elf"),
    (b"KDUMP   \x06", "vmcore"), (b"x" * 257 + b"ustar\x0000", "tar"), (b"\x00" * 512, "tar"),
    (b"#==[ Configuration File ]===#\n# /proc/meminfo\n", "supportconfig"),
    (b"[    0.000000] Linux version", "text"), (b"", "empty"),
    (bytes(range(256)) * 4, "binary"),
])
def test_kind_of(head, kind):
    assert kind_of(head) == kind


def test_describe_not_log():
    assert describe_not_log(b"") == "it is empty"
    assert describe_not_log(b"just words\n") == "text with no kernel log line"
    assert describe_not_log(bytes(range(256))) == "binary data of no known format"
