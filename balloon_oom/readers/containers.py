# SPDX-License-Identifier: GPL-2.0-or-later
"""Archives in archives, compressed logs, zips: every container opened by content.

Nothing is extracted: a nested archive is read as a stream out of its parent
(a case tarball's ``attachments/sosreport-….tar.xz`` is decompressed while the
outer tarball is read), so memory stays bounded by the caps of
:mod:`.layout` and :mod:`.members`.  Archives nest at most :data:`MAX_DEPTH`
deep.  A ``.zip`` needs a seekable file (its directory is at its end): it is
read when given as a path and refused, with one line, inside a stream.

:func:`expand` looks at every member whose path does not place it inside a
report (``sos_commands/…``, ``proc/…``): by its first bytes it is a nested
archive (opened), a supportconfig file or a kernel log (given a ``role``), or
skipped.
"""

from __future__ import annotations

import io
import shutil
import stat
import subprocess
import threading
import zipfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, List, Optional, Tuple, Union

from ..errors import InputError
from . import layout, sniff
from .files import normalize
from .members import _REPORT_TOP, Member, _TarMemberStream, iter_tar_stream, strip_top

__all__ = ["MAX_DEPTH", "NESTED_ZIP", "Chained", "peek", "decompress", "expand", "iter_zip"]

#: Archives inside archives, counting the outermost as 1.
MAX_DEPTH = 3
NESTED_ZIP = ("a .zip inside another archive or on standard input cannot be read as a stream "
              "(zip keeps its directory at its end): extract the outer archive, then give the "
              ".zip's path")
_HEAD = 512
_STDLIB = {"xz": "lzma", "gzip": "gzip", "bzip2": "bz2"}
_TOOLS = {"xz": ("xz", "-dc"), "gzip": ("gzip", "-dc"), "bzip2": ("bzip2", "-dc"),
          "zstd": ("zstd", "-dc")}
#: supportconfig files holding sections we read (the others are skipped).
SUPPORTCONFIG_FILES = ("memory.txt", "messages.txt", "boot.txt", "crash.txt",
                       "basic-environment.txt", "hardware.txt", "modules.txt", "plugin-*.txt")


class Chained(io.RawIOBase):
    """``head`` (bytes already read) then the rest of ``stream``; closing it
    closes ``stream`` unless ``close_stream`` is False (a borrowed stream)."""

    def __init__(self, head: bytes, stream: BinaryIO, close_stream: bool = True) -> None:
        super().__init__()
        self._head = head
        self._stream = stream
        self._close_stream = close_stream

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                out, self._head = self._head + self._stream.read(), b""
                return out
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._stream.read(size)

    def readinto(self, b) -> int:  # type: ignore[override]
        readinto = getattr(self._stream, "readinto", None)
        if self._head or readinto is None:
            data = self.read(len(b))
            b[:len(data)] = data
            return len(data)
        return readinto(b) or 0  # straight into b: no bytes of its own

    def close(self) -> None:
        try:
            if self._close_stream:
                self._stream.close()
        finally:
            super().close()


def peek(stream: BinaryIO, size: int) -> Tuple[bytes, BinaryIO]:
    """Up to ``size`` first bytes, and a stream that still starts with them."""
    parts, got = [], 0
    while got < size:
        data = stream.read(size - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    head = b"".join(parts)
    return head, Chained(head, stream)  # type: ignore[return-value]


class _FedPipe(io.RawIOBase):
    """A decompressor's output, its input fed from a stream by a thread
    (a stream has no file descriptor to hand the tool)."""

    def __init__(self, argv: Tuple[str, ...], source: BinaryIO, label: str) -> None:
        super().__init__()
        self._label = label
        self._tool = argv[0]
        self._proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._feed, args=(source,), daemon=True)
        self._thread.start()

    def _feed(self, source: BinaryIO) -> None:
        assert self._proc.stdin is not None
        try:
            while True:
                data = source.read(1 << 20)
                if not data:
                    break
                self._proc.stdin.write(data)
        except BrokenPipeError:
            pass
        except BaseException as exc:  # noqa: BLE001 - re-raised in the reader
            self._error = exc
        finally:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        assert self._proc.stdout is not None
        n = self._proc.stdout.readinto(b) or 0
        if not n:
            self._thread.join()
            if self._error is not None:
                raise self._error
            rc = self._proc.wait()
            if rc != 0:
                err = (self._proc.stderr.read() if self._proc.stderr else b"").decode(
                    "utf-8", "replace").strip().splitlines()
                why = err[-1].rsplit(": ", 1)[-1] if err else f"exit status {rc}"
                raise InputError(f"{self._label}: truncated or corrupt ({self._tool}: {why})")
        return n

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._thread.join(timeout=5)
        for f in (self._proc.stdout, self._proc.stderr):
            if f is not None:
                f.close()
        super().close()


