"""The verdict rules, on models built directly (the verdict is a pure function).

Numbers of the 8 GiB guest: 2097152 pages RAM; boot reserved 262144K with
10240K freed later gives a baseline of 251904K = 62976 pages; a 4 GiB
MemTotal-reducing balloon adds 1048576 pages to ``pages reserved``.
"""

from balloon_oom.model import (Accounting, Analysis, Balloon, BootMemory, Driver, Evidence,
                               OomEvent, OomNode, OomVictim, Signature, Source, SourceKind,
                               VmcoreInfo, Zone)
from balloon_oom.verdict import Thresholds, decide, judge_event

GIB = 1024 ** 3
PAGES_8G = 2 * 1024 * 1024
BASELINE_PAGES = (262144 - 10240) // 4  # 62976


def _mem_info(free=2000, anon=1_000_000):
    return {"active_anon": anon // 2, "inactive_anon": anon - anon // 2, "isolated_anon": 0,
            "active_file": 300, "inactive_file": 200, "isolated_file": 0, "unevictable": 0,
            "slab_reclaimable": 5000, "slab_unreclaimable": 7000, "pagetables": 2000,
            "sec_pagetables": 0, "bounce": 0, "kernel_misc_reclaimable": 0,
            "free": free, "free_pcp": 100, "free_cma": 0}


def _event(reserved_extra=0, constraint="global", trace=(), anon=1_000_000, **kw):
    ev = OomEvent(source="sos_commands/kernel/dmesg", line=10, monotonic=500.0,
                  trigger_comm="java", gfp_mask="0x140dca", order=0, constraint=constraint,
                  mem_info=_mem_info(anon=anon), pages_ram=PAGES_8G,
                  pages_reserved=BASELINE_PAGES + reserved_extra, current_boot=True,
                  victim=OomVictim(pid=4242, comm="java", anon_rss_kb=3_800_000,
                                   file_rss_kb=1000, shmem_rss_kb=0),
                  nodes=[OomNode(node=0, values_kb={"kernel_stack": 16000})],
                  call_trace=list(trace), **kw)
    return ev


def _analysis(balloons, events, boot=True, **kw):
    a = Analysis(source=Source(SourceKind.SOSREPORT, "x"), balloons=balloons,
                 oom_events=events, uptime_seconds=900.0, **kw)
    if boot:
        a.memory.boot = BootMemory(available_kb=8_000_000, total_kb=PAGES_8G * 4,
                                   reserved_kb=262144, freed_later_kb=10240)
        ev = events[-1] if events else None
        if ev is not None and ev.pages_ram is not None and ev.pages_reserved is not None:
            # Collected later in the same boot, nothing changed since the OOM: MemTotal is
            # the managed memory at the OOM, and zoneinfo shows MemTotal = managed pages.
            managed = ev.pages_ram - ev.pages_reserved
            a.memory.mem_total_kb = managed * 4
            a.memory.zones = [Zone(node=0, zone="Normal", managed_pages=managed)]
    return a


def _virtio(inflated, deflate_on_oom=False):
    return Balloon(Driver.VIRTIO, "virtio0", inflated_bytes=inflated,
                   accounting=(Accounting.COUNTED_AS_USED if deflate_on_oom
                               else Accounting.MEMTOTAL_REDUCED),
                   deflate_on_oom=deflate_on_oom,
                   evidence=[Evidence("sys/bus/virtio/drivers/virtio_balloon/virtio0/features")])


def test_4gib_memtotal_reduced_balloon_on_8gib_guest_contributed():
    ev = _event(reserved_extra=1048576, anon=900_000)
    v = judge_event(ev, _analysis([_virtio(4 * GIB)], [ev]), Thresholds())
    assert (v.verdict, v.confidence) == ("contributed", "high")
    assert v.balloon_bytes_at_oom == 4 * GIB
    assert v.balloon_basis == ("pages reserved at the OOM minus the boot baseline; managed "
                               "memory at the OOM vs MemTotal and the balloon at collection")
    assert "4096.0 MiB" in v.reasons[0]
    assert any("= 1048576 pages = 4096.0 MiB" in a for a in v.arithmetic)
    assert (v.balloon_lower_bytes, v.balloon_upper_bytes) == (4 * GIB, 4 * GIB)
    assert v.criterion == "materiality only (no zone lines: the pre-v2 rule)"
    assert v.picture["balloon"] == 4 * GIB
    assert sum(v.picture.values()) == PAGES_8G * 4096


