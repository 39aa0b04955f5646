# SPDX-License-Identifier: GPL-2.0-or-later
"""Every input a support case brings, detected by content, each to one :class:`Collected`.

======================  =============================================================
a directory             sosreport, supportconfig (``#==[`` section files), kdump
                        (``vmcore-dmesg.txt`` and/or ``vmcore``), or any tree holding
                        report paths (``var/log/messages``)
a tar (any compressor)  the same, streamed; archives inside it opened in place
a ``.zip``              the same, through :mod:`zipfile` (it needs the file)
a kernel log            ``dmesg``, syslog, journal, console text; plain or single-file
                        ``.gz``/``.xz``/``.bz2``/``.zst``
a vmcore                ELF (with a ``VMCOREINFO`` note) or kdump-compressed
``-``                   standard input: a kernel log or a tar, plain or compressed
======================  =============================================================

Anything else is refused with one line naming what it is not and what is accepted.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO, List, Optional

from ..errors import BalloonOomError, InputError
from ..model import Source, SourceKind
from ..parsers.kernel_log import scan_log, scan_stream
from . import layout, sniff
from .collected import Collected, collect
from .containers import NESTED_ZIP, decompress, expand, iter_zip, peek
from .decompressors import DecompressError, open_compressed
from .members import MAX_LINE_BYTES, TAR_SUFFIXES, iter_directory, iter_tar_stream

__all__ = ["ACCEPTS", "collect_path", "collect_stdin", "dir_kind", "kernel_core"]

ACCEPTS = ("a sosreport or supportconfig (directory or tarball), a kdump directory, a kernel log "
           "(dmesg, syslog, journal; plain, .gz, .xz, .bz2 or .zst; - for standard input), "
           "a .zip or tarball holding these, a vmcore, or / for this guest")

NOT_A_REPORT_DIR = ("not a sosreport, supportconfig or kdump directory (no version.txt, "
                    "sos_commands/, proc/, sys/, basic-environment.txt, vmcore-dmesg.txt, vmcore "
                    "or var/log/ kernel log)")
_SOS_MARKERS = ("version.txt", "sos_commands", "sos_reports", "proc", "sys")
_SUPPORTCONFIG_MARKERS = ("basic-environment.txt", "supportconfig.txt")
_KDUMP_DMESG = "vmcore-dmesg.txt"
_VMCORE_NAMES = ("vmcore", "vmcore.flat", "dumpfile")


def dir_kind(path: Path) -> Optional[SourceKind]:
    """What a directory holds, or None (a directory of reports: fleet mode)."""
    path = Path(path)
    if any((path / m).exists() for m in _SOS_MARKERS):
        return SourceKind.SOSREPORT
    if any((path / m).is_file() for m in _SUPPORTCONFIG_MARKERS):
        return SourceKind.SUPPORTCONFIG
    if (path / _KDUMP_DMESG).is_file() or any((path / n).is_file() for n in _VMCORE_NAMES):
        return SourceKind.KDUMP
    for pattern in layout.LOG_FILES:
        if any(path.glob(pattern)):
            return SourceKind.DIRECTORY
    return None


def _not_accepted(label: str, head: bytes) -> InputError:
    return InputError(f"{label}: not a kernel log ({sniff.describe_not_log(head)}); "
                      f"balloon-oom reads {ACCEPTS}")


# --- vmcores -------------------------------------------------------------------------------

_PT_NOTE = 4
_USER_NOTES = {3, 6, 0x46494C45}  # NT_PRPSINFO, NT_AUXV, NT_FILE: a process's core


def kernel_core(path: str) -> Optional[str]:
    """None for a kernel dump, else why it is not one (ELF files only).

    A kernel's ELF core carries a ``VMCOREINFO`` note (kdump's /proc/vmcore,
    QEMU's dump-guest-memory with vmcoreinfo); a process's core (gcore,
    systemd-coredump) carries ``NT_PRPSINFO``/``NT_AUXV``/``NT_FILE`` instead.
    """
    with open(path, "rb") as f:
        ident = f.read(64)
        if len(ident) < 52 or ident[4] not in (1, 2):
            return "a truncated ELF header"
        end = "<" if ident[5] == 1 else ">"
        e_type = struct.unpack(end + "H", ident[16:18])[0]
        if e_type != 4:
            what = {1: "a relocatable object", 2: "an executable",
                    3: "a shared object or executable"}.get(e_type, "an ELF file")
            return f"{what}, not a core dump"
        if ident[4] == 2:
            phoff = struct.unpack(end + "Q", ident[32:40])[0]
            phentsize, phnum = struct.unpack(end + "HH", ident[54:58])
        else:
            phoff = struct.unpack(end + "I", ident[28:32])[0]
            phentsize, phnum = struct.unpack(end + "HH", ident[42:46])
        names, types = set(), set()
        for i in range(min(phnum, 65535)):
            f.seek(phoff + i * phentsize)
            ph = f.read(phentsize)
            if len(ph) < phentsize or len(ph) < 32:
                break
            if ident[4] == 2:
                p_type, = struct.unpack(end + "I", ph[0:4])
                p_offset, = struct.unpack(end + "Q", ph[8:16])
                p_filesz, = struct.unpack(end + "Q", ph[32:40])
            else:
                p_type, p_offset = struct.unpack(end + "II", ph[0:8])
                p_filesz, = struct.unpack(end + "I", ph[16:20])
            if p_type != _PT_NOTE:
                continue
            f.seek(p_offset)
            _notes(f.read(min(p_filesz, 1 << 20)), end, names, types)
    if any(n.startswith(b"VMCOREINFO") for n in names):
        return None
    if b"CORE" in names and types & _USER_NOTES:
        return "a process's core dump (it has the notes of a user-space core, no VMCOREINFO)"
    return None  # no sign either way: drgn decides


def _notes(data: bytes, end: str, names: set, types: set) -> None:
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack(end + "III", data[pos:pos + 12])
        pos += 12
        name = data[pos:pos + namesz].rstrip(b"\x00")
        pos += (namesz + 3) & ~3
        pos += (descsz + 3) & ~3
        names.add(name)
        if name == b"CORE":
            types.add(ntype)


#: What to install for a vmcore (drgn is an extra: the light install reads reports and logs).
VMCORE_EXTRA = "pip install 'balloon-oom[vmcore]'"


def collect_vmcore(path: str, debuginfo: Optional[List[str]]) -> Collected:
    """A vmcore through drgn: its figures and its own kernel log."""
    why = kernel_core(path) if sniff.kind_of(_head(Path(path))) == "elf" else None
    if why is not None:
        raise InputError(f"{path}: not a kernel vmcore ({why})")
    try:
        import drgn  # noqa: F401
    except ImportError:
        raise InputError(f"{path}: a vmcore; reading one needs drgn, which is not installed: "
                         f"{VMCORE_EXTRA}") from None
    from .vmcore import read_vmcore

    snap = read_vmcore(str(path), debuginfo)
    return Collected(source=Source(SourceKind.VMCORE, str(path)), vmcore=snap,
                     logs=[scan_log(snap.log_lines, "vmcore:kernel log")])


# --- files, directories, streams ----------------------------------------------------------

def _head(path: Path, size: int = 512) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def _archive_kind(collected: Collected, fallback: SourceKind) -> SourceKind:
    paths = collected.files.paths()
    if "supportconfig" in collected.formats:
        return SourceKind.SUPPORTCONFIG
    if any(p == "version.txt" or p.startswith(("sos_commands/", "sos_reports/", "proc/", "sys/"))
           for p in paths):
        return SourceKind.SOSREPORT
    return fallback


def _collect_archive(members, label: str, depth: int, what: str) -> Collected:
    """An archive's members, each by content (``what``: ``archive``, ``zip archive``)."""
    out = Collected()
    collect(expand(members(out.warnings), label, depth, out.warnings), out)
    out.source = Source(_archive_kind(out, SourceKind.ARCHIVE), label)
    if out.empty:
        raise InputError(f"{label}: {what} holds no sosreport files, supportconfig or "
                         f"kernel log ({'; '.join(out.warnings) or 'nothing readable'})")
    return out


