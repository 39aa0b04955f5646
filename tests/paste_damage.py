# SPDX-License-Identifier: GPL-2.0-or-later
"""Damage a real log the way pastes are damaged (for the parser tests).

Each function takes the log's text and returns the damaged text: what a
mail client, a forum editor or a quoted-printable encoder makes of it.
"""

import quopri
import re
import textwrap


def indent(text: str, spaces: int) -> str:
    """Every line indented (a code block in mail, 2 or 5 spaces in real copies)."""
    return "".join(" " * spaces + ln for ln in text.splitlines(True))


def quote(text: str, depth: int = 1) -> str:
    """``> `` mail quoting, nested ``depth`` times."""
    return "".join("> " * depth + ln for ln in text.splitlines(True))


def wrap(text: str, width: int) -> str:
    """A mail client's hard wrap at ``width`` columns: long lines are broken
    at spaces, the rest goes on new lines with no prefix."""
    out = []
    for ln in text.splitlines():
        if len(ln) <= width:
            out.append(ln)
            continue
        out.extend(textwrap.wrap(ln, width, break_long_words=False, break_on_hyphens=False,
                                 drop_whitespace=True, replace_whitespace=False,
                                 expand_tabs=False) or [ln])
    return "\n".join(out) + "\n"


def qp(text: str) -> str:
    """Quoted-printable as a mail archive stores it undecoded (soft breaks at
    76 columns, ``=`` as ``=3D``, trailing spaces as ``=20``)."""
    return quopri.encodestring(text.encode("utf-8")).decode("ascii")


_PREFIX = re.compile(r"^(?:<\d>)?\[\s*\d+\.\d+\] ?|^\[[^\]]*\d\d:\d\d:\d\d[^\]]*\] ?"
                     r"|^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ kernel: ?", re.M)


def no_prefix(text: str) -> str:
    """The kernel lines without their stamps (``dmesg -t``, a trimmed paste):
    every line is then unprefixed, so nothing may be joined that should not."""
    return _PREFIX.sub("", text)


DAMAGES = {
    "no_prefix": no_prefix,
    "indent2": lambda t: indent(t, 2),
    "indent5": lambda t: indent(t, 5),
    "quote": quote,
    "quote2": lambda t: quote(t, 2),
    "wrap72": lambda t: wrap(t, 72),
    "wrap76": lambda t: wrap(t, 76),
    "wrap80": lambda t: wrap(t, 80),
    "qp": qp,
    "quote+wrap76": lambda t: quote(wrap(t, 74)),
}
