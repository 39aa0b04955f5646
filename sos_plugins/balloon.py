# Copyright (C) 2026 balloon-oom contributors
#
# This file is part of the sos project: https://github.com/sosreport/sos
#
# This copyrighted material is made available to anyone wishing to use,
# modify, copy, or redistribute it subject to the terms and conditions of
# version 2 of the GNU General Public License.
#
# See the LICENSE file in the source distribution for further information.

import glob
import os
import shlex
import stat

from sos.report.plugins import (Plugin, IndependentPlugin, RedHatPlugin,
                                DebianPlugin, UbuntuPlugin)

try:
    # PluginOpt exists since sos 4.3 (commit 0b6dc021); 4.0 takes tuples.
    from sos.report.plugins import PluginOpt
except ImportError:
    PluginOpt = None

VMMEMCTL_TWICE_DESC = ('read vmmemctl twice: since the vmw_balloon rework '
                       'the kernel counts only after the first read')

if PluginOpt is not None:
    _OPTIONS = [
        PluginOpt('vmmemctl-twice', default=False, desc=VMMEMCTL_TWICE_DESC),
    ]
else:
    _OPTIONS = [
        ('vmmemctl-twice', VMMEMCTL_TWICE_DESC, 'fast', False),
    ]

DEBUGFS = '/sys/kernel/debug'
VMMEMCTL = '/sys/kernel/debug/vmmemctl'
VIRTIO_BALLOON_DRV = '/sys/bus/virtio/drivers/virtio_balloon'

BALLOON_FILES = (
    # VMware (the debugfs file since v4.20 rework, /proc before)
    VMMEMCTL,
    '/proc/vmmemctl',
    # Hyper-V (Linux kernel commit d180e0a1be6c ("Drivers: hv: Create debugfs
    # file with hyper-v balloon usage information") (in v6.0))
    '/sys/kernel/debug/hv-balloon',
    # Virtuozzo kernels only
    '/sys/kernel/debug/virtio-balloon',
    # virtio: glob through the virtio* links so that the device's
    # files land; sos stores each link on the way as a link.  (A
    # spec naming the link alone would copy the whole device dir.)
    VIRTIO_BALLOON_DRV + '/virtio*/features',
    VIRTIO_BALLOON_DRV + '/virtio*/device',
    VIRTIO_BALLOON_DRV + '/virtio*/vendor',
    VIRTIO_BALLOON_DRV + '/virtio*/status',
    # generic virtio debugfs (v6.10+)
    '/sys/kernel/debug/virtio/*/device_features',
    '/sys/module/virtio_balloon/parameters/*',
    '/sys/module/vmw_balloon/parameters/*',
    '/sys/module/hv_balloon/parameters/*',
    # Xen
    '/sys/devices/system/xen_memory/xen_memory0/*',
    '/sys/devices/system/xen_memory/xen_memory0/info/*',
    '/proc/xen/balloon',
    # s390 and pseries collaborative memory management
    '/proc/sys/vm/cmm_*',
    '/sys/devices/system/cmm/cmm0/*',
    # virtio-mem (v5.8+): the device links, the device region and its added
    # memory blocks (/proc/iomem "virtioN" / "System RAM (virtio_mem)"),
    # the memory blocks' state and zone
    '/sys/bus/virtio/drivers/virtio_mem/virtio*/features',
    '/sys/bus/virtio/drivers/virtio_mem/virtio*/device',
    '/sys/bus/virtio/drivers/virtio_mem/virtio*/status',
    '/sys/module/virtio_mem/parameters/*',
    '/proc/iomem',
    '/sys/devices/system/memory/block_size_bytes',
    '/sys/devices/system/memory/auto_online_blocks',
    '/sys/devices/system/memory/memory*/state',
    '/sys/devices/system/memory/memory*/valid_zones',
)

#: journald's persistent and volatile directories, in the order preferred.
JOURNAL_DIRS = ('/var/log/journal', '/run/log/journal')

#: Kernel messages of the journal: output file name -> journalctl arguments.
#: ``-k`` implies ``-b``, so all boots are asked for by transport instead.
#: ``-b 0`` is the newest boot the journal holds, ``-b -1`` the one before,
#: even for a guest's journal read from outside (``--directory``).
JOURNAL_KERNEL = (
    ('journalctl_-k_-b_0', '-k -b 0'),
    ('journalctl_-k_-b_-1', '-k -b -1'),
)
JOURNAL_KERNEL_ALL = ('journalctl_-k_all_boots', '_TRANSPORT=kernel')

