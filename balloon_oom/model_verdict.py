# SPDX-License-Identifier: GPL-2.0-or-later
"""The model of a verdict on one OOM event: the verdict, the size bounds, but-for and
materiality (see :mod:`balloon_oom.verdict`).

Part of :mod:`balloon_oom.model`, which re-exports every name here; import
them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional

if TYPE_CHECKING:
    from .model import Confidence, Verdict

__all__ = ["ButFor", "EventVerdict", "Materiality", "SizeBound"]


@dataclass
class EventVerdict:
    """The judgement on one OOM event (see :mod:`balloon_oom.verdict`)."""

    verdict: Verdict  # contributed | not-contributed | undetermined
    confidence: Confidence
    balloon_bytes_at_oom: Optional[int] = None
    balloon_basis: Optional[str] = None
    #: ``balloon_bytes_at_oom`` is only an upper bound (the unaccounted gap).
    balloon_upper_bound: bool = False
    reasons: List[str] = field(default_factory=list)
    #: The arithmetic behind every derived number (``--explain``).
    arithmetic: List[str] = field(default_factory=list)
    #: Where memory went at the OOM, in bytes (memory picture).
    picture: Dict[str, int] = field(default_factory=dict)
    #: The balloon's size at the OOM as an interval (bytes; upper None:
    #: unbounded) and every source that bounded it.
    balloon_lower_bytes: Optional[int] = None
    balloon_upper_bytes: Optional[int] = None
    size_sources: List["SizeBound"] = field(default_factory=list)
    #: Sources whose intervals do not overlap, or collection-time figures the
    #: interval excludes: each one lowers the confidence.
    contradictions: List[str] = field(default_factory=list)
    but_for: Optional["ButFor"] = None
    materiality: Optional["Materiality"] = None
    #: ``but-for+materiality`` | ``materiality only (no zone lines)`` | a rule
    #: that decided before the criterion (``memcg``, ``balloon frame``, ...).
    criterion: Optional[str] = None


@dataclass
class SizeBound:
    """One source's bounds on the balloon's size at an OOM (bytes; None: unbounded)."""

    basis: str
    lower_bytes: Optional[int]
    upper_bytes: Optional[int]
    #: ``total`` (every balloon), ``memtotal-reduced`` or ``counted-as-used`` part.
    part: str = "total"
    #: Error bars applied to this source, one sentence each.
    error_bars: List[str] = field(default_factory=list)


@dataclass
class ButFor:
    """Had the balloon been empty, would this allocation have succeeded?

    ``status``: ``holds`` (the balloon's lower bound covers the shortfall),
    ``fails`` (the eligible zones were above their watermarks, or the
    balloon could not cover the shortfall or sat on other nodes),
    ``unknown``.
    """

    status: str
    shortfall_bytes: Optional[int] = None
    eligible_zones: List[str] = field(default_factory=list)
    arithmetic: List[str] = field(default_factory=list)


@dataclass
class Materiality:
    """Is the balloon a material share of the guest, or at least what the kill freed?

    ``bar_bytes`` = min(share bar, kill freed); ``status``: ``material``
    (lower bound >= bar), ``not-material`` (upper bound < bar),
    ``straddles``, or ``unknown`` (no guest size).
    """

    status: str
    bar_bytes: Optional[int] = None
    guest_bytes: Optional[int] = None
    fraction: Optional[float] = None
    share_bar_bytes: Optional[int] = None
    kill_freed_bytes: Optional[int] = None
    arithmetic: List[str] = field(default_factory=list)
