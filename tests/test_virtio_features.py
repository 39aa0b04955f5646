"""virtio feature strings: real captures (QEMU 7.2 / Linux 6.1, Firecracker / 6.18) and the seed doc."""

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

import balloon_oom.parsers.virtio_features as vf
from balloon_oom.errors import ParseError
from balloon_oom.parsers.virtio_features import (
    decode_bits, decode_string, explain_features, parse_device_features, parse_features)
from tests import shared as _shared

REAL = _shared.CAPTURES
KVM = REAL / "kvm-6.1"


def test_doctests():
    assert doctest.testmod(vf).failed == 0


@pytest.mark.parametrize("phase", ["before", "after-inflate", "after-oom"])
def test_kvm_deflate_off_every_phase(phase):
    f = parse_features((KVM / f"features-{phase}-deflate-off.txt").read_text(), "features")
    assert f.bits == [1, 29, 32, 40]
    assert f.value == 0x10120000002  # what drgn/crash read from vdev->features
    assert f.deflate_on_oom is False
    assert f.width == 64
    assert f.negotiated is True


@pytest.mark.parametrize("phase", ["before", "after-inflate", "after-oom"])
def test_kvm_deflate_on_every_phase(phase):
    f = parse_features((KVM / f"features-{phase}-deflate-on.txt").read_text(), "features")
    assert f.names == ["STATS_VQ", "DEFLATE_ON_OOM", "RING_EVENT_IDX", "VERSION_1", "RING_RESET"]
    assert f.value == 0x10120000006
    assert f.deflate_on_oom is True


def test_firecracker_128_characters():
    text = (REAL / "firecracker-6.18/virtio0-features.txt").read_text()
    f = parse_features(text, "sys/bus/virtio/drivers/virtio_balloon/virtio0/features")
    assert f.width == 128
    assert f.bits == [1, 2, 5, 7, 32]
    assert f.names == ["STATS_VQ", "DEFLATE_ON_OOM", "REPORTING", "bit 7", "VERSION_1"]
    assert f.evidence.line == 1 and f.evidence.text == text.strip()


@pytest.mark.parametrize("text,deflate", [
    ("0100000000000000000000000000110010000000000000000000000000000000", False),
    ("0110000000000000000000000000110010000000000000000000000000000000", True),
])
def test_seed_doc_examples(text, deflate):
    f = parse_features(text + "\n", "features")
    assert f.deflate_on_oom is deflate
    assert "RING_INDIRECT_DESC" in f.names and "RING_EVENT_IDX" in f.names and "VERSION_1" in f.names


def test_crlf_and_no_newline():
    s = "0110" + "0" * 60
    assert parse_features(s + "\r\n", "f").bits == [1, 2]
    assert parse_features(s, "f").bits == [1, 2]


@pytest.mark.parametrize("text,msg", [
    ("0" * 63 + "\n", "63 characters"),
    ("0" * 65, "65 characters"),
    ("0" * 127, "127 characters"),
    ("01x" + "0" * 61, "'x'"),
    ("0120" + "0" * 60, "'2'"),
])
def test_rejects_wrong_length_or_characters(text, msg):
    with pytest.raises(ParseError) as err:
        parse_features(text, "sys/x/features")
    assert err.value.path == "sys/x/features" and err.value.line == 1
    assert msg in str(err.value)


def test_rejects_empty_and_two_lines():
    with pytest.raises(ParseError, match="empty"):
        parse_features("\n", "f")
    with pytest.raises(ParseError) as err:
        parse_features("0" * 64 + "\n" + "0" * 64 + "\n", "f")
    assert err.value.line == 2


def test_every_named_bit_and_unknown_bits():
    assert decode_bits(0b111111) == ["MUST_TELL_HOST", "STATS_VQ", "DEFLATE_ON_OOM",
                                     "FREE_PAGE_HINT", "PAGE_POISON", "REPORTING"]
    transport = sum(1 << b for b in (24, 27, 28, 29, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41))
    assert decode_bits(transport) == [
        "NOTIFY_ON_EMPTY", "ANY_LAYOUT", "RING_INDIRECT_DESC", "RING_EVENT_IDX", "VERSION_1",
        "ACCESS_PLATFORM", "RING_PACKED", "IN_ORDER", "ORDER_PLATFORM", "SR_IOV",
        "NOTIFICATION_DATA", "NOTIF_CONFIG_DATA", "RING_RESET", "ADMIN_VQ"]
    assert decode_bits(1 << 100) == ["bit 100"]
    assert decode_string("0" * 127 + "1") == ["bit 127"]


def test_explain_features_rows():
    rows = explain_features((KVM / "features-before-deflate-on.txt").read_text())
    assert [r[0] for r in rows] == [1, 2, 29, 32, 40]
    assert rows[1][1] == "DEFLATE_ON_OOM" and "counted as used" in rows[1][2]
    with pytest.raises(ValueError):
        explain_features("012")


def test_table_module_has_no_package_imports():
    # drgn scripts import this module alone: loading it must not pull in the package.
    code = ("import importlib.util, sys; "
            "spec = importlib.util.spec_from_file_location('vf', 'balloon_oom/parsers/virtio_features.py'); "
            "m = importlib.util.module_from_spec(spec); sys.modules['vf'] = m; spec.loader.exec_module(m); "
            "print(m.decode_bits(6), any(k.startswith('balloon_oom') for k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(vf.__file__).parents[2])
    assert out.stdout.strip() == "['STATS_VQ', 'DEFLATE_ON_OOM'] False"


def test_device_features_one_bit_per_line():
    f = parse_device_features("0\n1\n2\n5\n32\n", "sys/kernel/debug/virtio/virtio0/device_features")
    assert f.bits == [0, 1, 2, 5, 32] and f.negotiated is False and f.deflate_on_oom
    with pytest.raises(ParseError) as err:
        parse_device_features("1\nfoo\n", "df")
    assert err.value.line == 2
    with pytest.raises(ParseError, match="empty"):
        parse_device_features("", "df")