#: sos's default size for a journal, in MiB (its --journal-size, 4.1+).
JOURNAL_SIZE = 100

#: kdump's kernel logs of a crashed boot (kexec-tools, Debian's kdump-tools).
CRASH_DMESG = ('/var/crash/*/vmcore-dmesg.txt', '/var/crash/*/dmesg.*')


class Balloon(Plugin, IndependentPlugin, RedHatPlugin, DebianPlugin,
              UbuntuPlugin):
    """Memory balloon state of a virtual machine guest.

    Collects what the guest can see of the hypervisor's memory balloon
    (virtio_balloon, vmw_balloon, hv_balloon, Xen balloon, s390 and pseries
    CMM): the drivers' debugfs and sysfs files, the negotiated virtio
    features, driver parameters, and the memory figures and kernel logs
    needed to tell whether the balloon held the memory a guest ran out of
    when the OOM killer struck.  The kernel logs are dmesg, the syslog
    files, the journal's kernel messages of this boot and the previous one
    (all boots with --all-logs) and kdump's dmesg of the newest crashes.

    debugfs is never mounted by this plugin. When it is not mounted,
    sos_strings/balloon/debugfs.txt says so on its first line.

    The class also carries the distribution tags because sos 4.0 ignores
    IndependentPlugin-only plugins on Debian, Ubuntu and Red Hat (fixed by
    sos commit a36e1b83, in 4.1).
    """

    short_desc = 'Memory balloon drivers of virtual machine guests'

    plugin_name = 'balloon'
    profiles = ('memory', 'virt', 'system')

    files = (
        VMMEMCTL,
        '/proc/vmmemctl',
        '/sys/kernel/debug/hv-balloon',
        '/sys/kernel/debug/virtio-balloon',
        VIRTIO_BALLOON_DRV,
        '/sys/module/virtio_balloon',
        '/sys/module/vmw_balloon',
        '/sys/module/hv_balloon',
        '/sys/devices/system/xen_memory/xen_memory0',
        '/proc/xen/balloon',
        '/proc/sys/vm/cmm_pages',
        '/sys/devices/system/cmm/cmm0',
        '/sys/bus/virtio/drivers/virtio_mem',
    )
    kernel_mods = ('virtio_balloon', 'vmw_balloon', 'hv_balloon',
                   'xen_balloon', 'cmm', 'virtio_mem')

    option_list = _OPTIONS

    def _host_path(self, path):
        """``path`` under the sysroot (sos 4.0 lacks path_join)."""
        sysroot = self.sysroot or '/'
        return os.path.join(sysroot, path.lstrip('/'))

    def _sysroot_which(self, command):
        """True when ``command`` is an executable file in the sysroot."""
        for bindir in ('/usr/local/sbin', '/usr/local/bin', '/usr/sbin',
                       '/usr/bin', '/sbin', '/bin'):
            path = self._host_path(os.path.join(bindir, command))
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return True
        return False

    def _debugfs_state(self):
        """``mounted`` or ``not-mounted``, judged from the directory."""
        try:
            if os.listdir(self._host_path(DEBUGFS)):
                return 'mounted'
        except OSError:
            pass
        return 'not-mounted'

    def _read_small_file(self, path):
        """Text of a regular file, or None; never blocks on a FIFO."""
        real = self._host_path(path)
        try:
            if not stat.S_ISREG(os.stat(real).st_mode):
                return None
            with open(real, 'rb') as fobj:
                return fobj.read(1 << 20).decode('utf-8', 'replace')
        except (OSError, IOError):
            return None

    def _journal_dir(self):
        """The guest's journal directory (host path) holding journal files.

        The persistent one when it has files, else the volatile one; None
        when neither does.
        """
        for path in JOURNAL_DIRS:
            real = self._host_path(path)
            if (glob.glob(os.path.join(real, '*.journal')) or
                    glob.glob(os.path.join(real, '*', '*.journal'))):
                return real
        return None

    def _add_kernel_journal(self):
        """The journal's kernel messages of this boot and the one before.

        journalctl runs on the host (chroot=False) on the guest's journal
        directory under the sysroot, so a guest root without journalctl is
        read too.  --since limits it as sos's logs plugin does; --all-logs
        lifts the size limit and adds every boot the journal holds.
        """
        directory = self._journal_dir()
        if directory is None:
            return
        all_logs = self.get_option('all_logs')
        since = self.get_option('since')
        if all_logs:
            size = 0
        else:
            size = (self.get_option('journal_size') or
                    max(self.get_option('log_size') or 0, JOURNAL_SIZE))
        wanted = list(JOURNAL_KERNEL)
        if all_logs:
            wanted.append(JOURNAL_KERNEL_ALL)
        for name, args in wanted:
            cmd = (f'journalctl --no-pager --directory '
                   f'{shlex.quote(directory)} -o short-precise {args}')
            if since:
                cmd += f" --since '{since}'"
            self.add_cmd_output(cmd, suggest_filename=name, chroot=False,
                                sizelimit=size)

    def _forbid_special_files(self, specs):
        """Keep FIFOs, sockets and device nodes out of the report.

        Opening a FIFO blocks, and sos 4.0 copies such nodes with a
        copystat() on the archive-relative path, which raises under
        --sysroot.  Balloon files are regular files; anything else in their
        place is not ours to copy.
        """
        sysroot = self.sysroot or '/'
        for spec in specs:
            for path in glob.glob(self._host_path(spec)):
                for found in self._walk(path):
                    if self._is_special(found):
                        self.add_forbidden_path(
                            '/' + os.path.relpath(found, sysroot))

    @staticmethod
    def _walk(path):
        """``path`` and, for a real directory, everything below it."""
        yield path
        if os.path.isdir(path) and not os.path.islink(path):
            for top, dirs, names in os.walk(path):
                for name in dirs + names:
                    yield os.path.join(top, name)

    @staticmethod
    def _is_special(path):
        """A FIFO, socket or device node, or a link to one."""
        for stat_fn in (os.lstat, os.stat):
            try:
                mode = stat_fn(path).st_mode
            except OSError:
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or
                    stat.S_ISLNK(mode)):
                return True
        return False

    def setup(self):
        self._forbid_special_files(BALLOON_FILES)
        self.add_copy_spec(list(BALLOON_FILES))
        self.add_copy_spec([
            # what the balloon-oom analyzer needs besides the balloon
            '/proc/meminfo',
            '/proc/vmstat',
            '/proc/zoneinfo',
            '/proc/uptime',
            '/proc/sys/kernel/osrelease',
            '/proc/version',
            # the loaded balloon modules (a driver without its own files)
            '/proc/modules',
            '/sys/class/dmi/id/sys_vendor',
            '/sys/class/dmi/id/product_name',
        ])

        # Kernel logs as files too: under --sysroot commands run on the
        # host, so a guest root's own logs only arrive this way.
        self.add_copy_spec('/var/log/dmesg*')
        self.add_copy_spec('/var/log/kern.log*')
        self.add_copy_spec('/var/log/messages*')
        self.add_copy_spec('/var/log/syslog*')
        # kdump's: sorted newest first and cut at --log-size by sos, as
        # its kdump plugin's are
        for spec in CRASH_DMESG:
            self.add_copy_spec(spec)

        self.add_cmd_output('dmesg')
        self.add_cmd_output('date --utc')
        self._add_kernel_journal()

        if self._sysroot_which('vmware-toolbox-cmd'):
            self.add_cmd_output([
                'vmware-toolbox-cmd stat balloon',
                'vmware-toolbox-cmd stat raw text resources',
            ])

        state = self._debugfs_state()
        if state == 'mounted':
            note = (f'debugfs is mounted at {DEBUGFS}; the balloon files it '
                    'holds were collected where the running kernel has '
                    'them.')
        else:
            note = (f'debugfs is not mounted at {DEBUGFS}, so the balloon '
                    'drivers\' debugfs files (vmmemctl, hv-balloon) could '
                    'not be read. To get them, run\n'
                    f'    mount -t debugfs none {DEBUGFS}\n'
                    'and collect again.')
        self.add_string_as_file(state + '\n' + note + '\n', 'debugfs.txt')

        if self.get_option('vmmemctl-twice'):
            # The first read switches the vmw_balloon statistics on
            # (vmballoon_debug_show -> vmballoon_enable_stats); the copy
            # spec above reads the file again during collection.
            first = self._read_small_file(VMMEMCTL)
            if first is not None:
                self.add_string_as_file(first, 'vmmemctl.first')

# vim: set et ts=4 sw=4 :