def test_same_guest_empty_balloon_not_contributed():
    ev = _event(reserved_extra=0)
    v = judge_event(ev, _analysis([_virtio(0)], [ev]), Thresholds())
    assert (v.verdict, v.balloon_bytes_at_oom) == ("not-contributed", 0)
    assert v.reasons[0].startswith("the balloon was empty at the OOM")


def test_memcg_oom_with_large_balloon_not_contributed():
    ev = _event(reserved_extra=1048576, constraint="memcg", memcg="/system.slice/app.service",
                memcg_usage_kb=524288, memcg_limit_kb=524288, memcg_failcnt=17)
    v = judge_event(ev, _analysis([_virtio(4 * GIB)], [ev]), Thresholds())
    assert (v.verdict, v.confidence) == ("not-contributed", "high")
    assert "memcg OOM: cgroup /system.slice/app.service" in v.reasons[0]
    assert "limit 524288kB" in v.reasons[0]
    assert "4096.0 MiB" in v.reasons[1]


def test_no_balloon_evidence_undetermined():
    ev = _event()
    ev.pages_reserved = None
    ev.pages_ram = None
    a = _analysis([], [ev], boot=False)
    v = judge_event(ev, a, Thresholds())
    assert (v.verdict, v.confidence) == ("undetermined", "low")
    assert "balloon-oom sos report -o balloon" in v.reasons[0]
    assert "mount -t debugfs" in v.reasons[0]


def test_small_balloon_below_threshold_names_its_size():
    ev = _event(reserved_extra=25600)  # 100 MiB
    v = judge_event(ev, _analysis([_virtio(100 * 1024 * 1024)], [ev]), Thresholds())
    assert v.verdict == "not-contributed"
    assert "only 100.0 MiB" in v.reasons[0]


def test_threshold_is_configurable():
    ev = _event(reserved_extra=25600)  # 100 MiB of 8 GiB = 1.2 %
    a = _analysis([_virtio(100 * 1024 * 1024)], [ev])
    assert judge_event(ev, a, Thresholds(fraction=0.01)).verdict == "contributed"
    assert judge_event(ev, a, Thresholds(fraction=0.02)).verdict == "not-contributed"


def test_balloon_larger_than_victim_rss_contributed():
    ev = _event(reserved_extra=25600)  # 100 MiB
    ev.victim.anon_rss_kb = 50_000     # ~49 MiB victim
    v = judge_event(ev, _analysis([_virtio(100 * 1024 * 1024)], [ev]), Thresholds())
    assert v.verdict == "contributed"
    assert "(what the kill freed)" in v.reasons[0]
    assert v.materiality.kill_freed_bytes == (50_000 + 0) * 1024
    v = judge_event(ev, _analysis([_virtio(100 * 1024 * 1024)], [ev]),
                    Thresholds(victim_rss=False))
    assert v.verdict == "not-contributed"


def test_balloon_frame_in_trace_contributed_high():
    ev = _event(trace=["dump_stack_lvl", "out_of_memory", "__alloc_pages",
                       "balloon_page_alloc", "fill_balloon", "update_balloon_size_func"])
    v = judge_event(ev, _analysis([_virtio(0)], [ev]), Thresholds())
    assert (v.verdict, v.confidence) == ("contributed", "high")
    assert "balloon_page_alloc()" in v.reasons[0]


def test_vmw_inflating_trace():
    ev = _event(trace=["out_of_memory", "vmballoon_alloc_page_list", "vmballoon_work"])
    b = Balloon(Driver.VMWARE, None, inflated_bytes=0, accounting=Accounting.COUNTED_AS_USED)
    assert judge_event(ev, _analysis([b], [ev]), Thresholds()).verdict == "contributed"


def test_printed_node_balloon_field_is_best_evidence():
    ev = _event()
    ev.nodes = [OomNode(node=0, values_kb={"kernel_stack": 16000}, balloon_kb=2 * 1024 * 1024)]
    v = judge_event(ev, _analysis([_virtio(0, deflate_on_oom=True)], [ev]), Thresholds())
    assert v.balloon_bytes_at_oom == 2 * GIB
    assert v.balloon_basis.startswith("printed with the OOM report")
    assert v.verdict == "contributed"


