"""The running guest as a source: the same report-relative paths, read from ``/``.

A live guest is read like a sosreport directory rooted at ``/``, except that
walking ``/`` is out of the question: the files are found with explicit globs
(:data:`LIVE_GLOBS`, from the driver registry and
:data:`~balloon_oom.readers.layout.GUEST_FILES`)
and the kernel log comes from ``/dev/kmsg`` (or ``dmesg`` when that is not
readable).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from typing import Iterator, List, Optional, Tuple

from ..drivers import LIVE_PATHS

from .layout import GUEST_FILES
from .members import Member, _file_opener

#: Every balloon driver's live paths, then the analyzer's other guest files.
LIVE_GLOBS: Tuple[str, ...] = LIVE_PATHS + tuple("/" + p for p in GUEST_FILES)

#: Files of each virtio device read through its link.
_VIRTIO_DEVICE_FILES = ("features", "device", "vendor", "status")


def _regular(path: str) -> Optional[Member]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        return None
    return Member(path.lstrip("/"), "file", size=st.st_size, opener=_file_opener(path))


def iter_live(root: str = "/") -> Iterator[Member]:
    """Members of the running system (``root`` other than ``/`` for tests)."""
    root = root.rstrip("/")
    for pattern in LIVE_GLOBS:
        for path in sorted(glob.glob(root + pattern)):
            rel = path[len(root):]
            if os.path.islink(path) and os.path.isdir(path):
                target = os.readlink(path)
                yield Member(rel.lstrip("/"), "link", link_target=target)
                real = os.path.realpath(path)
                for name in _VIRTIO_DEVICE_FILES:
                    member = _regular(os.path.join(real, name))
                    if member is not None:
                        member.path = os.path.relpath(os.path.join(real, name), root or "/")
                        yield member
                continue
            member = _regular(path)
            if member is not None:
                member.path = rel.lstrip("/")
                yield member


def debugfs_mounted(root: str = "/") -> bool:
    """Is debugfs mounted at /sys/kernel/debug (per /proc/self/mounts)?"""
    try:
        with open(os.path.join(root, "proc/self/mounts")) as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[1] == "/sys/kernel/debug" and parts[2] == "debugfs":
                    return True
    except OSError:
        pass
    return False


def read_kernel_log() -> List[str]:
    """The kernel ring buffer as ``dmesg`` prints it (``[  1.234567] msg``).

    ``/dev/kmsg`` gives every record with its timestamp; it needs
    CAP_SYSLOG (or ``kernel.dmesg_restrict=0``).  Falls back to ``dmesg``.
    """
    lines: List[str] = []
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        fd = -1
    if fd >= 0:
        try:
            while True:
                try:
                    rec = os.read(fd, 8192)
                except BlockingIOError:
                    break
                except OSError:  # EPIPE: record overwritten while reading
                    continue
                if not rec:
                    break
                head, _, msg = rec.decode("utf-8", "replace").partition(";")
                fields = head.split(",")
                if len(fields) < 3:
                    continue
                usec = int(fields[2]) if fields[2].isascii() and fields[2].isdigit() else 0
                text = msg.split("\n", 1)[0]
                lines.append(f"[{usec // 1000000:5d}.{usec % 1000000:06d}] {text}")
        finally:
            os.close(fd)
        if lines:
            return lines
    if shutil.which("dmesg"):
        proc = subprocess.run(["dmesg"], capture_output=True, text=True, errors="replace")
        if proc.returncode == 0:
            return proc.stdout.splitlines()
    return lines


def collection_time() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
