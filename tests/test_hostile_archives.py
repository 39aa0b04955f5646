# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile sosreport archives: escaping names, links out, device nodes, broken archives.

Every case runs the real command line (``python -m balloon_oom analyze``) in a
subprocess (:func:`tests.hostile.run_cli`) and checks: a result or exactly one
line on stderr, never a traceback; and, under ``strace``, that nothing outside
the report was opened and nothing was created anywhere
(:func:`tests.hostile.assert_stayed_inside`).
"""

from __future__ import annotations

import json
import tarfile

import pytest

from tests import sosroots
from tests.hostile import (CANARY_TEXT, add_bytes, add_special, add_tree, assert_one_line_error,
                           assert_stayed_inside, canary, json_of, kvm_root, needs_strace,
                           run_cli)

pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))


# --- tarballs ----------------------------------------------------------------------------------

@needs_strace
def test_escaping_names_links_devices_and_duplicates_in_a_tarball(tmp_path):
    root = kvm_root(tmp_path / "src")
    can = canary(tmp_path)
    # The same text twice: once as a member escaping with ../, once absolute.
    escaping = f"MemTotal: 999 kB\n{CANARY_TEXT}\n".encode()
    report = tmp_path / "in" / "sosreport-guest-2026.tar.xz"
    report.parent.mkdir()
    with tarfile.open(report, "w:xz") as tar:
        add_tree(tar, root)
        p = "sosreport-guest-2026/"
        add_bytes(tar, "../../etc/cron.d/evil", escaping)
        add_bytes(tar, "/etc/evil", escaping)
        add_bytes(tar, p + "../../proc/meminfo", escaping)
        add_special(tar, p + "sys/kernel/debug/vmmemctl", tarfile.SYMTYPE, "/etc/shadow")
        add_special(tar, p + "proc/xen/balloon", tarfile.LNKTYPE, "/etc/shadow")
        add_special(tar, p + "sys/kernel/debug/hv-balloon", tarfile.SYMTYPE, str(can))
        add_special(tar, p + "proc/sys/vm/cmm_pages", tarfile.SYMTYPE, "../../../../" * 4 + str(can))
        add_special(tar, p + "sys/kernel/debug/virtio-balloon", tarfile.CHRTYPE)
        add_special(tar, p + "proc/vmmemctl", tarfile.FIFOTYPE)
        add_special(tar, p + "sos_commands/balloon/dmesg", tarfile.BLKTYPE)
        # A second proc/uptime after the first: the later member wins, as with `tar x`.
        add_bytes(tar, p + "proc/uptime", b"1234.50 0.00\n")
    o = run_cli(["analyze", "--format", "json", str(report)], tmp_path / "run")
    doc = json_of(o)
    assert_stayed_inside(o, report, can)
    assert "999" not in json.dumps(doc["memory"])
    assert doc["memory"]["mem_total_kb"] == 206272           # the real meminfo, untouched
    assert [b["driver"] for b in doc["balloons"]] == ["virtio_balloon"]
    assert doc["verdict"] == "contributed"
    assert doc["uptime_seconds"] == pytest.approx(1234.5)



@needs_strace
@pytest.mark.parametrize("name,content,fragment", [
    ("empty.tar.xz", b"", "not a readable tar archive"),
    ("hello.tar.xz", b"hello, not an archive\n", "not a readable tar archive"),
    ("gz-named.tar.xz", b"\x1f\x8b\x08\x00garbage after a gzip magic", "not a readable tar archive"),
    ("xz-magic.tar", b"\xfd7zXZ\x00" + b"\x00" * 64, "not a readable tar archive"),
])
def test_wrong_magic_or_empty_file_one_line_error(tmp_path, name, content, fragment):
    path = tmp_path / "in" / name
    path.parent.mkdir()
    path.write_bytes(content)
    o = run_cli(["analyze", str(path)], tmp_path / "run")
    assert_one_line_error(o, str(path), fragment)
    assert_stayed_inside(o, path)


@needs_strace
def test_empty_archive_one_line_error(tmp_path):
    path = tmp_path / "in" / "empty-members.tar.xz"
    path.parent.mkdir()
    with tarfile.open(path, "w:xz"):
        pass
    o = run_cli(["analyze", str(path)], tmp_path / "run")
    assert_one_line_error(o, str(path), "archive holds no sosreport files")
    assert_stayed_inside(o, path)


@needs_strace
@pytest.mark.parametrize("keep,fragment", [
    (0.97, "truncated or corrupt"), (0.5, "truncated or corrupt"),
    # cut in the first MiB: xz decompressed part of it before the end came
    (0.02, "truncated or corrupt (xz: Unexpected end of input)"),
])
def test_truncated_tar_xz_one_line_error(tmp_path, keep, fragment):
    root = kvm_root(tmp_path / "src")
    whole = tmp_path / "whole.tar.xz"
    with tarfile.open(whole, "w:xz") as tar:
        add_tree(tar, root)
    data = whole.read_bytes()
    path = tmp_path / "in" / "cut.tar.xz"
    path.parent.mkdir()
    path.write_bytes(data[:int(len(data) * keep)])
    o = run_cli(["analyze", str(path)], tmp_path / "run")
    assert_one_line_error(o, str(path), fragment)
    assert_stayed_inside(o, path)



# --- zips and archives in archives ------------------------------------------------------------

@needs_strace
def test_zip_and_nested_case_tarball_extract_nothing(tmp_path):
    """A .zip of a report and a case tarball holding the report tarball (which
    holds escaping members and a link to the canary): the real report is read,
    nothing is created (the inner tarball is decompressed through a pipe), and
    nothing outside the input is opened."""
    import zipfile

    root = kvm_root(tmp_path / "src")
    can = canary(tmp_path)
    inner = tmp_path / "sosreport-guest-2026.tar.xz"
    with tarfile.open(inner, "w:xz") as tar:
        add_tree(tar, root)
        add_bytes(tar, "../../etc/cron.d/evil", f"MemTotal: 999 kB\n{CANARY_TEXT}\n".encode())
        add_special(tar, "sosreport-guest-2026/sys/kernel/debug/hv-balloon", tarfile.SYMTYPE,
                    str(can))
    case = tmp_path / "in" / "case-0123.tar.gz"
    case.parent.mkdir()
    with tarfile.open(case, "w:gz") as tar:
        tar.add(str(inner), arcname="case-0123/attachments/" + inner.name)
        add_bytes(tar, "case-0123/../../escape.txt", CANARY_TEXT.encode())
    zipped = tmp_path / "zin" / "upload.zip"
    zipped.parent.mkdir()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(inner, "upload/attachments/" + inner.name)
        zf.writestr("upload/../../escape.txt", CANARY_TEXT)
    for report in (case, zipped):
        o = run_cli(["analyze", "--format", "json", str(report)], tmp_path / f"run-{report.name}")
        doc = json_of(o)
        assert_stayed_inside(o, report, can)
        assert doc["memory"]["mem_total_kb"] == 206272
        assert [b["driver"] for b in doc["balloons"]] == ["virtio_balloon"]
        assert doc["verdict"] == "contributed"

