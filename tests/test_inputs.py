# SPDX-License-Identifier: GPL-2.0-or-later
"""Every shape of input gives the same events as the plain file it holds.

Payloads are real: the published logs of ``shared/real-logs/wild/`` and the
real 6.1 guest of ``shared/real-captures/`` (as a sosreport-shaped tree,
:mod:`tests.sosroots`).  Containers are made here the way users make them
(``gzip``, ``xz``, ``zstd``, ``zip``, a case tarball holding the sosreport
tarball) and handed to ``analyze`` or the command line.
"""

from __future__ import annotations

import bz2
import gzip
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from balloon_oom.analysis import analyze, analyze_many
from balloon_oom.errors import InputError
from tests import sosroots
from tests.shared import SHARED

REPO = Path(__file__).resolve().parent.parent
WILD = SHARED / "real-logs" / "wild"
AWS = WILD / "fs-aws-ec2-xen-hvm-rhel8.3-messages-4oom.log"
RHEL6 = WILD / "fs-vmware-rhel6-vmcore-dmesg-panic_on_oom.log"
NOVA = WILD / "gh-openstack-nova-5.4-forkbomb-kmem-global-oom.log"

needs_wild = pytest.mark.skipif(not AWS.is_file(), reason=f"{WILD} is missing")
needs_captures = pytest.mark.skipif(sosroots.captures_available() is not None,
                                    reason=str(sosroots.captures_available()))


def events(a) -> list:
    """What identifies each OOM event, whatever file it came from."""
    return [(e.victim.pid if e.victim else None, e.victim.comm if e.victim else None,
             e.constraint, e.trigger_comm, e.order, e.monotonic, e.pages_reserved,
             e.current_boot) for e in a.oom_events]


def cli(*args, stdin: bytes = b""):
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", *map(str, args)], cwd=REPO,
                          input=stdin, capture_output=True, timeout=300)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def json_events(out: str) -> list:
    doc = json.loads(out)
    return [(e["victim"]["pid"] if e["victim"] else None, e["constraint"], e["monotonic"],
             e["pages_reserved"], e["verdict"]) for e in doc["oom_events"]]


def kvm_tree(tmp: Path) -> Path:
    return Path(sosroots.build("kvm-deflate-off-after-oom", str(tmp)).path)


# --- plain logs: stdin, compression ---------------------------------------------------------

@needs_wild
@pytest.mark.parametrize("log", [AWS, RHEL6, NOVA], ids=lambda p: p.name[:20])
def test_stdin_gives_the_events_of_the_file(log):
    rc, out, err = cli("analyze", log, "--format", "json")
    assert rc == 0, err
    rc2, out2, err2 = cli("analyze", "-", "--format", "json", stdin=log.read_bytes())
    assert rc2 == 0, err2
    assert json_events(out2) == json_events(out) and json_events(out)
    assert json.loads(out2)["source"]["kind"] == "log"
    import jsonschema
    jsonschema.validate(json.loads(out2),
                        json.loads((REPO / "balloon_oom" / "schema.json").read_text()))


@needs_wild
def test_compressed_stdin():
    rc, out, err = cli("analyze", AWS, "--format", "json")
    rc2, out2, err2 = cli("analyze", "-", "--format", "json", stdin=gzip.compress(AWS.read_bytes()))
    assert (rc, rc2) == (0, 0), err2
    assert json_events(out2) == json_events(out)
    assert len(json_events(out)) == 4


def _compress(data: bytes, kind: str, dest: Path) -> Path:
    if kind == "gz":
        dest.write_bytes(gzip.compress(data))
    elif kind == "bz2":
        dest.write_bytes(bz2.compress(data))
    else:
        tool = {"xz": "xz", "zst": "zstd"}[kind]
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
        dest.write_bytes(subprocess.run([tool, "-c"], input=data, capture_output=True,
                                        check=True).stdout)
    return dest


@needs_wild
@pytest.mark.parametrize("kind", ["gz", "xz", "bz2", "zst"])
def test_single_file_compressed_log(tmp_path, kind):
    """Detected by magic: the file is named ``.log`` whatever it holds."""
    plain = analyze(str(AWS))
    packed = _compress(AWS.read_bytes(), kind, tmp_path / "messages.log")
    a = analyze(str(packed))
    assert a.source.kind.value == "log"
    assert events(a) == events(plain) and len(events(a)) == 4


# --- directories, zips, case tarballs -----------------------------------------------------

