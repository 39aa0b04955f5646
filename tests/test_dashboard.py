# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet ``--html DIR``: index.html (verdict counts, balloon chart, one row per report linked
to its page) and one page per report; drawn by headless Chromium."""

import re
import subprocess
import sys

import pytest

from balloon_oom.render import dashboard
from tests.test_render_html import CHROMIUM, _hex, screenshot
from tests.test_samples import REPO, SAMPLES


def _run(tmp_path, *paths):
    out = tmp_path / "dash"
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", *map(str, paths),
                           "--html", str(out), "--jobs", "1"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_index_and_pages(tmp_path):
    bad = tmp_path / "broken.tar.xz"
    bad.write_bytes(b"not xz")
    out, proc = _run(tmp_path, SAMPLES / "kvm-deflate-off", SAMPLES / "kvm-deflate-on",
                     SAMPLES / "xen", bad)
    assert proc.stderr.splitlines()[-1] == (
        f"wrote {out}/index.html (4 reports: 1 contributed, 1 no-log, 1 not-contributed, "
        "1 error; one page per report beside it)")
    assert sorted(p.name for p in out.iterdir()) == [
        "001-kvm-deflate-off.html", "002-kvm-deflate-on.html", "003-xen.html", "index.html"]
    index = (out / "index.html").read_text()
    links = re.findall(r'<a href="([^"]+)">', index)
    assert links == ["001-kvm-deflate-off.html", "002-kvm-deflate-on.html", "003-xen.html"]
    for link in links:   # each row's page is that report's own page
        assert (out / link).read_text().startswith("<!DOCTYPE html>")
    assert "samples/kvm-deflate-off</code>" in (out / links[0]).read_text()
    assert ('<td><span class="swatch" style="background:#2ca02c"></span>not-contributed</td>'
            "<td class=num>1</td><td class=num>25 %</td>") in index
    assert '<rect class="balloon-contributed" x="260" y="2" width="370.00"' in index
    assert "<title>" + str(SAMPLES / "kvm-deflate-on") + ": 8.9 MiB (not-contributed)" in index
    assert "broken.tar.xz" in index and "<td>error</td>" in index
    # the table output is unchanged
    assert "Largest balloons at OOM" in proc.stdout


def test_html_dash_is_refused_in_fleet_mode(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", str(SAMPLES / "xen"),
                           str(SAMPLES / "hyperv"), "--html", "-"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "give a directory" in proc.stderr


def test_page_name_is_stable_and_safe():
    assert dashboard.page_name(12, "/x/sos report: 1/") == "012-sos_report_1.html"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (dev/setup.sh installs it)")
def test_chromium_draws_the_dashboard(tmp_path):
    from PIL import Image

    out, _ = _run(tmp_path, SAMPLES / "kvm-deflate-off", SAMPLES / "kvm-deflate-on",
                  SAMPLES / "xen", SAMPLES / "vmware-new")
    shot = tmp_path / "dashboard.png"
    screenshot(out / "index.html", shot, tmp_path / "profile", "1200,1000")
    img = Image.open(shot).convert("RGB")
    counts = {colour: n for n, colour in img.getcolors(maxcolors=1 << 20)}
    red = counts.get(_hex(dashboard.VERDICT_COLOURS["contributed"]), 0)
    green = counts.get(_hex(dashboard.VERDICT_COLOURS["not-contributed"]), 0)
    # verdict bar 600x28: 1 of 4 reports each (150x28 = 4200 px); balloon chart: the
    # 256 MiB bar is 370x18 (6660 px), the 8.9 MiB one 12.9x18; plus the small swatches
    assert 4200 + 6660 - 300 < red < 4200 + 6660 + 400
    assert 4200 + 200 < green < 4200 + 18 * 14 + 400
    # the report's own page, linked from its row, draws too
    page_shot = tmp_path / "page.png"
    screenshot(out / "001-kvm-deflate-off.html", page_shot, tmp_path / "profile")
    assert Image.open(page_shot).size == (1200, 2200)
