# SPDX-License-Identifier: GPL-2.0-or-later
"""What one source gathered, the same shape for every kind of source.

A report directory or tarball, a plain log, standard input, a kdump
directory, a supportconfig, a vmcore or the running guest each yield one
:class:`Collected`; :func:`balloon_oom.analysis.build` makes the model from
any number of them.  :func:`collect` is the one pass over a stream of
:class:`~balloon_oom.readers.members.Member`: small files read whole
(capped), logs streamed through the kernel-log scanner, supportconfig files
split into their sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, List, Optional, Set

from ..errors import InputError
from ..model import Source
from ..parsers.kernel_log import LogScan, scan_stream
from . import layout
from .files import ReportFiles
from .members import MAX_LINE_BYTES, Member, read_capped

__all__ = ["Collected", "collect"]


@dataclass
class Collected:
    """What one pass over a source gathered, before the model is built."""

    files: ReportFiles = field(default_factory=ReportFiles)
    logs: List[LogScan] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    #: Which source this is (kind and path).
    source: Optional[Source] = None
    #: A vmcore's figures (:class:`~balloon_oom.readers.vmcore.VmcoreSnapshot`).
    vmcore: Optional[Any] = None
    #: Logs (by ``LogScan.source``) whose last boot is the boot this source
    #: describes: a plain log, standard input, a kdump directory's dmesg.
    last_boot_current: Set[str] = field(default_factory=set)
    #: Formats met on the way (``"supportconfig"``).
    formats: Set[str] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not len(self.files) and not self.logs and self.vmcore is None


def collect(members: Iterator[Member], out: Optional[Collected] = None) -> Collected:
    """One pass: small files read whole (capped), logs streamed through the scanner."""
    out = out if out is not None else Collected()
    for member in members:
        if member.kind == "link":
            if member.link_target is not None:
                out.files.add_link(member.path, member.link_target)
            continue
        kind = member.role or layout.classify(member.path)
        if kind is None:
            continue
        try:
            with member.open() as stream:
                if kind == "small":
                    data, cut = read_capped(stream, layout.SMALL_FILE_CAP)
                    if cut:
                        out.warnings.append(
                            f"{member.path}: larger than {layout.SMALL_FILE_CAP} bytes; "
                            f"only the first {layout.SMALL_FILE_CAP} were read")
                    out.files.add(member.path, data.decode("utf-8", "replace"))
                elif kind == "supportconfig":
                    from .supportconfig import read_supportconfig
                    read_supportconfig(stream, member.path, out.files, out.logs, out.warnings)
                    out.formats.add("supportconfig")
                else:
                    scan = scan_stream(_decompressed(member.path, stream), member.path,
                                       max_line=MAX_LINE_BYTES)
                    out.logs.append(scan)
                    if member.role == "log":
                        out.last_boot_current.add(scan.source)
        except InputError:
            raise
        except (OSError, EOFError) as exc:
            out.warnings.append(f"{member.path}: could not be read "
                                f"({getattr(exc, 'strerror', None) or exc})")
    return out


def _decompressed(path: str, stream):
    """A log named ``.gz``/``.xz``/``.bz2`` in a report (``messages-2024.gz``)."""
    if path.endswith(".gz"):
        import gzip
        return gzip.GzipFile(fileobj=stream)
    if path.endswith(".xz"):
        import lzma
        return lzma.LZMAFile(stream)
    if path.endswith(".bz2"):
        import bz2
        return bz2.BZ2File(stream)
    return stream