@needs_wild
def test_directory_holding_only_var_log_messages(tmp_path):
    """Refused before this issue; the same file in a .tar.gz was read."""
    d = tmp_path / "upload"
    (d / "var" / "log").mkdir(parents=True)
    shutil.copyfile(AWS, d / "var" / "log" / "messages")
    tgz = tmp_path / "upload.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(str(d), arcname="upload")
    plain, from_dir, from_tgz = analyze(str(AWS)), analyze(str(d)), analyze(str(tgz))
    assert from_dir.source.kind.value == "directory"
    # var/log/messages is the current log of that tree: its last boot is current, as
    # for the plain file.
    assert events(from_dir) == events(plain) == events(from_tgz)


@needs_wild
def test_zip_holding_a_log(tmp_path):
    z = tmp_path / "case.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(AWS, "case-0123/attachments/messages.txt")
        zf.writestr("case-0123/notes.txt", "customer says the VM froze\n")
    a = analyze(str(z))
    assert a.source.kind.value == "archive"
    assert events(a) == events(analyze(str(AWS)))


@needs_captures
def test_zip_of_a_sosreport_equals_the_directory(tmp_path):
    tree = kvm_tree(tmp_path / "src")
    z = tmp_path / "sosreport.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(tree.rglob("*")):
            if f.is_file() and not f.is_symlink():
                zf.write(f, "sosreport-guest/" + str(f.relative_to(tree)))
    a, b = analyze(str(z)), analyze(str(tree))
    assert events(a) == events(b) and events(a)
    assert a.memory.mem_total_kb == b.memory.mem_total_kb
    assert [(x.driver, x.inflated_bytes) for x in a.balloons] == \
        [(x.driver, x.inflated_bytes) for x in b.balloons]
    assert a.verdict == b.verdict == "contributed"


def _sos_tarball(tree: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:xz") as tar:
        tar.add(str(tree), arcname="sosreport-guest-2026-11-26-abcdefg")
    return dest


@needs_captures
def test_case_tarball_holding_a_sosreport_tarball(tmp_path):
    """``case-0123/attachments/sosreport-….tar.xz`` inside ``case-0123.tar.gz``: read
    in one stream, the inner tarball decompressed while the outer one is read."""
    tree = kvm_tree(tmp_path / "src")
    inner = _sos_tarball(tree, tmp_path / "sosreport-guest-2026-11-26-abcdefg.tar.xz")
    case = tmp_path / "case-0123.tar.gz"
    with tarfile.open(case, "w:gz") as tar:
        tar.add(str(inner), arcname="case-0123/attachments/" + inner.name)
    a, b = analyze(str(case)), analyze(str(tree))
    assert a.source.kind.value == "sosreport"
    assert events(a) == events(b) and len(events(a)) == 1
    assert [(x.driver, x.inflated_bytes) for x in a.balloons] == \
        [(x.driver, x.inflated_bytes) for x in b.balloons]
    assert a.verdict == b.verdict == "contributed"


@needs_wild
def test_nesting_deeper_than_three_is_not_read(tmp_path):
    data = tmp_path / "messages"
    shutil.copyfile(AWS, data)
    current = data
    for level in range(4):
        nxt = tmp_path / f"level{level}.tar.gz"
        with tarfile.open(nxt, "w:gz") as tar:
            tar.add(str(current), arcname=f"up{level}/{current.name}")
        current = nxt
    # three levels: read
    assert events(analyze(str(tmp_path / "level2.tar.gz"))) == events(analyze(str(AWS)))
    # four: one clear line
    with pytest.raises(InputError, match="nested more than 3 deep"):
        analyze(str(current))


@needs_wild
def test_zip_inside_a_stream_is_refused_in_one_line(tmp_path):
    z = tmp_path / "logs.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(AWS, "messages")
    outer = tmp_path / "case.tar.gz"
    with tarfile.open(outer, "w:gz") as tar:
        tar.add(str(z), arcname="case/logs.zip")
    rc, out, err = cli("analyze", outer)
    assert (rc, out) == (2, "") and err.count("\n") == 1, err
    assert "a .zip inside another archive" in err and "give the .zip's path" in err
    rc, out, err = cli("analyze", "-", stdin=z.read_bytes())   # a pipe
    assert (rc, out) == (2, "") and err.count("\n") == 1 and ".zip" in err, err
    with open(z, "rb") as f:   # `analyze - < logs.zip`: seekable, so read
        proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", "-", "--format",
                               "json"], cwd=REPO, stdin=f, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json_events(proc.stdout.decode()) == json_events(cli("analyze", AWS, "--format",
                                                               "json")[1])


