# SPDX-License-Identifier: GPL-2.0-or-later
"""A tar stream walked in large blocks: headers parsed by :mod:`tarfile`, data ours.

:mod:`tarfile`'s streaming mode (``r|``) copies every byte several times
(its read buffer is joined and sliced on every read, then copied again
through the member's buffered reader).  Here the (decompressed) stream is
read :data:`CHUNK` bytes at a time; each header is parsed by
:meth:`tarfile.TarInfo.fromtarfile` (ustar, GNU long names and links, pax
records, checksums: exactly what ``tarfile`` accepts), and a member's data
is handed out as the block itself when it spans it, else as one slice.
Members not read are skipped without a copy.  The end of the archive and
its errors behave as in ``TarFile.next``: a bad first header is an error, a
bad or truncated header later ends the archive, a stream ending inside a
member (or its padding) is an error.
"""

from __future__ import annotations

import io
import tarfile
from typing import Iterator, List, Optional, Tuple

from ..errors import InputError

__all__ = ["CHUNK", "TarBlocks", "walk"]

#: Bytes asked of the stream at a time: the block size of
#: :func:`~balloon_oom.readers.stream.scan_stream`, so a log member's blocks
#: reach the scanner as read, and small enough that a decompressor's pipe
#: holds what it writes while one block is scanned.
CHUNK = 1 << 20
#: A GNU long name or pax header longer than this is refused (``tarfile``
#: would read it whole into memory).
HEADER_CAP = 1 << 20
_BLOCKSIZE = tarfile.BLOCKSIZE


