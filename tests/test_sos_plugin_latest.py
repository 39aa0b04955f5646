"""The ``balloon`` sos plugin on current sos: Debian 13's 4.9.1 and trixie-backports' 4.12.1.

:mod:`tests.test_sos_plugin` runs Debian 12's sos 4.0.  Here the same tests
run on each sos that :mod:`tests.soslatest` fetches once (the ``sos``
``.deb`` of each of :data:`tests.soslatest.SUITES`, unpacked, run by
``/usr/bin/python3`` with ``PYTHONPATH``); every test below is
parametrised by suite through the ``latest`` fixture:

* its unit tests (conformance, ``setup()`` on sos's Plugin machinery with the
  exact copy specs, ...) in a child pytest that imports 4.9.1 (one process
  cannot hold two ``sos`` packages), plus the checks of upstream's
  ``tests/unittests/conformance_tests.py`` made the way upstream makes them;
* its real ``sos report`` runs on every fake root, re-collected here with
  the ``sos_install`` fixture pointing at 4.9.1, then the analyzer on them;
* the analyzer gives the same balloons on the 4.0 and 4.9.1 reports;
* ``sos report -l`` lists ``balloon`` as enabled exactly when a trigger
  file exists in the fake root.

sos >= 4.7 ignores ``--sysroot``; the runs set ``container=oci HOST=ROOT``
(sos-facts §3).  Nothing of sos is mocked.

What differs from 4.0 (each difference has a test here):

* ``--sysroot`` alone collects from ``/`` (sos 1b2572fd);
* under ``container=oci HOST=ROOT`` on a Debian host, sos 4.4-4.9 stop with
  "'DebianPolicy' object has no attribute '_tmp_dir'" (fixed in 4.10 by
  e4c50c25): ``sosrun.RUNNER`` supplies the attribute;
* under that env ``--tmp-dir`` is taken inside ``$HOST``
  (``test_sos_plugin.tmp_dir_for`` links it back);
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

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from balloon_oom import sosrun
from tests import soslatest, sosroots
from tests import test_sos_plugin as base
# The real-sos tests of test_sos_plugin, collected again here: they take the
# ``sos_install`` fixture, which this module points at sos 4.9.1.
from tests.test_sos_plugin import (  # noqa: F401
    test_analyzer_on_degraded_reports,
    test_analyzer_reads_the_report,
    test_journal_previous_boot_oom_reaches_the_analyzer,
    test_journal_since_and_all_logs_on_the_command_line,
    test_kdump_dmesg_reaches_the_analyzer,
    test_real_sos_collects_exact_files,
    test_vmmemctl_twice_option_on_the_command_line,
    test_vmware_toolbox_balloon_size_reaches_the_analyzer,
    test_vmware_toolbox_cmd_runs_inside_the_root,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


@pytest.fixture(scope="session", params=soslatest.SUITES)
def latest(request):
    """Each suite's sos, fetched on first use (skip, with the reason, if it cannot be)."""
    try:
        return soslatest.sos_latest(suite=request.param)
    except soslatest.SosLatestUnavailable as exc:
        pytest.skip(f"no current sos to test on: {exc}")


@pytest.fixture(scope="session")
def latest_install(latest):
    return sosrun.find_sos(latest.pythonpath)


@pytest.fixture
def sos_install(latest_install):
    """Overrides test_sos_plugin's fixture: the re-collected tests run 4.9.1."""
    return latest_install


#: What sos 4.9.1 puts in a report beyond 4.0: a dangling symbolic link is
#: stored as a link (4.0 logs "failed to stat" and leaves it out).
LATEST_EXTRA = {"unreadable": {"sys/devices/system/xen_memory/xen_memory0/target_kb"}}


#: Asks whether the sos in PYTHONPATH writes ``environment`` into every report: the
#: proxy variables sos collects by default (sos 567a5549, in 4.9.2 and 4.10), a file
#: written even when none is set.
_HAS_ENV_FILE = "import sos.report; print(hasattr(sos.report, 'default_env_vars'))"


