# SPDX-License-Identifier: GPL-2.0-or-later
"""
drgn command ``balloon``
------------------------

Registered with drgn's command framework when drgn loads the
``balloon_drgn.commands`` plugin (entry point group ``drgn.plugins``), so
``balloon`` (or ``balloon --json``) works in drgn's interactive shell.
"""

import argparse
import json
from typing import Any

from drgn import Program
from drgn.commands import argument, command

from balloon_drgn.snapshot import balloon_snapshot, snapshot_to_dict

__all__ = ("format_snapshot",)


def format_snapshot(snap_dict: dict) -> str:
    """A short human summary of :func:`snapshot_to_dict()` output."""
    lines = []
    mem = snap_dict["memory"]
    page_kb = mem["page_size"] // 1024
    lines.append(
        f"kernel {snap_dict['release']}: totalram {mem['totalram_pages']} pages "
        f"({mem['totalram_pages'] * page_kb} kB), vm events {mem['vm_events']}"
    )
    if mem["nr_balloon_pages"] is not None:
        lines.append(f"NR_BALLOON_PAGES {mem['nr_balloon_pages']}")
    for vb in snap_dict["virtio"]:
        lines.append(
            f"virtio_balloon {vb['device']}: num_pages {vb['num_pages']} "
            f"({vb['num_pages'] * 4} kB), deflate_on_oom {vb['deflate_on_oom']}, "
            f"features {' '.join(vb['feature_names'])}"
        )
    for key in ("hyperv", "vmware", "xen", "s390_cmm", "pseries_cmm"):
        # balloon_stats exists in every CONFIG_XEN_BALLOON kernel; it is only
        # set up (current_pages > 0) in a Xen guest.
        if key == "xen" and snap_dict[key] and not snap_dict[key]["current_pages"]:
            continue
        if snap_dict[key] is not None:
            values = ", ".join(f"{k} {v}" for k, v in snap_dict[key].items())
            lines.append(f"{key}: {values}")
    for missing in snap_dict["missing_debuginfo"]:
        lines.append(
            f"missing debuginfo: {missing['module']} (expected {missing['expected_path']})"
        )
    panic = snap_dict["panic"]
    if panic and panic["message"]:
        lines.append(f"panic: {panic['message']} (at OOM: {panic['taken_at_oom']})")
    return "\n".join(lines)


@command(
    description="show memory balloon state",
    arguments=(argument("--json", action="store_true", help="print JSON"),),
)
def _cmd_balloon(prog: Program, name: str, args: argparse.Namespace, **kwargs: Any) -> None:
    snap = snapshot_to_dict(balloon_snapshot(prog))
    if args.json:
        print(json.dumps(snap, indent=2))
    else:
        print(format_snapshot(snap))
