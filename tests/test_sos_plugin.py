# SPDX-License-Identifier: GPL-2.0-or-later
"""The ``balloon`` sos plugin's class, against Debian's real sos (no mocks of sos).

The plugin is loaded the way sos does (:mod:`tests.sosplugin`).  Its
``setup()`` is tested in :mod:`tests.test_sos_plugin_setup`; real ``sos report``
runs on fake guest roots (:mod:`tests.sosroots`) in
:mod:`tests.test_sos_plugin_runs`, the analyzer on those reports in
:mod:`tests.test_sos_plugin_analyzer`, the committed samples in
:mod:`tests.test_sos_plugin_samples`.
"""

from __future__ import annotations

import pytest

from tests import sosroots
from tests.sosplugin import OWN_OPTIONS, Balloon, _plugin, balloon_module  # noqa: F401

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


# ----------------------------------------------------------------- conformance


def test_conformance_attribute_types():
    """The rules of sos's tests/unittests/conformance_tests.py."""
    for attr in ("packages", "commands", "files", "profiles", "kernel_mods"):
        assert isinstance(getattr(Balloon, attr), tuple), attr
    if hasattr(Balloon, "containers"):
        assert isinstance(Balloon.containers, tuple)
    assert isinstance(Balloon.short_desc, str) and Balloon.short_desc
    assert Balloon.short_desc[0].isupper() and not Balloon.short_desc.endswith(".")
    assert Balloon.plugin_name == "balloon"
    assert Balloon.architectures is None or isinstance(Balloon.architectures, tuple)
    assert Balloon.name() == "balloon"


def test_conformance_options():
    if balloon_module.PluginOpt is not None:
        assert all(isinstance(o, balloon_module.PluginOpt) and o.name for o in OWN_OPTIONS)
        assert [o.name for o in OWN_OPTIONS] == ["vmmemctl-twice"]
        assert OWN_OPTIONS[0].default is False
    else:  # sos 4.0: (name, desc, speed, default)
        assert OWN_OPTIONS == [("vmmemctl-twice", balloon_module.VMMEMCTL_TWICE_DESC, "fast", False)]


def test_tags_and_triggers():
    from sos.report.plugins import (DebianPlugin, IndependentPlugin, RedHatPlugin,
                                    UbuntuPlugin)
    for tag in (IndependentPlugin, RedHatPlugin, DebianPlugin, UbuntuPlugin):
        assert issubclass(Balloon, tag)
    assert Balloon.profiles == ("memory", "virt", "system")
    assert Balloon.kernel_mods == ("virtio_balloon", "vmw_balloon", "hv_balloon",
                                   "xen_balloon", "cmm", "virtio_mem")
    # kernel_mods alone would mean "always enabled": files must be there too,
    # and sos 4.0 checks them with os.path.exists (no globbing)
    assert Balloon.files and not any("*" in f for f in Balloon.files)
    assert "/sys/bus/virtio/drivers/virtio_balloon" in Balloon.files
    assert "/sys/bus/virtio/drivers/virtio_mem" in Balloon.files


def test_module_imports_only_sos_and_stdlib():
    with open(balloon_module.__file__) as fobj:
        imports = [line.split()[1] for line in fobj if line.startswith(("import ", "from "))]
    assert sorted(set(imports)) == ["glob", "os", "shlex", "sos.report.plugins", "stat"]