@pytest.fixture(scope="session")
def report_extra(latest):
    """Files this sos adds to every report: ``{"environment"}`` or nothing."""
    out = subprocess.check_output([soslatest.INTERPRETER, "-c", _HAS_ENV_FILE],
                                  env=dict(os.environ, PYTHONPATH=latest.pythonpath),
                                  universal_newlines=True, cwd="/").strip()
    return {"environment"} if out == "True" else set()


@pytest.fixture
def expected_files(report_extra):
    """Overrides test_sos_plugin's fixture with this sos's extra files."""
    return {name: files | LATEST_EXTRA.get(name, set()) | report_extra
            for name, files in base.EXPECTED_FILES.items()}


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


# ----------------------------------------------------------------- unit tests on 4.9.1

#: test_sos_plugin's tests of the plugin class and of setup() on sos's
#: machinery (no sos run): all of them are re-run on 4.9.1.
UNIT_TESTS = (
    "test_conformance_attribute_types",
    "test_conformance_options",
    "test_tags_and_triggers",
    "test_module_imports_only_sos_and_stdlib",
    "test_setup_copy_specs_and_commands",
    "test_setup_journal_kernel_messages",
    "test_setup_journal_volatile_directory",
    "test_setup_journal_since_and_all_logs",
    "test_setup_without_journal_files_runs_no_journalctl",
    "test_setup_debugfs_not_mounted",
    "test_setup_debugfs_absent_counts_as_not_mounted",
    "test_vmware_toolbox_cmd_only_when_present",
    "test_vmmemctl_twice_keeps_the_first_read",
    "test_special_files_are_forbidden_and_never_opened",
)

#: Runs pytest in a child that has imported the sos of PYTHONPATH first.
_CHILD_PYTEST = """\
import sys, sos, pytest
if not sos.__file__.startswith(sys.argv[1]):
    sys.exit("imported the wrong sos: " + sos.__file__)
print("child sos", sos.__version__)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "--junitxml", sys.argv[2]] + sys.argv[3:]))
"""


def test_unit_test_list_is_complete():
    """Every test_sos_plugin test that builds the plugin without running sos is listed."""
    found = []
    for name, func in vars(base).items():
        if not name.startswith("test_") or not callable(func):
            continue
        marks = [m.name for m in getattr(func, "pytestmark", [])]
        source = inspect.getsource(func)
        uses_plugin = any(word in source for word in ("_plugin(", "Balloon", "balloon_module",
                                                      "OWN_OPTIONS"))
        if "sos" not in marks and uses_plugin:
            found.append(name)
    assert sorted(found) == sorted(UNIT_TESTS)


