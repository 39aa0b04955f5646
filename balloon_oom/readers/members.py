"""Walk the members of a sosreport directory or tarball, in one pass.

A tarball is never extracted: it is read as a stream (walked by
:mod:`.tarstream`, decompressed by ``xz``/``gzip``/``bzip2``/``zstd`` in a
child process or by the stdlib file objects), so a ``.tar.xz`` is
decompressed exactly once.  Nothing outside
the directory or archive given is ever opened: member names that climb out
(``../``, absolute) are dropped, symbolic and hard links are *recorded*
(resolved later inside the report by
:class:`~balloon_oom.readers.files.ReportFiles`), never followed on disk.
Device nodes, FIFOs and sockets are skipped.
"""

from __future__ import annotations

import io
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Optional, Tuple

from ..errors import InputError
from . import tarstream
from .decompressors import DecompressError, open_compressed
from .files import normalize

#: Top-level names of a report: a tarball whose first component is one of
#: these has no ``sosreport-*/`` directory to strip.
_REPORT_TOP = {
    "proc", "sys", "etc", "var", "usr", "run", "boot", "lib", "dev",
    "sos_commands", "sos_reports", "sos_logs", "sos_strings", "version.txt",
}

#: Per-line cap when streaming logs: a megabyte-long line is cut, not held.
MAX_LINE_BYTES = 64 * 1024
_CHUNK = 1024 * 1024


@dataclass
class Member:
    """One entry of a report: a regular file or a link."""

    path: str
    kind: str  # "file" | "link"
    size: int = 0
    link_target: Optional[str] = None
    opener: Optional[Callable[[], BinaryIO]] = None
    #: How to read it when its path alone does not say (:mod:`.containers`):
    #: ``"log"`` (a kernel log found by content) or ``"supportconfig"``.
    role: Optional[str] = None

    def open(self) -> BinaryIO:
        assert self.opener is not None
        return self.opener()


