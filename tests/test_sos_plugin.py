"""The ``balloon`` sos plugin, against Debian's real sos (no mocks of sos).

Unit tests load the plugin the way sos does (through
``sos.report.plugins.__path__``) and run ``setup()`` on sos's own Plugin
machinery.  The ``sos``-marked tests run the real ``sos report`` on fake
guest roots built from real captures (:mod:`tests.sosroots`), through
:mod:`balloon_oom.sosrun`, and then the analyzer on each report.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from balloon_oom import sosrun
from tests import sosroots

sos = pytest.importorskip("sos", reason="needs Debian's sos (apt-get install sosreport)")

import sos.report.plugins as sos_plugins  # noqa: E402

if sosrun.plugin_dir() not in sos_plugins.__path__:
    sos_plugins.__path__.append(sosrun.plugin_dir())

from sos.report.plugins import balloon as balloon_module  # noqa: E402

Balloon = balloon_module.Balloon
#: The class's own options, before any instantiation (sos 4.0 appends its
#: default options to the class list in Plugin.__init__).
OWN_OPTIONS = list(Balloon.option_list)

pytestmark = pytest.mark.skipif(
    sosroots.captures_available() is not None, reason=str(sosroots.captures_available())
)

DEV = "sys/" + sosroots.virtio_device_path()
DRV = "sys/bus/virtio/drivers/virtio_balloon"


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


# ----------------------------------------------------------------- setup() on sos's machinery


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


# ----------------------------------------------------------------- real sos runs


def _sos_env(root):
    env = dict(os.environ)
    # sos >= 4.7 ignores --sysroot (sos-facts §3); the container sysroot works everywhere
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


@pytest.fixture
def sos_install():
    """The sos the ``sos`` tests run: None is the system's (find_sos())."""
    return None


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


@pytest.fixture
def expected_files():
    """The files each root's report holds (another sos's tests may add some)."""
    return EXPECTED_FILES


def assert_clean_run(rc, report, output):
    assert rc == 0, output
    assert report is not None, output
    assert not glob.glob(os.path.join(report, "sos_logs", "*plugin-errors*"))
    with open(os.path.join(report, "sos_logs", "sos.log")) as fobj:
        assert "caught exception" not in fobj.read()


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


def _read(path):
    with open(path) as fobj:
        return fobj.read()


#: The previous boot's OOM as journalctl -o short-precise prints it (UTC).
JOURNAL_OOM_LINE = ("Nov 26 00:00:08.352026 guest kernel: hog invoked oom-killer: "
                    "gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, "
                    "oom_score_adj=0")


