"""The small files of one report, by report-relative path.

Every source (sosreport directory or tarball, live guest, lab tree) fills a
:class:`ReportFiles`; parsers and the model builder only ever see this.
Symbolic links are kept as links (sos stores ``sys/bus/virtio/drivers/
virtio_balloon/virtio0`` as a link to ``sys/devices/.../virtio0``) and are
resolved here, inside the report only.

>>> files = ReportFiles()
>>> files.add("sys/devices/pci0000:00/0000:00:03.0/virtio0/features", "0110\\n")
>>> files.add_link("sys/bus/virtio/drivers/virtio_balloon/virtio0",
...                "../../../../devices/pci0000:00/0000:00:03.0/virtio0")
>>> [f.path for f in files.glob("sys/bus/virtio/drivers/virtio_balloon/virtio*/features")]
['sys/bus/virtio/drivers/virtio_balloon/virtio0/features']
>>> files.glob("sys/bus/virtio/drivers/virtio_balloon/virtio*/features")[0].real_path
'sys/devices/pci0000:00/0000:00:03.0/virtio0/features'
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional


@dataclass(frozen=True)
class FileText:
    """A file's text. ``path`` is how it was asked for, ``real_path`` where it is."""

    path: str
    text: str
    real_path: str = ""

    def __post_init__(self) -> None:
        if not self.real_path:
            object.__setattr__(self, "real_path", self.path)

    def lines(self) -> List[str]:
        return self.text.splitlines()


def normalize(path: str) -> Optional[str]:
    """Report-relative, normalised path; ``None`` if it escapes the report.

    >>> normalize("./proc//meminfo")
    'proc/meminfo'
    >>> normalize("sys/../../etc/shadow") is None
    True
    """
    path = path.replace("\\", "/").lstrip("/")
    parts: List[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts) if parts else None


class ReportFiles:
    """Files and links of a report; lookups resolve links within the report."""

    _MAX_LINK_DEPTH = 8

    def __init__(self) -> None:
        self._files: Dict[str, str] = {}
        self._links: Dict[str, str] = {}

    def add(self, path: str, text: str) -> None:
        norm = normalize(path)
        if norm is not None:
            self._files[norm] = text

    def add_link(self, path: str, target: str) -> None:
        """Record a symlink; the target is relative to the link's directory
        (or absolute, meaning the report root). Targets outside are dropped."""
        norm = normalize(path)
        if norm is None:
            return
        if target.startswith("/"):
            resolved = normalize(target)
        else:
            # normalize() refuses to climb above the root: a link pointing
            # outside the report resolves to None and is dropped.
            resolved = normalize(posixpath.join(posixpath.dirname(norm), target))
        if resolved is not None:
            self._links[norm] = resolved

    @property
    def links(self) -> Dict[str, str]:
        return dict(self._links)

    def paths(self) -> List[str]:
        return sorted(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def _resolve(self, path: str) -> Optional[str]:
        """Follow links in any component of ``path``; None if it loops or escapes."""
        for _ in range(self._MAX_LINK_DEPTH):
            if path in self._files:
                return path
            parts = path.split("/")
            for i in range(len(parts), 0, -1):
                prefix = "/".join(parts[:i])
                if prefix in self._links:
                    rest = parts[i:]
                    path = "/".join([self._links[prefix]] + rest)
                    break
            else:
                return None
        return None

    def get(self, path: str) -> Optional[FileText]:
        norm = normalize(path)
        if norm is None:
            return None
        real = self._resolve(norm)
        if real is None:
            return None
        return FileText(norm, self._files[real], real)

    def text(self, path: str) -> Optional[str]:
        found = self.get(path)
        return found.text if found else None

    def _visible_paths(self) -> Iterator[str]:
        """Real paths plus the paths under every link (one alias per link level)."""
        seen = set(self._files)
        yield from self._files
        frontier = list(self._files)
        for _ in range(self._MAX_LINK_DEPTH):
            new: List[str] = []
            for link, target in self._links.items():
                prefix = target + "/"
                for path in frontier:
                    if path.startswith(prefix):
                        alias = link + "/" + path[len(prefix):]
                        if alias not in seen:
                            seen.add(alias)
                            new.append(alias)
            if not new:
                break
            yield from new
            frontier = new

    def glob(self, pattern: str) -> List[FileText]:
        """Files whose path (or path through a link) matches ``pattern``, sorted."""
        pattern = pattern.lstrip("/")
        out = []
        for path in sorted(set(self._visible_paths())):
            if fnmatch.fnmatchcase(path, pattern):
                found = self.get(path)
                if found is not None:
                    out.append(found)
        return out

    def link_names(self, pattern: str) -> List[str]:
        """Link paths matching ``pattern`` (e.g. the ``virtio*`` entries of a driver)."""
        pattern = pattern.lstrip("/")
        return sorted(p for p in self._links if fnmatch.fnmatchcase(p, pattern))

