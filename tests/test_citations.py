# SPDX-License-Identifier: GPL-2.0-or-later
"""One citation format for kernel commits, drgn's:
``Linux kernel commit 997e120843e8 ("subject") (in v4.3)``.

The code's comments, docstrings and evidence strings are read with their line
breaks, comment markers and string-literal joins removed, so a citation
wrapped over lines still counts as one.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for d in ("balloon_oom", "drgn_scripts", "sos_plugins", "tests/lab")
               for p in (ROOT / d).rglob("*.py"))

_JOIN = re.compile(r'"\s*\n\s*(?:f|rf|r)?"|\s*\n\s*(?:#+|\*|//)?\s*')
CITED = re.compile(r'Linux kernel commit [0-9a-f]{12}(?: \("[^"]+"\) \(in v\d+(?:\.\d+)+(?:-rc\d+)?\)|'
                   r' \("[^"]+"\) to v\d)')


def _flat(text: str) -> str:
    return re.sub(r" {2,}", " ", _JOIN.sub(" ", text.replace('\\"', '"')))


def test_the_files_are_found():
    assert len(FILES) > 100


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_kernel_commits_are_cited_in_drgn_format(path):
    flat = _flat(path.read_text(encoding="utf-8"))
    assert "Linux commit" not in flat, "say 'Linux kernel commit'"
    for m in re.finditer(r"Linux kernel commit (?=[0-9a-f]{7})", flat):
        assert CITED.match(flat, m.start()), flat[m.start():m.start() + 160]


def test_the_format_check_can_fail():
    assert not CITED.match(_flat("Linux kernel commit 997e120843e8 (v4.3)"))
    assert not CITED.match(_flat('Linux kernel commit 997e1208 ("x") (in v4.3)'))
    assert CITED.search(_flat('# Linux kernel commit 997e120843e8 ("virtio_balloon:\n# do not") (in v4.3)'))
    assert CITED.search(_flat('x = ("Linux kernel commit 8bc719d3cab8 (\\"[PATCH] out of "\n     "memory notifier\\") (in v2.6.18)")'))
