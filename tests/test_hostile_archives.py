# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile sosreports: escaping names, links out, device nodes, bombs, broken archives.

Every case runs the real command line (``python -m balloon_oom analyze``) in a
subprocess and checks: a result or exactly one line on stderr, never a
traceback; and, under ``strace`` (file syscalls, all threads), that nothing
outside the report was opened (a canary file next to the report and
``/etc/shadow`` are never opened, and the canary's text is not in the
output) and that no file or directory was created, renamed or removed
anywhere.  The subprocess also gets an empty ``$HOME``, ``$TMPDIR`` and
working directory that must still be empty afterwards.

The decompression bomb: a ``.tar.xz`` streamed from a generator of zeros
through ``xz -0`` (never materialised) holding a 64 MiB ``vmmemctl`` (a small
file: cut at :data:`balloon_oom.readers.layout.SMALL_FILE_CAP`, 8 MiB, with a
warning) and a ``var/log/messages`` of ``$BALLOON_OOM_BOMB_GIB`` GiB of NUL
bytes (default 1 in CI; set 10 for the full-size case) with no line end at all
(cut at :data:`balloon_oom.readers.members.MAX_LINE_BYTES`, 64 KiB, per line).
Peak RSS is measured with ``os.wait4``'s rusage (``getrusage`` of the child).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List, NamedTuple

import pytest

from balloon_oom.readers import layout
from balloon_oom.readers.members import MAX_LINE_BYTES
from tests import sosroots

REPO = Path(__file__).resolve().parent.parent
CANARY_TEXT = "CANARY-7f3a-do-not-read"

pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))
needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")


class Outcome(NamedTuple):
    rc: int
    out: str
    err: str
    maxrss_kb: int
    named: List[str]        # every path a file syscall named (open, stat, readlink, ...)
    opened: List[str]       # the paths open/openat were called on
    created: List[str]      # successful file-creating/removing syscalls, as strace printed them


_CREATING = re.compile(r"^\d+\s+(mkdir|mkdirat|rename|renameat2?|link|linkat|symlink|symlinkat|"
                       r"unlink|unlinkat|rmdir|creat|truncate|mknod|mknodat)\(.*\)\s+=\s+0")
_OPEN = re.compile(r"^\d+\s+(open|openat|openat2)\((?:AT_FDCWD|\d+), \"([^\"]*)\", ([A-Z_|]+)")
_PATHCALL = re.compile(r"^\d+\s+\w+\((?:AT_FDCWD, |\d+, )?\"([^\"]*)\"")


def run_cli(args: List[str], tmp: Path, trace: bool = True) -> Outcome:
    """``python -m balloon_oom ARGS`` with an empty HOME/TMPDIR/cwd, maybe under strace."""
    home, tmpdir, cwd = tmp / "home", tmp / "tmpdir", tmp / "cwd"
    for d in (home, tmpdir, cwd):
        d.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmpdir), PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "balloon_oom", *args]
    log = tmp / "strace.log"
    if trace:
        cmd = ["strace", "-f", "-qq", "-s", "4096", "--seccomp-bpf", "-e", "trace=%file",
               "-o", str(log), *cmd]
    with open(tmp / "stdout", "wb") as out, open(tmp / "stderr", "wb") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    named, opened, created = [], [], []
    if trace:
        for line in log.read_text(errors="replace").splitlines():
            m = _OPEN.match(line)
            if m:
                opened.append(m.group(2))
                named.append(m.group(2))
                # /dev/null opened for writing (xz/gzip do it to keep fds 0-2 valid)
                # creates nothing; any other path opened to write counts.
                if re.search(r"O_CREAT|O_WRONLY|O_RDWR|O_TRUNC", m.group(3)) and "= -1" not in line \
                        and m.group(2) != "/dev/null":
                    created.append(line)
                continue
            if _CREATING.match(line):
                created.append(line)
            m = _PATHCALL.match(line)
            if m:
                named.append(m.group(1))
        log.unlink()
    for d in (home, tmpdir, cwd):
        assert list(d.iterdir()) == [], f"{d} is not empty after the run"
    return Outcome(proc.returncode, (tmp / "stdout").read_text(), (tmp / "stderr").read_text(),
                   usage.ru_maxrss, named, opened, created)


