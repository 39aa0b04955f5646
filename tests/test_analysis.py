"""The model builder: one pass over a report, events merged across logs, boots."""

import re
import tarfile
from pathlib import Path

import pytest

from balloon_oom.analysis import analyze
from balloon_oom.errors import InputError
from balloon_oom.render.json_out import document
from tests import shared as _shared

KVM = (_shared.CAPTURES / "kvm-6.1")
FC = (_shared.CAPTURES / "firecracker-6.18")
pytestmark = pytest.mark.skipif(not KVM.is_dir(), reason="real captures not present")


def _journal(dmesg_text: str, host: str = "guest") -> str:
    """The dmesg lines as `journalctl --no-pager -o short-precise` prints them."""
    out = []
    for line in dmesg_text.splitlines():
        m = re.match(r"\[\s*(\d+)\.(\d+)\] (.*)", line)
        if m:
            secs = int(m.group(1))
            out.append(f"Nov 26 05:27:{secs % 60:02d}.{m.group(2)} {host} kernel: {m.group(3)}")
    return "\n".join(out) + "\n"


def make_tree(root: Path, mode: str = "off", journal: bool = False) -> Path:
    dev = root / "sys/devices/pci0000:00/0000:00:03.0/virtio0"
    dev.mkdir(parents=True)
    (dev / "features").write_text((KVM / f"features-after-oom-deflate-{mode}.txt").read_text())
    (dev / "device").write_text("0x0005\n")
    drv = root / "sys/bus/virtio/drivers/virtio_balloon"
    drv.mkdir(parents=True)
    (drv / "virtio0").symlink_to("../../../../devices/pci0000:00/0000:00:03.0/virtio0")
    (root / "proc").mkdir()
    (root / "proc/meminfo").write_text((KVM / f"meminfo-after-oom-deflate-{mode}.txt").read_text())
    vmstat = [ln for ln in (FC / "proc-vmstat.txt").read_text().splitlines()
              if not ln.startswith(("balloon_", "nr_balloon"))]
    vmstat += (KVM / f"vmstat-balloon-after-oom-deflate-{mode}.txt").read_text().splitlines()
    (root / "proc/vmstat").write_text("\n".join(vmstat) + "\n")
    (root / "sos_commands/kernel").mkdir(parents=True)
    dmesg = (KVM / f"dmesg-deflate-{mode}.txt").read_text()
    (root / "sos_commands/kernel/dmesg").write_text(dmesg)
    if journal:
        (root / "sos_commands/logs").mkdir(parents=True)
        (root / "sos_commands/logs/journalctl_--no-pager").write_text(_journal(dmesg))
    (root / "version.txt").write_text("sosreport: 4.0\n")
    return root


def test_deflate_off_tree_contributed(tmp_path):
    a = analyze(str(make_tree(tmp_path / "r")))
    assert a.verdict == "contributed"
    (b,) = a.balloons
    assert (b.driver.value, b.device, b.inflated_bytes, b.accounting.value, b.deflate_on_oom) == (
        "virtio_balloon", "virtio0", 268435456, "memtotal-reduced", False)
    (v,) = a.verdicts
    assert (v.balloon_bytes_at_oom, v.confidence) == (268435456, "high")
    assert a.memory.boot.freed_later_kb == 9424
    assert a.oom_events[0].current_boot is True


def test_deflate_on_tree_not_contributed(tmp_path):
    a = analyze(str(make_tree(tmp_path / "r", "on")))
    assert a.verdict == "not-contributed"
    (v,) = a.verdicts
    assert v.balloon_upper_bound is True
    assert v.balloon_bytes_at_oom == 2284 * 4096   # the unaccounted gap of the real report
    assert a.balloons[0].accounting.value == "counted-as-used"


def test_same_report_in_dmesg_and_journal_counted_once(tmp_path):
    a = analyze(str(make_tree(tmp_path / "r", journal=True)))
    assert len(a.oom_events) == 1
    ev = a.oom_events[0]
    assert ev.source == "sos_commands/kernel/dmesg"      # the preferred copy
    assert ev.monotonic == pytest.approx(8.352026)
    assert ev.wallclock is not None                      # filled from the journal copy
    assert {e.source for e in ev.evidence} == {"sos_commands/kernel/dmesg",
                                               "sos_commands/logs/journalctl_--no-pager"}


def test_tarball_and_directory_give_identical_json(tmp_path):
    tree = make_tree(tmp_path / "sosreport-guest-2026-11-26-abcdefg", journal=True)
    tarball = tmp_path / "sosreport-guest-2026-11-26-abcdefg.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(tree, arcname=tree.name)
    d1, d2 = document(analyze(str(tree))), document(analyze(str(tarball)))
    s1, s2 = d1.pop("source"), d2.pop("source")
    assert (s1["kind"], s1["path"], s1["parts"]) == ("sosreport", str(tree), [])
    assert (s2["kind"], s2["path"], s2["parts"]) == ("sosreport", str(tarball), [])
    assert {k: v for k, v in s1.items() if k != "path"} == {k: v for k, v in s2.items() if k != "path"}
    assert d1 == d2


def test_empty_dir_is_not_a_report(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(InputError, match="not a sosreport directory"):
        from balloon_oom.analysis import read_sosreport
        read_sosreport(tmp_path / "x")


def test_report_without_logs_warns(tmp_path):
    tree = make_tree(tmp_path / "r")
    (tree / "sos_commands/kernel/dmesg").unlink()
    a = analyze(str(tree))
    assert a.verdict == "no-log"  # no kernel log was read: no OOM could be seen
    assert any(w.startswith("no kernel log found") for w in a.warnings)


def test_sources_that_disagree_are_reported(tmp_path):
    """vmmemctl says 512 MiB; vmstat events say 100 MiB: both shown, table and JSON."""
    import shutil
    from balloon_oom.render import table

    tree = tmp_path / "r"
    shutil.copytree(Path(__file__).resolve().parent.parent / "samples" / "vmware-new", tree,
                    symlinks=True)
    (tree / "proc").mkdir(exist_ok=True)
    (tree / "proc/vmstat").write_text("nr_free_pages 1000\nballoon_inflate 25600\n"
                                      "balloon_deflate 0\nballoon_migrate 0\n")
    a = analyze(str(tree))
    (d,) = a.disagreements
    assert d.what == "vmw_balloon vmmemctl inflated bytes"
    assert sorted(v for v in d.values.values()) == [25600 * 4096, 512 * 2**20]
    text = table.render(a)
    assert "Sources disagree" in text and "100.0 MiB" in text and "512.0 MiB" in text
    assert document(a)["disagreements"][0]["values"] == d.values


def test_report_made_without_the_plugin_and_no_balloon_file_says_so(tmp_path):
    tree = tmp_path / "r"
    (tree / "proc").mkdir(parents=True)
    (tree / "proc/meminfo").write_text((KVM / "meminfo-before-deflate-off.txt").read_text())
    (tree / "version.txt").write_text("sosreport: 4.0\n")
    a = analyze(str(tree))
    assert a.balloons == []
    assert any(w.startswith("this report was made without the balloon sos plugin")
               for w in a.warnings)
    # the same report with the plugin's own files: no such warning
    (tree / "sos_strings/balloon").mkdir(parents=True)
    (tree / "sos_strings/balloon/debugfs.txt").write_text("mounted\n")
    assert not any("without the balloon sos plugin" in w for w in analyze(str(tree)).warnings)
