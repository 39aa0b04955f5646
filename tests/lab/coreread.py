# SPDX-License-Identifier: GPL-2.0-or-later
"""Read one value from a lab vmcore with a tool other than balloon-oom.

The lab's ground truth for a dump is the guest's own ``/proc`` at the same
moment; these readers give the dump's side of the comparison. ``crash`` is
the reference where it can open the kernel. Debian 12's crash 8.0.2 cannot
open the 6.12 dumps: it stops at ``crash: read error: kernel virtual address:
... type: "page_offset_base"`` (with or without ``--kaslr``), and prints
nothing for the command. There the dump is read with the drgn *library*
directly (not through balloon-oom's code), as :data:`READER` says.

QEMU 7.2 writes ``kdump-zlib`` dumps in makedumpfile's *flattened* format,
which only crash reads as is; :func:`unflatten` rebuilds the kdump file
(what ``makedumpfile -R`` does) for drgn.
"""

from __future__ import annotations

import re
import struct
import subprocess
import tempfile
from pathlib import Path

__all__ = ["READER", "crash_print", "drgn_totalram_pages", "totalram_pages", "unflatten"]

#: Which tool reads each lab kernel's dumps (see the module docstring).
READER = {"5.10": "crash", "6.1": "crash", "6.12": "drgn", "7": "drgn"}
_FLAT_MAGIC = b"makedumpfile"


def crash_print(vmlinux: Path, vmcore: Path, expr: str) -> int:
    """``crash -s vmlinux vmcore`` running ``p -d EXPR``; the decimal value."""
    with tempfile.NamedTemporaryFile("w", suffix=".crash") as cmds:
        cmds.write(f"p -d {expr}\nquit\n")
        cmds.flush()
        out = subprocess.run(["crash", "-s", str(vmlinux), str(vmcore), "-i", cmds.name],
                             capture_output=True, text=True, timeout=300).stdout
    m = re.search(r"^\$1 = (\d+)$", out, re.M)
    assert m, f"crash gave no value for {expr} in {vmcore}:\n{out[-2000:]}"
    return int(m.group(1))


def unflatten(src: Path, dst: Path) -> None:
    """Rebuild a kdump file from makedumpfile's flattened format (``makedumpfile -R``).

    Flattened: a 4096-byte header starting ``makedumpfile``, then records of
    a big-endian ``int64 offset, int64 size`` and ``size`` bytes to write at
    ``offset``, ended by a record with offset -1 (makedumpfile's
    ``struct makedumpfile_data_header``).
    """
    with open(src, "rb") as f, open(dst, "wb") as out:
        if not f.read(4096).startswith(_FLAT_MAGIC):
            raise ValueError(f"{src}: not a makedumpfile flattened file")
        while True:
            head = f.read(16)
            if len(head) != 16:
                raise ValueError(f"{src}: truncated (no end record)")
            offset, size = struct.unpack(">qq", head)
            if offset == -1:
                return
            data = f.read(size)
            if len(data) != size or offset < 0:
                raise ValueError(f"{src}: bad record at offset {offset} size {size}")
            out.seek(offset)
            out.write(data)


def drgn_totalram_pages(vmlinux: Path, vmcore: Path) -> int:
    """``_totalram_pages.counter`` read with the drgn library (flattened dumps rebuilt first)."""
    import drgn

    with open(vmcore, "rb") as f:
        flat = f.read(len(_FLAT_MAGIC)) == _FLAT_MAGIC
    with tempfile.TemporaryDirectory() as tmp:
        path = vmcore
        if flat:
            path = Path(tmp) / "vmcore.kdump"
            unflatten(vmcore, path)
        # QEMU's kdump header names no architecture libkdumpfile accepts:
        # give the platform (the lab's guests are x86-64, like this host).
        prog = drgn.Program(drgn.host_platform)
        prog.set_core_dump(str(path))
        prog.load_debug_info([str(vmlinux)])
        # An atomic_long_t since Linux kernel commit ca79b0c211af ("mm: convert
        # totalram_pages and totalhigh_pages variables to atomic") (in v5.0).
        return prog["_totalram_pages"].counter.value_()


def totalram_pages(kernel: str, vmlinux: Path, vmcore: Path) -> int:
    """``_totalram_pages`` of ``vmcore`` by the reader :data:`READER` names for ``kernel``."""
    if READER[kernel] == "crash":
        return crash_print(vmlinux, vmcore, "_totalram_pages.counter")
    return drgn_totalram_pages(vmlinux, vmcore)
