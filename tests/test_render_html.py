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
    # the answer comes before everything else the page says
    assert page.index('id="answer"') < page.index("<h2>")
    assert page.index("The guest ran out of memory once.") < page.index("OOM #1:")
    assert 'class="part-balloon"' in page and "<title>balloon: 256.0 MiB (50.0 %)</title>" in page


def test_svg_bar_widths_are_proportional():
    svg = html.svg_bar({"balloon": 3, "anon": 1}, width=400)
    assert 'class="part-balloon" x="0.00" y="0" width="300.00"' in svg
    assert 'class="part-anon" x="300.00" y="0" width="100.00"' in svg
    # percentages on the parts wide enough to carry them
    assert '<text x="150.00" y="22" text-anchor="middle">75%</text>' in svg
    assert '<text x="350.00" y="22" text-anchor="middle">25%</text>' in svg


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (dev/setup.sh installs it)")
def test_chromium_renders_the_chart(tmp_path):
    from PIL import Image

    out = tmp_path / "report.html"
    rc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze",
                         str(make_tree(tmp_path / "r")), "--html", str(out)],
                        cwd=REPO, capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    shot = tmp_path / "shot.png"
    screenshot(out, shot, tmp_path / "profile")
    img = Image.open(shot).convert("RGB")
    counts = {colour: n for n, colour in img.getcolors(maxcolors=1 << 20)}
    balloon = counts.get(_hex(html.COLOURS["balloon"]), 0)
    anon = counts.get(_hex(html.COLOURS["anon"]), 0)
    # 720x36 bar, balloon 256 of 511.5 MiB (~50 %), anon 172 MiB (~34 %), less the white
    # percentage labels, plus legend swatches
    assert 720 * 36 * 0.45 < balloon < 720 * 36 * 0.55 + 500
    assert 720 * 36 * 0.30 < anon < 720 * 36 * 0.38 + 500


def test_page_units_yes_no_header_and_folded_detail(tmp_path):
    tree = make_tree(tmp_path / "r")
    (tree / "etc").mkdir()
    (tree / "etc/hostname").write_text("guest-42.example.com\n")
    page = html.render(analyze(str(tree)), generated="2026-11-29T10:00:00+00:00")
    assert "guest <b>guest-42.example.com</b>" in page
    assert "balloon-oom 0.1.0 &middot; page generated 2026-11-29T10:00:00+00:00" in page
    assert "True" not in page and "False" not in page
    assert "<td>virtio_balloon</td><td>virtio0</td><td class=num>256.0 MiB</td>" in page
    assert "<td>memtotal-reduced</td><td>no</td>" in page           # deflate-on-OOM
    assert "<td class=num>206,272 kB (201.4 MiB)</td>" in page        # MemTotal, with units
    assert "total 511.5 MiB" in page and "balloon 256.0 MiB (50.0 %)" in page
    plain = page.index("How the balloon's size is worked out.")
    fold = page.index("<details><summary>Kernel detail")
    assert plain < fold < page.index("pages reserved at the OOM 79374 - 13838 = 65536 pages")
    assert "<h2>Timeline</h2>" in page
    # this tree has no collection time or uptime: no wall clock, and the page says why
    assert "It happened 8.352 s after a boot (wall clock unknown: no collection time or uptime)" \
        in page


def test_html_dash_writes_the_page_to_stdout_and_a_file_says_so(tmp_path):
    tree = str(make_tree(tmp_path / "r"))
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", tree, "--html", "-"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("<!DOCTYPE html>") and "VERDICT:" not in proc.stdout
    out = tmp_path / "page.html"
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", tree, "--html",
                           str(out)], cwd=REPO, capture_output=True, text=True)
    assert proc.stdout.startswith("VERDICT: contributed")
    assert proc.stderr == f"wrote {out}\n" and out.read_text().startswith("<!DOCTYPE html>")


def screenshot(page: Path, shot: Path, profile: Path, size: str = "1200,2200") -> None:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={profile}", f"--window-size={size}",
                    f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
