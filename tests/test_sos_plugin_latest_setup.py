# SPDX-License-Identifier: GPL-2.0-or-later
"""The plugin's class, ``setup()`` and triggers on current sos (4.9.1, 4.12.1).

Parametrised by suite through the ``latest`` fixture (tests/conftest.py):

* the sos 4.0 unit tests (conformance, ``setup()`` on sos's Plugin machinery
  with the exact copy specs, ...) in a child pytest that imports the current
  sos (one process cannot hold two ``sos`` packages), plus the checks of
  upstream's ``tests/unittests/conformance_tests.py`` made the way upstream
  makes them;
* ``sos report -l`` lists ``balloon`` as enabled exactly when a trigger file
  exists in the fake root (the ``files`` triggers are looked for in the
  sysroot; 4.12 lists plugins with a wider name column);
* under ``container=oci HOST=ROOT`` on a Debian host, sos 4.4-4.9 stop with
  "'DebianPolicy' object has no attribute '_tmp_dir'" (fixed in 4.10 by
  e4c50c25): ``sosrun.RUNNER`` supplies the attribute.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from balloon_oom import sosrun
from tests import soslatest, sosplugin, sosroots
from tests import sosreports as base

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


# ----------------------------------------------------------------- unit tests on 4.9.1

#: The tests of the plugin class and of setup() on sos's machinery (no sos
#: run) in :data:`SOS_40_MODULES`: all of them are re-run on 4.9.1.
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


#: The modules of the plugin's tests on Debian's sos 4.0.
SOS_40_MODULES = ("test_sos_plugin", "test_sos_plugin_setup", "test_sos_plugin_runs",
                  "test_sos_plugin_analyzer", "test_sos_plugin_samples")


def _tests_of_sos_40():
    """(test name, node id, function) of every test in :data:`SOS_40_MODULES`."""
    for module in SOS_40_MODULES:
        for name, func in vars(importlib.import_module("tests." + module)).items():
            if name.startswith("test_") and callable(func):
                yield name, f"tests/{module}.py::{name}", func


def test_unit_test_list_is_complete():
    """Every sos 4.0 test that builds the plugin without running sos is listed."""
    found = []
    for name, _, func in _tests_of_sos_40():
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
    nodes = [node for name, node, _ in _tests_of_sos_40() if name in UNIT_TESTS]
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
from tests import sosplugin, sosroots
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
out["module_plugin_opt"] = sosplugin.balloon_module.PluginOpt is PluginOpt
enabled = {}
for name in sys.argv[2:]:
    instance = sosplugin._plugin(sosroots.build(name, sys.argv[1]).path)
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
                                     sosplugin.balloon_module.VMMEMCTL_TWICE_DESC, ["bool"]]]


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
