"""The --html page: self-contained, and headless Chromium really draws the chart."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from balloon_oom.analysis import analyze
from balloon_oom.render import html
from tests.test_analysis import KVM, make_tree

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not KVM.is_dir(), reason="real captures not present")


def _hex(colour):
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def test_page_is_self_contained(tmp_path):
    page = html.render(analyze(str(make_tree(tmp_path / "r"))))
    assert "<script" not in page
    # the only URL is the SVG namespace: nothing is fetched when the page opens
    assert page.count("http") == page.count('xmlns="http://www.w3.org/2000/svg"') == 1
    assert '<div class="verdict contributed">contributed</div>' in page
    assert 'class="part-balloon"' in page and "<title>balloon: 256.0 MiB</title>" in page


def test_svg_bar_widths_are_proportional():
    svg = html.svg_bar({"balloon": 3, "anon": 1}, width=400)
    assert 'class="part-balloon" x="0.00" y="0" width="300.00"' in svg
    assert 'class="part-anon" x="300.00" y="0" width="100.00"' in svg


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (dev/setup.sh installs it)")
def test_chromium_renders_the_chart(tmp_path):
    from PIL import Image

    out = tmp_path / "report.html"
    rc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze",
                         str(make_tree(tmp_path / "r")), "--html", str(out)],
                        cwd=REPO, capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,900",
                    f"--screenshot={shot}", out.as_uri()],
                   capture_output=True, timeout=120, check=True)
    img = Image.open(shot).convert("RGB")
    counts = {colour: n for n, colour in img.getcolors(maxcolors=1 << 20)}
    balloon = counts.get(_hex(html.COLOURS["balloon"]), 0)
    anon = counts.get(_hex(html.COLOURS["anon"]), 0)
    # 720x36 bar, balloon 256 of 511.5 MiB (~50 %), anon 172 MiB (~34 %), plus legend swatches
    assert 720 * 36 * 0.45 < balloon < 720 * 36 * 0.55 + 500
    assert 720 * 36 * 0.30 < anon < 720 * 36 * 0.38 + 500
