"""The JSON document: the model, serialised, with each OOM event's verdict inlined.

Top level: ``schema_version``, ``source`` {kind, path}, ``kernel``,
``hypervisor``, ``collected_at``, ``uptime_seconds``, ``verdict``,
``balloons``, ``memory``, ``oom_events`` (each with ``verdict``,
``confidence``, ``balloon_bytes_at_oom``, ``balloon_basis``, ``reasons``,
``arithmetic``, ``picture``), ``signatures``, ``disagreements``, ``vmcore``,
``warnings``; ``summary`` (the one-paragraph answer), ``recommendations``,
``clock`` (zone, collection time), ``boots`` and ``timeline``.  The schema is
``balloon_oom/schema.json``.
"""

from __future__ import annotations

import json
from typing import Any, Dict

from ..model import Analysis, to_jsonable


def document(analysis: Analysis) -> Dict[str, Any]:
    doc = to_jsonable(analysis)
    verdicts = doc.pop("verdicts")
    for event, verdict in zip(doc["oom_events"], verdicts):
        event.update(verdict)
    # each event's wall-clock time, as the timeline dates it
    for entry in doc.get("timeline") or []:
        if entry["kind"] == "oom" and entry.get("oom"):
            event = doc["oom_events"][entry["oom"] - 1]
            event.update(at=entry["at"], at_basis=entry["at_basis"],
                         before_collection_seconds=entry["before_collection_seconds"])
    order = ["schema_version", "source", "kernel", "hypervisor", "collected_at",
             "uptime_seconds", "verdict", "kernel_logs", "balloons", "memory", "oom_events", "signatures",
             "disagreements", "vmcore", "warnings"]
    # The answer first (after the version), then the dated picture.
    order[1:1] = ["summary"]
    order += ["recommendations", "hostname", "clock", "boots", "timeline"]
    return {k: doc[k] for k in order}


def render(analysis: Analysis, indent: int = 2) -> str:
    return json.dumps(document(analysis), indent=indent, sort_keys=False)


def render_line(analysis: Analysis) -> str:
    """One line (``--format jsonl``)."""
    return json.dumps(document(analysis), separators=(",", ":"))