def test_printed_balloon_against_an_unmoved_reserved_count_is_a_contradiction():
    # A MemTotal-reducing balloon whose pages reserved did not grow, yet 2 GiB printed:
    # the sources contradict each other, so no confident verdict either way.
    ev = _event()
    ev.nodes = [OomNode(node=0, values_kb={"kernel_stack": 16000}, balloon_kb=2 * 1024 * 1024)]
    v = judge_event(ev, _analysis([_virtio(0)], [ev]), Thresholds())
    assert (v.verdict, v.confidence) == ("undetermined", "low")
    assert (v.balloon_lower_bytes, v.balloon_upper_bytes) == (0, 2 * GIB)
    assert any(r.startswith("contradiction: the printed/vmcore size") for r in v.reasons)


def test_virtuozzo_printed_inflated_free():
    ev = _event(vz_balloon_inflated_total_kb=0, vz_balloon_inflated_free_kb=1048576)
    v = judge_event(ev, _analysis([_virtio(0, deflate_on_oom=True)], [ev]), Thresholds())
    assert v.balloon_bytes_at_oom == GIB
    assert v.verdict == "contributed"


def test_deflate_on_oom_global_oom_says_notifier_freed_nothing():
    # counted-as-used balloon, the report's unaccounted gap is tiny: the balloon was empty.
    ev = _event()
    total = sum(ev.mem_info[k] for k in ev.mem_info if k != "free_cma") + 16000 // 4
    ev.pages_reserved = BASELINE_PAGES
    ev.pages_ram = BASELINE_PAGES + total + 2283  # the real 6.1 guest's noise floor
    a = _analysis([_virtio(0, deflate_on_oom=True)], [ev])
    v = judge_event(ev, a, Thresholds())
    assert v.verdict == "not-contributed"
    assert v.balloon_bytes_at_oom == 2283 * 4096
    assert any("notifier freed nothing" in r for r in v.reasons)


def test_vmcore_at_oom_with_nonempty_deflate_balloon_is_a_finding():
    ev = _event()
    a = _analysis([_virtio(256 * 1024 * 1024, deflate_on_oom=True)], [ev],
                  vmcore=VmcoreInfo(panic_message="Out of memory: system-wide panic_on_oom",
                                    taken_at_oom=True))
    a.source = Source(SourceKind.VMCORE, "vmcore")
    v = judge_event(ev, a, Thresholds(), last=True)
    assert v.verdict == "contributed"
    assert v.balloon_basis == "vmcore taken at this OOM (panic_on_oom)"
    assert any(r.startswith("finding: the vmcore shows a deflate-on-OOM balloon") for r in v.reasons)


def test_signatures_become_reasons():
    ev = _event(reserved_extra=0)
    a = _analysis([_virtio(0)], [ev])
    a.signatures = [Signature("virtio_out_of_puff", "Out of puff! Can't get 256 pages",
                              Evidence("sos_commands/kernel/dmesg", line=7)),
                    Signature("virtio_out_of_puff", "Out of puff! Can't get 512 pages",
                              Evidence("sos_commands/kernel/dmesg", line=77))]
    v = judge_event(ev, a, Thresholds())
    # no timestamps: the line before the event's (10) counts, the one after it does not
    assert any("(1x): Out of puff! Can't get 256 pages [sos_commands/kernel/dmesg:7]" in r
               for r in v.reasons)
    assert not any("512 pages" in r for r in v.reasons)


def test_report_verdict_is_strongest_event_or_no_oom():
    big = _event(reserved_extra=1048576)
    memcg = _event(constraint="memcg")
    a = _analysis([_virtio(4 * GIB)], [memcg, big])
    verdicts, overall = decide(a, Thresholds())
    assert [v.verdict for v in verdicts] == ["not-contributed", "contributed"]
    assert overall == "contributed"
    # No event: no-oom only when a kernel log was read, no-log when none was.
    assert decide(_analysis([], [], kernel_logs=["sos_commands/kernel/dmesg"]),
                  Thresholds()) == ([], "no-oom")
    assert decide(_analysis([], []), Thresholds()) == ([], "no-log")