class TarBlocks:
    """The tar stream in blocks; ``fileobj``, ``offset``, ``encoding``,
    ``errors`` and ``pax_headers`` are what ``TarInfo.fromtarfile`` reads of
    a ``TarFile``."""

    encoding = tarfile.ENCODING
    errors = "surrogateescape"

    def __init__(self, raw) -> None:
        self._raw = raw
        self.buf = b""
        self.pos = 0          # read position in buf
        self.base = 0         # stream offset of buf[0]
        self.offset = 0       # where tarfile expects the next header
        self.pax_headers: dict = {}
        self.fileobj = self

    # -- the file object TarInfo reads headers from -------------------------------------
    def tell(self) -> int:
        return self.base + self.pos

    def _fill(self) -> bool:
        """A fresh block when the current one is used up; False at the end."""
        if self.pos < len(self.buf):
            return True
        data = self._raw.read(CHUNK)
        self.base += len(self.buf)
        self.buf, self.pos = data or b"", 0
        return bool(data)

    def read(self, size: int) -> bytes:
        """``size`` bytes (fewer at the end of the stream): headers only."""
        if size > HEADER_CAP:
            raise tarfile.ReadError(f"a header of {size} bytes (more than {HEADER_CAP})")
        parts: List[bytes] = []
        while size > 0 and self._fill():
            piece = self.buf[self.pos:self.pos + size]
            self.pos += len(piece)
            size -= len(piece)
            parts.append(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # -- member data -----------------------------------------------------------------------
    def take(self, size: int) -> bytes:
        """Up to ``size`` bytes (at least one unless the stream ended): the
        whole block when it fits, without a copy."""
        if size <= 0 or not self._fill():
            return b""
        buf, pos = self.buf, self.pos
        if pos == 0 and size >= len(buf):
            self.pos = len(buf)
            return buf
        piece = buf[pos:pos + size]
        self.pos += len(piece)
        return piece

    def take_into(self, b) -> int:
        """Up to ``len(b)`` bytes into ``b`` (at least one unless the stream
        ended): what is left of the current block, else straight from the
        stream, without a block of its own in between."""
        if len(b) <= 0:
            return 0
        if self.pos < len(self.buf):
            n = min(len(b), len(self.buf) - self.pos)
            b[:n] = memoryview(self.buf)[self.pos:self.pos + n]
            self.pos += n
            return n
        readinto = getattr(self._raw, "readinto", None)
        if readinto is None:
            return self.take_into(b) if self._fill() else 0
        n = readinto(b) or 0
        self.base += len(self.buf) + n
        self.buf, self.pos = b"", 0
        return n

    def skip_to(self, offset: int) -> bool:
        """Move forward to stream ``offset``; False if the stream ends first."""
        while self.tell() < offset:
            if not self._fill():
                return False
            self.pos = min(len(self.buf), offset - self.base)
        return True


class MemberData(io.RawIOBase):
    """One member's bytes, read from :class:`TarBlocks` (short reads at block
    ends; ``read()`` without a size joins the rest)."""

    def __init__(self, blocks: TarBlocks, start: int, size: int, label: str) -> None:
        super().__init__()
        self._blocks = blocks
        self._left = size
        self._start = start
        self._label = label

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while True:
                piece = self.read(CHUNK)
                if not piece:
                    return b"".join(parts)
                parts.append(piece)
        if self._left <= 0 or size == 0:
            return b""
        return self._step(min(size, self._left), self._blocks.take)

    def readinto(self, b) -> int:  # type: ignore[override]
        """As :meth:`read`, into ``b`` (the stream scan's reused buffers), with
        no ``bytes`` of its own."""
        size = min(len(b), self._left)
        if size <= 0:
            return 0
        return self._step(size, lambda n: self._blocks.take_into(memoryview(b)[:n]))

    def _step(self, size: int, take):
        """``take(size)`` from the blocks (bytes, or a count of bytes read into
        a buffer), with the checks and the bookkeeping of both reads."""
        if self._blocks.tell() != self._start:
            raise ValueError("tar member read after the archive moved past it")
        try:
            got = take(size)
        except (OSError, EOFError, ValueError, tarfile.TarError) as exc:
            raise InputError(f"{self._label}: archive is truncated or corrupt ({exc})") from None
        n = got if isinstance(got, int) else len(got)
        if not n:
            raise InputError(f"{self._label}: archive is truncated or corrupt "
                             "(unexpected end of data)")
        self._left -= n
        self._start += n
        return got


def _next_info(blocks: TarBlocks) -> Optional[tarfile.TarInfo]:
    """The next header, with ``TarFile.next``'s rules for errors and the end."""
    first = blocks.offset == 0
    if not first and not blocks.skip_to(blocks.offset):
        raise tarfile.ReadError("unexpected end of data")
    try:
        return tarfile.TarInfo.fromtarfile(blocks)  # type: ignore[arg-type]
    except tarfile.EOFHeaderError:
        return None
    except (tarfile.InvalidHeaderError, tarfile.EmptyHeaderError,
            tarfile.TruncatedHeaderError) as exc:
        if first:
            raise tarfile.ReadError(str(exc) or "empty file") from None
        return None
    except tarfile.SubsequentHeaderError as exc:
        raise tarfile.ReadError(str(exc)) from None


def walk(raw, label: str) -> Iterator[Tuple[tarfile.TarInfo, Optional[MemberData]]]:
    """``(info, data)`` for each member of the tar stream ``raw``; ``data``
    for regular files only, valid until the next member is asked for.
    Errors of the stream or the archive propagate (the caller words them)."""
    blocks = TarBlocks(raw)
    while True:
        info = _next_info(blocks)
        if info is None:
            return
        data = None
        if info.isreg() and info.sparse is None:
            data = MemberData(blocks, info.offset_data, info.size, label)
        elif info.isreg():
            data = _Sparse(blocks, info, label)  # type: ignore[assignment]
        yield info, data


class _Sparse(io.RawIOBase):
    """A GNU sparse member, its holes read as zeros (as ``extractfile`` gives
    it), streamed: a hole is never held whole."""

    def __init__(self, blocks: TarBlocks, info: tarfile.TarInfo, label: str) -> None:
        super().__init__()
        runs = [(o, n) for o, n in info.sparse or () if n > 0]
        self._stored = MemberData(blocks, info.offset_data, sum(n for _, n in runs), label)
        self._runs = runs + [(info.size, 0)]
        self._at = 0
        self._size = info.size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        while self._runs and self._runs[0][0] + self._runs[0][1] <= self._at:
            self._runs.pop(0)
        size = min(size, self._size - self._at)
        if size <= 0 or not self._runs:
            return b""
        offset, numbytes = self._runs[0]
        if self._at < offset:  # a hole
            piece = b"\x00" * min(size, offset - self._at)
        else:
            piece = self._stored.read(min(size, offset + numbytes - self._at))
        self._at += len(piece)
        return piece

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)