# --- kdump ------------------------------------------------------------------------------------

@needs_wild
def test_kdump_directory_with_vmcore_dmesg(tmp_path):
    """A real RHEL 6 ``vmcore-dmesg.txt`` (``<N>`` prefixes, ``k`` units) in its
    ``/var/crash/<ip>-<date>/`` directory: the events of the file, of the crashed boot."""
    d = tmp_path / "var" / "crash" / "127.0.0.1-2020-01-14-10:21:43"
    d.mkdir(parents=True)
    shutil.copyfile(RHEL6, d / "vmcore-dmesg.txt")
    a = analyze(str(d))
    assert a.source.kind.value == "kdump"
    assert events(a) == events(analyze(str(RHEL6)))
    assert [(e.victim, e.constraint, e.current_boot) for e in a.oom_events] == \
        [(None, "global", True)]
    assert a.kernel.release == "2.6.32-504.el6.x86_64"


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("gcore") is None, reason="gdb's gcore not installed")
def test_user_space_core_is_not_a_kernel_vmcore(tmp_path):
    """A real process core (gcore of a sleeping process): one line, exit 2."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        out = tmp_path / "core"
        subprocess.run(["gcore", "-o", str(out), str(proc.pid)], capture_output=True,
                       timeout=120)
    finally:
        proc.kill()
        proc.wait()
    cores = list(tmp_path.glob("core*"))
    if not cores:
        pytest.skip("gcore could not dump (ptrace not permitted here)")
    rc, stdout, err = cli("analyze", cores[0])
    assert (rc, stdout) == (2, ""), err
    assert err.count("\n") == 1 and "not a kernel vmcore" in err, err
    assert "user-space core" in err or "process's core" in err


def test_executable_is_not_a_kernel_vmcore():
    rc, out, err = cli("analyze", sys.executable)
    assert (rc, out) == (2, "") and err.count("\n") == 1, err
    assert "not a kernel vmcore" in err and "executable" in err


@pytest.mark.parametrize("content,what", [
    (b"hello\nworld\n", "text with no kernel log line"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "binary data of no known format"),
    (b"", "it is empty"),
])
def test_not_a_log_one_line(tmp_path, content, what):
    f = tmp_path / "thing.txt"
    f.write_bytes(content)
    rc, out, err = cli("analyze", f)
    assert (rc, out) == (2, "") and err.count("\n") == 1, err
    assert f"not a kernel log ({what})" in err and "balloon-oom reads" in err
    rc, out, err = cli("analyze", "-", stdin=content)
    assert (rc, out) == (2, "") and f"-: not a kernel log ({what})" in err, err


@needs_wild
def test_log_without_oom_says_so():
    log = WILD / "sos-hyperv-coreos-master1-dmesg-no-oom.log"
    rc, out, err = cli("analyze", log)
    assert rc == 0, err
    assert out.startswith("VERDICT: no-oom")


# --- one guest, several sources ----------------------------------------------------------------

@needs_captures
def test_same_guest_report_and_its_older_log(tmp_path):
    """A sosreport and the same guest's kernel log as a separate file: one analysis,
    each OOM once, both sources listed."""
    tree = kvm_tree(tmp_path / "src")
    older = tmp_path / "dmesg-saved.txt"
    shutil.copyfile(tree / "var" / "log" / "dmesg", older)
    alone = analyze(str(tree))
    both = analyze_many([str(tree), str(older)])
    assert [p.kind.value for p in both.source.parts] == ["sosreport", "log"]
    assert both.source.kind.value == "sosreport"
    assert [e[:7] for e in events(both)] == [e[:7] for e in events(alone)]
    assert len(both.oom_events) == 1
    assert both.verdict == alone.verdict == "contributed"


@needs_captures
def test_same_guest_balloon_disagreement_is_listed(tmp_path):
    """Balloon figures reconciled: the first source's balloon is kept and every
    source's size listed when they differ.  Two real guests stand in for two
    moments of one guest: the 6.1 guest after its OOM (256 MiB balloon) and the
    Firecracker 6.18 guest (virtio0, empty balloon)."""
    full = Path(sosroots.build("kvm-deflate-off-after-oom", str(tmp_path)).path)
    empty = Path(sosroots.build("firecracker-6.18", str(tmp_path)).path)
    a = analyze_many([str(full), str(empty)])
    assert [(b.driver.value, b.device, b.inflated_bytes) for b in a.balloons] == \
        [("virtio_balloon", "virtio0", 268435456)]
    between = [d for d in a.disagreements if "between sources" in d.what]
    assert [(d.what, d.values) for d in between] == [
        ("virtio_balloon virtio0 inflated bytes (between sources)",
         {str(full): 268435456, str(empty): 0})]
    assert a.verdict == "contributed"


@needs_captures
def test_same_guest_flag_on_the_command_line(tmp_path):
    tree = kvm_tree(tmp_path / "src")
    older = tmp_path / "dmesg-saved.txt"
    shutil.copyfile(tree / "var" / "log" / "dmesg", older)
    rc, out, err = cli("analyze", "--same-guest", tree, older, "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    import jsonschema
    jsonschema.validate(doc, json.loads((REPO / "balloon_oom" / "schema.json").read_text()))
    assert [p["path"] for p in doc["source"]["parts"]] == [str(tree), str(older)]
    assert len(doc["oom_events"]) == 1 and doc["verdict"] == "contributed"


@needs_captures
def test_fleet_mode_says_when_two_inputs_look_like_one_guest(tmp_path):
    """Same host name and boot id: fleet mode stays fleet mode, one stderr line
    suggests --same-guest.  (Host name and boot id are written here: the captures
    hold neither.)"""
    tree = kvm_tree(tmp_path / "src")
    (tree / "etc").mkdir(exist_ok=True)
    (tree / "etc" / "hostname").write_text("guest1\n")
    (tree / "proc" / "sys" / "kernel" / "random").mkdir(parents=True)
    (tree / "proc" / "sys" / "kernel" / "random" / "boot_id").write_text(
        "0d3c1f0e-9a57-4c39-a3c4-2c1c5c3e5b8e\n")
    tarball = _sos_tarball(tree, tmp_path / "sosreport-guest1.tar.xz")
    rc, out, err = cli("analyze", tree, tarball, "--format", "jsonl", "--jobs", "1")
    assert rc == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["source"]["boot_id"] for d in docs] == ["0d3c1f0e-9a57-4c39-a3c4-2c1c5c3e5b8e"] * 2
    hint = [line for line in err.splitlines() if "--same-guest" in line]
    assert hint == [f"balloon-oom: {tree}, {tarball} look like one guest (host guest1, boot id "
                    "0d3c1f0e-9a57-4c39-a3c4-2c1c5c3e5b8e): to analyse them as one, add "
                    "--same-guest"]
    # another guest's report beside them: no hint for it
    other = Path(sosroots.build("firecracker-6.18", str(tmp_path)).path)
    rc, out, err = cli("analyze", tree, other, "--format", "jsonl", "--jobs", "1")
    assert rc == 0 and "--same-guest" not in err, err


@needs_captures
def test_sosreport_tarball_on_stdin(tmp_path):
    """``cat sosreport.tar.xz | balloon-oom analyze -``: the same analysis as the file."""
    tree = kvm_tree(tmp_path / "src")
    tarball = _sos_tarball(tree, tmp_path / "sosreport-guest.tar.xz")
    rc, out, err = cli("analyze", tarball, "--format", "json")
    rc2, out2, err2 = cli("analyze", "-", "--format", "json", stdin=tarball.read_bytes())
    assert (rc, rc2) == (0, 0), err2
    a, b = json.loads(out), json.loads(out2)
    assert b["source"] == dict(a["source"], path="-")
    for key in ("oom_events", "balloons", "memory", "verdict"):
        assert b[key] == a[key], key


@needs_captures
@needs_wild
def test_same_guest_plain_log_events_are_not_placed_in_the_current_boot(tmp_path):
    """A log given beside a report may be older: its own OOMs are of an unknown boot
    (never judged with the report's collection-time balloon as 'same boot'); the
    report leads whatever the order the paths were given in."""
    tree = kvm_tree(tmp_path / "src")
    a = analyze_many([str(AWS), str(tree)])
    assert a.source.kind.value == "sosreport"
    assert [p.kind.value for p in a.source.parts] == ["log", "sosreport"]
    placed = {(e.victim.pid, e.current_boot) for e in a.oom_events}
    assert placed == {(112, True), (61910, None), (62127, None), (62150, None), (62161, None)}
    assert a.memory.mem_total_kb == 206272
