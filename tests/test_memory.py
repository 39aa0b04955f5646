"""memory_figures() on ReportFiles built from the real captures."""


from balloon_oom.memory import memory_figures
from balloon_oom.readers.files import ReportFiles
from tests import shared as _shared

REAL = _shared.CAPTURES


def test_kvm_deflate_off_after_inflate():
    files = ReportFiles()
    files.add("proc/meminfo", (REAL / "kvm-6.1/meminfo-after-inflate-deflate-off.txt").read_text())
    files.add("proc/vmstat", (REAL / "kvm-6.1/vmstat-balloon-after-inflate-deflate-off.txt").read_text())
    m, warnings = memory_figures(files)
    assert warnings == []
    assert (m.mem_total_kb, m.mem_free_kb, m.mem_available_kb) == (206272, 177004, 176644)
    assert m.balloon_kb is None and m.nr_balloon_pages is None
    assert (m.balloon_inflate, m.balloon_deflate, m.balloon_migrate) == (65536, 0, 0)
    assert m.balloon_events_net_pages == 65536
    assert m.evidence["mem_total_kb"].text == "MemTotal:         206272 kB"
    assert m.evidence["balloon_inflate"].line == 1
    assert m.zones == []


def test_firecracker_everything():
    files = ReportFiles()
    for name, path in (("proc-meminfo.txt", "proc/meminfo"), ("proc-vmstat.txt", "proc/vmstat"),
                       ("proc-zoneinfo.txt", "proc/zoneinfo")):
        files.add(path, (REAL / "firecracker-6.18" / name).read_text())
    m, warnings = memory_figures(files)
    assert warnings == []
    assert m.mem_total_kb == 24684092 and m.balloon_kb == 0 and m.nr_balloon_pages == 0
    assert m.meminfo["Hugepagesize"] == 2048 and m.vmstat["balloon_deflate"] == 0
    assert [(z.zone, z.managed_pages) for z in m.zones][:3] == [("DMA", 3840), ("DMA32", 772917),
                                                                ("Normal", 1212416)]
    assert set(m.evidence) >= {"mem_total_kb", "mem_free_kb", "mem_available_kb", "balloon_kb",
                               "balloon_inflate", "nr_balloon_pages", "zones"}


def test_missing_and_broken_files_become_warnings():
    files = ReportFiles()
    files.add("proc/vmstat", "balloon_inflate 1\nbroken line here\n")
    m, warnings = memory_figures(files)
    assert m.mem_total_kb is None and m.balloon_inflate is None
    assert any("proc/meminfo is not in the report" in w for w in warnings)
    assert "proc/vmstat:2: not a 'name value' row: 'broken line here'" in warnings
