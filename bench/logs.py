# SPDX-License-Identifier: GPL-2.0-or-later
"""Benchmark logs: seeded noise around real OOM reports, in each log format.

A log opens with the real KVM 6.1 capture's boot lines; then noise shaped
like a busy server's (no OOM words) up to the size asked, with the capture's
real OOM report placed at fixed shares of the bytes, re-prefixed for the
format (journal ``short``, rsyslog with the printk time, dmesg) and its pid
changed per copy so that every copy is a distinct event.
"""

from __future__ import annotations

import os
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence, Tuple

_REPO = Path(__file__).resolve().parent.parent
#: The project's shared/ captures: beside the checkout (as CI lays it out), else /work/shared.
CAPTURES = Path(os.environ.get("BALLOON_OOM_CAPTURES") or next(
    (p for p in (_REPO.parent / "shared" / "real-captures", Path("/work/shared/real-captures"))
     if p.is_dir()), _REPO.parent / "shared" / "real-captures"))
KVM = CAPTURES / "kvm-6.1"
OOM_REPORT = KVM / "dmesg-oom-report-deflate-off.txt"
BOOT_DMESG = KVM / "dmesg-deflate-off.txt"
REPO = Path(__file__).resolve().parent.parent

JOURNAL = "sos_commands/logs/journalctl_--no-pager"
MESSAGES = "var/log/messages"
DMESG = "sos_commands/kernel/dmesg"
#: Log format -> where sos keeps a log of that format.
FORMAT_PATHS = {"journal": JOURNAL, "syslog": MESSAGES, "dmesg": DMESG}
HOST = "bench-vm"
#: 2026-11-26 00:00:00 UTC: the wall clock of the boot (fixed: output is deterministic).
BOOT_EPOCH = 1795651200
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_PRINTK = re.compile(r"^\[\s*(\d+\.\d+)\] ?")


@dataclass
class OomPlace:
    """Where one OOM report sits in a generated log (1-based line numbers)."""

    line: int       # the "invoked oom-killer" line
    end_line: int   # the "Out of memory: Killed process" line
    pid: int


@dataclass
class GeneratedLog:
    path: str
    lines: int = 0
    bytes: int = 0
    events: List[OomPlace] = field(default_factory=list)



# --- the OOM report, re-prefixed --------------------------------------------------------------

def _with_pid(text: str, pid: int) -> str:
    """The capture's victim/trigger (pid 112) as ``pid``, in every line that names it."""
    if pid == 112:
        return text
    text = text.replace("PID: 112 ", f"PID: {pid} ")
    text = text.replace("pid=112,", f"pid={pid},")
    text = text.replace("Killed process 112 ", f"Killed process {pid} ")
    return re.sub(r"^\[\s*112\]\s+(\d+)\s+112 ",
                  lambda m: f"[{pid:>7}] {m.group(1):>5} {pid:>5} ", text)


def oom_report_lines(pid: int = 112) -> List[Tuple[float, str]]:
    """``(printk seconds, message)`` of the real OOM report, victim ``pid``.

    >>> oom_report_lines(2112)[-1][1][:40]
    'Out of memory: Killed process 2112 (hog)'
    """
    out = []
    for raw in OOM_REPORT.read_text().splitlines():
        m = _PRINTK.match(raw)
        if not m:
            continue
        out.append((float(m.group(1)), _with_pid(raw[m.end():], pid)))
    return out


def _boot_lines() -> List[Tuple[float, str]]:
    """The capture's boot log up to (not including) its OOM report."""
    out = []
    for raw in BOOT_DMESG.read_text().splitlines():
        m = _PRINTK.match(raw)
        if not m:
            continue
        if " invoked oom-killer: " in raw:
            break
        out.append((float(m.group(1)), raw[m.end():]))
    return out


# --- noise ------------------------------------------------------------------------------------

_UNITS = ["cron.service", "ssh.service", "systemd-tmpfiles-clean.service", "apt-daily.service",
          "logrotate.service", "man-db.service", "fstrim.service", "rsyslog.service"]
_USERS = ["root", "deploy", "backup", "monitor", "app"]