def assert_one_line_error(o: Outcome, *fragments: str) -> None:
    assert o.rc == 2, o
    assert o.out == ""
    assert o.err.count("\n") == 1 and o.err.startswith("balloon-oom: "), o.err
    assert "Traceback" not in o.err
    for frag in fragments:
        assert frag in o.err, (frag, o.err)


def assert_stayed_inside(o: Outcome, report: Path, *forbidden: Path) -> None:
    """No creation anywhere; the forbidden files never even looked at."""
    assert o.created == [], o.created
    for path in [*forbidden, Path("/etc/shadow")]:
        assert str(path) not in o.named, (path, [p for p in o.named if path.name in p])
    assert CANARY_TEXT not in o.out and CANARY_TEXT not in o.err
    # Anything opened below the report's parent is the report itself.
    parent = str(report.parent) + "/"
    strays = [p for p in o.named if p.startswith(parent) and not p.startswith(str(report))
              and p != parent]   # the directory itself (a decompressor's cwd/stat) is no file
    assert strays == [], strays


# --- building reports --------------------------------------------------------------------------

def kvm_root(tmp: Path) -> Path:
    """The real 6.1 guest after its OOM (deflate-on-oom off): verdict contributed."""
    return Path(sosroots.build("kvm-deflate-off-after-oom", str(tmp)).path)


def canary(tmp: Path) -> Path:
    c = tmp / "canary"
    c.write_text(f"MemTotal: 1 kB\n{CANARY_TEXT}\n")
    return c


def add_tree(tar: tarfile.TarFile, root: Path, prefix: str = "sosreport-guest-2026/") -> None:
    tar.add(str(root), arcname=prefix.rstrip("/"))


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, **attrs) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for k, v in attrs.items():
        setattr(info, k, v)
    tar.addfile(info, io.BytesIO(data))


