"""The wheel, and the light install: `pip install balloon-oom` in a plain venv (no system
site packages, no drgn, no compiler) reads sosreports and logs, and names the extra to
install for what it cannot read (a vmcore: [vmcore]; .tar.zst without zstd: [zstd])."""

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _wheel(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dest), str(REPO)], check=True, cwd=dest)
    (wheel,) = dest.glob("balloon_oom-*.whl")
    return wheel


def test_wheel_contents(tmp_path):
    wheel = _wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("balloon_oom/cli.py", "balloon_oom/schema.json",
                   "balloon_oom/sos_plugins/balloon.py", "balloon_oom/sos_plugins/__init__.py",
                   "balloon_drgn/virtio.py", "balloon_drgn/commands.py"):
        assert needed in names, needed
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    requires = sorted(line.split(":", 1)[1].strip() for line in text.splitlines()
                      if line.startswith("Requires-Dist:") and "extra ==" not in line)
    assert requires == ["tabulate"]          # never PyPI's unrelated "sos"; drgn is an extra
    extras = {line.split(":", 1)[1].replace(" ", "").replace('"', "'")
              for line in text.splitlines()
              if line.startswith("Requires-Dist:") and "extra ==" in line}
    assert "drgn;extra=='vmcore'" in extras and "drgn;extra=='test'" in extras
    assert "zstandard;extra=='zstd'" in extras
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    points = zipfile.ZipFile(wheel).read(entry).decode()
    assert "balloon-oom = balloon_oom.cli:main" in points
    assert "balloon = balloon_drgn.commands" in points


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory):
    """A fresh venv WITHOUT system site packages holding only the wheel and tabulate."""
    tmp = tmp_path_factory.mktemp("light")
    wheel = _wheel(tmp)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", str(wheel)], check=True, cwd=tmp,
                   env={**_clean_env(), "PIP_NO_INPUT": "1"})
    return venv


def _clean_env():
    """The environment without PYTHONPATH: the venv must use what it installed, not the
    checkout (the test run puts the checkout on PYTHONPATH)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _run(venv, *args, env=None, cwd=None):
    return subprocess.run([str(venv / "bin/balloon-oom"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **(env or {})})


def test_light_install_has_no_drgn_or_sos(light_venv):
    proc = subprocess.run([str(light_venv / "bin/python"), "-c",
                           "import importlib.util as u; print(u.find_spec('drgn'), "
                           "u.find_spec('sos'), u.find_spec('zstandard'))"],
                          capture_output=True, text=True, check=True, env=_clean_env())
    assert proc.stdout.split() == ["None", "None", "None"]


def test_light_install_reads_a_sample(light_venv, tmp_path):
    proc = _run(light_venv, "analyze", REPO / "samples/kvm-deflate-off", "--format", "json",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "contributed"
    assert doc["balloons"][0]["inflated_bytes"] == 268435456
    assert doc["summary"].startswith("The guest ran out of memory once.")
    proc = _run(light_venv, "analyze", REPO / "samples/kvm-deflate-off.tar.xz",
                "--format", "markdown", cwd=tmp_path)
    assert proc.returncode == 0 and "| balloon | 256.0 MiB | 50.0 % |" in proc.stdout
    # the installed copy finds its own packaged sos plugin
    proc = subprocess.run([str(light_venv / "bin/python"), "-c",
                           "from balloon_oom.sosrun import plugin_dir; print(plugin_dir())"],
                          cwd=tmp_path, capture_output=True, text=True, check=True,
                          env=_clean_env())
    assert proc.stdout.strip() == str(
        light_venv / f"lib/python{sys.version_info[0]}.{sys.version_info[1]}"
                     "/site-packages/balloon_oom/sos_plugins")


def test_light_install_names_the_vmcore_extra(light_venv, tmp_path):
    core = tmp_path / "vmcore"
    # an ELF64 little-endian ET_CORE header: detected as a vmcore without drgn
    core.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x04\x00" + b"\x00" * 46)
    proc = _run(light_venv, "analyze", core, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (f"balloon-oom: {core}: a vmcore; reading one needs drgn, which is "
                           "not installed: pip install 'balloon-oom[vmcore]'\n")


def test_light_install_names_the_zstd_extra_without_the_zstd_program(light_venv, tmp_path):
    tarball = tmp_path / "report.tar"
    with tarfile.open(tarball, "w") as tar:
        tar.add(REPO / "samples/xen", arcname="sosreport-xen")
    zst = tmp_path / "report.tar.zst"
    # zstd's frame magic; the analyzer looks at the magic, not the name
    zst.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 64)
    proc = _run(light_venv, "analyze", zst, cwd=tmp_path, env={"PATH": str(tmp_path / "none")})
    assert proc.returncode == 2
    assert "pip install 'balloon-oom[zstd]'" in proc.stderr and "zstd program" in proc.stderr
