"""The project's own exceptions: the only ones a user should ever see."""

from __future__ import annotations

from typing import Optional


class BalloonOomError(Exception):
    """Base class: printed as one line by the CLI (no traceback)."""


class ParseError(BalloonOomError):
    """Input text that a parser cannot make sense of.

    >>> str(ParseError("sys/kernel/debug/vmmemctl", 3, "target is not a number"))
    'sys/kernel/debug/vmmemctl:3: target is not a number'
    """

    #: A message quoting a refused line is cut here (a line can be megabytes).
    MAX_MESSAGE = 300

    def __init__(self, path: str, line: Optional[int], message: str) -> None:
        if len(message) > self.MAX_MESSAGE:
            message = message[:self.MAX_MESSAGE] + "…"
        self.path = path
        self.line = line
        self.message = message
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}")


class InputError(BalloonOomError):
    """A path the user gave that cannot be analysed (missing, not a report, ...)."""


class DebuginfoError(BalloonOomError):
    """A vmcore whose debugging information is missing or does not match."""
