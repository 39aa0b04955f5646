"""Benchmark inputs: a big sosreport, generated deterministically from a seed.

The report holds the usual small balloon/memory files (copied from a
``samples/`` sosreport tree when there is one, else from the real KVM 6.1
captures) and two big kernel logs, ``sos_commands/logs/journalctl_--no-pager``
(journal ``short`` format) and ``var/log/messages`` (rsyslog, with the printk
time), made of seeded noise around a few OOM reports.  Each OOM report is the
real one from ``/work/shared/real-captures/kvm-6.1/dmesg-oom-report-deflate-off.txt``
re-prefixed for the log's format, with its pid changed per copy so that
every copy is a distinct event (the same events appear in both logs, as on
a real system, and must be merged).  The boot log of the same capture opens
both logs (``Linux version``, ``Memory:``, ``Freeing … memory`` lines).

>>> import tempfile
>>> r = build_report(tempfile.mkdtemp(), size_mb=1, seed=7)
>>> sorted(r.logs), r.pids
(['sos_commands/logs/journalctl_--no-pager', 'var/log/messages'], [112, 1112, 2112])
>>> r.logs["var/log/messages"].events[0].end_line - r.logs["var/log/messages"].events[0].line
57
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

from .logs import (BOOT_EPOCH, CAPTURES, DMESG, FORMAT_PATHS, HOST, JOURNAL, KVM, MESSAGES,
                   OOM_REPORT, REPO, GeneratedLog, OomPlace, _write_log, oom_report_lines)

__all__ = [
    "CAPTURES",
    "DMESG",
    "FORMAT_PATHS",
    "GeneratedLog",
    "GeneratedReport",
    "JOURNAL",
    "MESSAGES",
    "OOM_REPORT",
    "OomPlace",
    "build_report",
    "make_tarball",
    "oom_report_lines",
]

#: Share of ``size_mb`` each log gets.
LOG_SHARES = ((JOURNAL, 0.6), (MESSAGES, 0.4))


@dataclass
class GeneratedReport:
    """A generated sosreport directory and what is in it."""

    root: str
    seed: int
    size_mb: float
    logs: Dict[str, GeneratedLog] = field(default_factory=dict)
    small_files_from: str = ""

    @property
    def pids(self) -> List[int]:
        """Victim pids, one per distinct OOM event (what the analyzer must find)."""
        return sorted({e.pid for log in self.logs.values() for e in log.events})

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)



# --- small files ------------------------------------------------------------------------------

_BIG = re.compile(r"^(sos_commands/logs/journalctl|var/log/|sos_commands/kernel/dmesg)")


def _sample_tree() -> Optional[Path]:
    """A sosreport directory under ``samples/`` with a virtio balloon, if one exists."""
    samples = REPO / "samples"
    if not samples.is_dir():
        return None
    trees = sorted(p for p in samples.iterdir()
                   if p.is_dir() and ((p / "version.txt").exists() or (p / "sos_commands").is_dir()))
    for p in trees:
        if "virtio" in p.name or "kvm" in p.name:
            return p
    return trees[0] if trees else None


def _copy_small_files(root: Path) -> str:
    """The balloon and memory files; returns where they came from."""
    tree = _sample_tree()
    if tree is not None:
        for dirpath, dirnames, filenames in os.walk(tree):
            dirnames.sort()
            for name in sorted(filenames):
                src = Path(dirpath) / name
                rel = src.relative_to(tree).as_posix()
                if _BIG.match(rel):
                    continue
                dst = root / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src.is_symlink():
                    os.symlink(os.readlink(src), dst)
                else:
                    shutil.copyfile(src, dst)
        return str(tree)
    # Real captures (kvm-6.1, deflate-on-oom=off, after the OOM).
    files = {
        "proc/meminfo": KVM / "meminfo-after-oom-deflate-off.txt",
        "sos_commands/kernel/lsmod": KVM / "lsmod-deflate-off.txt",
        "sys/bus/virtio/drivers/virtio_balloon/virtio0/features":
            KVM / "features-after-oom-deflate-off.txt",
    }
    for rel, src in files.items():
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    (root / "version.txt").write_text("sosreport: 4.0\n")
    (root / "sos_commands/kernel/uname_-a").write_text(
        f"Linux {HOST} 6.1.0-56-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16) "
        "x86_64 GNU/Linux\n")
    return str(KVM)


# --- the report -------------------------------------------------------------------------------

def build_report(workdir: str, size_mb: float = 1024, seed: int = 1, events: int = 3,
                 name: str = "sosreport-bench-2026-11-26-aaaaaaa",
                 formats: Optional[Sequence[str]] = None) -> GeneratedReport:
    """Write ``workdir/name/`` (a sosreport directory) of about ``size_mb`` MiB.

    ``events`` OOM reports (victim pids 112, 1112, 2112, …) go into every
    log, evenly spread.  The logs are the journal (60 %) and ``messages``
    (40 %), or with ``formats`` (names of :data:`FORMAT_PATHS`) one log per
    format, sharing the size equally.  Same arguments, same bytes.
    """
    root = Path(workdir) / name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    report = GeneratedReport(root=str(root), seed=seed, size_mb=size_mb)
    report.small_files_from = _copy_small_files(root)
    pids = [112 + 1000 * i for i in range(events)]
    total = int(size_mb * (1 << 20))
    if formats:
        shares = tuple((FORMAT_PATHS[f], f, 1.0 / len(formats)) for f in formats)
    else:
        shares = tuple((rel, "journal" if rel == JOURNAL else "syslog", share)
                       for rel, share in LOG_SHARES)
    for rel, fmt, share in shares:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        report.logs[rel] = _write_log(path, rel, fmt, int(total * share), seed, pids)
    return report


def _tar_filter(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = BOOT_EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _walk_sorted(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        yield Path(dirpath)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def make_tarball(report_dir: str, out: str, preset: int = 3) -> str:
    """``report_dir`` as a ``.tar.xz`` the way sos writes one (xz preset 3, one stream).

    Deterministic: sorted members, fixed owner and mtime.  The tar stream is
    piped through ``xz -T1`` (single-threaded, one block: what Python's lzma
    in sos produces, so decompression is single-threaded too).
    """
    root = Path(report_dir)
    with open(out, "wb") as dst:
        xz = subprocess.Popen(["xz", f"-{preset}", "-T1", "-c"], stdin=subprocess.PIPE,
                              stdout=dst)
        assert xz.stdin is not None
        with tarfile.open(fileobj=xz.stdin, mode="w|", format=tarfile.GNU_FORMAT) as tar:
            for p in _walk_sorted(root):
                arc = Path(root.name) / p.relative_to(root)
                tar.add(str(p), arcname=arc.as_posix(), recursive=False, filter=_tar_filter)
        xz.stdin.close()
        if xz.wait() != 0:
            raise RuntimeError(f"xz failed with status {xz.returncode}")
    return out