def _collect_stream(label: str, head: bytes, stream: BinaryIO, depth: int) -> Collected:
    """A tar, a supportconfig file or a kernel log read from ``stream`` (head peeked)."""
    kind = sniff.kind_of(head)
    if kind == "tar":
        return _collect_archive(lambda _w: iter_tar_stream(stream, label), label, depth,
                                "archive")
    out = Collected()
    if kind == "supportconfig":
        from .supportconfig import read_supportconfig
        read_supportconfig(stream, os.path.basename(label), out.files, out.logs, out.warnings)
        out.formats.add("supportconfig")
        out.source = Source(SourceKind.SUPPORTCONFIG, label)
        return out
    if kind == "text":
        shead, stream = peek(stream, sniff.SNIFF_BYTES)
        if sniff.looks_like_kernel_log(sniff.head_lines(shead)):
            scan = scan_stream(stream, label, max_line=MAX_LINE_BYTES)
            out.logs.append(scan)
            out.last_boot_current.add(scan.source)
            out.source = Source(SourceKind.LOG, label)
            return out
    raise _not_accepted(label, head)


def collect_path(path: str, debuginfo: Optional[List[str]] = None) -> Collected:
    """One path (not ``/``): a directory, an archive, a log or a vmcore."""
    p = Path(path)
    if p.is_dir():
        kind = dir_kind(p)
        if kind is None:
            raise InputError(f"{path}: {NOT_A_REPORT_DIR}")
        if kind == SourceKind.KDUMP:
            return collect_kdump(p, debuginfo)
        out = Collected(source=Source(kind, str(path)))
        collect(expand(iter_directory(p), str(path), 1, out.warnings), out)
        return out
    if not p.is_file():
        raise InputError(f"{path}: neither a sosreport nor anything balloon-oom reads (not a "
                         f"regular file or directory); it reads {ACCEPTS}")
    head = _head(p)
    kind = sniff.kind_of(head)
    if kind in ("elf", "vmcore"):
        return collect_vmcore(str(path), debuginfo)
    if kind == "zip":
        return _collect_archive(lambda w: iter_zip(p, w), str(path), 1, "zip archive")
    tar_named = p.name.endswith(TAR_SUFFIXES)
    stream = open_compressed(p) if sniff.compression_of(head) else open(p, "rb")
    try:
        try:
            inner_head, chained = peek(stream, 512)
        except DecompressError as exc:
            what = ("truncated or corrupt" if exc.produced else
                    "not a readable tar archive" if tar_named else "not readable compressed data")
            raise InputError(f"{path}: {what} ({exc})") from None
        if tar_named and sniff.kind_of(inner_head) != "tar":
            raise InputError(f"{path}: not a readable tar archive (named like one, it holds "
                             f"{sniff.describe_not_log(inner_head).replace('it is ', '')})")
        return _collect_stream(str(path), inner_head, chained, 1)
    finally:
        stream.close()


