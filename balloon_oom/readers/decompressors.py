# SPDX-License-Identifier: GPL-2.0-or-later
"""Decompressor children: a tarball's or a log's bytes from ``xz``/``gzip``/
``bzip2``/``zstd`` run in a child process (on another core, beside the scan),
or from the stdlib file objects when the program is missing; and how many
CPUs such children, and other work of the same run, keep busy
(:func:`busy_cpus`: the stream scan starts no helper thread it has no CPU for).
"""

from __future__ import annotations

import bz2
import fcntl
import gzip
import io
import lzma
import shutil
import subprocess
from pathlib import Path
from typing import BinaryIO, Tuple

from ..errors import InputError

__all__ = ["DecompressError", "busy_cpus", "open_compressed", "set_busy_elsewhere"]


#: Compression magic -> external decompressor (run on the other core, so a
#: tarball is decompressed in parallel with the scan) and the stdlib fallback.
_DECOMPRESSORS = (
    (b"\xfd7zXZ\x00", ("xz", "-dc"), lzma.LZMAFile),
    (b"\x1f\x8b", ("gzip", "-dc"), gzip.GzipFile),
    (b"BZh", ("bzip2", "-dc"), bz2.BZ2File),
    (b"\x28\xb5\x2f\xfd", ("zstd", "-dc"), None),
)


#: fcntl.F_SETPIPE_SZ (Linux; named in fcntl only from Python 3.10).
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
#: Pipe sizes asked for, in turn.
_PIPE_SIZES = (8 << 20, 1 << 20)


class DecompressError(OSError):
    """The external decompressor failed (truncated or corrupt data)."""

    def __init__(self, message: str, produced: int) -> None:
        super().__init__(message)
        #: Bytes it had decompressed before failing (0: not this format at all).
        self.produced = produced


#: Decompressor children running now (:class:`_PipeStream`): each keeps a CPU
#: busy, which the stream scan leaves to it (:func:`busy_cpus`).
_RUNNING = [0]
#: CPUs other work of the same run keeps busy (:func:`set_busy_elsewhere`).
_ELSEWHERE = [0]


def busy_cpus() -> int:
    """CPUs kept busy beside this process's own thread: one per decompressor
    child running now, plus :func:`set_busy_elsewhere`'s."""
    return _RUNNING[0] + _ELSEWHERE[0]


def set_busy_elsewhere(cpus: int) -> None:
    """``cpus`` CPUs are kept busy by other work of this run (a fleet's other
    reports, one process each): the stream scan leaves them too."""
    _ELSEWHERE[0] = max(0, cpus)


class _PipeStream(io.RawIOBase):
    """A decompressor's stdout; at its end the exit status is checked, so a
    truncated or corrupt archive is an error, never a silent short read."""

    _counted = False

    def __init__(self, argv: Tuple[str, ...], path: Path) -> None:
        super().__init__()
        self._path = path
        self._tool = argv[0]
        self._produced = 0
        # The tool reads our already-open file on stdin: it never sees (nor
        # opens anything near) the path.
        with open(path, "rb") as compressed:
            self._proc = subprocess.Popen(list(argv), stdin=compressed,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _RUNNING[0] += 1
        self._counted = True
        assert self._proc.stdout is not None
        # A big pipe: the tool runs on while we scan a block, with fewer context
        # switches.  Past /proc/sys/fs/pipe-max-size (1 MiB by default) only
        # with CAP_SYS_RESOURCE, hence the fallback.
        for size in _PIPE_SIZES:
            try:
                fcntl.fcntl(self._proc.stdout.fileno(), _F_SETPIPE_SZ, size)
                break
            except OSError:
                continue

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        assert self._proc.stdout is not None
        n = self._proc.stdout.readinto(b)
        if not n:
            self._check()
        self._produced += n or 0
        return n or 0

    def _check(self) -> None:
        rc = self._proc.wait()
        if rc != 0:
            err = (self._proc.stderr.read() if self._proc.stderr else b"").decode(
                "utf-8", "replace").strip().splitlines()
            why = err[-1].rsplit(": ", 1)[-1] if err else f"exit status {rc}"
            raise DecompressError(f"{self._tool}: {why}", self._produced)

    def close(self) -> None:
        if self._counted:
            self._counted = False
            _RUNNING[0] -= 1
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for f in (self._proc.stdout, self._proc.stderr):
            if f is not None:
                f.close()
        super().close()


def open_compressed(path: Path) -> BinaryIO:
    """The decompressed byte stream of a tarball.

    The system's ``xz``/``gzip``/``bzip2``/``zstd`` in a child process when
    present (decompression then runs beside the scan, on another core), else
    the stdlib file objects.  Not tarfile's own ``r|*`` decompression: it
    inflates each 10 KiB read without an output limit and copies what is left
    on every read, so a small bomb (13 KiB of ``.tar.bz2``, 512 MiB of zeros)
    took 1.5 GiB and ten minutes.  Both ways inflate only what is read.
    """
    with open(path, "rb") as f:
        magic = f.read(6)
    for prefix, argv, fallback in _DECOMPRESSORS:
        if not magic.startswith(prefix):
            continue
        if shutil.which(argv[0]):
            return io.BufferedReader(_PipeStream(argv, path), 1 << 20)  # type: ignore[return-value]
        if fallback is not None:
            return fallback(path)  # type: ignore[no-any-return]
        try:
            import zstandard  # type: ignore

            return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))
        except ImportError:
            raise InputError(f"{path}: zstd-compressed; install the zstd program, or "
                             "pip install 'balloon-oom[zstd]' (the zstandard module)") from None
    return open(path, "rb")
