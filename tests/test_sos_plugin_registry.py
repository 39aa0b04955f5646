# SPDX-License-Identifier: GPL-2.0-or-later
"""The sos plugin collects every path the driver registry names, and what the analyzer reads.

The plugin stays one standalone file, so it cannot import the registry: this runs its
``setup()`` on sos's own Plugin machinery (as tests/test_sos_plugin.py does) and checks
the specs and commands it hands to sos against :mod:`balloon_oom.drivers`.
"""

from __future__ import annotations

import fnmatch
import os
import stat

import pytest

from balloon_oom import drivers
from balloon_oom.readers import layout
from tests import sosroots

pytest.importorskip("sos", reason="needs Debian's sos (apt-get install sosreport)")

from tests.test_sos_plugin import Balloon, _plugin  # noqa: E402

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


def _with_toolbox(root):
    """A guest root with an executable vmware-toolbox-cmd, so every command is asked for."""
    tool = os.path.join(root, "usr/bin/vmware-toolbox-cmd")
    os.makedirs(os.path.dirname(tool))
    with open(tool, "w") as fobj:
        fobj.write("#!/bin/sh\n")
    os.chmod(tool, stat.S_IRWXU)
    return root


def _outputs(plug):
    """Report paths of the plugin's command outputs, as sos names them."""
    out = set()
    for c in plug.collect_cmds:
        name = getattr(c, "suggest_filename", None) or c.cmd.replace(" ", "_")
        out.add("sos_commands/balloon/" + name)
    return out


def _covered(path, specs, outputs):
    """A spec (absolute glob) or command output lands on report path ``path``."""
    if path.startswith("sos_commands/balloon/"):
        return any(fnmatch.fnmatchcase(o, path) for o in outputs)
    absolute = "/" + path
    return any(fnmatch.fnmatchcase(s, absolute) or fnmatch.fnmatchcase(absolute, s) for s in specs)


@pytest.fixture
def plug(tmp_path):
    return _plugin(_with_toolbox(str(tmp_path)))


def test_plugin_collects_every_registry_path(plug):
    outputs = _outputs(plug)
    missing = [p for p in drivers.REPORT_PATHS if not _covered(p, plug.specs_seen, outputs)]
    assert missing == []
    assert "sos_commands/balloon/vmware-toolbox-cmd_stat_balloon" in outputs


def test_plugin_collects_every_guest_file_the_analyzer_reads(plug):
    missing = [p for p in layout.GUEST_FILES if not _covered(p, plug.specs_seen, set())]
    assert missing == []
    assert "/proc/modules" in plug.specs_seen


def test_plugin_triggers_on_every_registry_module():
    assert set(Balloon.kernel_mods) == set(drivers.MODULES)


def test_an_uncovered_path_is_caught(plug):
    """The check can fail: a path no spec lands on."""
    assert not _covered("sys/kernel/debug/not-a-balloon", plug.specs_seen, _outputs(plug))
    assert not _covered("sos_commands/balloon/lsmod", plug.specs_seen, _outputs(plug))


def test_plugin_collects_every_log_location_of_ours(tmp_path):
    """Each LogSpec under var/ or sos_commands/balloon/ is a file spec or a command of the plugin."""
    root = _with_toolbox(str(tmp_path))
    journal = os.path.join(root, "var/log/journal", sosroots.MACHINE_ID)
    os.makedirs(journal)
    open(os.path.join(journal, "system.journal"), "wb").close()
    plug = _plugin(root, cmdline={"all_logs": True})
    outputs = _outputs(plug)
    ours = [s.pattern for s in layout.LOGS if s.pattern.startswith(("var/", "sos_commands/balloon/"))]
    assert len(ours) == 15
    assert [p for p in ours if not _covered(p, plug.specs_seen, outputs)] == []
    assert {"sos_commands/balloon/journalctl_-k_-b_-1", "sos_commands/balloon/dmesg"} <= outputs