@pytest.fixture(scope="module")
def unit_results(latest, tmp_path_factory):
    junit = tmp_path_factory.mktemp("unit-on-latest") / "junit.xml"
    nodes = [f"tests/test_sos_plugin.py::{name}" for name in UNIT_TESTS]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [latest.pythonpath] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    proc = subprocess.run([sys.executable, "-c", _CHILD_PYTEST, latest.pythonpath, str(junit),
                           *nodes], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert f"child sos {latest.version}" in proc.stdout, proc.stdout
    results = {}
    for case in ET.parse(str(junit)).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                outcome_text = (child.get("message") or "") + "\n" + (child.text or "")
                break
        else:
            outcome_text = ""
        results[case.get("name")] = (outcome, outcome_text)
    return results, proc.stdout


@pytest.mark.sos
@pytest.mark.parametrize("name", UNIT_TESTS)
def test_unit_test_passes_on_latest(name, unit_results):
    results, output = unit_results
    assert name in results, output
    outcome, text = results[name]
    assert outcome == "passed", text


#: Run by our Python (Debian's python3 in a venv) with PYTHONPATH = the current sos;
#: prints JSON.
#: The conformance part makes upstream's conformance_tests.py checks the way
#: it finds plugins (ImporterHelper + import_plugin).
_PROBE = """\
import json, sys
import sos
import sos.report.plugins
from tests import sosroots, test_sos_plugin as base
from sos.report.plugins import PluginOpt, import_plugin
from sos.utilities import ImporterHelper

out = {"version": sos.__version__}
out["modules"] = sorted(m for m in ImporterHelper(sos.report.plugins).get_modules()
                        if m == "balloon")
classes = import_plugin("balloon")
out["classes"] = [c.__name__ for c in classes]
plug = classes[0]
out["tuples"] = {a: type(getattr(plug, a)).__name__ for a in
                 ("packages", "commands", "files", "profiles", "kernel_mods", "containers")}
out["short_desc"] = plug.short_desc
out["plugin_name"] = plug.plugin_name
out["architectures"] = type(plug.architectures).__name__
out["option_list"] = [[type(o).__name__, isinstance(o, PluginOpt), o.name, o.default,
                       o.desc, sorted(t.__name__ for t in o.val_type)]
                      for o in plug.option_list]
out["module_plugin_opt"] = base.balloon_module.PluginOpt is PluginOpt
enabled = {}
for name in sys.argv[2:]:
    instance = base._plugin(sosroots.build(name, sys.argv[1]).path)
    enabled[name] = instance.check_enabled()
out["enabled"] = enabled
out["options"] = {n: [o.plugin, o.value] for n, o in sorted(instance.options.items())}
out["host_kmods"] = sorted(set(instance.policy.kernel_mods) & set(plug.kernel_mods))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def probe(latest, tmp_path_factory):
    roots = tmp_path_factory.mktemp("probe-roots")
    env = dict(os.environ, PYTHONPATH=latest.pythonpath)
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(roots),
                           "kvm-deflate-off-inflated", "xen", "no-balloon"], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.sos
def test_upstream_conformance_on_latest(latest, probe):
    assert probe["version"] == latest.version
    assert probe["modules"] == ["balloon"]  # found where sos looks for plugins
    assert probe["classes"] == ["Balloon"]
    assert probe["tuples"] == {a: "tuple" for a in ("packages", "commands", "files",
                                                    "profiles", "kernel_mods", "containers")}
    assert probe["short_desc"] == "Memory balloon drivers of virtual machine guests"
    assert probe["plugin_name"] == "balloon"
    assert probe["architectures"] == "NoneType"
    # PluginOpt, not 4.0's tuples: the plugin took the PluginOpt branch
    assert probe["module_plugin_opt"] is True
    assert probe["option_list"] == [["PluginOpt", True, "vmmemctl-twice", False,
                                     base.balloon_module.VMMEMCTL_TWICE_DESC, ["bool"]]]


@pytest.mark.sos
def test_options_of_an_instance_on_latest(probe):
    """sos >= 4.3 adds timeout, cmd-timeout and postproc to every plugin and names it."""
    assert sorted(probe["options"]) == ["cmd-timeout", "postproc", "timeout", "vmmemctl-twice"]
    assert {n: o[0] for n, o in probe["options"].items()} == dict.fromkeys(probe["options"],
                                                                          "balloon")
    assert probe["options"]["vmmemctl-twice"][1] is False


@pytest.mark.sos
def test_triggers_checked_in_the_sysroot_on_latest(probe):
    """4.9.1 looks for the ``files`` triggers under the sysroot (4.0: on the host)."""
    assert probe["enabled"]["kvm-deflate-off-inflated"] is True  # virtio_balloon driver dir
    assert probe["enabled"]["xen"] is True  # xen_memory0
    if probe["host_kmods"]:  # pragma: no cover - depends on the build host's modules
        pytest.skip(f"this host has {probe['host_kmods']} loaded: kernel_mods enable it")
    assert probe["enabled"]["no-balloon"] is False


# ----------------------------------------------------------------- real runs on 4.9.1


def _list_plugins(root, tmp, sos):
    """``sos report -l`` under the container env; {plugin: 'enabled'|'disabled'}."""
    tmpdir = base.tmp_dir_for(root, os.path.join(tmp, "sos-tmp"))
    log = os.path.join(tmp, "list.txt")
    with open(log, "w") as out:
        rc = sosrun.run_sos(["report", "-l", "--batch", "--sysroot", root, "--tmp-dir", tmpdir],
                            env=base._sos_env(root), prefix=base._userns_prefix(),
                            output=out, sos=sos)
    with open(log) as fobj:
        text = fobj.read()
    assert rc == 0, text
    state, listed = None, {}
    for line in text.splitlines():
        if line.startswith("The following plugins are currently enabled"):
            state = "enabled"
        elif line.startswith("The following plugins are currently disabled"):
            state = "disabled"
        elif line.startswith("The following"):
            state = None
        elif state and line.startswith(" ") and line.split():
            listed[line.split()[0]] = state
    return listed, text


@pytest.mark.sos
@pytest.mark.parametrize("name,state", [("kvm-deflate-off-inflated", "enabled"),
                                        ("hyperv", "enabled"),
                                        ("no-balloon", "disabled")])
def test_list_plugins_on_latest(name, state, tmp_path, latest_install, probe):
    if state == "disabled" and probe["host_kmods"]:  # pragma: no cover
        pytest.skip(f"this host has {probe['host_kmods']} loaded: kernel_mods enable it")
    root = sosroots.build(name, str(tmp_path / "roots"))
    listed, text = _list_plugins(root.path, str(tmp_path), latest_install)
    assert listed.get("balloon") == state, text
    if state == "disabled":  # the name column is wider in 4.12 than in 4.9
        assert re.search(r"^ balloon +inactive ", text, re.M), text
    # sos lists the options of enabled plugins only
    assert ("balloon.vmmemctl-twice" in text) == (state == "enabled")


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


#: Asks whether the Debian policy of the sos in PYTHONPATH defines _tmp_dir.
_HAS_TMP_DIR = ("from sos.policies.distros.debian import DebianPolicy; "
                "print(hasattr(DebianPolicy, '_tmp_dir'))")


@pytest.mark.sos
def test_container_env_needs_the_runner_fix_on_latest(tmp_path, latest):
    """sos's own script fails under container=oci HOST=ROOT on Debian; our runner does not.

    sos 4.4-4.9 (_container_init() since 95912b2f) set self._tmp_dir from a
    class attribute only the Red Hat and SUSE policies have; 4.10 added it
    to DebianPolicy (e4c50c25).  sosrun.RUNNER supplies it.
    """
    env = dict(os.environ, PYTHONPATH=latest.pythonpath)
    has = subprocess.check_output([soslatest.INTERPRETER, "-c", _HAS_TMP_DIR], env=env,
                                  universal_newlines=True, cwd="/").strip()
    if has == "True":  # pragma: no cover - a sos that has the fix
        pytest.skip("this sos's DebianPolicy has _tmp_dir: nothing to work round")
    root = sosroots.build("kvm-deflate-on-inflated", str(tmp_path / "roots"))
    tmpdir = base.tmp_dir_for(root.path, os.path.join(str(tmp_path), "sos-tmp"))
    args = ["report", "-l", "--batch", "--sysroot", root.path, "--tmp-dir", tmpdir]
    script = os.path.join(latest.pythonpath, "../../../bin/sos")
    env.update(container="oci", HOST=root.path)
    proc = subprocess.run([*base._userns_prefix(), soslatest.INTERPRETER, script, *args],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, cwd="/")
    assert proc.returncode == 1
    assert "'DebianPolicy' object has no attribute '_tmp_dir'" in proc.stdout
    listed, text = _list_plugins(root.path, str(tmp_path), sosrun.find_sos(latest.pythonpath))
    assert listed["balloon"] == "enabled", text
