# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet summary: counts over the results, the text tables, same-guest hints."""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

#: Rows of the "largest balloons at OOM" table.
TOP_BALLOONS = 10


@dataclass
class FleetSummary:
    """Counts over a fleet's results, built one result at a time (constant memory)."""

    reports: int = 0
    analysed: int = 0
    by_verdict: Counter = field(default_factory=Counter)
    #: Reports with at least one balloon of a driver ("none": no balloon found).
    by_driver: Counter = field(default_factory=Counter)
    #: ``(bytes, path, event verdict)``, largest first after :meth:`top_balloons`.
    _top: List[Tuple[int, int, str, str]] = field(default_factory=list)
    failures: List[Tuple[str, str]] = field(default_factory=list)

    def add(self, result: Dict[str, Any]) -> None:
        self.reports += 1
        path = (result.get("source") or {}).get("path", "?")
        if "error" in result:
            self.failures.append((path, result["error"]))
            return
        self.analysed += 1
        self.by_verdict[result.get("verdict") or "none"] += 1
        drivers = {b.get("driver") for b in result.get("balloons") or [] if b.get("driver")}
        for d in sorted(drivers) or ["none"]:
            self.by_driver[d] += 1
        best: Optional[Tuple[int, str]] = None
        for ev in result.get("oom_events") or []:
            size = ev.get("balloon_bytes_at_oom")
            if isinstance(size, int) and (best is None or size > best[0]):
                best = (size, ev.get("verdict") or "")
        if best is not None:
            # The counter breaks ties by arrival (input order): earlier first.
            item = (best[0], -self.reports, path, best[1])
            if len(self._top) < TOP_BALLOONS:
                heapq.heappush(self._top, item)
            else:
                heapq.heappushpop(self._top, item)

    @property
    def top_balloons(self) -> List[Tuple[int, str, str]]:
        """``(balloon_bytes_at_oom, path, verdict)``, largest first (at most 10)."""
        return [(b, p, v) for b, _, p, v in sorted(self._top, reverse=True)]

    def as_dict(self) -> Dict[str, Any]:
        return {
            "reports": self.reports,
            "analysed": self.analysed,
            "failed": len(self.failures),
            "by_verdict": dict(sorted(self.by_verdict.items())),
            "by_driver": dict(sorted(self.by_driver.items())),
            "largest_balloons_at_oom": [
                {"path": p, "balloon_bytes_at_oom": b, "verdict": v}
                for b, p, v in self.top_balloons],
            "failures": [{"path": p, "error": e} for p, e in self.failures],
        }


def _mib(n: Optional[int]) -> str:
    return "" if n is None else f"{n / (1 << 20):.1f} MiB"


def render_summary(summary: FleetSummary) -> str:
    """The summary tables (text).

    >>> s = FleetSummary()
    >>> s.add({"source": {"path": "a"}, "verdict": "contributed",
    ...        "balloons": [{"driver": "virtio_balloon"}],
    ...        "oom_events": [{"verdict": "contributed", "balloon_bytes_at_oom": 268435456}]})
    >>> s.add({"source": {"path": "b"}, "error": "b: not a readable tar archive"})
    >>> print(render_summary(s).splitlines()[0])
    2 reports: 1 analysed, 1 failed
    """
    from tabulate import tabulate

    out = [f"{summary.reports} reports: {summary.analysed} analysed, "
           f"{len(summary.failures)} failed", ""]
    if summary.by_verdict:
        out.append(tabulate(sorted(summary.by_verdict.items(), key=lambda kv: (-kv[1], kv[0])),
                            headers=["verdict", "reports"]))
        out.append("")
    if summary.by_driver:
        out.append(tabulate(sorted(summary.by_driver.items(), key=lambda kv: (-kv[1], kv[0])),
                            headers=["balloon driver", "reports"]))
        out.append("")
    top = summary.top_balloons
    if top:
        out.append(f"Largest balloons at OOM (top {len(top)}):")
        out.append(tabulate([(_mib(b), b, v, p) for b, p, v in top],
                            headers=["balloon at OOM", "bytes", "event verdict", "report"],
                            disable_numparse=True))
        out.append("")
    if summary.failures:
        out.append("Failed reports:")
        out.append(tabulate(summary.failures, headers=["report", "error"],
                            disable_numparse=True))
        out.append("")
    return "\n".join(out)


def report_row(result: Dict[str, Any]) -> List[str]:
    """Path, verdict, OOM events, largest balloon at OOM, drivers, inflated now (or error)."""
    path = (result.get("source") or {}).get("path", "?")
    if "error" in result:
        return [path, "error", "", "", "", result["error"]]
    events = result.get("oom_events") or []
    sizes = [e.get("balloon_bytes_at_oom") for e in events
             if isinstance(e.get("balloon_bytes_at_oom"), int)]
    drivers = sorted({b.get("driver") for b in result.get("balloons") or [] if b.get("driver")})
    now = sum(b.get("inflated_bytes") or 0 for b in result.get("balloons") or [])
    return [path, result.get("verdict") or "", str(len(events)),
            _mib(max(sizes)) if sizes else "", ", ".join(drivers) or "none",
            _mib(now) if drivers else ""]


def render_reports_table(rows: Iterable[List[str]]) -> str:
    """One row per report (rows from :func:`report_row`)."""
    from tabulate import tabulate

    return tabulate(list(rows),
                    headers=["report", "verdict", "OOMs", "balloon at OOM", "drivers",
                             "inflated now / error"], disable_numparse=True)


def note_guest(guests: Dict[Tuple[str, str], List[str]], result: Dict[str, Any]) -> None:
    """Remember which guest (host name, boot id) a result is of, when it says."""
    source = result.get("source") or {}
    if source.get("hostname") and source.get("boot_id"):
        guests.setdefault((source["hostname"], source["boot_id"]), []).append(source["path"])


def same_guest_hints(guests: Dict[Tuple[str, str], List[str]]) -> List[str]:
    """One stderr line per guest seen in several inputs: they may be one guest's
    sources, to be analysed together with ``--same-guest``.  Nothing more."""
    out = []
    for (hostname, boot_id), paths in guests.items():
        if len(paths) > 1:
            out.append(f"balloon-oom: {', '.join(paths)} look like one guest (host {hostname}, "
                       f"boot id {boot_id}): to analyse them as one, add --same-guest\n")
    return out

