# SPDX-License-Identifier: GPL-2.0-or-later
"""Real OOM-report lines for the tests of balloon_oom.parsers.oom.

tests/data/oom/ holds verbatim excerpts of public reports (PROVENANCE.md);
the shared real logs (wild logs, the 6.1 guest captures) are read in place.
"""

from pathlib import Path

from balloon_oom.model import OomEvent
from balloon_oom.parsers.logline import decode_line, split_prefix
from balloon_oom.parsers.oom import OomReportBuilder
from tests import shared as _shared

DATA = Path(__file__).parent / "data" / "oom"
KVM = _shared.CAPTURES / "kvm-6.1"
WILD = _shared.SHARED / "real-logs" / "wild"


def build(lines, start=0):
    """Feed decoded, prefix-stripped lines into one builder (no head needed)."""
    b = OomReportBuilder(OomEvent(source="t", line=start + 1))
    for n, raw in enumerate(lines, start + 1):
        raw = decode_line(raw)
        b.feed(split_prefix(raw).text, n, raw)
    return b.finish(complete=True)


def data_lines(name):
    return (DATA / name).read_text().splitlines()


def real_logs():
    """Every real log: the excerpts here, the wild logs, the guest captures."""
    logs = sorted(DATA.glob("*.txt"))
    if WILD.is_dir():
        logs += sorted(WILD.glob("*.log"))
    if _shared.CAPTURES.is_dir():
        logs += sorted(p for p in _shared.CAPTURES.rglob("*") if p.is_file())
    return logs


def messages(path):
    """The message texts of a log (prefix off, rsyslog ``#012`` joins split)."""
    out = []
    for line in path.read_bytes().splitlines():
        text = split_prefix(decode_line(line)).text
        out.extend(part.strip() for part in text.split("#012"))
    return [m for m in out if m]


#: The OomEvent fields the report builder and the scanner fill.
_FED = ("line", "end_line", "trigger_comm", "trigger_pid", "gfp_mask", "gfp_flags", "order",
        "oom_score_adj", "nodemask", "constraint", "constraint_basis", "memcg", "task_memcg",
        "memcg_usage_kb", "memcg_limit_kb", "memcg_failcnt", "mem_info", "nodes", "zones",
        "pages_ram", "pages_reserved", "pages_highmem", "pages_cma_reserved", "pages_hwpoisoned",
        "pages_shared", "pages_non_shared", "total_pagecache_pages", "swap_cache_pages",
        "swap_free_kb", "swap_total_kb", "hugetlb", "tasks", "victim", "call_trace",
        "vz_balloon_inflated_total_kb", "vz_balloon_inflated_free_kb", "complete", "notes",
        "missing")


def log_key(path):
    """A real log's name in GOLDEN (where it lives, then its name)."""
    path = Path(path)
    if path.parent == DATA:
        return "data/oom/" + path.name
    if path.parent == WILD:
        return "wild/" + path.name
    return "captures/" + str(path.relative_to(_shared.CAPTURES))


def fingerprints(path):
    """Per event of ``path``: victim pid, constraint and a hash of every fed field."""
    import hashlib
    import json

    from balloon_oom.model import to_jsonable
    from balloon_oom.parsers.kernel_log import scan_log

    out = []
    for ev in scan_log(path.open("rb"), "log").events:
        data = to_jsonable(ev)
        fed = {k: data.get(k) for k in _FED}
        fed["evidence_lines"] = [e["line"] for e in data["evidence"]]
        digest = hashlib.sha256(json.dumps(fed, sort_keys=True).encode()).hexdigest()[:16]
        out.append([ev.victim.pid if ev.victim else None, ev.constraint, digest])
    return out


GOLDEN = DATA / "registry-golden.json"

if __name__ == "__main__":  # python -m tests.oomdata: write GOLDEN from the code on the path
    import json

    prints = {log_key(p): fingerprints(p) for p in real_logs()}
    GOLDEN.write_text("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in
                                         sorted(prints.items())) + "\n}\n")
