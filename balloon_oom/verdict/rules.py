# SPDX-License-Identifier: GPL-2.0-or-later
"""The rules: one verdict per OOM event, and the report's verdict.

:data:`RULES` is walked in order; the first rule that returns a ruling decides:

=====================  ===============  ==========================================
rule                   verdict          confidence
=====================  ===============  ==========================================
memcg                  not-contributed  high (balloon OOM notifiers never run for
                                        memcg OOMs; the cgroup hit its own limit)
balloon_frame          contributed      high (the allocation was the balloon
                                        inflating)
vmcore_finding         contributed      high (a vmcore at a global OOM shows a
                                        non-empty deflate-on-OOM balloon)
empty_balloon          not-contributed  the size interval's
but_for_fails          not-contributed  high; medium with a contradiction; no
                                        more than the interval's with a shortfall
not_material           not-contributed  the interval's; at most medium unless the
                                        upper bound clears the bar; high (medium
                                        with caveats) at or below the gap noise
material               contributed      the interval's; at most medium unless the
                                        lower bound clears the bar, or (no zone
                                        lines: materiality alone) with caveats
undetermined           undetermined     low (the interval straddles a bar, or
                                        nothing bounds it)
=====================  ===============  ==========================================

The size interval comes from :mod:`.size`, but-for and materiality from
:mod:`.criterion`.  ``material`` needs but-for to hold, except where the
report has no zone lines: then materiality alone decides (the pre-v2 rule) and
the reasons say so.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional, Tuple

from ..model import (Accounting, Analysis, ButFor, Confidence, Driver, EventVerdict, Materiality,
                     OomEvent, Verdict)
from ..sosrun import COLLECT_INSTRUCTION
from .context import guest_bytes, notifier_note, reserved_signature, signature_reasons
from .criterion import but_for, materiality
from .size import SizeEstimate, estimate, mib, page_size, picture, show
from .thresholds import Thresholds
from ..drivers import ALLOCATION_FRAMES
from ..drivers.virtio_mem import share as virtio_mem_share

#: Report verdict = the strongest event verdict, in this order.
STRENGTH = {Verdict.CONTRIBUTED: 4, Verdict.UNDETERMINED: 3, Verdict.NO_LOG: 2,
            Verdict.NOT_CONTRIBUTED: 1}

#: Call-trace frames of a balloon allocating memory: an OOM raised by these
#: was the balloon inflating (each driver's DriverSpec.frames).
BALLOON_FRAMES = ALLOCATION_FRAMES

_ORDER = {Confidence.HIGH: 2, Confidence.MEDIUM: 1, Confidence.LOW: 0}


def _weakest(*confs: Confidence) -> Confidence:
    return min(confs, key=lambda c: _ORDER[c])


def _has_balloon_frame(ev: OomEvent) -> Optional[str]:
    for frame in ev.call_trace:
        name = frame.strip().lstrip("?").strip().split("+", 1)[0]
        if any(name.startswith(sig) for sig in BALLOON_FRAMES):
            return name
    return None


def _bar_text(mat) -> str:
    """Which arm set the materiality bar."""
    if mat.kill_freed_bytes is not None and mat.bar_bytes == mat.kill_freed_bytes \
            and mat.bar_bytes < (mat.share_bar_bytes or 0):
        return "what the kill freed"
    return f"{mat.fraction:.0%} of the guest's memory"


def _clear(value: int, bar: int, th: Thresholds, above: bool) -> bool:
    if above:
        return value >= bar * th.clear_factor
    return value * th.clear_factor <= bar


@dataclasses.dataclass
class Ruling:
    """A rule's decision: ``reasons`` come first, then (``context``) the event's context."""

    verdict: Verdict
    confidence: Confidence
    criterion: str
    reasons: List[str]
    context: bool = True


class Case:
    """One event under judgement: what every rule reads, computed once."""

    def __init__(self, ev: OomEvent, analysis: Analysis, th: Thresholds, last: bool):
        self.ev, self.analysis, self.th, self.last = ev, analysis, th, last
        self.page = page_size(analysis)
        self.est: SizeEstimate = estimate(ev, analysis, last, th)
        self.arithmetic = list(self.est.arithmetic)
        self.size_text = f"{show(self.est.lower, self.est.upper)} ({self.est.basis})"
        self.note = notifier_note(ev, analysis)
        self.bf: Optional[ButFor] = None
        self.mat: Optional[Materiality] = None

    def context(self) -> List[str]:
        """The reasons every ruling after the balloon frame rule is followed by."""
        ev, est = self.ev, self.est
        out = signature_reasons(ev, self.analysis)
        if ev.constraint in ("cpuset", "mempolicy"):
            out.append(f"{ev.constraint}-constrained OOM: only some NUMA nodes were allowed; "
                       "the balloon matters only for the memory on those nodes")
        out.extend(f"contradiction: {c}" for c in est.contradictions)
        if self.note:
            out.append(self.note)
        return out

    def criteria(self) -> Tuple[ButFor, Materiality]:
        """but-for and materiality, evaluated (and their arithmetic added) on first use."""
        if self.bf is None or self.mat is None:
            guest, guest_basis = guest_bytes(self.ev, self.analysis)
            self.bf = but_for(self.ev, self.est, self.th, self.page)
            self.mat = materiality(self.ev, self.est, self.th, guest, guest_basis, self.page)
            self.arithmetic.append("but-for:")
            self.arithmetic.extend(f"  {a}" for a in self.bf.arithmetic)
            self.arithmetic.append("materiality:")
            self.arithmetic.extend(f"  {a}" for a in self.mat.arithmetic)
        return self.bf, self.mat

    @property
    def zones(self) -> bool:
        """The report has zone lines (but-for could be evaluated)."""
        return self.criteria()[0].status != "unknown" or bool(self.ev.zones)

    @property
    def criterion(self) -> str:
        return "but-for+materiality" if self.zones else (
            "materiality only (no zone lines: the pre-v2 rule)")


def memcg(case: Case) -> Optional[Ruling]:
    """A memcg OOM: the cgroup hit its own limit."""
    ev, est = case.ev, case.est
    if ev.constraint != "memcg":
        return None
    limit = ""
    if ev.memcg_limit_kb is not None:
        limit = (f" (usage {ev.memcg_usage_kb}kB, limit {ev.memcg_limit_kb}kB, "
                 f"failcnt {ev.memcg_failcnt})")
    reasons = [f"memcg OOM: cgroup {ev.memcg or '?'} hit its memory limit{limit}; the guest as "
               "a whole still had memory, and balloon OOM notifiers never run for memcg OOMs"]
    if est.bounded and est.upper != 0:
        reasons.append(f"the balloon held {case.size_text}, which does not enter into a cgroup "
                       "limit")
    return Ruling(Verdict.NOT_CONTRIBUTED, Confidence.HIGH, "memcg OOM", reasons, context=False)


def balloon_frame(case: Case) -> Optional[Ruling]:
    """A balloon allocation frame in the call trace: the balloon inflating ran out."""
    frame = _has_balloon_frame(case.ev)
    if not frame:
        return None
    return Ruling(Verdict.CONTRIBUTED, Confidence.HIGH, "balloon frame in the call trace",
                  [f"the allocation that ran out was the balloon inflating: {frame}() is in the "
                   "call trace"], context=False)


def vmcore_finding(case: Case) -> Optional[Ruling]:
    """A vmcore taken at this global OOM shows a non-empty deflate-on-OOM balloon."""
    ev, est, vm = case.ev, case.est, case.analysis.vmcore
    if not (case.note and ev.order != -1 and vm is not None and vm.taken_at_oom and case.last
            and est.lower > 0 and any(s.basis.startswith("vmcore") for s in est.sources)):
        return None
    return Ruling(Verdict.CONTRIBUTED, Confidence.HIGH, "vmcore finding",
                  [f"finding: the vmcore shows a deflate-on-OOM balloon of {mib(est.lower)} at a "
                   "global OOM; the notifier did not give it back"])


def empty_balloon(case: Case) -> Optional[Ruling]:
    """The interval is [0, 0]."""
    est = case.est
    if not (est.bounded and est.upper == 0):
        return None
    return Ruling(Verdict.NOT_CONTRIBUTED, est.confidence, "empty balloon",
                  [f"the balloon was empty at the OOM ({est.basis})"])


def but_for_fails(case: Case) -> Optional[Ruling]:
    """The eligible zones were above their watermarks, or the balloon could not cover the
    shortfall."""
    bf, _ = case.criteria()
    est = case.est
    if bf.status != "fails":
        return None
    conf = Confidence.HIGH if not est.contradictions else Confidence.MEDIUM
    if bf.shortfall_bytes:
        conf = _weakest(conf, est.confidence if est.upper is not None else Confidence.LOW)
    return Ruling(Verdict.NOT_CONTRIBUTED, conf, case.criterion,
                  ["but-for fails: " + bf.arithmetic[-1] + f"; the balloon held {case.size_text}"])


def not_material(case: Case) -> Optional[Ruling]:
    """Even the interval's upper bound is below the materiality bar."""
    _, mat = case.criteria()
    est, th = case.est, case.th
    if mat.status != "not-material":
        return None
    conf = est.confidence
    if est.upper is not None and not _clear(est.upper, mat.bar_bytes, th, above=False):
        conf = _weakest(conf, Confidence.MEDIUM)
    if est.upper is not None and est.upper <= th.gap_noise_bytes and not est.contradictions:
        conf = Confidence.HIGH if not est.caveats else Confidence.MEDIUM
    held = f"only {mib(est.upper)}" if est.lower == est.upper else f"at most {mib(est.upper)}"
    return Ruling(Verdict.NOT_CONTRIBUTED, conf, case.criterion,
                  [f"the balloon held {held} at the OOM ({est.basis}), below the materiality "
                   f"bar {mib(mat.bar_bytes)} ({_bar_text(mat)})"])


