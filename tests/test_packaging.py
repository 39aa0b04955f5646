"""`pip install .` into a clean venv gives a working `balloon-oom` (and the plugin, helpers)."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_contents(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("balloon_oom-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("balloon_oom/cli.py", "balloon_oom/schema.json",
                   "balloon_oom/sos_plugins/balloon.py", "balloon_oom/sos_plugins/__init__.py",
                   "balloon_drgn/virtio.py", "balloon_drgn/commands.py"):
        assert needed in names, needed
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    requires = sorted(line.split(":", 1)[1].strip() for line in text.splitlines()
                      if line.startswith("Requires-Dist:") and "extra ==" not in line)
    assert requires == ["drgn", "tabulate"]          # never PyPI's unrelated "sos"
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    points = zipfile.ZipFile(wheel).read(entry).decode()
    assert "balloon-oom = balloon_oom.cli:main" in points
    assert "balloon = balloon_drgn.commands" in points


def test_clean_venv_install_runs_on_a_sample(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check", str(REPO)]
    subprocess.run(pip, check=True, cwd=tmp_path, env={**os.environ, "PIP_NO_INPUT": "1"})
    proc = subprocess.run([str(venv / "bin/balloon-oom"), "analyze",
                           str(REPO / "samples/kvm-deflate-off"), "--format", "json"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "contributed"
    assert doc["balloons"][0]["inflated_bytes"] == 268435456
    # the installed copy finds its own packaged sos plugin
    proc = subprocess.run([str(venv / "bin/python"), "-c",
                           "from balloon_oom.sosrun import plugin_dir; print(plugin_dir())"],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == str(
        venv / f"lib/python{sys.version_info[0]}.{sys.version_info[1]}"
               "/site-packages/balloon_oom/sos_plugins")
