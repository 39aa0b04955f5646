# SPDX-License-Identifier: GPL-2.0-or-later
"""``balloon-oom features``: bit strings, hex, decimal, a features file, --format json."""

import json

import pytest

from balloon_oom.parsers.virtio_features import describe_bit, parse_feature_arg
from tests import shared
from tests.test_cli import run

FC = shared.CAPTURES / "firecracker-6.18" / "virtio0-features.txt"
KVM_ON = shared.CAPTURES / "kvm-6.1" / "features-after-oom-deflate-on.txt"


@pytest.mark.skipif(not FC.is_file(), reason="real captures not present")
def test_real_128_character_file_names_every_bit():
    rc, out, err = run("features", str(FC), "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["form"] == "string" and doc["file"] == str(FC)
    assert doc["value_hex"] == "0x1000000a6" and doc["deflate_on_oom"] is True
    assert [(b["bit"], b["name"], b["kind"]) for b in doc["bits"]] == [
        (1, "STATS_VQ", "device"), (2, "DEFLATE_ON_OOM", "device"), (5, "REPORTING", "device"),
        (7, "bit 7", "device"), (32, "VERSION_1", "transport")]
    assert "no name in the virtio spec or the kernel headers" in doc["bits"][3]["meaning"]


@pytest.mark.skipif(not KVM_ON.is_file(), reason="real captures not present")
def test_hex_decimal_and_string_agree():
    string = KVM_ON.read_text().strip()
    docs = [json.loads(run("features", arg, "--format", "json")[1])
            for arg in (string, "0x10120000006", str(0x10120000006), str(KVM_ON))]
    assert [d["form"] for d in docs] == ["string", "hex", "decimal", "string"]
    names = {tuple(b["name"] for b in d["bits"]) for d in docs}
    assert names == {("STATS_VQ", "DEFLATE_ON_OOM", "RING_EVENT_IDX", "VERSION_1",
                      "RING_RESET")}


def test_table_has_kind_column():
    rc, out, _ = run("features", "0x40000025")
    assert rc == 0
    assert out.splitlines()[0].split() == ["bit", "name", "kind", "meaning"]
    assert out.splitlines()[-1].split()[:3] == ["30", "BAD_FEATURE", "transport"]


def test_bad_inputs_are_one_line_errors(tmp_path):
    two = tmp_path / "features"
    two.write_text("01\n10\n")
    for arg, why in (("0xZZ", "neither"), ("0110", "4 characters"), (str(two), "2 lines")):
        rc, out, err = run("features", arg)
        assert (rc, out) == (2, "") and err.count("\n") == 1 and why in err, (arg, err)


def test_parse_feature_arg_ranges():
    assert parse_feature_arg("10") == ([1, 3], "decimal")
    assert parse_feature_arg("0") == ([], "decimal")
    assert describe_bit(45)[1:] == ("reserved", "reserved by the virtio spec for future "
                                                "extensions (42-49, 128 and up)")
    assert describe_bit(60)[1] == "device"
