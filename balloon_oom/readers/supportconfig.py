# SPDX-License-Identifier: GPL-2.0-or-later
"""SUSE supportconfig files: their sections mapped onto the sosreport paths.

supportconfig (openSUSE/supportutils, ``bin/supportconfig`` and
``bin/supportconfig.rc`` at commit 84ae92adcb5d, "Version 3.2.14") writes
one text file per topic (``memory.txt``, ``messages.txt``, ``boot.txt``,
``crash.txt``, ``basic-environment.txt``, ``plugin-*.txt``…), each a run of
sections.  Its writer functions print a header line, then ``# `` and what
was read, then the content and a blank line:

* ``_log_cmd``: ``#==[ Command ]===…#``, ``# /usr/bin/uname -a`` (the first
  word replaced by ``command -v``'s full path), the output;
* ``conf_files``: ``#==[ Configuration File ]===…#``, ``# /proc/meminfo``,
  the file without comment and blank lines (``# /x - File not found`` when
  absent);
* ``log_files``: ``#==[ Log File ]===…#``, ``# /var/log/messages`` (or
  ``… - Last N Lines``), the file;
* ``log_entry``: ``Note``, ``Summary``, ``Entry`` and other headers.

Files read whole in a sosreport (``/proc/meminfo``, ``/proc/vmstat``,
``/proc/zoneinfo``, ``/sys/kernel/debug/vmmemctl``…) keep their own path;
commands become the ``sos_commands/`` files sos would have written (``dmesg
-T`` → ``sos_commands/kernel/dmesg_-T``, ``journalctl --no-pager
--output=short-iso`` → ``sos_commands/logs/journalctl_--no-pager_--output=
short-iso``, ``uname -a``, ``date``, ``uptime``, ``lsmod``, ``dmidecode``).
A command piped through ``grep``/``tail`` is only part of its output and is
skipped, except ``lsmod | sort``.
"""

from __future__ import annotations

import re
from typing import BinaryIO, List, Optional, Tuple

from ..parsers.kernel_log import KernelLogScanner, LogScan
from . import layout
from .files import ReportFiles
from .members import MAX_LINE_BYTES, iter_lines

__all__ = ["HEADER", "section_path", "read_supportconfig"]

HEADER = re.compile(r"^#==\[ (?P<kind>[^\]]+?) \]=+#\s*$")
_NOT_FOUND = re.compile(r" - File not found$")
_LAST_LINES = re.compile(r" - Last \d+ Lines$")

#: Command (first word's basename, the rest as written) -> sosreport path.
_COMMANDS: Tuple[Tuple[str, str], ...] = (
    ("uname -a", "sos_commands/kernel/uname_-a"),
    ("date", "sos_commands/date/date"),
    ("uptime", "sos_commands/host/uptime"),
    ("lsmod | sort", "sos_commands/kernel/lsmod"),
    ("lsmod", "sos_commands/kernel/lsmod"),
    ("dmidecode", "sos_commands/hardware/dmidecode"),
    ("hostname", "sos_commands/host/hostname"),
)


def section_path(kind: str, label: str) -> Optional[str]:
    """The report-relative path a section stands for, or None.

    >>> section_path("Configuration File", "/proc/meminfo")
    'proc/meminfo'
    >>> section_path("Command", "/usr/bin/journalctl --no-pager --output=short-iso")
    'sos_commands/logs/journalctl_--no-pager_--output=short-iso'
    >>> section_path("Command", "/usr/bin/dmesg -T | grep taint") is None
    True
    """
    label = label.strip()
    if kind in ("Configuration File", "Log File"):
        if _NOT_FOUND.search(label):
            return None
        path = _LAST_LINES.sub("", label).lstrip("/")
        return path if layout.classify(path) else None
    if kind != "Command":
        return None
    words = label.split()
    if not words:
        return None
    command = " ".join([words[0].rsplit("/", 1)[-1]] + words[1:])
    for written, path in _COMMANDS:
        if command == written:
            return path
    if "|" in command:
        return None
    name = command.split()[0]
    if name == "dmesg":
        return "sos_commands/kernel/" + command.replace(" ", "_")
    if name == "journalctl":
        return "sos_commands/logs/" + command.replace(" ", "_")
    return None


def read_supportconfig(stream: BinaryIO, name: str, files: ReportFiles, logs: List[LogScan],
                       warnings: List[str]) -> None:
    """Read one supportconfig file: its small sections into ``files``, its
    kernel logs through the scanner into ``logs`` (source ``path (name)``)."""
    kind: Optional[str] = None
    path: Optional[str] = None
    label_next = False
    body: List[str] = []
    size = 0
    scanner: Optional[KernelLogScanner] = None
    cut = False

    def end() -> None:
        nonlocal scanner, body, size, cut
        if scanner is not None:
            logs.append(scanner.close())
        elif path is not None:
            while body and not body[-1].strip():
                body.pop()
            files.add(path, "\n".join(body) + ("\n" if body else ""))
            if cut:
                warnings.append(f"{name}: {path} larger than {layout.SMALL_FILE_CAP} bytes; "
                                f"only the first {layout.SMALL_FILE_CAP} were read")
        scanner, body, size, cut = None, [], 0, False

    for raw in iter_lines(stream, MAX_LINE_BYTES):
        line = raw.decode("utf-8", "replace")
        m = HEADER.match(line) if line.startswith("#==[") else None
        if m:
            end()
            kind, path, label_next = m.group("kind"), None, True
            continue
        if label_next:
            label_next = False
            if line.startswith("# "):
                path = section_path(kind or "", line[2:])
                if path is not None and layout.classify(path) == "log":
                    scanner = KernelLogScanner(f"{path} ({name})")
                continue
        if path is None:
            continue
        if scanner is not None:
            scanner.feed(raw)
        elif size <= layout.SMALL_FILE_CAP:
            size += len(raw) + 1
            if size > layout.SMALL_FILE_CAP:
                cut = True
            else:
                body.append(line)
    end()