def material(case: Case) -> Optional[Ruling]:
    """The lower bound is material and covers the shortfall (or no zone lines to check)."""
    bf, mat = case.criteria()
    est, th = case.est, case.th
    if not (mat.status == "material" and (bf.status == "holds" or not case.zones)):
        return None
    conf = est.confidence
    if not _clear(est.lower, mat.bar_bytes, th, above=True):
        conf = _weakest(conf, Confidence.MEDIUM)
    why = f"at least {mib(est.lower)} at the OOM ({est.basis}), >= the materiality bar " \
          f"{mib(mat.bar_bytes)} ({_bar_text(mat)})"
    if bf.status == "holds":
        why += f", and it covers the shortfall ({mib(bf.shortfall_bytes)}) on " \
               f"{', '.join(bf.eligible_zones)}"
    else:
        why += "; the report has no zone lines, so but-for was not evaluated (the pre-v2 " \
               "rule: materiality alone)"
        conf = _weakest(conf, Confidence.MEDIUM) if est.caveats else conf
    return Ruling(Verdict.CONTRIBUTED, conf, case.criterion, [f"the balloon held {why}"])


def undetermined(case: Case) -> Optional[Ruling]:
    """Nothing bounds the balloon, or its interval straddles a bar: always rules."""
    bf, mat = case.criteria()
    est, analysis = case.est, case.analysis
    missing = []
    if not est.bounded:
        text = ("nothing bounds the balloon at the OOM: no vmcore, no Balloon: line in the "
                "report, no boot Memory: line of this boot to compare pages reserved with, no "
                "MemTotal of the same boot, no Mem-Info")
        if not analysis.balloons:
            text += ("; no balloon driver files were found either. Collect with the balloon sos "
                     f"plugin ({COLLECT_INSTRUCTION}) with debugfs mounted "
                     "(`mount -t debugfs none /sys/kernel/debug`)")
        missing.append(text)
        if est.collected is not None:
            missing.append(f"the balloon as collected was {mib(est.collected)}, which says "
                           "nothing about the moment of the OOM")
    else:
        missing.append(f"the balloon held {case.size_text}: the interval straddles the "
                       f"materiality bar {mib(mat.bar_bytes)}" if mat.status == "straddles" else
                       f"the balloon held {case.size_text}; but-for is {bf.status}")
    signature = reserved_signature(case.ev, analysis, case.th)
    if signature:
        missing.append(signature)
    return Ruling(Verdict.UNDETERMINED, Confidence.LOW, case.criterion, missing)


