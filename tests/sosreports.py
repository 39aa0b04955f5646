# SPDX-License-Identifier: GPL-2.0-or-later
"""Real ``sos report`` runs on the fake roots, what each report must hold, and the analyzer on it.

:func:`run_report` runs sos through :mod:`balloon_oom.sosrun` under the
container env (``container=oci HOST=ROOT``); :data:`EXPECTED_FILES` is the
exact file set of each root's report on sos 4.0; :func:`analyze` runs
``python -m balloon_oom analyze`` on a report.  Used by the
``tests/test_sos_plugin*.py`` modules.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

from balloon_oom import sosrun
from tests import sosroots

DEV = "sys/" + sosroots.virtio_device_path()
DRV = "sys/bus/virtio/drivers/virtio_balloon"


def _sos_env(root):
    env = dict(os.environ)
    # sos >= 4.7 ignores --sysroot (sos 1b2572fd); the container sysroot works everywhere
    env.update(container="oci", HOST=root)
    env["TZ"] = "UTC"  # journalctl prints local time; the tests expect UTC
    return env


def _userns_prefix():
    return [] if os.geteuid() == 0 else ["unshare", "-r"]


def tmp_dir_for(root, tmpdir):
    """Make ``tmpdir`` usable as sos's --tmp-dir under the container env.

    sos >= 4.9 puts $HOST in front of --tmp-dir when $container is set
    (SoSComponent.get_tmpdir_default); a link there leads back to ``tmpdir``.
    sos 4.0 on Debian ignores the env and uses ``tmpdir`` itself.
    """
    os.makedirs(tmpdir, exist_ok=True)
    in_root = os.path.join(root, tmpdir.lstrip("/"))
    if not os.path.lexists(in_root):
        os.makedirs(os.path.dirname(in_root), exist_ok=True)
        os.symlink(tmpdir, in_root)
    return tmpdir



def run_report(root, tmp, extra=(), prefix=None, sos=None, plugins=None):
    """Run the real sos on a fake root; return (rc, report dir, output)."""
    tmpdir = tmp_dir_for(root, os.path.join(tmp, "sos-tmp"))
    log = os.path.join(tmp, "sos-output.txt")
    with open(log, "w") as out:
        rc = sosrun.run_sos(
            ["report", "--batch", "--build", "--quiet", "--no-report", "-o", "balloon",
             "--sysroot", root, "--tmp-dir", tmpdir, *extra],
            env=_sos_env(root), prefix=_userns_prefix() if prefix is None else prefix,
            output=out, sos=sos, plugins=plugins,
        )
    with open(log) as fobj:
        output = fobj.read()
    reports = glob.glob(os.path.join(tmpdir, "sosreport-*"))
    return rc, (reports[0] if len(reports) == 1 else None), output


def report_files(report):
    """Files, links and other non-directories of a report, relative."""
    found = set()
    for top, dirs, names in os.walk(report):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            found.add(os.path.relpath(os.path.join(top, name), report))
    return found


SOS_OWN = {"version.txt", "sos_logs/sos.log", "sos_logs/ui.log", "sos_reports/manifest.json",
           "sos_strings/balloon/debugfs.txt", "sos_commands/balloon/dmesg",
           "sos_commands/balloon/date_--utc"}
VIRTIO = {f"{DRV}/virtio0", f"{DEV}/features", f"{DEV}/device", f"{DEV}/vendor", f"{DEV}/status"}
KVM = VIRTIO | {"proc/meminfo", "proc/vmstat", "proc/uptime", "proc/sys/kernel/osrelease",
                "sys/class/dmi/id/sys_vendor", "sys/class/dmi/id/product_name", "var/log/dmesg"}
HOSTFACTS = {"proc/sys/kernel/osrelease", "proc/uptime", "sys/class/dmi/id/sys_vendor",
             "sys/class/dmi/id/product_name"}
HV = HOSTFACTS | {"sys/kernel/debug/hv-balloon", "sys/module/hv_balloon/parameters/hot_add",
                  "sys/module/hv_balloon/parameters/pressure_report_delay"}
VMW_PARAM = "sys/module/vmw_balloon/parameters/vmwballoon_shrinker_enable"
XEN0 = "sys/devices/system/xen_memory/xen_memory0"
FIRECRACKER = VIRTIO | {"proc/meminfo", "proc/vmstat", "proc/zoneinfo",
                        "proc/sys/kernel/osrelease", "var/log/dmesg"}

EXPECTED_FILES = {
    "kvm-deflate-off-inflated": KVM,
    "kvm-deflate-off-after-oom": KVM,
    "kvm-deflate-on-inflated": KVM,
    "kvm-deflate-on-after-oom": KVM,
    "firecracker-6.18": FIRECRACKER,
    "hyperv": HV,
    "hyperv-virtuozzo": HV,
    "vmware-new": HOSTFACTS | {"sys/kernel/debug/vmmemctl", VMW_PARAM},
    "vmware-old": HOSTFACTS | {"sys/kernel/debug/vmmemctl", VMW_PARAM},
    "vmware-tools": HOSTFACTS | {"sys/kernel/debug/vmmemctl", VMW_PARAM,
                                 "sos_commands/balloon/vmware-toolbox-cmd_stat_balloon",
                                 "sos_commands/balloon/vmware-toolbox-cmd_stat_raw_text_resources"},
    "xen": HOSTFACTS | {f"{XEN0}/{n}" for n in (
        "target_kb", "target", "schedule_delay", "max_schedule_delay", "retry_count",
        "max_retry_count", "info/current_kb", "info/low_kb", "info/high_kb")},
    "no-balloon": {"proc/meminfo", "proc/sys/kernel/osrelease", "sys/class/dmi/id/sys_vendor",
                   "sys/class/dmi/id/product_name"},
    "debugfs-unmounted": HOSTFACTS | {VMW_PARAM, "proc/modules"},
    "unreadable": {"proc/sys/kernel/osrelease", "proc/vmmemctl",
                   "sys/kernel/debug/hv-balloon/README"},
    "no-virtio-bus": {"proc/meminfo", "proc/vmstat", "proc/zoneinfo",
                      "proc/sys/kernel/osrelease", "var/log/dmesg"},
}

JOURNAL = (KVM - {"var/log/dmesg"}) | {"sos_commands/balloon/journalctl_-k_-b_0",
                                       "sos_commands/balloon/journalctl_-k_-b_-1"}
EXPECTED_FILES["journal-previous-boot-oom"] = JOURNAL
EXPECTED_FILES["kdump-previous-boot-oom"] = KVM | {
    f"{sosroots.KDUMP_DIR}/vmcore-dmesg.txt", f"{sosroots.KDUMP_TOOLS_DIR}/dmesg.202611250000"}
EXPECTED_FILES["volatile-journal-previous-boot-oom"] = JOURNAL

DEBUGFS_STATE = {
    "firecracker-6.18": "not-mounted", "xen": "not-mounted", "no-balloon": "not-mounted",
    "debugfs-unmounted": "not-mounted", "no-virtio-bus": "not-mounted",
}



def assert_clean_run(rc, report, output):
    assert rc == 0, output
    assert report is not None, output
    assert not glob.glob(os.path.join(report, "sos_logs", "*plugin-errors*"))
    with open(os.path.join(report, "sos_logs", "sos.log")) as fobj:
        assert "caught exception" not in fobj.read()



def _read(path):
    with open(path) as fobj:
        return fobj.read()



#: driver, inflated_bytes, accounting, deflate_on_oom (None: not asserted)
ANALYZER_BALLOONS = {
    "kvm-deflate-off-inflated": [("virtio_balloon", 268435456, "memtotal-reduced", False)],
    "kvm-deflate-off-after-oom": [("virtio_balloon", 268435456, "memtotal-reduced", False)],
    "kvm-deflate-on-inflated": [("virtio_balloon", 268435456, "counted-as-used", True)],
    "kvm-deflate-on-after-oom": [("virtio_balloon", 0, "counted-as-used", True)],
    "firecracker-6.18": [("virtio_balloon", 0, "counted-as-used", True)],
    "hyperv": [("hv_balloon", 268435456, "memtotal-reduced", None)],
    "hyperv-virtuozzo": [("hv_balloon", 0, "memtotal-reduced", None)],
    "vmware-new": [("vmw_balloon", 536870912, "counted-as-used", None)],
    "vmware-old": [("vmw_balloon", 536870912, "counted-as-used", None)],
    "xen": [("xen_balloon", 536870912, "memtotal-reduced", None)],
    "no-balloon": [],
}
ANALYZER_TARGETS = {"vmware-new": 536870912, "vmware-old": 536870912}


def analyze(report):
    proc = subprocess.run(
        [sys.executable, "-m", "balloon_oom", "analyze", report, "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
        timeout=300,  # guards against a hang (e.g. a FIFO opened), not a speed test
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    if "ModuleNotFoundError" in proc.stderr or "No module named" in proc.stderr:
        pytest.skip("analyzer not complete yet: " + proc.stderr.strip().splitlines()[-1])
    return proc


