# SPDX-License-Identifier: GPL-2.0-or-later
"""The eight real published logs of ``shared/real-logs/wild/``, each given as a plain file.

Each ``NAME.log`` is analysed exactly as a user hands it (``balloon-oom analyze
NAME.log``); ``NAME.expected.json`` says what it must give: one OOM event per
report or kill line, with the victim's pid (None: a report without a kill
line) and the constraint, and the verdict the log alone supports (never a
``must_not`` one).  A case that fails only because a line shape is not parsed
yet (the parsing side of issue 11) or because of the verdict rules (issue 12)
is a strict xfail naming which.
"""

from __future__ import annotations

import json

import pytest

from balloon_oom.analysis import analyze
from tests.shared import SHARED

WILD = SHARED / "real-logs" / "wild"
CASES = sorted(p.name[:-len(".expected.json")] for p in WILD.glob("*.expected.json"))

pytestmark = pytest.mark.skipif(not CASES, reason=f"{WILD} is missing")

#: Cases whose events (victim pid or constraint) are not all found yet, and why
#: (each a strict xfail: empty now, the parsing side of issue 11 landed).
EVENTS_XFAIL: dict = {}
#: Cases whose verdict is not the expected one yet, and why (empty: issue 12 landed).
VERDICT_XFAIL: dict = {}


def _expected(case: str) -> dict:
    return json.loads((WILD / f"{case}.expected.json").read_text())


def _mark(case: str, table: dict):
    if case in table:
        return pytest.param(case, marks=pytest.mark.xfail(strict=True, reason=table[case]))
    return case


@pytest.fixture(scope="module")
def analyses():
    return {}


def _analysis(case: str, cache: dict):
    if case not in cache:
        cache[case] = analyze(str(WILD / f"{case}.log"))
    return cache[case]


@pytest.mark.parametrize("case", CASES)
def test_read_as_a_plain_log(case, analyses):
    """Every wild log is taken as a kernel log (detected by content), one source of kind log."""
    a = _analysis(case, analyses)
    assert a.source.kind.value == "log"
    assert a.source.path == str(WILD / f"{case}.log")
    assert len(a.oom_events) == len(_expected(case)["oom_events"]), \
        [(e.victim and e.victim.pid, e.line) for e in a.oom_events]


@pytest.mark.parametrize("case", [_mark(c, EVENTS_XFAIL) for c in CASES])
def test_every_kill_with_victim_and_constraint(case, analyses):
    want = [(e["victim_pid"], e["constraint"]) for e in _expected(case)["oom_events"]]
    got = [(e.victim.pid if e.victim else None, e.constraint)
           for e in _analysis(case, analyses).oom_events]
    assert got == want


@pytest.mark.parametrize("case", [_mark(c, VERDICT_XFAIL) for c in CASES])
def test_expected_verdict(case, analyses):
    exp = _expected(case)
    verdict = _analysis(case, analyses).verdict
    assert verdict in [exp["expected_verdict"]] + list(exp.get("also_acceptable") or []), verdict


@pytest.mark.parametrize("case", [c for c in CASES if _expected(c).get("must_not")])
def test_never_the_forbidden_verdict(case, analyses):
    a = _analysis(case, analyses)
    forbidden = _expected(case)["must_not"]
    forbidden = [forbidden] if isinstance(forbidden, str) else forbidden
    assert a.verdict not in forbidden
    assert all(v.verdict not in forbidden for v in a.verdicts)


def test_the_eight_cases_are_there():
    """The README of wild/ lists eight cases: a missing file must not silently shrink this."""
    assert len(CASES) == 8, CASES
    assert all((WILD / f"{c}.log").is_file() for c in CASES)


def test_xen_baseline_reaches_the_model(analyses):
    """What the AWS case's verdict needs is in the model: the boot baseline (274232K
    reserved - 51204K freed later) and 55757 pages reserved at each of the four OOMs,
    all in the log's last (current) boot."""
    case = "fs-aws-ec2-xen-hvm-rhel8.3-messages-4oom"
    if case not in CASES:
        pytest.skip(f"{case} missing")
    a = _analysis(case, analyses)
    assert (a.memory.boot.reserved_kb, a.memory.boot.freed_later_kb) == (274232, 51204)
    assert a.memory.boot.baseline_reserved_kb // 4 == 55757
    assert [(e.pages_reserved, e.current_boot) for e in a.oom_events] == [(55757, True)] * 4


def test_free_memory_reaches_the_model(analyses):
    """The OpenStack case: pages RAM and reserved of both reports are in the model."""
    case = "gh-openstack-nova-5.4-forkbomb-kmem-global-oom"
    if case not in CASES:
        pytest.skip(f"{case} missing")
    a = _analysis(case, analyses)
    assert [(e.pages_ram, e.pages_reserved) for e in a.oom_events] == [(33554298, 573498)] * 2
