# SPDX-License-Identifier: GPL-2.0-or-later
"""Did the balloon take the memory the guest ran out of?  A pure function of the model.

:mod:`.size` bounds the balloon at each OOM (an interval with its basis),
:mod:`.criterion` holds but-for and materiality, :mod:`.rules` the verdict,
:mod:`.thresholds` every number compared against.  Nothing here reads files
or prints; every derived number comes with its arithmetic (``--explain``).
"""

from ..model import Confidence, Verdict
from .criterion import but_for, highest_zone, kill_freed_bytes, materiality
from .rules import BALLOON_FRAMES, STRENGTH, decide, judge, judge_event
from .size import SizeEstimate, estimate
from .thresholds import Thresholds

CONTRIBUTED = Verdict.CONTRIBUTED
NOT_CONTRIBUTED = Verdict.NOT_CONTRIBUTED
UNDETERMINED = Verdict.UNDETERMINED
NO_OOM = Verdict.NO_OOM
NO_LOG = Verdict.NO_LOG

__all__ = ["BALLOON_FRAMES", "CONTRIBUTED", "Confidence", "NOT_CONTRIBUTED", "NO_LOG", "NO_OOM",
           "STRENGTH", "SizeEstimate", "Thresholds", "UNDETERMINED", "Verdict", "but_for",
           "decide", "estimate", "highest_zone", "judge", "judge_event", "kill_freed_bytes",
           "materiality"]
