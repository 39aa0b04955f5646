# SPDX-License-Identifier: GPL-2.0-or-later
"""``python -m tests.lab {list,run,path,shell,kernel}``: drive the real-guest lab."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

from . import DEFAULT_KERNEL, KERNELS, SCENARIOS, LabUnavailable, ensure_run, kernel_cache, run_dir
from .guest import qemu_command
from .initramfs import ensure_initramfs


def _shell(deflate_on_oom: bool, kernel: str) -> int:
    """Boot the guest with ttyS0 on stdio for a human."""
    kc = kernel_cache(kernel=kernel)
    initrd = ensure_initramfs(kc)
    sock_dir = Path(tempfile.mkdtemp(prefix="balloon-lab-"))
    cmd = qemu_command(kc, initrd, sock_dir, sock_dir, deflate_on_oom, serial="mon:stdio",
                       append_extra="lab_shell=1")
    print(f"QMP socket:     {sock_dir / 'qmp.sock'}  (e.g. socat - UNIX-CONNECT:...)\n"
          f"control socket: {sock_dir / 'ctl.sock'}  (ttyS1: 'capture', 'hog', 'memcg-hog 64M', 'ping')\n"
          f"vmlinux:        {kc.vmlinux}\n"
          "A shell runs on this console. Quit QEMU with Ctrl-a x.", file=sys.stderr)
    try:
        return subprocess.call(cmd)
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the scenarios")
    run = sub.add_parser("run", help="run a scenario (reused when complete)")
    run.add_argument("scenario", nargs="+", choices=sorted(SCENARIOS) + ["all"])
    run.add_argument("--force", action="store_true", help="redo even if complete")
    path = sub.add_parser("path", help="print a scenario's run directory")
    path.add_argument("scenario", choices=sorted(SCENARIOS))
    sub.add_parser("kernel", help="fetch (once) and print the cached kernel's files")
    shell = sub.add_parser("shell", help="boot the guest with its console on stdio")
    shell.add_argument("--deflate-on-oom", action="store_true")
    for p in (run, path, sub.choices["kernel"], shell):
        p.add_argument("--kernel", choices=sorted(KERNELS), default=DEFAULT_KERNEL,
                       help=f"kernel generation (default {DEFAULT_KERNEL})")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "list":
            for s in SCENARIOS.values():
                print(f"{s.name:12} {s.description}")
        elif args.cmd == "run":
            names = list(SCENARIOS) if "all" in args.scenario else args.scenario
            for name in names:
                t = time.monotonic()
                r = ensure_run(name, force=args.force, kernel=args.kernel)
                print(f"{name}\t{r.dir}\t{time.monotonic() - t:.1f}s")
        elif args.cmd == "path":
            print(run_dir(args.scenario, kernel_cache(kernel=args.kernel)))
        elif args.cmd == "kernel":
            kc = kernel_cache(kernel=args.kernel)
            print(f"release {kc.release} ({kc.version})\nvmlinuz {kc.vmlinuz}\n"
                  f"vmlinux {kc.vmlinux}\ndebuginfo {kc.debuginfo_dir}")
        elif args.cmd == "shell":
            return _shell(args.deflate_on_oom, args.kernel)
    except LabUnavailable as e:
        print(f"lab unavailable: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
