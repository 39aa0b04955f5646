# SPDX-License-Identifier: GPL-2.0-or-later
"""The ``balloon`` sos plugin on current sos: Debian 13's 4.9.1 and trixie-backports' 4.12.1.

:mod:`tests.test_sos_plugin_runs` and :mod:`tests.test_sos_plugin_analyzer`
run Debian 12's sos 4.0.  Here the same tests run on each sos that
:mod:`tests.soslatest` fetches once (the ``sos`` ``.deb`` of each of
:data:`tests.soslatest.SUITES`, unpacked, run by ``/usr/bin/python3`` with
``PYTHONPATH``); every test below is parametrised by suite through the
``latest`` fixture (tests/conftest.py):

* the real ``sos report`` runs on every fake root, re-collected here with
  the ``sos_install`` fixture pointing at the current sos, then the analyzer
  on them;
* the analyzer gives the same balloons on the 4.0 and the current reports.

The plugin's class and ``setup()`` on current sos are tested in
:mod:`tests.test_sos_plugin_latest_setup`, the fetched sos itself in
:mod:`tests.test_soslatest`.  sos >= 4.7 ignores ``--sysroot`` (sos
1b2572fd); the runs set ``container=oci HOST=ROOT``.  Nothing of sos is mocked.

What differs from 4.0 (each difference has a test in one of these modules):

* ``--sysroot`` alone collects from ``/`` (sos 1b2572fd);
* under ``container=oci HOST=ROOT`` on a Debian host, sos 4.4-4.9 stop with
  "'DebianPolicy' object has no attribute '_tmp_dir'" (fixed in 4.10 by
  e4c50c25): ``sosrun.RUNNER`` supplies the attribute;
* under that env ``--tmp-dir`` is taken inside ``$HOST``
  (``sosreports.tmp_dir_for`` links it back);
* the ``files`` triggers are looked for in the sysroot, so ``-l`` shows
  ``balloon`` enabled only for a root that has a balloon;
* ``copy_strings`` entries are ``(content, "sos_strings/balloon/NAME", tags)``;
* plugin options are the class's PluginOpt objects, shared by instances;
* a dangling symbolic link is stored as a link (4.0 leaves it out);
* ``version.txt`` holds only ``sos report: 4.9.1``;
* 4.9.2 and later (so 4.12.1) write ``environment`` (the proxy variables) into
  every report, and 4.12 lists plugins with a wider name column.

The 4.0 run each comparison needs is made once for all suites (``sos40_runs``).
"""

from __future__ import annotations


from __future__ import annotations

import json
import os

import pytest

from balloon_oom import sosrun
from tests import sosroots
from tests import sosreports as base
# The real-sos tests of the sos 4.0 modules, collected again here: they take the
# ``sos_install`` fixture, which this module points at the current sos.
from tests.test_sos_plugin_analyzer import (  # noqa: F401
    test_analyzer_on_degraded_reports,
    test_analyzer_reads_the_report,
    test_journal_previous_boot_oom_reaches_the_analyzer,
    test_journal_since_and_all_logs_on_the_command_line,
    test_kdump_dmesg_reaches_the_analyzer,
    test_vmware_toolbox_balloon_size_reaches_the_analyzer,
)
from tests.test_sos_plugin_runs import (  # noqa: F401
    test_real_sos_collects_exact_files,
    test_vmmemctl_twice_option_on_the_command_line,
    test_vmware_toolbox_cmd_runs_inside_the_root,
)

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


@pytest.fixture
def sos_install(latest_install):
    """Overrides tests/conftest.py's fixture: the re-collected tests run 4.9.1."""
    return latest_install


#: What sos 4.9.1 puts in a report beyond 4.0: a dangling symbolic link is
#: stored as a link (4.0 logs "failed to stat" and leaves it out).
LATEST_EXTRA = {"unreadable": {"sys/devices/system/xen_memory/xen_memory0/target_kb"}}


@pytest.fixture
def expected_files(report_extra):
    """Overrides tests/conftest.py's fixture with this sos's extra files."""
    return {name: files | LATEST_EXTRA.get(name, set()) | report_extra
            for name, files in base.EXPECTED_FILES.items()}


