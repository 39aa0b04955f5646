# SPDX-License-Identifier: GPL-2.0-or-later
"""An in-memory kernel for the drgn helper tests, and tests of it.

Types come from real DWARF: either C declarations written for a test (one
per kernel generation, compiled here with ``gcc -g``) or the real Debian
debug files (``vmlinux``, ``hv_balloon.ko``...).  Each is loaded into a
:class:`drgn.Program` as an extra module; the test then places objects in a
memory segment with values it chooses and names its globals through an
object finder.  No kernel runs: this is the "mock" part, used because a
guest with every driver generation cannot run here.
"""

from __future__ import annotations

import os
import subprocess
from typing import Dict, Iterable, Optional, Tuple, Union

import pytest
from drgn import (
    Architecture,
    FindObjectFlags,
    Object,
    Platform,
    PlatformFlags,
    Program,
    Type,
    TypeKind,
    filename_matches,
    sizeof,
)

from tests.conftest import tmpdir_str  # noqa: F401 - the fixture is in conftest.py

X86_64 = Platform(Architecture.X86_64, PlatformFlags.IS_64_BIT | PlatformFlags.IS_LITTLE_ENDIAN)

#: Declarations every simulated kernel shares (kernel names and layouts
#: simplified, member names as in the kernel).
COMMON_C = r"""
typedef unsigned char u8; typedef unsigned short u16; typedef unsigned int u32;
typedef unsigned long long u64; typedef u16 __virtio16; typedef u64 __virtio64;
typedef struct { int counter; } atomic_t;
typedef struct { long counter; } atomic_long_t;
typedef struct { long long counter; } atomic64_t;
struct list_head { struct list_head *next, *prev; };
struct kobject { const char *name; struct list_head entry; };
struct kset { struct list_head list; struct kobject kobj; };
struct klist { struct list_head k_list; };
struct klist_node { void *n_klist; struct list_head n_node; };
struct device_driver { const char *name; };
struct device { struct kobject kobj; const char *init_name; struct device_driver *driver; };
struct bus_type { const char *name; };
struct subsys_private { struct kset subsys; struct klist klist_devices; struct bus_type *bus; };
struct device_private { struct klist_node knode_bus; struct device *device; };
struct notifier_block { void *notifier_call; struct notifier_block *next; int priority; };
struct shrinker { void *count_objects, *scan_objects; long batch; int seeks; };
struct balloon_dev_info { unsigned long isolated_pages; struct list_head pages; };
struct kset *bus_kset;
"""


def compile_types(source: str, directory: str, name: str = "types") -> str:
    """Compile C declarations with ``gcc -g`` and return the object file."""
    c_path = os.path.join(directory, name + ".c")
    o_path = os.path.join(directory, name + ".o")
    with open(c_path, "w") as f:
        f.write(source)
    subprocess.run(
        ["gcc", "-g", "-O0", "-fno-eliminate-unused-debug-types", "-c", "-o", o_path, c_path],
        check=True,
    )
    return o_path


class SimKernel:
    """A :class:`drgn.Program` over types from *debug_files* and test-made memory."""

    BASE = 0xFFFF888000000000

    def __init__(self, debug_files: Iterable[str], size: int = 1 << 20) -> None:
        self.prog = Program(X86_64)
        for i, path in enumerate(debug_files):
            self.prog.extra_module(path, i, create=True).try_file(path, force=True)
        self.memory = bytearray(size)
        self._next = self.BASE + 64
        self.globals: Dict[Tuple[str, Optional[str]], Object] = {}
        self.prog.add_memory_segment(self.BASE, size, self._read)
        self.prog.register_object_finder("sim", self._find, enable_index=0)

    @classmethod
    def from_c(cls, source: str, tmpdir: str) -> "SimKernel":
        return cls([compile_types(COMMON_C + source, tmpdir)])

    def _read(self, address: int, count: int, offset: int, physical: bool) -> bytes:
        return bytes(self.memory[offset : offset + count])

    def _find(self, prog: Program, name: str, flags: FindObjectFlags, filename: Optional[str]):
        if not flags & FindObjectFlags.VARIABLE:
            return None
        for (gname, gfile), obj in self.globals.items():
            if gname == name and (filename is None or filename_matches(gfile, filename)):
                return obj
        return None

    def type(self, t: Union[str, Type]) -> Type:
        return self.prog.type(t) if isinstance(t, str) else t

    def alloc(self, t: Union[str, Type]) -> Object:
        """A zeroed object of type *t* in simulated memory."""
        t = self.type(t)
        address = self._next
        self._next = (address + sizeof(t) + 63) & ~63
        assert self._next - self.BASE <= len(self.memory), "simulated memory full"
        return Object(self.prog, t, address=address)

    def global_(self, name: str, t: Union[str, Type], filename: Optional[str] = None) -> Object:
        """Allocate *t* and make it findable as ``prog[name]`` (qualified by *filename*)."""
        obj = self.alloc(t)
        self.globals[(name, filename)] = obj
        return obj

    def set(self, obj: Object, value: Union[int, Object]) -> None:
        """Store an integer (or an object's address, for pointers) in *obj*."""
        if isinstance(value, Object):
            value = value.address_ if value.address_ is not None else value.value_()
        t = obj.type_.unqualified()
        while t.kind == TypeKind.TYPEDEF:
            t = t.type
        size = sizeof(t)
        signed = t.kind in (TypeKind.INT, TypeKind.ENUM) and bool(
            getattr(t, "is_signed", False) or (t.kind == TypeKind.ENUM and t.type.is_signed)
        )
        raw = value.to_bytes(size, "little", signed=signed and value < 0)
        offset = obj.address_ - self.BASE
        self.memory[offset : offset + size] = raw

    def set_string(self, ptr: Object, text: str) -> None:
        """Point a ``char *`` at a new NUL-terminated copy of *text*."""
        data = text.encode() + b"\0"
        address = self._next
        self._next = (address + len(data) + 63) & ~63
        self.memory[address - self.BASE : address - self.BASE + len(data)] = data
        self.set(ptr, address)

    def list_init(self, head: Object) -> None:
        self.set(head.next, head.address_)
        self.set(head.prev, head.address_)

    def list_add_tail(self, head: Object, node: Object) -> None:
        """``list_add_tail(node, head)``; both ``struct list_head`` lvalues."""
        last = Object(self.prog, head.type_, address=head.prev.value_())
        self.set(node.next, head.address_)
        self.set(node.prev, last.address_)
        self.set(last.next, node.address_)
        self.set(head.prev, node.address_)


def add_bus_device(sim: SimKernel, bus_name: str, dev: Object, driver_name: Optional[str]) -> None:
    """Register ``struct device`` *dev* on the bus named *bus_name* (created on first use)."""
    prog = sim.prog
    kset_ptr = sim.globals.get(("bus_kset", None))
    if kset_ptr is None:
        kset_ptr = sim.global_("bus_kset", "struct kset *")
        kset = sim.alloc("struct kset")
        sim.list_init(kset.list)
        sim.set(kset_ptr, kset)
    kset = kset_ptr[0]
    sp = None
    from drgn.helpers.linux.list import list_for_each_entry

    for candidate in list_for_each_entry(
        "struct subsys_private", kset.list.address_of_(), "subsys.kobj.entry"
    ):
        if candidate.subsys.kobj.name.string_() == bus_name.encode():
            sp = candidate
    if sp is None:
        sp = sim.alloc("struct subsys_private")
        sim.set_string(sp.subsys.kobj.name, bus_name)
        bus = sim.alloc("struct bus_type")
        sim.set_string(bus.name, bus_name)
        sim.set(sp.bus, bus)
        sim.list_init(sp.klist_devices.k_list)
        sim.list_add_tail(kset.list, sp.subsys.kobj.entry)
    priv = sim.alloc("struct device_private")
    sim.set(priv.device, dev.address_)
    sim.list_add_tail(sp.klist_devices.k_list, priv.knode_bus.n_node)
    if driver_name is not None:
        drv = sim.alloc("struct device_driver")
        sim.set_string(drv.name, driver_name)
        sim.set(dev.driver, drv)
    del prog


def debian_debug_files(module: str) -> Tuple[str, str]:
    """``(vmlinux, module.ko)`` debug files of the lab's Debian kernel, or skip.

    The lab (tests/lab, another engineer's) downloads and caches the Debian
    kernel and its ``-dbg`` package; without it these tests skip.
    """
    try:
        try:
            from tests.lab import kernel_cache
        except ImportError:
            from tests.lab.kernel import kernel_cache
        kc = kernel_cache()
        vmlinux, ko = str(kc.vmlinux), str(kc.module_debug(module))
    except Exception as e:  # noqa: BLE001 - any lab failure means "not here"
        pytest.skip(f"Debian kernel cache unavailable: {e}")
    for path in (vmlinux, ko):
        if not os.path.exists(path):
            pytest.skip(f"{path} not cached")
    return vmlinux, ko


def test_sim_reads_back_values_and_qualified_globals(tmpdir_str):
    sim = SimKernel.from_c("struct pair { int a; long b; };", tmpdir_str)
    a = sim.global_("balloon", "struct pair", filename="drivers/misc/vmw_balloon.c")
    b = sim.global_("balloon", "struct pair", filename="drivers/other/balloon.c")
    sim.set(a.b, 65536)
    sim.set(b.a, -3)
    assert sim.prog.object("balloon", filename="vmw_balloon.c").b.value_() == 65536
    assert sim.prog.object("balloon", filename="other/balloon.c").a.value_() == -3


def test_sim_bus_lists_devices_in_order(tmpdir_str):
    from balloon_drgn.virtio import for_each_bus_device

    sim = SimKernel.from_c("", tmpdir_str)
    devs = [sim.alloc("struct device") for _ in range(3)]
    for i, dev in enumerate(devs):
        sim.set_string(dev.kobj.name, f"virtio{i}")
        add_bus_device(sim, "virtio", dev, "virtio_balloon" if i == 1 else "virtio_net")
    other = sim.alloc("struct device")
    add_bus_device(sim, "pci", other, None)
    found = list(for_each_bus_device(sim.prog, "virtio"))
    assert [d.value_() for d in found] == [d.address_ for d in devs]
    assert [d.value_() for d in for_each_bus_device(sim.prog, "pci")] == [other.address_]
    assert list(for_each_bus_device(sim.prog, "xen")) == []
