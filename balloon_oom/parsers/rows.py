"""Line helpers shared by the ``name: value`` parsers (debugfs files, /proc/xen/balloon).

>>> [(r.lineno, r.key, r.value) for r in colon_rows("a: 1\\r\\n\\nb :2 // note\\n", "f", comment="//")]
[(1, 'a', '1'), (3, 'b', '2')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

from balloon_oom.errors import ParseError


def numbered_lines(text: str) -> Iterator[Tuple[int, str]]:
    """``(line number, stripped line)`` of every non-blank line (CRLF tolerated)."""
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").strip()
        if line:
            yield lineno, line


@dataclass(frozen=True)
class Row:
    lineno: int
    key: str
    value: str
    #: The whole line as printed (for evidence).
    text: str


def colon_rows(text: str, path: str, comment: Optional[str] = None) -> Iterator[Row]:
    """``name: value`` rows; a line without ``:`` is a ParseError naming file and line.

    ``comment``: a marker after which the rest of a line is ignored (the
    Virtuozzo documentation annotates values with ``// …``).
    """
    for lineno, line in numbered_lines(text):
        body = line.split(comment, 1)[0].strip() if comment else line
        if not body:
            continue
        if ":" not in body:
            raise ParseError(path, lineno, f"not a 'name: value' row: {body!r}")
        name, _, value = body.partition(":")
        yield Row(lineno, name.strip(), value.strip(), line)