#: Roots whose reports the analyzer reads: same answers on 4.0 and 4.9.1.
SAME_ON_BOTH = sorted(set(base.ANALYZER_BALLOONS) | {"debugfs-unmounted", "unreadable",
                                                     "journal-previous-boot-oom",
                                                     "kdump-previous-boot-oom"})


def _report_and_analysis(root, tmp, sos):
    rc, report, output = base.run_report(root, tmp, sos=sos)
    base.assert_clean_run(rc, report, output)
    proc = base.analyze(report)
    assert proc.returncode == 0, proc.stderr
    return report, json.loads(proc.stdout)


@pytest.fixture(scope="session")
def sos40_runs(tmp_path_factory):
    """name -> (root, report, analysis) of sos 4.0, made once for every suite."""
    runs = {}

    def run(name):
        if name not in runs:
            tmp = tmp_path_factory.mktemp(f"sos40-{name}")
            root = sosroots.build(name, str(tmp / "roots"))
            runs[name] = (root.path, *_report_and_analysis(root.path, str(tmp / "4.0"), None))
        return runs[name]
    return run


@pytest.mark.sos
@pytest.mark.parametrize("name", SAME_ON_BOTH)
def test_same_report_and_balloons_as_on_sos_40(name, tmp_path, latest_install, report_extra,
                                               sos40_runs):
    root, old_report, old = sos40_runs(name)  # the same root for both
    new_report, new = _report_and_analysis(root, str(tmp_path / "latest"), latest_install)
    with open(os.path.join(new_report, "version.txt")) as fobj:
        assert fobj.read() == f"sos report: {latest_install.version}"  # no newline, no plugin lines
    old_files, new_files = base.report_files(old_report), base.report_files(new_report)
    assert old_files - new_files == set()
    assert new_files - old_files == LATEST_EXTRA.get(name, set()) | report_extra
    assert new["balloons"] == old["balloons"]
    assert len(new["balloons"]) == len(base.ANALYZER_BALLOONS.get(name, new["balloons"]))
    # the whole analysis but where the report is and when it was made (date --utc)
    timed = ("at", "at_basis", "before_collection_seconds")  # each OOM's wall-clock time
    for doc in (old, new):
        for event in doc["oom_events"]:
            for key in timed:
                event.pop(key, None)
    differing = [key for key in old if old[key] != new.get(key)]
    # ... and what is dated from when it was made (the answer, the clock, the timeline)
    dated = {"collected_at", "summary", "clock", "timeline"}
    assert set(differing) - dated <= {"source"}, differing
    assert {k for k in old["clock"] if old["clock"][k] != new["clock"][k]} <= {
        "collected_at", "collected_basis", "booted_at"}
    # (the order may differ: how long sos ran before the plugin read proc/uptime moves the
    # derived times against the report's start time)
    assert sorted(e["kind"] for e in old["timeline"]) == sorted(e["kind"] for e in new["timeline"])


# ----------------------------------------------------------------- what 4.9.1 needs from us


@pytest.mark.sos
def test_sysroot_alone_is_ignored_on_latest(tmp_path, latest_install):
    """Without container=oci HOST=ROOT, 4.9.1 collects from / (sos 1b2572fd)."""
    root = sosroots.build("xen", str(tmp_path / "roots"))
    tmpdir = os.path.join(str(tmp_path), "sos-tmp")
    os.makedirs(tmpdir)
    env = {k: v for k, v in os.environ.items() if k not in ("container", "HOST")}
    with open(tmp_path / "out.txt", "w") as out:
        rc = sosrun.run_sos(["report", "--batch", "--build", "--quiet", "--no-report",
                             "-o", "balloon", "--sysroot", root.path, "--tmp-dir", tmpdir],
                            env=env, prefix=base._userns_prefix(), output=out, sos=latest_install)
    assert rc == 0, (tmp_path / "out.txt").read_text()
    (report,) = [os.path.join(tmpdir, n) for n in os.listdir(tmpdir) if n.startswith("sosreport-")]
    with open(os.path.join(report, "sos_reports/manifest.json")) as fobj:
        assert json.load(fobj)["components"]["report"]["sysroot"] == "/"
    # the fake Xen guest's balloon is not in it
    assert not os.path.exists(os.path.join(report, "sys/devices/system/xen_memory/xen_memory0"))

