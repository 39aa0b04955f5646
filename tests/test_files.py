"""ReportFiles: lookups through links, never outside the report."""

from balloon_oom.readers.files import ReportFiles, normalize


def _files():
    f = ReportFiles()
    f.add("sys/devices/pci0000:00/0000:00:03.0/virtio0/features", "0110\n")
    f.add("sys/devices/pci0000:00/0000:00:03.0/virtio0/device", "0x0005\n")
    f.add("sys/devices/pci0000:00/0000:00:04.0/virtio1/device", "0x0001\n")
    f.add_link("sys/bus/virtio/drivers/virtio_balloon/virtio0",
               "../../../../devices/pci0000:00/0000:00:03.0/virtio0")
    f.add_link("sys/bus/virtio/devices/virtio1", "../../../devices/pci0000:00/0000:00:04.0/virtio1")
    return f


def test_get_through_link():
    f = _files()
    got = f.get("sys/bus/virtio/drivers/virtio_balloon/virtio0/device")
    assert got.text == "0x0005\n"
    assert got.real_path == "sys/devices/pci0000:00/0000:00:03.0/virtio0/device"


def test_glob_sees_paths_through_links_once():
    f = _files()
    got = f.glob("sys/bus/virtio/*/virtio*/device")
    assert [g.path for g in got] == ["sys/bus/virtio/devices/virtio1/device",
                                     "sys/bus/virtio/drivers/virtio_balloon/virtio0/device"]
    assert [g.text for g in got] == ["0x0001\n", "0x0005\n"]


def test_links_out_of_the_report_are_dropped():
    f = ReportFiles()
    f.add_link("proc/meminfo", "../../../etc/shadow")
    assert f.links == {}
    f.add_link("proc/vmstat", "/etc/shadow")  # absolute: the report's own etc/shadow
    assert f.get("proc/vmstat") is None


def test_link_loops_end():
    f = ReportFiles()
    f.add_link("a", "b")
    f.add_link("b", "a")
    assert f.get("a/x") is None
    assert f.glob("*") == []


def test_link_names():
    assert _files().link_names("sys/bus/virtio/drivers/virtio_balloon/virtio*") == [
        "sys/bus/virtio/drivers/virtio_balloon/virtio0"]


def test_normalize():
    assert normalize("/proc/./meminfo") == "proc/meminfo"
    assert normalize("a/../../b") is None
    assert normalize("") is None
