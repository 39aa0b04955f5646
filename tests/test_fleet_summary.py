# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet summary: exact counts over real results, the top-ten table."""

from __future__ import annotations

import json
from collections import Counter

from balloon_oom.fleet import FleetSummary, render_summary
from tests.fleet_reports import needs_samples


pytestmark = needs_samples


def test_summary_counts_exact(fleet_dir, single, jsonl_run):
    _, out, _ = jsonl_run
    summary = FleetSummary()
    for line in out.splitlines():
        summary.add(json.loads(line))
    assert summary.reports == 8 and summary.analysed == 6 and len(summary.failures) == 2
    assert summary.by_verdict == Counter(d["verdict"] for d in single.values())
    drivers = Counter()
    for d in single.values():
        names = {b["driver"] for b in d["balloons"]} or {"none"}
        drivers.update(names)
    assert summary.by_driver == drivers
    assert summary.by_driver["virtio_balloon"] >= 3  # the three kvm copies
    # Largest first; ties keep input order.
    top = summary.top_balloons
    assert [t[1] for t in top[:3]] == [str(fleet_dir / n) for n in
                                       ("a-kvm-off", "b-kvm-off-copy", "c-kvm-off.tar.xz")]
    assert top[0][0] == 268435456
    text = render_summary(summary)
    assert "268435456" in text and "virtio_balloon" in text


def test_summary_top_is_ten_largest():
    s = FleetSummary()
    for i in range(25):
        s.add({"source": {"path": f"r{i}"}, "verdict": "contributed", "balloons": [],
               "oom_events": [{"verdict": "contributed", "balloon_bytes_at_oom": i * 4096},
                              {"verdict": "undetermined", "balloon_bytes_at_oom": None}]})
    assert [p for _, p, _ in s.top_balloons] == [f"r{i}" for i in range(24, 14, -1)]
    assert s.by_driver == Counter({"none": 25})
