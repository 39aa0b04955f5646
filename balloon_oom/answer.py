# SPDX-License-Identifier: GPL-2.0-or-later
"""The answer a support engineer pastes into the case, computed as data.

:func:`finish` runs after the verdict: it dates everything (:mod:`balloon_oom.timeline`),
picks the event that decides the report's verdict, and writes one paragraph: what
happened, when (wall clock), what the balloon held then, the verdict and why in one
sentence, and what to do.  Every recommendation follows from a finding of this
analysis (:func:`recommendations`) and names the hypervisor's own setting; renderers
only format :attr:`Analysis.summary` and :attr:`Analysis.recommendations`.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from .drivers import ADVICE, LABELS
from .drivers.virtio_mem import share as virtio_mem_share
from .model import Analysis, Driver, EventVerdict, OomEvent, Recommendation, TimelineEntry
from .sosrun import COLLECT_INSTRUCTION
from .timeline import build_timeline

__all__ = ["decisive_event", "duration", "finish", "recommendations", "summary"]

_MIB = 1 << 20


def _mib(n: Optional[int]) -> str:
    return "an unknown amount" if n is None else f"{n / _MIB:,.1f} MiB"


def duration(seconds: float) -> str:
    """``0.4 s``, ``4 min``, ``2 h 5 min``, ``3 days 4 h``.

    >>> duration(0.44), duration(59), duration(125), duration(7500), duration(273600)
    ('0.4 s', '59 s', '2 min', '2 h 5 min', '3 days 4 h')
    """
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} day{'s' if d != 1 else ''} {h} h" if h else f"{d} day{'s' if d != 1 else ''}"


def decisive_event(analysis: Analysis) -> Optional[Tuple[int, OomEvent, EventVerdict]]:
    """``(number, event, verdict)`` of the event whose verdict is the report's (the
    largest balloon among those; the last one on a tie), or None without OOM events."""
    best = None
    for i, (ev, v) in enumerate(zip(analysis.oom_events, analysis.verdicts), 1):
        if v.verdict != analysis.verdict:
            continue
        key = (v.balloon_bytes_at_oom or 0, i)
        if best is None or key >= best[0]:
            best = (key, (i, ev, v))
    return best[1] if best else None


def _event_entry(analysis: Analysis, number: int) -> Optional[TimelineEntry]:
    for e in analysis.timeline:
        if e.kind == "oom" and e.oom == number:
            return e
    return None


def _when(analysis: Analysis, number: int, ev: OomEvent) -> str:
    e = _event_entry(analysis, number)
    if e is not None and e.at:
        zone = ("" if analysis.clock.zone_known
                else " (the guest's zone is not in the report: UTC assumed)")
        ago = ""
        if e.before_collection_seconds is not None and e.before_collection_seconds >= 0:
            made = ("the vmcore was taken" if analysis.source.kind.value == "vmcore"
                    else "the report was collected")
            ago = f", {duration(e.before_collection_seconds)} before {made}"
        return f"at {e.at}{zone}{ago}"
    if e is not None and e.stamp:
        return f"at {e.stamp} ({e.at_basis})"
    if ev.monotonic is not None:
        return f"{ev.monotonic:.3f} s after a boot ({e.at_basis if e else 'wall clock unknown'})"
    return "at an unknown time"


def _driver_name(analysis: Analysis) -> str:
    drivers = [LABELS.get(b.driver, b.driver.value) for b in analysis.balloons]
    return drivers[0] if len(set(drivers)) == 1 else "balloon"


def _held(v: EventVerdict) -> str:
    """The size at the OOM as the interval it is (the basis is in the verdict's reason)."""
    lo, hi = v.balloon_lower_bytes, v.balloon_upper_bytes
    if lo is not None and hi is not None and lo != hi:
        return f"between {_mib(lo)} and {_mib(hi)}" if lo else f"at most {_mib(hi)}"
    if lo is not None and hi is None:
        return f"at least {_mib(lo)}"
    return ("at most " if v.balloon_upper_bound else "") + _mib(v.balloon_bytes_at_oom)


def _share(v: EventVerdict) -> str:
    total = sum(v.picture.values()) if v.picture else 0
    if v.balloon_bytes_at_oom is None or total <= 0:
        return ""
    return f" ({100 * v.balloon_bytes_at_oom / total:.0f}% of the guest's {_mib(total)})"


def _balloon_part_may_hold(v: EventVerdict) -> bool:
    """The balloons (not virtio-mem) may have held memory at this OOM: the size's
    upper bound is unknown, or above what virtio-mem had surely taken back."""
    vmem = virtio_mem_share(v.size_sources)[0]
    if not vmem:
        return True
    upper = v.balloon_upper_bytes if v.balloon_upper_bytes is not None else v.balloon_bytes_at_oom
    return upper is None or upper > vmem


def recommendations(analysis: Analysis) -> List[Recommendation]:
    """What to change, each from a finding of this analysis (none without one)."""
    out: List[Recommendation] = []
    contributed = [(ev, v) for ev, v in zip(analysis.oom_events, analysis.verdicts)
                   if v.verdict == "contributed"]
    drivers = {b.driver for b in analysis.balloons}
    if contributed and not any(_balloon_part_may_hold(v) for _, v in contributed):
        # virtio-mem's unplugged memory is the whole size at every such OOM:
        # the balloons' own settings (deflate-on-OOM, targets) changed nothing.
        drivers = {Driver.VIRTIO_MEM}
    if contributed:
        size = max((v.balloon_bytes_at_oom or 0) for _, v in contributed)
        taker = "virtio-mem" if drivers == {Driver.VIRTIO_MEM} else "the balloon"
        finding = (f"virtio-mem had taken back {_mib(size)} at an OOM and the verdict is contributed"
                   if taker == "virtio-mem" else
                   f"the balloon held {_mib(size)} at an OOM and the verdict is contributed")
        virtio = [b for b in analysis.balloons if b.driver == Driver.VIRTIO and Driver.VIRTIO in drivers]
        if virtio and any(b.deflate_on_oom is False for b in virtio):
            why = finding + "; VIRTIO_BALLOON_F_DEFLATE_ON_OOM is not negotiated"
            out.append(Recommendation(
                "libvirt", "<memballoon model='virtio' autodeflate='on'/>",
                "turn on deflate-on-OOM: libvirt <memballoon model='virtio' autodeflate='on'/> "
                "(from the next start)", why))
            out.append(Recommendation(
                "qemu", "-device virtio-balloon-pci,deflate-on-oom=on",
                "or QEMU -device virtio-balloon-pci,deflate-on-oom=on", why))
            out.append(Recommendation(
                "proxmox", "balloon: <MiB>",
                "on Proxmox, raise the VM's minimum memory, balloon: <MiB> (qm set VMID "
                "--balloon MiB), so the balloon cannot take the guest below what it needs",
                finding))
        elif virtio:
            out.append(Recommendation(
                "proxmox", "balloon: <MiB>",
                "raise the memory the balloon must leave the guest: Proxmox balloon: <MiB> "
                "(qm set VMID --balloon MiB), libvirt a higher target (virsh setmem)", finding))
        for where, setting, action in dict.fromkeys(ADVICE[d] for d in ADVICE if d in drivers):
            out.append(Recommendation(where, setting, action, finding))
        out.append(Recommendation(
            "host", "host memory overcommit",
            "check the host's memory overcommit (the hypervisor took this guest's memory "
            f"through {taker})", finding))
    memcg = [ev for ev, v in zip(analysis.oom_events, analysis.verdicts)
             if ev.constraint == "memcg"]
    if memcg:
        ev = memcg[0]
        out.append(Recommendation(
            "guest", "cgroup memory.max (v2) / memory.limit_in_bytes (v1)",
            f"raise cgroup {ev.memcg or '?'}'s memory.max (v2) / memory.limit_in_bytes (v1), "
            "or reduce what runs in it",
            f"OOM in cgroup {ev.memcg or '?'}: the cgroup hit its own limit"))
    if analysis.verdict == "no-log":
        out.append(Recommendation(
            "collect", "the kernel log",
            f"collect again with the kernel log ({COLLECT_INSTRUCTION}), or add the guest's "
            "/var/log/messages or journal with --same-guest",
            "no kernel log was read, so an OOM can be neither seen nor ruled out"))
    if any(v.verdict == "undetermined" for v in analysis.verdicts):
        out.append(Recommendation(
            "collect", "balloon-oom sos report --batch -o balloon",
            f"collect again with the balloon plugin ({COLLECT_INSTRUCTION}), debugfs mounted "
            "(mount -t debugfs none /sys/kernel/debug)",
            "the balloon's size at the OOM could not be determined from this report"))
    return out


def no_events_line(analysis: Analysis) -> str:
    """What the renderers say where the OOM events table would be."""
    if analysis.verdict == "no-log":
        return ("No kernel log was read: OOM events can be neither seen nor ruled out "
                "(no dmesg, journal, messages or vmcore log in this source).")
    return "No OOM events in the kernel logs found."


def summary(analysis: Analysis) -> str:
    """The one-paragraph answer (needs :attr:`Analysis.timeline`)."""
    verdict = analysis.verdict or "undetermined"
    recs = analysis.recommendations
    if not analysis.oom_events and verdict == "no-log":
        text = ("No kernel log was read from this source (no dmesg, journal, messages or vmcore "
                "log), so an OOM can be neither seen nor ruled out. What to do: collect again "
                f"with the kernel log ({COLLECT_INSTRUCTION}), or hand the guest's "
                "/var/log/messages, journal export or dmesg beside this report with --same-guest.")
        if analysis.balloons:
            held = ", ".join(f"{b.driver.value} {_mib(b.inflated_bytes)}"
                             for b in analysis.balloons)
            text += f" Balloon at collection: {held}."
        return text
    if not analysis.oom_events:
        where = (f"the kernel logs in this report (collected {analysis.clock.collected_at})"
                 if analysis.clock.collected_at else "the kernel logs in this report")
        text = f"No OOM killer event in {where}: there is nothing to attribute to the balloon."
        if analysis.balloons:
            held = ", ".join(f"{b.driver.value} {_mib(b.inflated_bytes)}"
                             for b in analysis.balloons)
            text += f" Balloon at collection: {held}."
        return text
    decisive = decisive_event(analysis)
    assert decisive is not None
    number, ev, v = decisive
    n = len(analysis.oom_events)
    count = "once" if n == 1 else f"{n} times"
    trigger = ev.trigger_comm or "a task"
    constraint = {"global": "a global", "memcg": "a cgroup (memcg)", "cpuset": "a cpuset",
                  "mempolicy": "a mempolicy"}.get(ev.constraint or "", "an")
    victim = (f"; the kernel killed {ev.victim.comm} (pid {ev.victim.pid}"
              + (f", RSS {_mib(ev.victim.rss_kb * 1024)})" if ev.victim.rss_kb is not None
                 else ")")
              if ev.victim else "")
    which = "" if n == 1 else f" OOM #{number}, which decides the verdict, came"
    parts = [f"The guest ran out of memory {count}."
             + (f"{which} {_when(analysis, number, ev)}: " if which else
                f" It happened {_when(analysis, number, ev)}: ")
             + f"{trigger} hit {constraint} OOM{victim}."]
    if v.balloon_bytes_at_oom is not None:
        parts.append(f"The {_driver_name(analysis)} held {_held(v)}{_share(v)} at that moment.")
    elif analysis.balloons:
        parts.append(f"How much the {_driver_name(analysis)} held at that moment is not known"
                     f" from this report.")
    elif analysis.signatures:
        kinds = sorted({sig.kind.split(".")[0] for sig in analysis.signatures})
        parts.append(f"The kernel log shows balloon driver messages ({', '.join(kinds)}) but the "
                     "report holds no balloon state, so what the balloon held then is unknown.")
    else:
        parts.append("No balloon driver was found in this report.")
    reason = (v.reasons[0] if v.reasons else "no reason recorded").rstrip(".")
    parts.append(f"Verdict: {verdict} ({v.confidence} confidence), because {reason}.")
    if recs:
        todo = "; ".join(r.action for r in recs)
        parts.append(f"What to do: {todo}.")
    elif v.but_for is not None and v.but_for.status == "fails" and not v.but_for.shortfall_bytes:
        parts.append("What to do: nothing on the balloon side; memory was not short when the "
                     "OOM killer ran (free memory above the watermarks), so look at what made "
                     "the allocation fail (a failed cgroup or kernel-memory charge escalated by "
                     "pagefault_out_of_memory() gives this picture).")
    else:
        parts.append("What to do: nothing on the balloon side; the guest needs more memory "
                     "than it has, or the workload less.")
    return " ".join(parts)


def finish(analysis: Analysis) -> Analysis:
    """Attach the timeline, recommendations and the answer to a judged analysis."""
    analysis.timeline = build_timeline(analysis)
    analysis.recommendations = recommendations(analysis)
    analysis.summary = summary(analysis)
    return analysis


#: What a balloon's size at an OOM is worked out from, in plain words, by accounting mode.
ACCOUNTING_PLAIN = {
    "memtotal-reduced": (
        "This balloon takes its pages away from the memory the kernel manages: the guest's "
        "total memory (MemTotal) shrinks while it is inflated, and an OOM report counts those "
        "pages as reserved. So the balloon's size at the OOM is the reserved pages the report "
        "printed minus what the kernel reserved for itself at boot."),
    "counted-as-used": (
        "This balloon's pages stay in the guest's total memory and simply look used: they are "
        "on no list the OOM report prints. So the balloon can be at most the memory the report "
        "does not account for (total minus free, anon, file cache, slab and kernel)."),
    "unknown": (
        "How this balloon shows up in the guest's memory figures is not known from this "
        "report, so its size at the OOM comes from the best other evidence (the balloon as "
        "collected, or a message the kernel printed)."),
}


def accounting_plain(analysis: Analysis) -> List[str]:
    """The plain-words explanation for each accounting mode of this guest's balloons."""
    modes = []
    for b in analysis.balloons:
        if b.accounting.value not in modes:
            modes.append(b.accounting.value)
    return [ACCOUNTING_PLAIN[m] for m in modes if m in ACCOUNTING_PLAIN]