def iter_lines(stream: BinaryIO, max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Lines of a binary stream without their ending (LF, CRLF or CR alone).

    Memory is bounded by ``max_line`` whatever the input: a longer line is
    cut to its first ``max_line`` bytes.

    >>> list(iter_lines(io.BytesIO(b"a\\r\\nb\\rc\\nlast")))
    [b'a', b'b', b'c', b'last']
    >>> [len(x) for x in iter_lines(io.BytesIO(b"x" * 10 + b"\\ny"), max_line=4)]
    [4, 1]
    """
    buf = b""
    skipping = False  # inside an over-long line, dropping bytes until its end
    pending_cr = False
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        if pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        pending_cr = chunk.endswith(b"\r")
        data = buf + chunk
        # One split per chunk, in C (a per-line find of b"\r" scanned to the
        # end of the chunk on every line of an LF-only log: quadratic).
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        rest = lines.pop()
        if lines:
            if skipping:
                del lines[0]
                skipping = False
            if lines and max(map(len, lines)) > max_line:
                lines = [line[:max_line] for line in lines]
            yield from lines
        if skipping:
            buf = b""
        elif len(rest) > max_line:
            yield rest[:max_line]
            buf = b""
            skipping = True
        else:
            buf = rest
    if buf and not skipping:
        yield buf


def iter_directory(root: Path) -> Iterator[Member]:
    """Members of a report directory; symlinks recorded, never followed."""
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        for name in list(dirnames) + filenames:
            full = os.path.join(dirpath, name)
            rel = normalize(os.path.join(rel_dir, name))
            if rel is None:
                continue
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                try:
                    target = os.readlink(full)
                except OSError:
                    continue
                yield Member(rel, "link", link_target=target)
            elif stat.S_ISREG(st.st_mode):
                yield Member(rel, "file", size=st.st_size,
                             opener=_file_opener(full))


def _file_opener(path: str) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        # O_NOFOLLOW: the entry was a regular file at lstat time; refuse if it
        # was swapped for a link since.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return os.fdopen(fd, "rb")
    return opener


#: What a corrupt or truncated archive raises while it is read.
_CORRUPT = (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError, zlib.error,
            zipfile.BadZipFile)


class _TarMemberStream(io.RawIOBase):
    """A member's bytes; decompression or truncation errors become InputError."""

    def __init__(self, fobj: BinaryIO, archive: str) -> None:
        super().__init__()
        self._f = fobj
        self._archive = archive

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._f.read(size)
        except _CORRUPT as exc:
            raise InputError(f"{self._archive}: archive is truncated or corrupt "
                             f"({exc})") from None

    def readinto(self, b) -> int:  # type: ignore[override]
        readinto = getattr(self._f, "readinto", None)
        if readinto is None:
            data = self.read(len(b))
            b[:len(data)] = data
            return len(data)
        try:
            return readinto(b) or 0
        except _CORRUPT as exc:
            raise InputError(f"{self._archive}: archive is truncated or corrupt "
                             f"({exc})") from None


def iter_tarball(path: Path) -> Iterator[Member]:
    """Members of a sosreport tarball, streamed; the ``sosreport-*/`` prefix stripped.

    Each member must be consumed (``open().read()``) before the next is asked for.
    """
    raw = open_compressed(Path(path))
    try:
        yield from iter_tar_stream(raw, str(path))
    finally:
        raw.close()


def strip_top(name: str, is_dir: bool, state: dict) -> Optional[str]:
    """``name`` without the archive's ``sosreport-*/`` (or ``scc_*/``, ``case-*/``)
    top directory, decided on the first member (``state`` carries it)."""
    if "first" not in state:
        state["first"] = False
        head = name.split("/", 1)[0]
        state["prefix"] = (head + "/" if head not in _REPORT_TOP and ("/" in name or is_dir)
                           else None)
    prefix = state["prefix"]
    if prefix is not None:
        if name + "/" == prefix:
            return None
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def iter_tar_stream(raw: BinaryIO, label: str) -> Iterator[Member]:
    """Members of a tar archive read from the (decompressed) stream ``raw``;
    ``label`` names the archive in errors.  The caller closes ``raw``.

    Walked by :func:`.tarstream.walk` (``tarfile``'s header parsing, large
    blocks, no per-byte copies); a member not read is skipped.
    """
    state: dict = {}
    first = True
    try:
        for info, data in tarstream.walk(raw, label):
            first = False
            norm = normalize(info.name)
            if norm is None:
                continue
            name = strip_top(norm, info.isdir(), state)
            if name is None:
                continue
            prefix = state["prefix"]
            if info.issym():
                yield Member(name, "link", link_target=info.linkname)
            elif info.islnk():
                target = normalize(info.linkname)
                if target is not None and prefix and target.startswith(prefix):
                    target = target[len(prefix):]
                if target is not None:
                    yield Member(name, "link", link_target="/" + target)
            elif data is not None:
                yield Member(name, "file", size=info.size,
                             opener=lambda f=data: f)  # type: ignore[misc]
    except _CORRUPT as exc:
        what = ("not a readable tar archive"
                if first and not (isinstance(exc, DecompressError) and exc.produced) else
                "archive is truncated or corrupt")
        raise InputError(f"{label}: {what} ({exc})") from None


def read_capped(stream: BinaryIO, cap: int, chunk: int = 65536) -> Tuple[bytes, bool]:
    """``(bytes, truncated)``: at most ``cap`` bytes of ``stream``.

    Read in small chunks: some sysfs/debugfs files fail a single huge read()
    with ENOMEM (the kernel sizes its buffer from the request).
    """
    parts = []
    size = 0
    while size <= cap:
        data = stream.read(min(chunk, cap + 1 - size))
        if not data:
            break
        parts.append(data)
        size += len(data)
    data = b"".join(parts)
    return data[:cap], len(data) > cap


TAR_SUFFIXES = (".tar", ".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2",
                ".tar.zst", ".tar.zstd")


def looks_like_tarball(path: Path) -> bool:
    """A regular file named or starting like a (compressed) tarball.

    Never a FIFO or device, whatever its name: opening a FIFO blocks forever.
    """
    if not Path(path).is_file():
        return False
    name = Path(path).name
    if name.endswith(TAR_SUFFIXES):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return (head.startswith((b"\xfd7zXZ\x00", b"\x1f\x8b", b"BZh", b"\x28\xb5\x2f\xfd"))
            or head[257:262] == b"ustar")

