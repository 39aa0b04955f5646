# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet inputs: the reports that PATH arguments (directories, globs, files) name."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

_GLOB_CHARS = set("*?[")


def _is_report_dir(path: Path) -> bool:
    from ..analysis import is_report_dir

    return is_report_dir(path)


def _is_tarball(path: Path) -> bool:
    from ..readers.members import looks_like_tarball

    return path.is_file() and looks_like_tarball(path)


@dataclass(frozen=True)
class FleetInput:
    """One report to analyse, or a PATH argument that names none (``error`` set)."""

    path: str
    error: Optional[str] = None


def expand_inputs(paths: Sequence[str]) -> List[FleetInput]:
    """The reports the PATH arguments name, in order, each once.

    A PATH that is a sosreport directory (``version.txt``, ``sos_commands/``…)
    or a file (tarball, vmcore) is one report.  Any other directory stands
    for its children that are report directories or tarballs (sorted by name;
    checksum files and other strays are passed over).  A PATH with ``*?[``
    that does not exist as written is a glob.  A PATH that names nothing, or
    a directory holding no report, is kept as an input with an ``error``.

    >>> expand_inputs(["/nonexistent/x"])
    [FleetInput(path='/nonexistent/x', error='/nonexistent/x: no such file or directory')]
    """
    out: List[FleetInput] = []
    seen = set()

    def add(p: str) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(FleetInput(p))

    for arg in paths:
        if not os.path.lexists(arg) and _GLOB_CHARS & set(arg):
            candidates = sorted(glob.glob(arg))
            if not candidates:
                out.append(FleetInput(arg, f"{arg}: no file matches this pattern"))
        else:
            candidates = [arg]
        for cand in candidates:
            p = Path(cand)
            if not p.exists():
                out.append(FleetInput(cand, f"{cand}: no such file or directory"))
            elif not p.is_dir() or _is_report_dir(p) or os.path.realpath(cand) == "/":
                add(cand)
            else:
                children = [os.path.join(cand, name) for name in sorted(os.listdir(cand))]
                found = [c for c in children
                         if (os.path.isdir(c) and _is_report_dir(Path(c))) or _is_tarball(Path(c))]
                if not found:
                    out.append(FleetInput(cand, f"{cand}: no sosreport here (neither a report "
                                                "directory nor a directory holding report "
                                                "directories or tarballs)"))
                for c in found:
                    add(c)
    return out

