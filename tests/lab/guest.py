# SPDX-License-Identifier: GPL-2.0-or-later
"""One running lab guest: QEMU under TCG, its QMP session and control channel.

The control channel is the guest's ttyS1, a QEMU ``-chardev socket`` the host
connects to. The host writes one command per line; ``/init`` (``init.sh``)
answers with framed records, base64 for file contents so any byte survives::

    @@FILE /proc/meminfo
    TWVtVG90YWw6ICAgICAgICAgNDY4NDE2IGtCCk1lbUZyZWU6...
    @@END 0
    @@LINK /sys/bus/virtio/drivers/virtio_balloon/virtio0 ../../../../devices/pci0000:00/0000:00:02.0/virtio0
    @@DONE capture 0 uptime=2.75
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import LabUnavailable
from .kernel import KernelCache
from .qmp import QMP

__all__ = ["Capture", "Guest", "parse_replies", "qemu_command"]

MEM_MIB = 512


@dataclass
class Capture:
    """What one command's replies carried (``capture`` fills all of it)."""

    files: Dict[str, bytes] = field(default_factory=dict)
    file_rc: Dict[str, int] = field(default_factory=dict)
    commands: Dict[str, Tuple[bytes, int]] = field(default_factory=dict)
    links: Dict[str, str] = field(default_factory=dict)
    missing: List[str] = field(default_factory=list)
    command: str = ""
    rc: Optional[int] = None
    uptime: Optional[float] = None


def parse_replies(lines: List[str]) -> Capture:
    """Decode the records of one command (up to and including its ``@@DONE``).

    >>> c = parse_replies(["@@FILE /proc/uptime", "Mi41MCAxLjAwCg==", "@@END 0",
    ...                    "@@MISSING /sys/kernel/debug/virtio-balloon",
    ...                    "@@DONE capture 0 uptime=2.75"])
    >>> c.files["/proc/uptime"], c.missing, c.rc, c.uptime
    (b'2.50 1.00\\n', ['/sys/kernel/debug/virtio-balloon'], 0, 2.75)
    """
    cap = Capture()
    current: Optional[Tuple[str, str]] = None
    body: List[str] = []
    for line in lines:
        if current is not None:
            if line.startswith("@@END "):
                data = base64.b64decode("".join(body))
                rc = int(line.split()[1])
                kind, name = current
                if kind == "FILE":
                    cap.files[name] = data
                    cap.file_rc[name] = rc
                else:
                    cap.commands[name] = (data, rc)
                current, body = None, []
            else:
                body.append(line.strip())
            continue
        if line.startswith(("@@FILE ", "@@CMD ")):
            kind, name = line[2:].split(" ", 1)
            current = (kind, name)
        elif line.startswith("@@LINK "):
            _, path, target = (line.split(" ", 2) + [""])[:3]
            cap.links[path] = target
        elif line.startswith("@@MISSING "):
            cap.missing.append(line.split(" ", 1)[1])
        elif line.startswith("@@DONE "):
            parts = line.split()
            cap.command, cap.rc = parts[1], int(parts[2])
            for p in parts[3:]:
                if p.startswith("uptime="):
                    cap.uptime = float(p[7:])
    return cap


def qemu_command(kc: KernelCache, initrd: Path, run_dir: Path, sock_dir: Path,
                 deflate_on_oom: bool, serial: Optional[str] = None,
                 append_extra: str = "", mem_mib: int = MEM_MIB,
                 balloon_options: str = "", qemu_extra: Sequence[str] = (),
                 mem_opts: str = "") -> List[str]:
    """The QEMU command line (TCG; see kvm-6.1/README.md of the real captures).

    ``balloon_options``: more ``virtio-balloon-pci`` properties, e.g.
    ``free-page-reporting=on``; ``qemu_extra``: more QEMU arguments (``-bios
    OVMF.fd``, ``-cpu max,+pdpe1gb``); ``mem_opts``: more ``-m`` options
    (``slots=1,maxmem=512M`` for virtio-mem's device memory).
    """
    return [
        "qemu-system-x86_64", "-accel", "tcg", "-m", f"{mem_mib},{mem_opts}" if mem_opts else str(mem_mib), "-smp", "1",
        "-nodefaults", "-display", "none", "-no-reboot",
        "-kernel", str(kc.vmlinuz), "-initrd", str(initrd),
        # no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
        # check may fail and panic ("IO-APIC + timer doesn't work!"), seen on 6.1.
        "-append", "console=ttyS0 quiet panic=-1 no_timer_check" + (f" {append_extra}" if append_extra else ""),
        "-serial", serial or f"file:{run_dir / 'serial.log'}",
        "-chardev", f"socket,id=ctl,path={sock_dir / 'ctl.sock'},server=on,wait=off",
        "-serial", "chardev:ctl",
        "-qmp", f"unix:{sock_dir / 'qmp.sock'},server=on,wait=off",
        "-device", f"virtio-balloon-pci,id=balloon0,deflate-on-oom={'on' if deflate_on_oom else 'off'}"
        + (f",{balloon_options}" if balloon_options else ""),
        "-device", "vmcoreinfo",
        *qemu_extra,
    ]


