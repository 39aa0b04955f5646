# SPDX-License-Identifier: GPL-2.0-or-later
"""The plugin's ``setup()`` on sos's own Plugin machinery: copy specs, commands, strings."""

from __future__ import annotations

import os
import signal

import pytest

from tests import sosroots
from tests.sosplugin import _plugin, _strings
from tests.sosreports import DRV

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)


EXPECTED_SPECS = [
    "/sys/kernel/debug/vmmemctl",
    "/proc/vmmemctl",
    "/sys/kernel/debug/hv-balloon",
    "/sys/kernel/debug/virtio-balloon",
    "/sys/bus/virtio/drivers/virtio_balloon/virtio*/features",
    "/sys/bus/virtio/drivers/virtio_balloon/virtio*/device",
    "/sys/bus/virtio/drivers/virtio_balloon/virtio*/vendor",
    "/sys/bus/virtio/drivers/virtio_balloon/virtio*/status",
    "/sys/kernel/debug/virtio/*/device_features",
    "/sys/module/virtio_balloon/parameters/*",
    "/sys/module/vmw_balloon/parameters/*",
    "/sys/module/hv_balloon/parameters/*",
    "/sys/devices/system/xen_memory/xen_memory0/*",
    "/sys/devices/system/xen_memory/xen_memory0/info/*",
    "/proc/xen/balloon",
    "/proc/sys/vm/cmm_*",
    "/sys/devices/system/cmm/cmm0/*",
    "/sys/bus/virtio/drivers/virtio_mem/virtio*/features",
    "/sys/bus/virtio/drivers/virtio_mem/virtio*/device",
    "/sys/bus/virtio/drivers/virtio_mem/virtio*/status",
    "/sys/module/virtio_mem/parameters/*",
    "/proc/iomem",
    "/sys/devices/system/memory/block_size_bytes",
    "/sys/devices/system/memory/auto_online_blocks",
    "/sys/devices/system/memory/memory*/state",
    "/sys/devices/system/memory/memory*/valid_zones",
    "/proc/meminfo",
    "/proc/vmstat",
    "/proc/zoneinfo",
    "/proc/uptime",
    "/proc/sys/kernel/osrelease",
    "/proc/version",
    "/proc/modules",
    "/sys/class/dmi/id/sys_vendor",
    "/sys/class/dmi/id/product_name",
    "/var/log/dmesg*",
    "/var/log/kern.log*",
    "/var/log/messages*",
    "/var/log/syslog*",
    "/var/crash/*/vmcore-dmesg.txt",
    "/var/crash/*/dmesg.*",
]


def test_setup_copy_specs_and_commands(tmp_path):
    root = sosroots.build("kvm-deflate-off-inflated", str(tmp_path))
    plug = _plugin(root.path)
    assert plug.specs_seen == EXPECTED_SPECS
    # 4.0 expands the specs at setup time against the sysroot
    copied = sorted(os.path.relpath(p, root.path) for p in plug.copy_paths)
    assert copied == sorted([
        f"{DRV}/virtio0/features", f"{DRV}/virtio0/device", f"{DRV}/virtio0/vendor",
        f"{DRV}/virtio0/status",
        "proc/meminfo", "proc/vmstat", "proc/uptime", "proc/sys/kernel/osrelease",
        "sys/class/dmi/id/sys_vendor", "sys/class/dmi/id/product_name", "var/log/dmesg",
    ])
    assert [c.cmd for c in plug.collect_cmds] == ["dmesg", "date --utc"]
    strings = _strings(plug)
    assert list(strings) == ["debugfs.txt"]
    assert strings["debugfs.txt"].splitlines()[0] == "mounted"


def _journal_cmds(plug):
    """(file name, command, chroot, sizelimit) of the journal commands of setup()."""
    return [(c.suggest_filename, c.cmd, c.chroot, c.sizelimit) for c in plug.collect_cmds
            if c.cmd.startswith("journalctl")]


def test_setup_journal_kernel_messages(tmp_path):
    """journalctl on the host, on the guest's journal directory: this boot and the one before."""
    root = sosroots.build("journal-previous-boot-oom", str(tmp_path))
    plug = _plugin(root.path)
    journal = os.path.join(root.path, "var/log/journal")
    base = f"journalctl --no-pager --directory {journal} -o short-precise"
    assert _journal_cmds(plug) == [
        ("journalctl_-k_-b_0", base + " -k -b 0", False, 100),
        ("journalctl_-k_-b_-1", base + " -k -b -1", False, 100),
    ]
    assert [c.cmd for c in plug.collect_cmds][:2] == ["dmesg", "date --utc"]


