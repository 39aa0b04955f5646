"""Walking report directories and tarballs: one pass, nothing followed outside."""

import io
import os
import tarfile

import pytest

from balloon_oom.errors import InputError
from balloon_oom.readers.members import (iter_directory, iter_lines, iter_tarball,
                                         looks_like_tarball)

FEATURES = "0110000000000000000000000000010010000000100000000000000000000000\n"


def _make_report(root):
    dev = root / "sys/devices/pci0000:00/0000:00:03.0/virtio0"
    dev.mkdir(parents=True)
    (dev / "features").write_text(FEATURES)
    drv = root / "sys/bus/virtio/drivers/virtio_balloon"
    drv.mkdir(parents=True)
    os.symlink("../../../../devices/pci0000:00/0000:00:03.0/virtio0", drv / "virtio0")
    (root / "proc").mkdir()
    (root / "proc/meminfo").write_text("MemTotal:  468416 kB\n")
    (root / "version.txt").write_text("sosreport: 4.0\n")
    return root


def _contents(members):
    out = {}
    for m in members:
        if m.kind == "link":
            out[m.path] = ("link", m.link_target)
        else:
            with m.open() as f:
                out[m.path] = ("file", f.read())
    return out


def test_directory_and_tarball_give_the_same_members(tmp_path):
    report = _make_report(tmp_path / "sosreport-guest-2026-11-26-abcdefg")
    tarball = tmp_path / "sosreport-guest-2026-11-26-abcdefg.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(report, arcname=report.name)
    from_dir = _contents(iter_directory(report))
    from_tar = _contents(iter_tarball(tarball))
    assert from_dir == from_tar
    assert from_dir["sys/bus/virtio/drivers/virtio_balloon/virtio0"] == (
        "link", "../../../../devices/pci0000:00/0000:00:03.0/virtio0")
    assert from_dir["proc/meminfo"] == ("file", b"MemTotal:  468416 kB\n")
    assert looks_like_tarball(tarball)


def test_tarball_members_escaping_the_report_are_dropped(tmp_path):
    tarball = tmp_path / "evil.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, data in (("sosreport-x/proc/meminfo", b"MemTotal: 1 kB\n"),
                           ("sosreport-x/../../etc/cron.d/evil", b"x"),
                           ("/etc/passwd", b"root:x:0:0")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        fifo = tarfile.TarInfo("sosreport-x/proc/fifo")
        fifo.type = tarfile.FIFOTYPE
        tar.addfile(fifo)
        dev = tarfile.TarInfo("sosreport-x/proc/kcore")
        dev.type = tarfile.CHRTYPE
        tar.addfile(dev)
    names = {m.path for m in iter_tarball(tarball)}
    # "/etc/passwd" normalises to etc/passwd *inside* the report: harmless, never the host's.
    assert names == {"proc/meminfo", "etc/passwd"}


def test_truncated_tarball_is_an_input_error(tmp_path):
    good = tmp_path / "r.tar.xz"
    report = _make_report(tmp_path / "sosreport-t")
    (report / "var/log").mkdir(parents=True)
    (report / "var/log/messages").write_bytes(os.urandom(200_000))
    with tarfile.open(good, "w:xz") as tar:
        tar.add(report, arcname=report.name)
    cut = tmp_path / "cut.tar.xz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        for m in iter_tarball(cut):
            if m.kind == "file":
                m.open().read()


def test_not_an_archive(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not gzip")
    with pytest.raises(InputError):
        list(iter_tarball(junk))


def test_directory_symlink_to_outside_is_recorded_not_followed(tmp_path):
    report = _make_report(tmp_path / "r")
    os.symlink("/etc/shadow", report / "proc/vmstat")
    members = {m.path: m for m in iter_directory(report)}
    assert members["proc/vmstat"].kind == "link"
    assert members["proc/vmstat"].opener is None


def test_iter_lines_bounds_long_lines_and_handles_all_line_ends():
    data = b"a" * 100_000 + b"\nb\r\nc\rd\x00e\xff\n"
    lines = list(iter_lines(io.BytesIO(data), max_line=1000))
    assert [len(x) for x in lines] == [1000, 1, 1, 4]
    assert lines[3] == b"d\x00e\xff"