def _noise_bodies(rng: random.Random, n: int) -> List[Tuple[str, str]]:
    """``(ident, message)`` pairs shaped like a busy server's log (no OOM words)."""
    out = []
    for _ in range(n):
        k = rng.randrange(12)
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if k == 0:
            out.append((f"sshd[{rng.randrange(1000, 65000)}]",
                        f"Accepted publickey for {rng.choice(_USERS)} from {ip} port "
                        f"{rng.randrange(1024, 65535)} ssh2: ED25519 SHA256:"
                        f"{rng.getrandbits(128):032x}"))
        elif k == 1:
            out.append((f"sshd[{rng.randrange(1000, 65000)}]",
                        f"pam_unix(sshd:session): session closed for user {rng.choice(_USERS)}"))
        elif k == 2:
            out.append(("systemd[1]", f"Starting {rng.choice(_UNITS)} - periodic job..."))
        elif k == 3:
            out.append(("systemd[1]", f"{rng.choice(_UNITS)}: Deactivated successfully."))
        elif k == 4:
            out.append((f"CRON[{rng.randrange(1000, 65000)}]",
                        f"({rng.choice(_USERS)}) CMD (/usr/local/bin/collect --interval "
                        f"{rng.randrange(1, 60)} >/dev/null 2>&1)"))
        elif k == 5:
            out.append(("kernel", f"audit: type=1400 audit({BOOT_EPOCH + rng.randrange(10**6)}."
                                  f"{rng.randrange(1000):03d}:{rng.randrange(10**5)}): "
                                  f"apparmor=\"ALLOWED\" operation=\"open\" profile=\"/usr/sbin/"
                                  f"ntpd\" name=\"/var/lib/ntp/drift.TEMP\" pid="
                                  f"{rng.randrange(100, 65000)} comm=\"ntpd\""))
        elif k == 6:
            out.append(("kernel", f"IPv4: martian source {ip} from 10.0.0.{rng.randrange(1, 255)}, "
                                  "on dev eth0"))
        elif k == 7:
            out.append((f"app-server[{rng.randrange(1000, 65000)}]",
                        f"request id={rng.getrandbits(64):016x} method=GET path=/api/v1/items/"
                        f"{rng.randrange(10**6)} status=200 bytes={rng.randrange(100, 99999)} "
                        f"duration_ms={rng.randrange(1, 900)}"))
        elif k == 8:
            out.append((f"systemd-logind[{rng.randrange(300, 900)}]",
                        f"New session {rng.randrange(1, 99999)} of user {rng.choice(_USERS)}."))
        elif k == 9:
            out.append((f"chronyd[{rng.randrange(300, 900)}]",
                        f"Selected source {ip} (2.debian.pool.ntp.org)"))
        elif k == 10:
            out.append(("kernel", f"nf_conntrack: default automatic helper assignment has been "
                                  f"turned off for security reasons (id {rng.randrange(10**4)})"))
        else:
            out.append((f"dockerd[{rng.randrange(300, 9000)}]",
                        f"time=\"2026-11-26T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
                        f"{rng.randrange(60):02d}Z\" level=info msg=\"ignoring event\" "
                        f"container={rng.getrandbits(96):024x} module=libcontainerd"))
    return out


# --- one log ----------------------------------------------------------------------------------

class _Clock:
    """Wall-clock stamps (``Nov 26 05:27:25``) for seconds since boot, cached per second."""

    def __init__(self) -> None:
        self._sec = -1
        self._stamp = ""

    def stamp(self, mono: float) -> str:
        sec = int(mono)
        if sec != self._sec:
            t = time.gmtime(BOOT_EPOCH + sec)
            self._sec = sec
            self._stamp = f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:" \
                          f"{t.tm_min:02d}:{t.tm_sec:02d}"
        return self._stamp


def _kernel_line(fmt: str, clock: _Clock, mono: float, msg: str) -> str:
    if fmt == "dmesg":
        return f"[{mono:12.6f}] {msg}\n"
    if fmt == "journal":  # journald keeps the message, drops the printk time
        return f"{clock.stamp(mono)} {HOST} kernel: {msg}\n"
    return f"{clock.stamp(mono)} {HOST} kernel: [{mono:12.6f}] {msg}\n"


def _write_log(path: Path, rel: str, fmt: str, target_bytes: int, seed: int,
               pids: Sequence[int]) -> GeneratedLog:
    """Boot lines, then noise up to ``target_bytes`` with the OOM reports at fixed shares."""
    rng = random.Random(f"{seed}:{rel}")
    bodies = _noise_bodies(rng, 20000)
    if fmt == "dmesg":  # the kernel's ring buffer holds only kernel messages
        bodies = [b for b in bodies if b[0] == "kernel"]
    clock = _Clock()
    log = GeneratedLog(rel)
    # OOM reports at these shares of the log's bytes (1/6, 3/6, 5/6, ...).
    marks = [target_bytes * (2 * i + 1) // (2 * len(pids)) for i in range(len(pids))]
    mono = 0.0
    buf: List[str] = []
    written = 0
    lineno = 0

    with open(path, "w", encoding="utf-8", newline="\n") as f:
        def emit(line: str) -> None:
            nonlocal written, lineno
            buf.append(line)
            written += len(line)
            lineno += 1
            if len(buf) >= 8192:
                f.write("".join(buf))
                buf.clear()

        for t, msg in _boot_lines():
            mono = t
            emit(_kernel_line(fmt, clock, t, msg))
        next_event = 0
        choice = rng.randrange
        nb = len(bodies)
        while written < target_bytes or next_event < len(pids):
            if next_event < len(pids) and written >= marks[next_event]:
                pid = pids[next_event]
                report = oom_report_lines(pid)
                base = mono + 1.0 - report[0][0]
                start = lineno + 1
                for t, msg in report:
                    mono = base + t
                    emit(_kernel_line(fmt, clock, mono, msg))
                log.events.append(OomPlace(line=start, end_line=lineno, pid=pid))
                next_event += 1
                continue
            mono += choice(1, 100) / 1000.0
            ident, msg = bodies[choice(nb)]
            if ident == "kernel":
                emit(_kernel_line(fmt, clock, mono, msg))
            else:
                emit(f"{clock.stamp(mono)} {HOST} {ident}: {msg}\n")
        f.write("".join(buf))
    log.lines = lineno
    log.bytes = written
    return log