@pytest.mark.sos
@pytest.mark.parametrize("name", sosroots.JOURNAL_ROOTS)
def test_journal_previous_boot_oom_reaches_the_analyzer(name, tmp_path, sos_install):
    """A journald-only guest: the OOM is only in the previous boot's journal."""
    if sosroots.unavailable(name):
        pytest.skip(sosroots.unavailable(name))
    root = sosroots.build(name, str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    previous = _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_-b_-1"))
    current = _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_-b_0"))
    assert previous.splitlines()[0] == JOURNAL_OOM_LINE
    assert "invoked oom-killer" not in current
    assert current.startswith("Nov 27 00:00:00.000000 guest kernel: Linux version 6.1.0-56-amd64 ")
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    (event,) = result["oom_events"]
    assert event["current_boot"] is False
    assert event["source"] == "sos_commands/balloon/journalctl_-k_-b_-1"
    assert [(b["driver"], b["inflated_bytes"]) for b in result["balloons"]] == [
        ("virtio_balloon", 268435456)]


@pytest.mark.sos
def test_kdump_dmesg_reaches_the_analyzer(tmp_path, sos_install):
    """kdump's saved log: its OOM is a past boot's, the current log has none."""
    root = sosroots.build("kdump-previous-boot-oom", str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    (event,) = result["oom_events"]
    assert event["source"] == f"{sosroots.KDUMP_DIR}/vmcore-dmesg.txt"
    assert event["current_boot"] is False
    assert event["trigger_comm"] == "hog"


@pytest.mark.sos
def test_journal_since_and_all_logs_on_the_command_line(tmp_path, sos_install):
    """sos --since cuts the journal; --all-logs adds every boot."""
    name = "journal-previous-boot-oom"
    if sosroots.unavailable(name):
        pytest.skip(sosroots.unavailable(name))
    root = sosroots.build(name, str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path / "since"),
                                    ["--since", "20261126120000"], sos=sos_install)
    assert_clean_run(rc, report, output)
    # nothing of the previous boot (2026-11-26 00:00) is that recent
    previous = _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_-b_-1"))
    assert "kernel:" not in previous
    assert "Linux version" in _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_-b_0"))
    rc, report, output = run_report(root.path, str(tmp_path / "all"), ["--all-logs"],
                                    sos=sos_install)
    assert_clean_run(rc, report, output)
    every = _read(os.path.join(report, "sos_commands/balloon/journalctl_-k_all_boots"))
    assert JOURNAL_OOM_LINE in every.splitlines()
    assert every.count("Linux version 6.1.0-56-amd64") == 1  # the previous boot's log has none
    assert every.index(JOURNAL_OOM_LINE) < every.index("Linux version")
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    (event,) = json.loads(proc.stdout)["oom_events"]
    assert event["current_boot"] is False


@pytest.mark.sos
def test_vmware_toolbox_cmd_runs_inside_the_root(tmp_path, sos_install):
    root = sosroots.build("vmware-tools", str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    with open(os.path.join(report, "sos_commands/balloon/vmware-toolbox-cmd_stat_balloon")) as f:
        assert f.read() == "512 MB\n"


@pytest.mark.sos
def test_vmware_toolbox_balloon_size_reaches_the_analyzer(tmp_path, sos_install):
    root = sosroots.build("vmware-tools", str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    (b,) = json.loads(proc.stdout)["balloons"]
    # vmmemctl (512 MiB current) and `vmware-toolbox-cmd stat balloon` (512 MB) agree
    assert b["details"]["inflated_bytes_by_basis"]["vmware-toolbox-cmd stat balloon"] == 512 * 2**20
    assert b["inflated_bytes"] == 512 * 2**20


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


# ----------------------------------------------------------------- analyzer on the reports

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


@pytest.mark.sos
@pytest.mark.parametrize("name", sorted(ANALYZER_BALLOONS))
def test_analyzer_reads_the_report(name, tmp_path, sos_install):
    root = sosroots.build(name, str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    got = [(b["driver"], b["inflated_bytes"], b["accounting"], b["deflate_on_oom"])
           for b in result["balloons"]]
    want = ANALYZER_BALLOONS[name]
    assert len(got) == len(want), got
    for (driver, inflated, accounting, deflate), g in zip(want, got):
        assert g[:3] == (driver, inflated, accounting)
        if deflate is not None:
            assert g[3] is deflate
        assert result["balloons"][0]["evidence"]
    if name in ANALYZER_TARGETS:
        assert result["balloons"][0]["target_bytes"] == ANALYZER_TARGETS[name]
    if name.startswith("kvm"):
        assert result["balloons"][0]["device"] == "virtio0"


@pytest.mark.sos
@pytest.mark.parametrize("name", ["debugfs-unmounted", "unreadable"])
def test_analyzer_on_degraded_reports(name, tmp_path, sos_install):
    root = sosroots.build(name, str(tmp_path / "roots"))
    rc, report, output = run_report(root.path, str(tmp_path), sos=sos_install)
    assert_clean_run(rc, report, output)
    proc = analyze(report)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    if name == "debugfs-unmounted":
        # the module parameter shows the driver; its size is unknown without debugfs
        assert [(b["driver"], b["inflated_bytes"]) for b in result["balloons"]] == [
            ("vmw_balloon", None)]
        assert any("debugfs" in w for w in result["warnings"]), result["warnings"]
    else:  # the FIFO was never collected; the mode-000 file arrived empty
        assert result["balloons"] == []
        assert any(w.startswith("proc/vmmemctl") for w in result["warnings"]), result["warnings"]


# ----------------------------------------------------------------- committed samples

SAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples")
SAMPLE_ROOTS = {"kvm-deflate-off": "kvm-deflate-off-after-oom",
                "kvm-deflate-on": "kvm-deflate-on-after-oom",
                "firecracker-6.18": "firecracker-6.18", "hyperv": "hyperv",
                "hyperv-virtuozzo": "hyperv-virtuozzo", "vmware-new": "vmware-new",
                "vmware-old": "vmware-old", "xen": "xen", "no-balloon": "no-balloon"}


@pytest.mark.parametrize("sample", sorted(SAMPLE_ROOTS))
def test_sample_layout(sample):
    path = os.path.join(SAMPLES_DIR, sample)
    files = report_files(path)
    # sos's layout, minus the host's dmesg (see samples/PROVENANCE.md)
    assert files == (SOS_OWN - {"sos_commands/balloon/dmesg"}) | EXPECTED_FILES[SAMPLE_ROOTS[sample]]
    with open(os.path.join(path, "sos_reports/manifest.json")) as fobj:
        manifest = json.load(fobj)
    assert manifest["components"]["report"]["sysroot"].endswith("/roots/" + SAMPLE_ROOTS[sample])
    with open(os.path.join(path, "sos_logs/sos.log")) as fobj:
        assert "sosreport-guest-" in fobj.read()


@pytest.mark.parametrize("sample", ["kvm-deflate-off", "kvm-deflate-off.tar.xz"])
def test_sample_kvm_deflate_off_verdict(sample):
    proc = analyze(os.path.join(SAMPLES_DIR, sample))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(b["driver"], b["inflated_bytes"], b["deflate_on_oom"]) for b in result["balloons"]] == [
        ("virtio_balloon", 268435456, False)]
    assert len(result["oom_events"]) == 1
    assert result["verdict"] == "contributed"
