# SPDX-License-Identifier: GPL-2.0-or-later
"""Lay a guest :class:`~tests.lab.guest.Capture` out as a sosreport-shaped tree.

Paths are the ones sos uses (``proc/meminfo``, ``sos_commands/kernel/dmesg``,
``sys/devices/.../virtio0/features`` with ``sys/bus/virtio/drivers/
virtio_balloon/virtio0`` a relative symlink to it, exactly as read in the
guest). Lab-only command outputs go to ``sos_commands/lab/``. ``version.txt``
and ``sos_reports/manifest.json`` say the tree was written by the lab, not sos.
"""

from __future__ import annotations

import json
import os
import posixpath
from datetime import datetime
from pathlib import Path
from typing import Dict, List

from .guest import Capture

__all__ = ["COMMAND_PATHS", "write_tree"]

# capture command name -> (sos command string, tree path)
COMMAND_PATHS: Dict[str, tuple] = {
    "dmesg": ("dmesg", "sos_commands/kernel/dmesg"),
    "uname_-a": ("uname -a", "sos_commands/kernel/uname_-a"),
    "lsmod": ("lsmod", "sos_commands/kernel/lsmod"),
    "uname_-r": ("uname -r", "sos_commands/lab/uname_-r"),
    "ls_sys_kernel_debug": ("ls /sys/kernel/debug", "sos_commands/lab/ls_.sys.kernel.debug"),
    "ls_qemu_fw_cfg": ("ls /sys/firmware/qemu_fw_cfg/by_name/etc",
                       "sos_commands/lab/ls_.sys.firmware.qemu_fw_cfg.by_name.etc"),
}
ROOT_LINKS = {"uname": "sos_commands/kernel/uname_-a", "lsmod": "sos_commands/kernel/lsmod"}


def _resolve(guest_path: str, links: Dict[str, str]) -> str:
    """Guest path with a captured symlink prefix replaced by its target."""
    for link, target in links.items():
        if guest_path.startswith(link + "/") and target:
            real = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
            return real + guest_path[len(link):]
    return guest_path


def write_tree(cap: Capture, dest: Path, *, version: str, label: str,
               start_time: datetime, end_time: datetime) -> Path:
    """Write ``cap`` under ``dest`` (created); return ``dest``."""
    dest.mkdir(parents=True)
    files_manifest: List[dict] = []
    for guest_path, data in sorted(cap.files.items()):
        if cap.file_rc.get(guest_path, 0) != 0:
            continue
        rel = _resolve(guest_path, cap.links).lstrip("/")
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        files_manifest.append({"specification": guest_path, "files_copied": [rel], "tags": []})
    for link, target in sorted(cap.links.items()):
        if not target:
            continue
        out = dest / link.lstrip("/")
        out.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, out)
    commands_manifest = []
    for name, (data, rc) in sorted(cap.commands.items()):
        exe, rel = COMMAND_PATHS.get(name, (name, f"sos_commands/lab/{name}"))
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        commands_manifest.append({"command": exe.split()[0], "parameters": exe.split()[1:],
                                  "exec": exe, "filepath": rel, "return_code": rc, "tags": []})
    for link, target in ROOT_LINKS.items():
        if (dest / target).exists():
            os.symlink(target, dest / link)
    (dest / "version.txt").write_text(
        f"sosreport: {version}\n"
        f"lab: {label} (a balloon-oom lab tree from a QEMU guest, not written by sos)\n")
    manifest = {
        "version": version,
        "cmdline": f"python -m tests.lab run ({label})",
        "start_time": str(start_time),
        "end_time": str(end_time),
        "run_time": str(end_time - start_time),
        "compression": "",
        "policy": "balloon-oom lab",
        "components": {"report": {"sysroot": "/", "enabled_plugins": ["lab"], "plugins": {
            "lab": {"files": files_manifest, "commands": commands_manifest}}}},
        "lab": {"label": label, "guest_uptime_s": cap.uptime,
                "missing": sorted(cap.missing)},
    }
    (dest / "sos_reports").mkdir()
    (dest / "sos_reports" / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return dest