def collect_stdin(stream: BinaryIO, label: str = "-") -> Collected:
    """Standard input: a kernel log, a tar or a supportconfig file, plain or compressed."""
    start = _seekable_at(stream)
    head, chained = peek(stream, 512)
    kind = sniff.kind_of(head)
    if kind == "zip" and start is not None:  # `analyze - < upload.zip`: a file after all
        stream.seek(start)
        return _collect_archive(lambda w: iter_zip(stream, w, label), label, 1, "zip archive")
    if kind == "zip":
        raise InputError(f"{label}: {NESTED_ZIP}")
    if kind in ("elf", "vmcore"):
        raise InputError(f"{label}: a vmcore on standard input cannot be read (drgn needs a "
                         "file): give its path")
    if sniff.compression_of(head):
        inner = decompress(kind, chained, label)
        try:
            ihead, ichained = peek(inner, 512)
            if sniff.kind_of(ihead) == "zip":
                raise InputError(f"{label}: {NESTED_ZIP}")
            return _collect_stream(label, ihead, ichained, 1)
        finally:
            inner.close()
    return _collect_stream(label, head, chained, 1)


def _seekable_at(stream: BinaryIO) -> Optional[int]:
    """The position of a seekable stream (standard input redirected from a file), else None."""
    try:
        return stream.tell() if stream.seekable() else None
    except (OSError, ValueError, AttributeError):
        return None


def collect_kdump(path: Path, debuginfo: Optional[List[str]]) -> Collected:
    """``/var/crash/<ip>-<date>/``: ``vmcore-dmesg.txt`` and the ``vmcore``, one guest."""
    out = Collected(source=Source(SourceKind.KDUMP, str(path)))
    dmesg = path / _KDUMP_DMESG
    if dmesg.is_file():
        with open(dmesg, "rb") as f:
            scan = scan_stream(f, _KDUMP_DMESG, max_line=MAX_LINE_BYTES)
        out.logs.append(scan)
        out.last_boot_current.add(scan.source)
    for name in _VMCORE_NAMES:
        core = path / name
        if not core.is_file():
            continue
        try:
            part = collect_vmcore(str(core), debuginfo)
        except BalloonOomError as exc:
            if not out.logs:
                raise
            out.warnings.append(f"{core}: not used ({exc}); the analysis rests on "
                                f"{_KDUMP_DMESG}")
            break
        except ImportError as exc:
            out.warnings.append(f"{core}: not read (drgn unavailable: {exc})")
            break
        out.vmcore = part.vmcore
        out.logs.extend(part.logs)
        break
    return out
