"""Pure parsers: text in, typed object out; :class:`~balloon_oom.errors.ParseError` on bad input."""

from typing import Callable, List, Optional, TypeVar

from balloon_oom.errors import ParseError

T = TypeVar("T")


def parse_or_warn(found, parser: Callable[[str, str], T], warnings: List[str]) -> Optional[T]:
    """``parser(found.text, found.path)``; a missing file gives None, a ParseError a warning.

    ``found`` is a :class:`~balloon_oom.readers.files.FileText` or None.
    """
    if found is None:
        return None
    try:
        return parser(found.text, found.path)
    except ParseError as exc:
        warnings.append(str(exc))
        return None