def test_setup_journal_volatile_directory(tmp_path):
    root = sosroots.build("volatile-journal-previous-boot-oom", str(tmp_path))
    plug = _plugin(root.path)
    (first, _) = _journal_cmds(plug)
    assert f"--directory {os.path.join(root.path, 'run/log/journal')} " in first[1]


def test_setup_journal_since_and_all_logs(tmp_path):
    """--since goes to journalctl as the logs plugin passes it; --all-logs: every boot, no limit."""
    import datetime
    root = sosroots.build("journal-previous-boot-oom", str(tmp_path))
    since = datetime.datetime(2026, 11, 26, 12, 0)  # what sos's --since 20261126120000 gives
    plug = _plugin(root.path, cmdline={"since": since, "all_logs": True})
    cmds = _journal_cmds(plug)
    assert [c[0] for c in cmds] == ["journalctl_-k_-b_0", "journalctl_-k_-b_-1",
                                    "journalctl_-k_all_boots"]
    assert cmds[2][1].endswith(" -o short-precise _TRANSPORT=kernel --since '2026-11-26 12:00:00'")
    assert all(c[1].endswith("--since '2026-11-26 12:00:00'") and c[3] == 0 for c in cmds)
    # and the shell-like split sos makes gives journalctl one --since argument
    import shlex
    assert shlex.split(cmds[0][1])[-2:] == ["--since", "2026-11-26 12:00:00"]


def test_setup_without_journal_files_runs_no_journalctl(tmp_path):
    root = sosroots.build("kvm-deflate-off-inflated", str(tmp_path))
    os.makedirs(os.path.join(root.path, "var/log/journal/" + sosroots.MACHINE_ID))
    assert _journal_cmds(_plugin(root.path)) == []


def test_setup_debugfs_not_mounted(tmp_path):
    root = sosroots.build("debugfs-unmounted", str(tmp_path))
    plug = _plugin(root.path)
    text = _strings(plug)["debugfs.txt"]
    lines = text.splitlines()
    assert lines[0] == "not-mounted"
    assert "mount -t debugfs none /sys/kernel/debug" in text


def test_setup_debugfs_absent_counts_as_not_mounted(tmp_path):
    root = sosroots.build("no-virtio-bus", str(tmp_path))
    assert not os.path.exists(os.path.join(root.path, "sys/kernel/debug"))
    plug = _plugin(root.path)
    text = _strings(plug)["debugfs.txt"]
    assert text.splitlines()[0] == "not-mounted"


def test_vmware_toolbox_cmd_only_when_present(tmp_path):
    without = _plugin(sosroots.build("vmware-new", str(tmp_path)).path)
    assert not [c for c in without.collect_cmds if "vmware" in c.cmd]
    with_tools = _plugin(sosroots.build("vmware-tools", str(tmp_path)).path)
    assert [c.cmd for c in with_tools.collect_cmds if "vmware" in c.cmd] == [
        "vmware-toolbox-cmd stat balloon",
        "vmware-toolbox-cmd stat raw text resources",
    ]


def test_vmmemctl_twice_keeps_the_first_read(tmp_path):
    root = sosroots.build("vmware-new", str(tmp_path))
    plug = _plugin(root.path, **{"vmmemctl-twice": True})
    strings = _strings(plug)
    with open(os.path.join(root.path, "sys/kernel/debug/vmmemctl")) as fobj:
        assert strings["vmmemctl.first"] == fobj.read()
    # and the file itself is still collected (the second read)
    assert os.path.join(root.path, "sys/kernel/debug/vmmemctl") in plug.copy_paths
    off = _plugin(root.path)
    assert "vmmemctl.first" not in _strings(off)


class _Hang(Exception):
    pass


def test_special_files_are_forbidden_and_never_opened(tmp_path):
    """A FIFO as vmmemctl: setup() must neither block on it nor let sos copy it."""
    root = sosroots.build("unreadable", str(tmp_path))

    def hang(signum, frame):  # a blocking open() would otherwise hang the suite
        raise _Hang()

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        plug = _plugin(root.path, **{"vmmemctl-twice": True})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    fifo = os.path.join(root.path, "sys/kernel/debug/vmmemctl")
    assert plug.forbidden_paths == [fifo]
    assert "vmmemctl.first" not in _strings(plug)

