# SPDX-License-Identifier: GPL-2.0-or-later
"""The current sos that :mod:`tests.soslatest` fetches once per suite (Debian's ``.deb``).

Every test is parametrised by suite through the ``latest`` fixture
(tests/conftest.py): the unpacked sos is the one asked for, its cache needs no
network, a damaged cache is fetched again, and errors name their cause.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from balloon_oom import sosrun
from tests import soslatest, sosroots

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


@pytest.mark.sos
def test_environment_file_from_4_9_2_on(latest, report_extra):
    """4.9.1 writes no ``environment``; 4.12.1 does (sos 567a5549)."""
    assert (report_extra == {"environment"}) == (_version_tuple(latest.version) >= (4, 9, 2))


def _version_tuple(version):
    return tuple(int(p) for p in version.split(".")[:3] if p.isdigit())


# ----------------------------------------------------------------- the fetched sos


@pytest.mark.sos
def test_fetched_sos_is_a_current_sos(latest):
    assert _version_tuple(latest.version) >= (4, 9)
    # what /usr/bin/python3 imports with that PYTHONPATH, asked independently
    out = subprocess.check_output(
        [soslatest.INTERPRETER, "-c", "import sos; print(sos.__version__, sos.__file__)"],
        env=dict(os.environ, PYTHONPATH=latest.pythonpath), universal_newlines=True, cwd="/")
    version, path = out.split()
    assert version == latest.version
    assert path == os.path.join(latest.pythonpath, "sos", "__init__.py")
    assert os.path.basename(latest.deb).startswith(f"sos_{latest.version}-")
    assert latest.deb.endswith("_all.deb") and os.path.isfile(latest.deb)
    with open(os.path.join(soslatest.cache_dir(latest.suite), "ready.json")) as fobj:
        ready = json.load(fobj)
    assert (ready["version"], ready["suite"]) == (latest.version, latest.suite)


def _copy_cache(latest, dst):
    """A copy of the fetched cache (``root`` tree, .deb, ready.json)."""
    src = str(soslatest.cache_dir(latest.suite))
    shutil.copytree(os.path.join(src, "root"), os.path.join(dst, "root"), symlinks=True)
    for name in ("ready.json", os.path.basename(latest.deb)):
        shutil.copy(os.path.join(src, name), os.path.join(dst, name))


@pytest.mark.sos
def test_cached_sos_needs_no_network(latest, tmp_path):
    cache = tmp_path / "cache"
    _copy_cache(latest, str(cache))
    found = soslatest.sos_latest(cache, mirror="http://127.0.0.1:9/debian", suite=latest.suite)
    assert found.version == latest.version
    assert found.pythonpath == str(cache / "root" / soslatest.DIST_PACKAGES)


@pytest.mark.sos
def test_damaged_cache_is_fetched_again(latest, tmp_path):
    """A ready.json that does not match the unpacked sos is not trusted."""
    cache = tmp_path / "cache"
    _copy_cache(latest, str(cache))
    (cache / "ready.json").write_text(json.dumps({"version": "4.0", "deb": "x.deb"}))
    with pytest.raises(soslatest.SosLatestUnavailable, match="127.0.0.1:9"):
        soslatest.sos_latest(cache, mirror="http://127.0.0.1:9/debian", suite=latest.suite)
    assert not (cache / "ready.json").exists()


@pytest.mark.skipif(not os.path.exists("/usr/bin/apt-get"), reason="needs apt-get")
def test_unreachable_mirror_is_a_clear_error(tmp_path):
    with pytest.raises(soslatest.SosLatestUnavailable) as info:
        soslatest.sos_latest(tmp_path, mirror="http://127.0.0.1:9/debian")
    message = str(info.value)
    assert message.startswith("apt-get update from http://127.0.0.1:9/debian trixie failed")
    assert "127.0.0.1" in message.split("failed", 1)[1]
    # nothing half-made is left as if it were ready
    assert sorted(os.listdir(tmp_path)) == ["fetch.lock"]


@pytest.mark.sos
def test_missing_dependency_names_the_debian_packages(latest, tmp_path):
    """A Python without sos's dependencies (a bare venv) gets the apt-get line."""
    venv = tmp_path / "bare"
    subprocess.run([soslatest.INTERPRETER, "-m", "venv", "--without-pip", str(venv)], check=True)
    with pytest.raises(soslatest.SosLatestUnavailable) as info:
        soslatest.probe_version(latest.pythonpath, str(venv / "bin" / "python"))
    assert "apt-get install -y python3-magic python3-packaging python3-pexpect python3-yaml" \
        in str(info.value)


@pytest.mark.sos
def test_find_sos_with_pythonpath(latest, latest_install):
    assert latest_install.version == latest.version
    assert latest_install.pythonpath == latest.pythonpath
    assert sosrun.sos_plugins_dir(latest_install) == os.path.join(
        latest.pythonpath, "sos", "report", "plugins")
    # without it, the same interpreter still runs Debian 12's own sos
    assert _version_tuple(sosrun.find_sos().version) < (4, 9)
