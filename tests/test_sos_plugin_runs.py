# SPDX-License-Identifier: GPL-2.0-or-later
"""The real ``sos report`` (Debian's 4.0) on every fake root: the exact files it collects.

:mod:`tests.test_sos_plugin_latest` collects these tests again on current sos.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from balloon_oom import sosrun
from tests import sosroots
from tests.sosreports import (DEBUGFS_STATE, EXPECTED_FILES, SOS_OWN, assert_clean_run,
                              report_files, run_report)

pytest.importorskip("sos", reason="needs Debian's sos (apt-get install sosreport)")

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


def test_every_root_has_expected_files():
    assert sorted(EXPECTED_FILES) == sorted(sosroots.names())


@pytest.mark.sos
@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_real_sos_collects_exact_files(name, tmp_path, sos_install, expected_files):
    if sosroots.unavailable(name):
        pytest.skip(sosroots.unavailable(name))
    root = sosroots.build(name, str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    assert report_files(report) == SOS_OWN | expected_files[name]
    with open(os.path.join(report, "sos_strings/balloon/debugfs.txt")) as fobj:
        assert fobj.readline() == DEBUGFS_STATE.get(name, "mounted") + "\n"
    # the guest's files, not the host's
    for rel in expected_files[name]:
        if rel.startswith("sos_") or rel == "environment":  # sos's own (4.9.2+: environment)
            continue
        src = os.path.join(root.path, rel)
        dst = os.path.join(report, rel)
        if os.path.islink(src):
            assert os.readlink(dst) == os.readlink(src)
        elif not sosroots.is_mode_000(src):
            with open(src, "rb") as a, open(dst, "rb") as b:
                assert a.read() == b.read(), rel
    with open(os.path.join(report, "sos_reports/manifest.json")) as fobj:
        manifest = json.load(fobj)
    plugin = manifest["components"]["report"]["plugins"]["balloon"]
    assert [c["exec"] for c in plugin["commands"]][:2] == ["dmesg", "date --utc"]



@pytest.mark.sos
def test_vmware_toolbox_cmd_runs_inside_the_root(tmp_path, sos_install):
    root = sosroots.build("vmware-tools", str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    with open(os.path.join(report, "sos_commands/balloon/vmware-toolbox-cmd_stat_balloon")) as f:
        assert f.read() == "512 MB\n"



@pytest.mark.sos
def test_vmmemctl_twice_option_on_the_command_line(tmp_path, sos_install):
    root = sosroots.build("vmware-new", str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), ["-k", "balloon.vmmemctl-twice=on"],
                                    sos=sos_install)
    assert_clean_run(rc, report, output)
    with open(os.path.join(report, "sos_strings/balloon/vmmemctl.first")) as a, \
            open(os.path.join(report, "sys/kernel/debug/vmmemctl")) as b:
        assert a.read() == b.read() == sosroots.vmmemctl_new(131072, 131072)


@pytest.mark.sos
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to nobody")
def test_unprivileged_user_namespace_run():
    """As nobody under unshare -r: a root-owned mode-000 balloon file is really unreadable.

    nobody gets a copy of the plugin: the checkout may sit in a directory
    only root can enter (a clone under ``mktemp -d`` or ``~root``).
    """
    import tempfile
    base = tempfile.mkdtemp(prefix="balloon-sos-nobody-")  # pytest's tmp is 0700 root
    try:
        os.chmod(base, 0o755)
        plugins = os.path.join(base, "plugins")
        os.makedirs(plugins)
        shutil.copy(os.path.join(sosrun.plugin_dir(), sosrun.PLUGIN_FILE), plugins)
        os.chmod(os.path.join(plugins, sosrun.PLUGIN_FILE), 0o644)
        root = sosroots.build("unreadable", os.path.join(base, "roots"))
        work = os.path.join(base, "work")
        os.makedirs(os.path.join(work, "sos-tmp"))
        for path in (work, os.path.join(work, "sos-tmp")):
            shutil.chown(path, "nobody", "nogroup")
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                     "unshare", "-r"]
        rc, report, output = run_report(root.path, work, prefix=as_nobody, plugins=plugins)
        assert_clean_run(rc, report, output)
        assert report_files(report) == SOS_OWN | EXPECTED_FILES["unreadable"]
        assert os.stat(report).st_uid == pwd_uid("nobody")
        # sos stores a mode-000 file as an empty file (it never opens it)
        assert os.path.getsize(os.path.join(report, "proc/vmmemctl")) == 0
    finally:
        shutil.rmtree(base)


def pwd_uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid

