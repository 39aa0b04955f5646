# SPDX-License-Identifier: GPL-2.0-or-later
"""The lab's kernel cache (on every kernel) and its pure helpers on real inputs.

The cache tests (``-m lab``) fetch a kernel the first time; the unmarked
tests need no QEMU and no network.
"""

from __future__ import annotations

import doctest
import importlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests import shared as _shared
from tests.lab import KERNELS, kernel_cache
from tests.lab.coreread import READER, unflatten
from tests.lab.extramods import ensure_extra_module, extra_modules, module_file
from tests.lab.kernel import modinfo
from tests.lab.guest import parse_replies
from tests.lab.oomlog import oom_events
from tests.lab.truthcases import ALL_KERNELS, lab

REAL = (_shared.CAPTURES / "kvm-6.1")


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_kernel_cache_has_balloon_module_debuginfo(kernel):
    kc = kernel_cache(kernel=kernel)
    assert kc.name == kernel
    config = kc.config.read_text()
    for name, option in (("virtio_balloon", "VIRTIO_BALLOON"), ("hv_balloon", "HYPERV_BALLOON"),
                         ("vmw_balloon", "VMWARE_BALLOON"), ("xen_balloon", "XEN_BALLOON")):
        setting = re.search(rf"^CONFIG_{option}=(\w)", config, re.M)
        if setting and setting.group(1) == "m":
            data = kc.module_debug(name).read_bytes()
            assert data[:4] == b"\x7fELF" and b".debug_info" in data
        else:   # built in (or absent): no module file, types are in vmlinux
            with pytest.raises(FileNotFoundError):
                kc.module_debug(name)
    assert kc.vmlinux.stat().st_size > 100 << 20


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_kernel_cache_guest_modules_are_plain_elf_and_builtins_are_listed(kernel):
    """Modules are stored decompressed (6.12 ships .ko.xz) and a wanted module
    missing from the load order is one the kernel builds in (6.12: virtio_pci)."""
    kc = kernel_cache(kernel=kernel)
    assert kc.guest_modules[-1] == "virtio_balloon"
    for name in kc.guest_modules:
        data = kc.module(name).read_bytes()
        assert data[:4] == b"\x7fELF" and kc.module(name).suffix == ".ko"
    builtin = (kc.modules_dir / "modules.builtin").read_text().split() \
        if (kc.modules_dir / "modules.builtin").exists() else []
    for name in kc.builtin_modules:
        assert any(Path(line).name == f"{name}.ko" for line in builtin)
        assert name not in kc.guest_modules
    config = kc.config.read_text()
    assert ("CONFIG_VIRTIO_PCI=y" in config) == ("virtio_pci" in kc.builtin_modules)


@lab
@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_kernel_cache_extra_modules_match_their_files(kernel):
    """extra-modules.json (written by the kernel fetch, or by extramods.py for a
    kernel cached before) names virtio_mem's loadable .ko, whose .modinfo gives
    its name and depends, all loaded or built in, and its debug .ko."""
    kc = kernel_cache(kernel=kernel)
    entry = ensure_extra_module(kc, "virtio_mem")
    assert extra_modules(kc)["virtio_mem"] == entry
    ko = module_file(kc, "virtio_mem")
    info = modinfo(ko.read_bytes())
    assert ko.suffix == ".ko" and info["name"] == "virtio_mem"
    assert entry["depends"] == [d for d in info.get("depends", "").split(",") if d]
    listed = kc.modules_dir / "modules.builtin"
    builtin = {Path(line).name[:-3].replace("-", "_") for line in listed.read_text().split()} \
        if listed.exists() else set()
    assert set(entry["depends"]) <= set(kc.guest_modules) | builtin
    debug = (kc.dir / "dbg" / entry["debug"]).read_bytes()
    assert debug[:4] == b"\x7fELF" and b".debug_info" in debug
    assert kc.module_debug("virtio_mem") == kc.dir / "dbg" / entry["debug"]


# Pure helpers, on real inputs (no QEMU).

def test_every_lab_kernel_has_a_vmcore_reader():
    assert set(READER) == set(KERNELS) and set(READER.values()) <= {"crash", "drgn"}


def test_unflatten_writes_each_record_at_its_offset(tmp_path):
    import struct
    flat = tmp_path / "flat"
    flat.write_bytes(b"makedumpfile".ljust(4096, b"\0")
                     + struct.pack(">qq", 8, 3) + b"xyz"
                     + struct.pack(">qq", 0, 4) + b"KDUM"
                     + struct.pack(">qq", -1, -1))
    unflatten(flat, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"KDUM\0\0\0\0xyz"
    (tmp_path / "cut").write_bytes(flat.read_bytes()[:-16])
    with pytest.raises(ValueError, match="truncated"):
        unflatten(tmp_path / "cut", tmp_path / "out2")


def test_oom_events_on_the_real_kvm_capture():
    events = oom_events((REAL / "dmesg-oom-report-deflate-off.txt").read_text().splitlines())
    assert [(e["victim_pid"], e["victim_comm"], e["kind"], e["constraint"]) for e in events] \
        == [(112, "hog", "global", "CONSTRAINT_NONE")]


def test_parse_replies_keeps_bytes_and_rc():
    import base64
    blob = bytes(range(256))
    lines = ["@@CMD dmesg", *base64.encodebytes(blob).decode().splitlines(), "@@END 1",
             "@@LINK /sys/bus/virtio/drivers/virtio_balloon/virtio0 ../x", "@@DONE capture 0 uptime=3.5"]
    cap = parse_replies(lines)
    assert cap.commands["dmesg"] == (blob, 1)
    assert cap.links == {"/sys/bus/virtio/drivers/virtio_balloon/virtio0": "../x"}


def test_write_cpio_is_read_by_busybox_cpio(tmp_path):
    from tests.lab.initramfs import write_cpio
    archive = write_cpio([("bin", 0o40755, None, (0, 0)),
                          ("bin/hello", 0o100644, b"hi\n", (0, 0)),
                          ("dev/console", 0o20600, None, (5, 1))])
    (tmp_path / "a.cpio").write_bytes(archive)
    listing = subprocess.run(["busybox", "cpio", "-tv"], stdin=open(tmp_path / "a.cpio", "rb"),
                             capture_output=True, text=True, check=True).stdout
    assert re.search(r"^-rw-r--r-- 0/0 +3 .* bin/hello$", listing, re.M)
    assert re.search(r"^crw------- 0/0 .* dev/console$", listing, re.M)
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["busybox", "cpio", "-id"], stdin=open(tmp_path / "a.cpio", "rb"), cwd=out,
                   capture_output=True)
    assert (out / "bin/hello").read_bytes() == b"hi\n"
    if os.geteuid() == 0:   # mknod needs root
        rdev = (out / "dev/console").stat().st_rdev
        assert (os.major(rdev), os.minor(rdev)) == (5, 1)


@pytest.mark.parametrize("module", ["debs", "extract", "initramfs", "guest", "oomlog", "drift"])
def test_doctests(module):
    mod = importlib.import_module(f"tests.lab.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0
