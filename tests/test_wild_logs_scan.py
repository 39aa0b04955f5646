"""The real published logs of ../shared/real-logs/wild/: every OOM kill with its
victim and constraint, and the facts each log carries (issue 11)."""

import io
import json

import pytest

from balloon_oom.model import to_jsonable
from balloon_oom.parsers.kernel_log import looks_like_kernel_log, scan_log, scan_stream
from balloon_oom.readers.members import iter_lines
from tests import shared as _shared

WILD = _shared.SHARED / "real-logs" / "wild"
LOGS = sorted(WILD.glob("*.log")) if WILD.is_dir() else []
pytestmark = pytest.mark.skipif(not LOGS, reason=f"{WILD} not present")


def _scan(name):
    return scan_log((WILD / f"{name}.log").open("rb"), "messages")


def _expected(path):
    return json.loads(path.with_suffix(".expected.json").read_text())


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_every_oom_kill_with_victim_and_constraint(path):
    scan = scan_log(path.open("rb"), "messages")
    got = [(e.victim.pid if e.victim else None, e.victim.comm if e.victim else None, e.constraint)
           for e in scan.events]
    want = [(o["victim_pid"], o["victim_comm"], o["constraint"]) for o in _expected(path)["oom_events"]]
    assert got == want


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_kernel_release_from_the_log(path):
    scan = scan_log(path.open("rb"), "messages")
    want = _expected(path)["kernel"]
    assert (scan.kernel_release[0] if scan.kernel_release else None) == want


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_stream_scan_identical(path):
    data = path.read_bytes()
    a = to_jsonable(scan_log(iter_lines(io.BytesIO(data)), "log"))
    b = to_jsonable(scan_stream(io.BytesIO(data), "log"))
    assert a == b


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_each_is_a_kernel_log_and_its_json_is_not(path):
    assert looks_like_kernel_log(path.open("rb"))
    assert not looks_like_kernel_log(path.with_suffix(".expected.json").open("rb"))


def test_rhel8_messages_rsyslog_012_mem_info():
    scan = _scan("fs-aws-ec2-xen-hvm-rhel8.3-messages-4oom")
    ev = scan.events[0]
    # The whole Mem-Info summary is one '#012'-joined syslog line.
    assert (ev.mem_info["active_anon"], ev.mem_info["free"], ev.mem_info["free_cma"]) == (166091, 10346, 0)
    assert [e.pages_reserved for e in scan.events] == [55757] * 4
    assert [e.pages_ram for e in scan.events] == [262045] * 4
    assert all(e.missing == [] for e in scan.events)
    assert scan.events[0].victim.reaped == {"anon_rss_kb": 0, "file_rss_kb": 0, "shmem_rss_kb": 0}
    assert scan.hypervisor[0] == "Xen HVM"  # "Hypervisor detected" wins over "Hardware name"


def test_indented_mail_copy_keeps_trigger_mem_info_and_totals():
    scan = _scan("ml-virt-hildenbrand-5.4-next-virtio-balloon-migration-oom")
    lone, cut = scan.events
    assert (lone.line, lone.victim.pid, lone.victim.total_vm_kb, lone.victim.anon_rss_kb) == (1, 537, 27584, 860)
    assert "kill line 'Out of memory: …'" in lone.constraint_basis
    assert lone.missing == ["head", "mem_info", "totals", "tasks"]
    assert (cut.trigger_comm, cut.trigger_pid, cut.gfp_mask, cut.order) == ("systemd", 1, "0x100cca", 0)
    assert (cut.pages_ram, cut.pages_reserved, cut.mem_info["free"]) == (1048445, 306992, 720717)
    assert [z.zone for z in cut.zones] == ["DMA", "DMA32", "Normal"]
    assert cut.call_trace[:3] == ["dump_stack", "dump_header", "oom_kill_process"]
    assert (cut.complete, cut.missing) == (False, ["tasks", "kill"])
    assert scan.kernel_release[0] == "5.4.0-next-20191204+"
    assert "CPU: 0 PID: 1 Comm: systemd" in scan.kernel_release[1].text
    assert (scan.hypervisor[0], scan.hypervisor[1].line) == ("KVM/QEMU", 4)