def add_special(tar: tarfile.TarFile, name: str, kind: bytes, target: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 5  # /dev/zero
    tar.addfile(info)


def json_of(o: Outcome) -> Dict:
    assert o.rc == 0, o.err
    return json.loads(o.out)


# --- tarballs ----------------------------------------------------------------------------------

@needs_strace
def test_escaping_names_links_devices_and_duplicates_in_a_tarball(tmp_path):
    root = kvm_root(tmp_path / "src")
    can = canary(tmp_path)
    # The same text twice: once as a member escaping with ../, once absolute.
    escaping = f"MemTotal: 999 kB\n{CANARY_TEXT}\n".encode()
    report = tmp_path / "in" / "sosreport-guest-2026.tar.xz"
    report.parent.mkdir()
    with tarfile.open(report, "w:xz") as tar:
        add_tree(tar, root)
        p = "sosreport-guest-2026/"
        add_bytes(tar, "../../etc/cron.d/evil", escaping)
        add_bytes(tar, "/etc/evil", escaping)
        add_bytes(tar, p + "../../proc/meminfo", escaping)
        add_special(tar, p + "sys/kernel/debug/vmmemctl", tarfile.SYMTYPE, "/etc/shadow")
        add_special(tar, p + "proc/xen/balloon", tarfile.LNKTYPE, "/etc/shadow")
        add_special(tar, p + "sys/kernel/debug/hv-balloon", tarfile.SYMTYPE, str(can))
        add_special(tar, p + "proc/sys/vm/cmm_pages", tarfile.SYMTYPE, "../../../../" * 4 + str(can))
        add_special(tar, p + "sys/kernel/debug/virtio-balloon", tarfile.CHRTYPE)
        add_special(tar, p + "proc/vmmemctl", tarfile.FIFOTYPE)
        add_special(tar, p + "sos_commands/balloon/dmesg", tarfile.BLKTYPE)
        # A second proc/uptime after the first: the later member wins, as with `tar x`.
        add_bytes(tar, p + "proc/uptime", b"1234.50 0.00\n")
    o = run_cli(["analyze", "--format", "json", str(report)], tmp_path / "run")
    doc = json_of(o)
    assert_stayed_inside(o, report, can)
    assert "999" not in json.dumps(doc["memory"])
    assert doc["memory"]["mem_total_kb"] == 206272           # the real meminfo, untouched
    assert [b["driver"] for b in doc["balloons"]] == ["virtio_balloon"]
    assert doc["verdict"] == "contributed"
    assert doc["uptime_seconds"] == pytest.approx(1234.5)


@needs_strace
def test_symlinks_out_of_a_report_directory_are_not_followed(tmp_path):
    root = kvm_root(tmp_path / "src")
    can = canary(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "vmmemctl").write_text(f"target: 1 pages\ncurrent: 1 pages\n{CANARY_TEXT}\n")
    (outside / "dmesg").write_text(f"[ 1.0] {CANARY_TEXT} invoked oom-killer: gfp_mask=0x0, order=0\n")
    (root / "proc/meminfo").rename(root / "proc/meminfo.real")
    os.symlink(str(can), root / "proc/meminfo")                     # absolute, out
    os.symlink("../../../canary", root / "proc/vmstat.tmp")
    (root / "proc/vmstat").unlink()
    os.rename(root / "proc/vmstat.tmp", root / "proc/vmstat")       # relative, out
    shutil.rmtree(root / "sys/kernel/debug")
    os.symlink(str(outside), root / "sys/kernel/debug")             # a directory, out
    (root / "sos_commands").mkdir()
    os.symlink(str(outside), root / "sos_commands/balloon")         # logs and files, out
    os.symlink("/etc/shadow", root / "proc/zoneinfo")
    o = run_cli(["analyze", "--format", "json", str(root)], tmp_path / "run")
    doc = json_of(o)
    assert_stayed_inside(o, root, can, outside / "vmmemctl", outside / "dmesg")
    assert not any(str(outside) in p for p in o.named)
    assert doc["memory"]["mem_total_kb"] is None
    assert [b["driver"] for b in doc["balloons"]] == ["virtio_balloon"]
    assert doc["verdict"] != "no-oom"                 # var/log/dmesg is still read


@needs_strace
def test_fifo_and_device_nodes_in_a_report_directory_are_skipped(tmp_path):
    root = kvm_root(tmp_path / "src")
    dbg = root / "sys/kernel/debug"
    os.mkfifo(dbg / "vmmemctl")                                      # opening would block
    os.mknod(dbg / "hv-balloon", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero
    (root / "sos_commands/balloon").mkdir(parents=True)
    os.mknod(root / "sos_commands/balloon/dmesg", 0o600 | 0o020000, os.makedev(1, 3))  # /dev/null
    o = run_cli(["analyze", "--format", "json", str(root)], tmp_path / "run")
    doc = json_of(o)
    assert_stayed_inside(o, root)
    for node in (dbg / "vmmemctl", dbg / "hv-balloon", root / "sos_commands/balloon/dmesg"):
        assert str(node) in o.named and str(node) not in o.opened, node  # looked at, not opened
    assert [b["driver"] for b in doc["balloons"]] == ["virtio_balloon"]
    assert doc["verdict"] == "contributed"


@needs_strace
@pytest.mark.parametrize("name,content,fragment", [
    ("empty.tar.xz", b"", "not a readable tar archive"),
    ("hello.tar.xz", b"hello, not an archive\n", "not a readable tar archive"),
    ("gz-named.tar.xz", b"\x1f\x8b\x08\x00garbage after a gzip magic", "not a readable tar archive"),
    ("xz-magic.tar", b"\xfd7zXZ\x00" + b"\x00" * 64, "not a readable tar archive"),
])
def test_wrong_magic_or_empty_file_one_line_error(tmp_path, name, content, fragment):
    path = tmp_path / "in" / name
    path.parent.mkdir()
    path.write_bytes(content)
    o = run_cli(["analyze", str(path)], tmp_path / "run")
    assert_one_line_error(o, str(path), fragment)
    assert_stayed_inside(o, path)


@needs_strace
def test_empty_archive_one_line_error(tmp_path):
    path = tmp_path / "in" / "empty-members.tar.xz"
    path.parent.mkdir()
    with tarfile.open(path, "w:xz"):
        pass
    o = run_cli(["analyze", str(path)], tmp_path / "run")
    assert_one_line_error(o, str(path), "archive holds no sosreport files")
    assert_stayed_inside(o, path)


@needs_strace
@pytest.mark.parametrize("keep,fragment", [
    (0.97, "truncated or corrupt"), (0.5, "truncated or corrupt"),
    # cut in the first MiB: xz decompressed part of it before the end came
    (0.02, "truncated or corrupt (xz: Unexpected end of input)"),
])
def test_truncated_tar_xz_one_line_error(tmp_path, keep, fragment):
    root = kvm_root(tmp_path / "src")
    whole = tmp_path / "whole.tar.xz"
    with tarfile.open(whole, "w:xz") as tar:
        add_tree(tar, root)
    data = whole.read_bytes()
    path = tmp_path / "in" / "cut.tar.xz"
    path.parent.mkdir()
    path.write_bytes(data[:int(len(data) * keep)])
    o = run_cli(["analyze", str(path)], tmp_path / "run")
    assert_one_line_error(o, str(path), fragment)
    assert_stayed_inside(o, path)


@needs_strace
def test_directory_that_is_not_a_sosreport(tmp_path):
    """A plain directory (here: a home directory with a canary) is refused, never walked
    for balloon files; analyze() says so in one line."""
    from balloon_oom.analysis import analyze
    from balloon_oom.errors import InputError

    plain = tmp_path / "in" / "photos"
    plain.mkdir(parents=True)
    (plain / "holiday.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)
    with pytest.raises(InputError) as info:
        analyze(str(plain))
    assert str(info.value) == (f"{plain}: not a sosreport, supportconfig or kdump directory "
                               "(no version.txt, sos_commands/, proc/, sys/, basic-environment.txt, "
                               "vmcore-dmesg.txt, vmcore or var/log/ kernel log)")


# --- zips and archives in archives ------------------------------------------------------------

@needs_strace
def test_zip_and_nested_case_tarball_extract_nothing(tmp_path):
    """A .zip of a report and a case tarball holding the report tarball (which
    holds escaping members and a link to the canary): the real report is read,
    nothing is created (the inner tarball is decompressed through a pipe), and
    nothing outside the input is opened."""
    import zipfile

    root = kvm_root(tmp_path / "src")
    can = canary(tmp_path)
    inner = tmp_path / "sosreport-guest-2026.tar.xz"
    with tarfile.open(inner, "w:xz") as tar:
        add_tree(tar, root)
        add_bytes(tar, "../../etc/cron.d/evil", f"MemTotal: 999 kB\n{CANARY_TEXT}\n".encode())
        add_special(tar, "sosreport-guest-2026/sys/kernel/debug/hv-balloon", tarfile.SYMTYPE,
                    str(can))
    case = tmp_path / "in" / "case-0123.tar.gz"
    case.parent.mkdir()
    with tarfile.open(case, "w:gz") as tar:
        tar.add(str(inner), arcname="case-0123/attachments/" + inner.name)
        add_bytes(tar, "case-0123/../../escape.txt", CANARY_TEXT.encode())
    zipped = tmp_path / "zin" / "upload.zip"
    zipped.parent.mkdir()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(inner, "upload/attachments/" + inner.name)
        zf.writestr("upload/../../escape.txt", CANARY_TEXT)
    for report in (case, zipped):
        o = run_cli(["analyze", "--format", "json", str(report)], tmp_path / f"run-{report.name}")
        doc = json_of(o)
        assert_stayed_inside(o, report, can)
        assert doc["memory"]["mem_total_kb"] == 206272
        assert [b["driver"] for b in doc["balloons"]] == ["virtio_balloon"]
        assert doc["verdict"] == "contributed"


# --- the decompression bomb -------------------------------------------------------------------

class Zeros(io.RawIOBase):
    """``size`` NUL bytes, produced on demand."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def write_bomb(path: Path, root: Path, log_bytes: int, small_bytes: int) -> None:
    """A .tar.xz of ``root`` plus two zero-filled members, streamed through ``xz -0``."""
    with open(path, "wb") as out:
        xz = subprocess.Popen(["xz", "-0", "-T2", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert xz.stdin is not None
        with tarfile.open(fileobj=xz.stdin, mode="w|") as tar:
            add_tree(tar, root)
            for name, size in (("sys/kernel/debug/vmmemctl", small_bytes),
                               ("var/log/messages", log_bytes)):
                info = tarfile.TarInfo("sosreport-guest-2026/" + name)
                info.size = size
                tar.addfile(info, io.BufferedReader(Zeros(size), 1 << 20))
        xz.stdin.close()
        assert xz.wait() == 0


def test_decompression_bomb_bounded_memory(tmp_path):
    gib = float(os.environ.get("BALLOON_OOM_BOMB_GIB", "1"))
    log_bytes = int(gib * (1 << 30))
    small_bytes = 64 << 20
    assert small_bytes > layout.SMALL_FILE_CAP and log_bytes > 1000 * MAX_LINE_BYTES
    root = kvm_root(tmp_path / "src")
    bomb = tmp_path / "in" / "bomb.tar.xz"
    bomb.parent.mkdir()
    write_bomb(bomb, root, log_bytes, small_bytes)
    assert bomb.stat().st_size < log_bytes // 1000          # it really is a bomb
    # Baseline: the same report without the bomb members, same process shape.
    plain = tmp_path / "in" / "plain.tar.xz"
    with tarfile.open(plain, "w:xz") as tar:
        add_tree(tar, root)
    base = run_cli(["analyze", "--format", "json", str(plain)], tmp_path / "run0", trace=False)
    o = run_cli(["analyze", "--format", "json", str(bomb)], tmp_path / "run1", trace=False)
    doc = json_of(o)
    assert doc["verdict"] == json_of(base)["verdict"] == "contributed"
    assert (f"sys/kernel/debug/vmmemctl: larger than {layout.SMALL_FILE_CAP} bytes; "
            f"only the first {layout.SMALL_FILE_CAP} were read") in doc["warnings"]
    # The vmmemctl complaint names the file and line, and stays short.
    vmw = [w for w in doc["warnings"] if w.startswith("sys/kernel/debug/vmmemctl:1:")]
    assert vmw and all(len(w) < 1000 for w in vmw), [w[:200] for w in vmw]
    # Memory: a small-file cap, a line cap, the parse and the output; never the member.
    grown_mib = (o.maxrss_kb - base.maxrss_kb) / 1024
    print(f"bomb {gib} GiB: peak RSS {o.maxrss_kb} KiB, without the bomb {base.maxrss_kb} KiB")
    assert grown_mib < 96, (o.maxrss_kb, base.maxrss_kb)


@pytest.mark.parametrize("outer", ["case.tar", "case.zip"])
def test_bomb_inside_a_case_archive_bounded_memory(tmp_path, outer):
    """The bomb (64 MiB vmmemctl, 128 MiB log line of NULs) as
    ``case/attachments/bomb.tar.xz`` inside a case tarball or zip: the same caps hold
    one archive down (the inner one is decompressed through a pipe, never held)."""
    import zipfile

    root = kvm_root(tmp_path / "src")
    bomb = tmp_path / "bomb.tar.xz"
    write_bomb(bomb, root, 128 << 20, 64 << 20)
    case = tmp_path / "in" / outer
    case.parent.mkdir()
    if outer.endswith(".zip"):
        with zipfile.ZipFile(case, "w", zipfile.ZIP_STORED) as zf:
            zf.write(bomb, "case/attachments/bomb.tar.xz")
    else:
        with tarfile.open(case, "w") as tar:
            tar.add(str(bomb), arcname="case/attachments/bomb.tar.xz")
    plain = tmp_path / "in" / "plain.tar.xz"
    with tarfile.open(plain, "w:xz") as tar:
        add_tree(tar, root)
    base = run_cli(["analyze", "--format", "json", str(plain)], tmp_path / "run0", trace=False)
    o = run_cli(["analyze", "--format", "json", str(case)], tmp_path / "run1", trace=False)
    doc = json_of(o)
    assert doc["verdict"] == "contributed"
    assert (f"sys/kernel/debug/vmmemctl: larger than {layout.SMALL_FILE_CAP} bytes; "
            f"only the first {layout.SMALL_FILE_CAP} were read") in doc["warnings"]
    grown_mib = (o.maxrss_kb - base.maxrss_kb) / 1024
    assert grown_mib < 96, (o.maxrss_kb, base.maxrss_kb)