#: The rules in precedence order (see the table at the top of this module).
RULES: Tuple[Callable[[Case], Optional[Ruling]], ...] = (
    memcg, balloon_frame, vmcore_finding, empty_balloon, but_for_fails, not_material, material,
    undetermined)


def judge_event(ev: OomEvent, analysis: Analysis, thresholds: Thresholds,
                last: bool = False) -> EventVerdict:
    """The verdict on one OOM event: the first ruling of :data:`RULES`."""
    case = Case(ev, analysis, thresholds, last)
    ruling = next(r for r in (rule(case) for rule in RULES) if r is not None)
    est = case.est
    point = est.point if est.bounded else None
    reduced = any(b.accounting == Accounting.MEMTOTAL_REDUCED for b in analysis.balloons
                  if b.driver != Driver.VIRTIO_MEM)
    # virtio-mem's removed blocks are not in pages RAM at all, and how much of
    # it is fake-offlined inside pages reserved is not known: the picture
    # shows the balloons' part only.
    vmem = virtio_mem_share(est.sources)[1]
    shown = None if est.upper_only or point is None else max(point - vmem, 0)
    pic = picture(ev, analysis, shown, reduced)
    reasons = ruling.reasons + (case.context() if ruling.context else [])
    return EventVerdict(
        ruling.verdict, ruling.confidence, point, est.basis, est.upper_only, reasons,
        case.arithmetic, pic,
        balloon_lower_bytes=est.lower if est.bounded else None,
        balloon_upper_bytes=est.upper if est.bounded else None,
        size_sources=est.sources, contradictions=est.contradictions,
        but_for=case.bf, materiality=case.mat, criterion=ruling.criterion)


def decide(analysis: Analysis, thresholds: Thresholds) -> Tuple[List[EventVerdict], Verdict]:
    """Verdicts for every event, and the report's verdict.

    The strongest event verdict; with no event, ``no-oom`` when a kernel log
    was read and ``no-log`` when none was.
    """
    events = analysis.oom_events
    verdicts = [judge_event(ev, analysis, thresholds, last=(i == len(events) - 1))
                for i, ev in enumerate(events)]
    if not verdicts:
        return verdicts, Verdict.NO_OOM if analysis.kernel_logs else Verdict.NO_LOG
    return verdicts, max((Verdict(v.verdict) for v in verdicts), key=lambda v: STRENGTH[v])


def judge(analysis: Analysis, thresholds: Thresholds) -> Analysis:
    """A copy of ``analysis`` with its verdicts filled in."""
    verdicts, overall = decide(analysis, thresholds)
    return dataclasses.replace(analysis, verdicts=verdicts, verdict=overall)