def decompress(kind: str, stream: BinaryIO, label: str) -> BinaryIO:
    """The decompressed bytes of ``stream`` (``kind`` from :func:`sniff.kind_of`)."""
    argv = _TOOLS[kind]
    if shutil.which(argv[0]):
        return io.BufferedReader(_FedPipe(argv, stream, label), 1 << 20)  # type: ignore[return-value]
    if kind in _STDLIB:
        import bz2
        import gzip
        import lzma
        opener = {"xz": lzma.LZMAFile, "gzip": gzip.GzipFile, "bzip2": bz2.BZ2File}[kind]
        return opener(stream) if kind != "gzip" else opener(fileobj=stream)  # type: ignore
    try:
        import zstandard  # type: ignore

        return zstandard.ZstdDecompressor().stream_reader(stream)
    except ImportError:
        raise InputError(f"{label}: zstd-compressed; install zstd or the zstandard module") from None


def _supportconfig_name(path: str) -> bool:
    import fnmatch

    base = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(base, p) for p in SUPPORTCONFIG_FILES)


#: Top directories of a report besides those of :data:`.members._REPORT_TOP`.
_INSIDE_REPORT = frozenset(_REPORT_TOP | {"sos_strings", "sos_logs"})


def _loose(path: str) -> bool:
    """Not a place inside a report: worth looking at by content."""
    return path.split("/", 1)[0] not in _INSIDE_REPORT


def expand(members: Iterator[Member], label: str, depth: int,
           warnings: List[str]) -> Iterator[Member]:
    """``members`` with nested archives opened in place and loose files given a role.

    ``depth`` is the depth of the archive (or directory) ``members`` come from.
    """
    for member in members:
        # classify() only for loose files: most of a report is under sos_commands/, proc/…
        if member.kind != "file" or member.role is not None or not _loose(member.path) \
                or layout.classify(member.path) is not None:
            yield member
            continue
        try:
            head, stream = peek(member.open(), _HEAD)
        except OSError as exc:
            warnings.append(f"{member.path}: could not be read ({exc.strerror or exc})")
            continue
        yield from _by_content(member.path, head, stream, f"{label}:{member.path}", depth,
                               warnings, compressed=False)


def _by_content(path: str, head: bytes, stream: BinaryIO, label: str, depth: int,
                warnings: List[str], compressed: bool) -> Iterator[Member]:
    kind = sniff.kind_of(head)
    if kind in _TOOLS:
        if compressed:
            return  # compressed twice: not something a support case holds
        inner = decompress(kind, stream, label)
        try:
            ihead, istream = peek(inner, _HEAD)
            yield from _by_content(_uncompressed_name(path), ihead, istream, label, depth,
                                   warnings, compressed=True)
        finally:
            inner.close()
        return
    if kind == "tar":
        if depth >= MAX_DEPTH:
            warnings.append(f"{label}: archive nested more than {MAX_DEPTH} deep; not read")
            return
        yield from expand(iter_tar_stream(stream, label), label, depth + 1, warnings)
        return
    if kind == "zip":
        warnings.append(f"{label}: {NESTED_ZIP}")
        return
    if kind in ("elf", "vmcore"):
        warnings.append(f"{label}: a dump inside an archive is not read (drgn needs a file): "
                        "extract it and give its path too, with --same-guest")
        return
    if kind == "supportconfig" and _supportconfig_name(path):
        yield Member(path, "file", role="supportconfig", opener=_once(stream))
        return
    if kind == "text":
        shead, sstream = peek(stream, sniff.SNIFF_BYTES)
        if sniff.looks_like_kernel_log(sniff.head_lines(shead)):
            yield Member(path, "file", role="log", opener=_once(sstream))


def _uncompressed_name(path: str) -> str:
    for suffix in (".gz", ".xz", ".bz2", ".zst", ".tgz", ".txz", ".tbz", ".tbz2"):
        if path.endswith(suffix):
            return path[:-len(suffix)]
    return path


def _once(stream: BinaryIO) -> Callable[[], BinaryIO]:
    return lambda: stream


def iter_zip(path: Union[Path, BinaryIO], warnings: List[str],
             label: Optional[str] = None) -> Iterator[Member]:
    """Members of a ``.zip`` (a path, or a seekable file named ``label``), the top
    directory stripped as for tarballs."""
    zipped, path = path, label or path  # type: ignore[assignment]
    try:
        zf = zipfile.ZipFile(zipped)  # type: ignore[arg-type]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable zip archive ({exc})") from None
    with zf:
        state: dict = {}
        for info in zf.infolist():
            norm = normalize(info.filename)
            if norm is None:
                continue
            name = strip_top(norm, info.is_dir(), state)
            if name is None or info.is_dir():
                continue
            mode = info.external_attr >> 16
            if mode and stat.S_ISLNK(mode):
                if info.file_size <= 4096:
                    target = zf.read(info).decode("utf-8", "replace")
                    yield Member(name, "link", link_target=target)
                continue
            if mode and not stat.S_ISREG(mode):
                continue
            try:
                stream = zf.open(info)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
                warnings.append(f"{path}:{info.filename}: could not be read ({exc})")
                continue
            yield Member(name, "file", size=info.file_size,
                         opener=_once(_TarMemberStream(stream, str(path))))  # type: ignore
