# SPDX-License-Identifier: GPL-2.0-or-later
"""Running the real command line on hostile input, and building hostile reports.

:func:`run_cli` runs ``python -m balloon_oom`` in a subprocess, under
``strace`` (file syscalls, all threads) unless told not to, with an empty
``$HOME``, ``$TMPDIR`` and working directory that must still be empty
afterwards; peak RSS comes from ``os.wait4``'s rusage (``getrusage`` of the
child).  :func:`assert_stayed_inside` checks that nothing outside the report
was opened (a canary file next to the report and ``/etc/shadow`` are never
opened, and the canary's text is not in the output) and that no file or
directory was created, renamed or removed anywhere.  Used by
``tests/test_hostile_{archives,directories,bombs}.py``.
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

from tests import sosroots

REPO = Path(__file__).resolve().parent.parent
CANARY_TEXT = "CANARY-7f3a-do-not-read"

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
