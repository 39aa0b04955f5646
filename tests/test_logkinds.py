# SPDX-License-Identifier: GPL-2.0-or-later
"""The registry of kernel-log line kinds: every kind's needle is in every real
line of that kind, and the prefilter's needles are exactly the registry's."""

import io
from pathlib import Path

import pytest

from balloon_oom.parsers import logkinds
from balloon_oom.parsers.logkinds import ALWAYS_NEEDLES, BOOT_NEEDLES, KINDS, OOM_NEEDLES
from balloon_oom.parsers.logline import decode_line, split_prefix
from balloon_oom.readers import stream
from balloon_oom.readers.members import iter_lines
from tests import shared as _shared

DATA = Path(__file__).parent / "data" / "oom"
REAL = sorted(DATA.glob("*.txt")) + sorted((_shared.SHARED / "real-logs" / "wild").glob("*.log")) \
    + sorted((_shared.CAPTURES / "kvm-6.1").glob("dmesg-*.txt")) \
    + sorted((_shared.CAPTURES / "kvm-6.1").glob("serial-console-*.log"))

#: Kinds no real log here shows: a line from the kernel's format string.
FORMAT_SAMPLES = {
    # fill_balloon(): dev_info_ratelimited(&vb->vdev->dev, "Out of puff! Can't get %u pages\n", …)
    "signature.virtio_balloon.out_of_puff":
        b"[  200.000000] virtio_balloon virtio3: Out of puff! Can't get 1 pages",
    # hot_add_req(): pr_err("Memory hot add failed\n") under pr_fmt KBUILD_MODNAME ": "
    "signature.hv_balloon.hot_add_failed": b"[ 3000.100000] hv_balloon: Memory hot add failed",
    # __vmballoon_cmd(): pr_debug("%s: %s [0x%lx,0x%lx) failed, returned %ld\n", …)
    "signature.vmw_balloon":
        b"[  500.000000] vmw_balloon: __vmballoon_cmd: batchLock [0x1234,0x200) failed, returned 7",
    # virtio_mem_refresh_config(): dev_info(…, "plugged size: 0x%llx", …) and "requested size: 0x%llx"
    "signature.virtio_mem.plugged_size": b"[    1.100000] virtio_mem virtio4: plugged size: 0x40000000",
    "signature.virtio_mem.requested_size":
        b"[    1.100000] virtio_mem virtio4: requested size: 0x80000000",
    # journalctl -o export: every record starts with its cursor field
    "journal.export": b"__CURSOR=s=7d3c0f3c5e7b4b0f;i=1;b=3f0c;m=5;t=5e;x=1",
}


def _text(raw: bytes) -> str:
    return split_prefix(decode_line(raw)).text.strip()


def _real_lines():
    for path in REAL:
        yield from iter_lines(io.BytesIO(path.read_bytes()))


@pytest.fixture(scope="module")
def samples():
    """Real lines of each kind (those its ``matches`` takes)."""
    found = {k.name: [] for k in KINDS}
    for raw in _real_lines():
        text = _text(raw)
        for k in KINDS:
            if k.needle is not None and k.matches(text):
                found[k.name].append(raw)
    return found


def test_every_kind_has_a_needle_or_says_why_not():
    for k in KINDS:
        assert (k.needle is None) == bool(k.no_needle), k.name
        if k.needle is not None:
            assert k.needle and b"\n" not in k.needle, k.name
        assert k.feeds, k.name
    assert len({k.name for k in KINDS}) == len(KINDS)


@pytest.mark.parametrize("kind", [k for k in KINDS if k.needle is not None], ids=lambda k: k.name)
def test_needle_is_in_every_line_of_its_kind(kind, samples):
    lines = samples[kind.name]
    if kind.name in FORMAT_SAMPLES:
        assert not lines, f"{kind.name} now has real lines: drop its format sample"
        lines = [FORMAT_SAMPLES[kind.name]]
        if kind.name != "journal.export":
            assert kind.matches(_text(lines[0]))
    assert lines, f"{kind.name}: no real line of this kind (add one to FORMAT_SAMPLES)"
    for raw in lines:
        assert kind.needle in raw, (kind.name, raw)


def test_needles_are_the_registrys():
    """The prefilter looks for exactly the registry's needles: a new kind's
    needle reaches it without a second table."""
    assert set(ALWAYS_NEEDLES) == set(OOM_NEEDLES) | {k.needle for k in KINDS
                                                      if k.needle and not k.boot}
    assert set(BOOT_NEEDLES) == {k.needle for k in KINDS if k.needle and k.boot}
    assert not set(BOOT_NEEDLES) & set(ALWAYS_NEEDLES)
    pf = stream._prefilter("python")
    block = b"".join(b"[ 1.0] x %s y\n" % n for n in ALWAYS_NEEDLES + BOOT_NEEDLES)
    hits = pf.scan(block)
    assert len(hits.needles) == len(ALWAYS_NEEDLES) and len(hits.boot) == len(BOOT_NEEDLES)


def test_oom_entry_kinds_are_covered_by_the_oom_needles():
    """The OOM entry kinds take their needles from the OOM parser's registry
    (parsers/oom/kinds.py), and the prefilter looks for each of them."""
    seen = 0
    for k in KINDS:
        if k.name.startswith("oom.") and k.needle is not None:
            assert k.needle in ALWAYS_NEEDLES, k.name
            seen += 1
    assert seen == 7 and set(OOM_NEEDLES) <= set(ALWAYS_NEEDLES)


def test_every_signature_table_row_is_a_kind():
    names = [k.name for k in KINDS if k.name.startswith("signature.")]
    assert names == [f"signature.{kind}" for kind, _rx in logkinds._SIGNATURES]


def test_a_line_without_any_needle_is_no_kind():
    """What the prefilter skips no kind takes: on every real line holding no
    needle, no kind with a needle matches."""
    needles = ALWAYS_NEEDLES + BOOT_NEEDLES
    for raw in _real_lines():
        if not any(n in raw for n in needles):
            text = _text(raw)
            assert not [k.name for k in KINDS if k.needle is not None and k.matches(text)], raw