def test_dmesg_T_with_unprefixed_continuations_openstack():
    scan = _scan("gh-openstack-nova-5.4-forkbomb-kmem-global-oom")
    assert [e.trigger_comm for e in scan.events] == ["python3", "python3"]
    assert scan.events[0].wallclock == "Thu May 14 23:17:24 2020"
    assert scan.events[0].mem_info["free"] == 30149832
    assert (scan.kernel_release[0], scan.hypervisor[0]) == ("5.4.0-29-generic", "KVM (OpenStack)")
    assert "Hardware name: OpenStack Foundation OpenStack Nova" in scan.hypervisor[1].text


def test_vmcore_dmesg_panic_on_oom_event_without_victim():
    scan = _scan("fs-vmware-rhel6-vmcore-dmesg-panic_on_oom")
    (ev,) = scan.events
    assert "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled" in ev.notes
    assert (ev.trigger_comm, ev.trigger_pid, ev.victim, ev.missing) == ("httpd", 5030, None, ["kill"])
    assert (ev.pages_ram, ev.tasks.count > 100) == (262128, True)


def test_quoted_printable_soft_breaks_joined():
    scan = _scan("ml-hyperv-olaf-hv_balloon-floor-qp-softwrapped")
    assert scan.signature_counts == {"hv_balloon.max_dynamic_memory": 1, "hv_balloon.partial": 23}
    first = [s for s in scan.signatures if s.kind == "hv_balloon.partial"][0]
    assert first.message == ("hv_balloon: Balloon request will be partially fulfilled. "
                             "(65875 32768 54728) Balloon floor reached.")
    assert first.evidence.line == 2 and first.timestamp == 331.839393
    assert scan.lines == 47 and scan.events == []


def test_hung_task_release_and_no_oom():
    scan = _scan("ml-virt-mcgrof-5.15-next-hung-task-update_balloon_size_func")
    assert scan.events == [] and scan.kernel_release[1].line == 2


HYPERVISORS = {
    "blog-martins3-hyperv-floor-reached-vm_enough_memory-no-oom": "Microsoft Hyper-V",
    "fs-aws-ec2-xen-hvm-rhel8.3-messages-4oom": "Xen HVM",
    "fs-vmware-rhel6-vmcore-dmesg-panic_on_oom": "VMware",
    "gh-openstack-nova-5.4-forkbomb-kmem-global-oom": "KVM (OpenStack)",
    "ml-hyperv-olaf-hv_balloon-floor-qp-softwrapped": "Microsoft Hyper-V",
    "ml-virt-hildenbrand-5.4-next-virtio-balloon-migration-oom": "KVM/QEMU",
    "ml-virt-mcgrof-5.15-next-hung-task-update_balloon_size_func": None,  # virtio names no hypervisor
    "sos-hyperv-coreos-master1-dmesg-no-oom": "Microsoft Hyper-V",
}


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_hypervisor_from_the_log(path):
    scan = scan_log(path.open("rb"), "messages")
    assert (scan.hypervisor[0] if scan.hypervisor else None) == HYPERVISORS[path.stem]


def test_hypervisor_basis_from_hv_balloon_messages():
    from balloon_oom.host_facts import hypervisor_info
    from balloon_oom.readers.files import ReportFiles

    scan = _scan("ml-hyperv-olaf-hv_balloon-floor-qp-softwrapped")
    hv = hypervisor_info(ReportFiles(), scan.hypervisor, [])
    assert hv.name == "Microsoft Hyper-V" and hv.basis.startswith("kernel log: balloon driver hv_balloon")
    assert hv.evidence.line == 1