def test_collection_time_only_states_the_time_gap():
    ev = _event()
    ev.pages_reserved = None
    a = _analysis([Balloon(Driver.HYPERV, None, inflated_bytes=2 * GIB,
                           accounting=Accounting.UNKNOWN)], [ev], boot=False)
    v = judge_event(ev, a, Thresholds())
    # The balloon may have been deflated or re-inflated since: the collection bounds nothing.
    assert (v.verdict, v.confidence) == ("undetermined", "low")
    assert v.balloon_basis.startswith("nothing bounds it at the OOM; the balloon as collected "
                                      "was 2048.0 MiB")
    assert (v.balloon_lower_bytes, v.balloon_upper_bytes, v.balloon_bytes_at_oom) == (
        None, None, None)
    assert any("collected 400 s after the OOM" in line for line in v.arithmetic)


def _unknown_hv(inflated):
    return Balloon(Driver.HYPERV, None, inflated_bytes=inflated, accounting=Accounting.UNKNOWN)


def test_unknown_accounting_uses_reserved_growth_when_it_shows():
    ev = _event(reserved_extra=262144, anon=700_000)  # 1 GiB left the managed pages since boot
    v = judge_event(ev, _analysis([_unknown_hv(GIB)], [ev]), Thresholds())
    assert (v.verdict, v.confidence, v.balloon_lower_bytes) == ("contributed", "medium", GIB)
    assert any("accounting is unknown" in a for a in v.arithmetic)


def test_unknown_accounting_without_reserved_growth_falls_back_to_the_gap():
    ev = _event(reserved_extra=0)
    v = judge_event(ev, _analysis([_unknown_hv(0)], [ev]), Thresholds())
    # ~3.9 GiB unaccounted here; the balloon as collected was empty, which says nothing about
    # the OOM (v1 took min(gap, collected) = 0 and said not-contributed: wrong).
    assert v.balloon_basis == "unaccounted gap of the OOM report (upper bound)"
    assert [s.basis for s in v.size_sources] == [
        "pages reserved at the OOM minus the boot baseline",
        "unaccounted gap of the OOM report (upper bound)"]
    assert (v.verdict, v.balloon_lower_bytes, v.balloon_upper_bound) == ("undetermined", 0, True)
    assert v.balloon_upper_bytes > 3 * GIB


def test_counted_as_used_balloon_whose_reserved_count_grew_is_not_empty():
    # virtio 4.0-4.2 took pages out of managed memory even with DEFLATE_ON_OOM: 1 GiB in
    # pages reserved, nothing unaccounted. v1 read only the gap and said empty.
    ev = _event(reserved_extra=262144, anon=700_000)
    total = sum(ev.mem_info[k] for k in ev.mem_info if k != "free_cma") + 16000 // 4
    ev.pages_ram = ev.pages_reserved + total + 2283
    v = judge_event(ev, _analysis([_virtio(0, deflate_on_oom=True)], [ev]), Thresholds())
    assert v.verdict == "contributed" and v.confidence == "medium"
    assert v.balloon_lower_bytes == GIB


def test_cmm_notifier_bounds_a_cmm_only_balloon_to_empty_except_sysrq():
    ev = _event()
    cmm = Balloon(Driver.S390_CMM, "cmm", inflated_bytes=2 * GIB,
                  accounting=Accounting.COUNTED_AS_USED)
    v = judge_event(ev, _analysis([cmm], [ev]), Thresholds())
    # cmm_oom_notify() frees before every non-memcg kill: a printed kill means it had nothing
    assert (v.verdict, v.balloon_upper_bytes) == ("not-contributed", 0)
    assert v.balloon_basis == "CMM OOM notifier freed nothing before the kill"
    ev.order = -1  # sysrq-f: what the notifier freed is ignored, the kill proves nothing
    v = judge_event(ev, _analysis([cmm], [ev]), Thresholds())
    assert v.balloon_upper_bytes > 0 and v.verdict != "not-contributed"
    assert any(r.startswith("sysrq-f OOM (order=-1)") for r in v.reasons)


def test_rule_table_lists_the_rules_in_their_order():
    import re

    from balloon_oom.verdict import rules
    table = re.findall(r"^(\w+) +(?:not-contributed|contributed|undetermined) ",
                       rules.__doc__, re.M)
    assert table == [r.__name__ for r in rules.RULES]
    assert rules.RULES[-1] is rules.undetermined  # the last rule always rules
