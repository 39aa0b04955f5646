# SPDX-License-Identifier: GPL-2.0-or-later
"""The ``balloon`` sos plugin loaded the way sos loads it, and set up on sos's own machinery.

The plugin is found through ``sos.report.plugins.__path__`` (Debian's real
sos, no mocks); :func:`_plugin` runs its ``setup()`` with sos's own Plugin
class and records the copy specs it hands to sos.  Used by the
``tests/test_sos_plugin*.py`` modules.
"""

from __future__ import annotations

import os

import pytest

from balloon_oom import sosrun

sos = pytest.importorskip("sos", reason="needs Debian's sos (apt-get install sosreport)")

import sos.report.plugins as sos_plugins  # noqa: E402

if sosrun.plugin_dir() not in sos_plugins.__path__:
    sos_plugins.__path__.append(sosrun.plugin_dir())

from sos.report.plugins import balloon as balloon_module  # noqa: E402

Balloon = balloon_module.Balloon
#: The class's own options, before any instantiation (sos 4.0 appends its
#: default options to the class list in Plugin.__init__).
OWN_OPTIONS = list(Balloon.option_list)


class _Options:
    """The command-line options a plugin reads (sos's own MockOptions set)."""

    all_logs = False
    dry_run = False
    since = None
    log_size = 25
    journal_size = 100  # sos >= 4.1
    allow_system_changes = False
    no_postproc = False
    skip_files = []
    skip_commands = []
    verify = False
    plugin_timeout = None
    cmd_timeout = None

    def __init__(self, sysroot, **cmdline):
        self.sysroot = sysroot
        for name, value in cmdline.items():
            setattr(self, name, value)


def _policy():
    try:  # sos >= 4.3
        from sos.policies.distros import LinuxPolicy
        from sos.policies.init_systems import InitSystem
    except ImportError:  # sos 4.0
        from sos.policies import InitSystem, LinuxPolicy
    return LinuxPolicy(init=InitSystem(), probe_runtime=False)


class _Recording(Balloon):
    """Our plugin, recording the specs its setup() hands to sos."""

    def add_copy_spec(self, copyspecs, *args, **kwargs):
        specs = [copyspecs] if isinstance(copyspecs, str) else list(copyspecs)
        self.specs_seen.extend(specs)
        return super().add_copy_spec(copyspecs, *args, **kwargs)


def _plugin(sysroot, cmdline=None, **options):
    plug = _Recording({
        "cmdlineopts": _Options(sysroot, **(cmdline or {})),
        "policy": _policy(),
        "sysroot": sysroot,
        "devices": {},
        "cmddir": "sos_commands",
    })
    plug.specs_seen = []
    # sos >= 4.3 puts the class's PluginOpt objects themselves in every
    # instance's options, so a value set on one plugin stays for the next
    for opt in OWN_OPTIONS:
        name, default = (opt.name, opt.default) if hasattr(opt, "name") else (opt[0], opt[3])
        plug.set_option(name, default)
    for name, value in options.items():
        plug.set_option(name, value)
    plug.setup()
    return plug


def _strings(plug):
    """{file name: content} of add_string_as_file().

    sos 4.0 stores (content, name); sos 4.9 stores (content,
    "sos_strings/<plugin>/name", tags).
    """
    return dict((os.path.basename(entry[1]), entry[0]) for entry in plug.copy_strings)