class Guest:
    """A booted guest; use as a context manager (QEMU is killed on exit)."""

    def __init__(self, kc: KernelCache, initrd: Path, run_dir: Path, deflate_on_oom: bool,
                 boot_timeout: float = 300.0, append_extra: str = "",
                 balloon_options: str = "", mem_mib: int = MEM_MIB,
                 qemu_extra: Sequence[str] = (), mem_opts: str = "") -> None:
        if shutil.which("qemu-system-x86_64") is None:
            raise LabUnavailable("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
        self.run_dir = run_dir
        # Unix socket paths must stay short (108 bytes): keep them in /tmp.
        self.sock_dir = Path(tempfile.mkdtemp(prefix="balloon-lab-"))
        self.cmdline = qemu_command(kc, initrd, run_dir, self.sock_dir, deflate_on_oom,
                                    append_extra=append_extra, balloon_options=balloon_options,
                                    mem_mib=mem_mib, qemu_extra=qemu_extra, mem_opts=mem_opts)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmdline, stdin=subprocess.DEVNULL,
                                     stderr=open(run_dir / "qemu.stderr", "wb"))
        self.ctl: Optional[socket.socket] = None
        self.qmp: Optional[QMP] = None
        self._buf = b""
        try:
            self.qmp = QMP(str(self.sock_dir / "qmp.sock"))
            self.ctl = self._connect(self.sock_dir / "ctl.sock")
            # Firmware may write to ttyS1 before the kernel does (OVMF's
            # terminal escapes, with no newline): find the record in the line.
            ready = self.read_line(boot_timeout)
            while "@@READY " not in ready:
                ready = self.read_line(boot_timeout)
            self.guest_release = ready[ready.index("@@READY "):].split()[1]
            self.boot_seconds = round(time.monotonic() - self.t0, 2)
        except BaseException:
            self.close()
            raise

    def _connect(self, path: Path) -> socket.socket:
        deadline = time.monotonic() + 30
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(path))
                return s
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise LabUnavailable(f"QEMU control socket never appeared; see {self.run_dir}/qemu.stderr")
                time.sleep(0.05)

    def read_line(self, timeout: float) -> str:
        """Next line from ttyS1; :class:`LabUnavailable` on timeout or QEMU exit."""
        assert self.ctl is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabUnavailable(f"guest did not answer within {timeout:.0f}s; see {self.run_dir}/serial.log")
            self.ctl.settimeout(min(left, 1.0))
            try:
                chunk = self.ctl.recv(65536)
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise LabUnavailable(f"QEMU exited ({self.proc.returncode}); see {self.run_dir}/serial.log")
                continue
            if not chunk:
                raise LabUnavailable(f"control channel closed; see {self.run_dir}/serial.log")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").rstrip("\r")

    def command(self, line: str, timeout: float = 120.0) -> Capture:
        """Send one command to ``/init`` and collect its replies until ``@@DONE``."""
        assert self.ctl is not None
        self.ctl.sendall(line.encode() + b"\n")
        lines = []
        while True:
            got = self.read_line(timeout)
            lines.append(got)
            if got.startswith("@@DONE "):
                return parse_replies(lines)

    def close(self) -> None:
        if self.qmp is not None:
            try:
                self.qmp.cmd("quit", timeout=10)
            except Exception:
                pass
            self.qmp.close()
            self.qmp = None
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        shutil.rmtree(self.sock_dir, ignore_errors=True)

    def __enter__(self) -> "Guest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
