# SPDX-License-Identifier: GPL-2.0-or-later
"""The Markdown, rendered as a ticket system would (CommonMark + GFM tables, markdown-it-py)
and drawn by headless Chromium: the tables are tables and the settings survive as code."""

import re
import subprocess
import sys

import pytest

from tests.test_render_html import CHROMIUM, screenshot
from tests.test_samples import REPO, SAMPLES


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (dev/setup.sh installs it)")
def test_markdown_renders_in_a_browser(tmp_path):
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py (the test extra)")
    from PIL import Image

    md = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze",
                         str(SAMPLES / "kvm-deflate-off"), "--format", "markdown"],
                        cwd=REPO, capture_output=True, text=True, check=True).stdout
    body = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    # events, memory picture, timeline, balloons: four real tables
    assert body.count("<table>") == 4
    # the libvirt setting is shown as code, not swallowed as an HTML tag
    assert "<code>&lt;memballoon model='virtio' autodeflate='on'/&gt;</code>" in body
    assert re.search(r"<td>balloon</td>\s*<td style=\"text-align:right\">256.0 MiB</td>\s*"
                     r"<td style=\"text-align:right\">50.0 %</td>", body)
    page = tmp_path / "ticket.html"
    page.write_text('<!DOCTYPE html><meta charset="utf-8"><style>body{font-family:sans-serif;'
                    "max-width:70em;margin:1em auto}table{border-collapse:collapse}"
                    "td,th{border:1px solid #999;padding:2px 6px}</style>" + body)
    shot = tmp_path / "markdown.png"
    screenshot(page, shot, tmp_path / "profile", "1200,1800")
    img = Image.open(shot).convert("RGB")
    # table borders (#999) are drawn: many grey pixels, not an empty or unstyled page
    grey = dict((c, n) for n, c in img.getcolors(maxcolors=1 << 20)).get((0x99, 0x99, 0x99), 0)
    assert grey > 2000
