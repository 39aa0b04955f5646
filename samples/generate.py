#!/usr/bin/env python3
"""Regenerate the sample sosreports in samples/ with the real sos.

For each sample, build the fake guest root (tests/sosroots/, from the real
captures), run the system's sos on it with our plugin (balloon_oom.sosrun,
``--sysroot`` plus ``container=oci HOST=<root>``) in a UTS namespace whose
hostname is ``guest``, then copy the report tree to ``samples/<name>/``
minus host noise, and write ``samples/PROVENANCE.md``.  One sample is also
packed as sos packs it, ``samples/kvm-deflate-off.tar.xz``.

Usage (root, or any user allowed ``unshare -r``)::

    .venv/bin/python samples/generate.py
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import tarfile
import tempfile
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [REPO]

from balloon_oom import sosrun  # noqa: E402
from tests import sosroots  # noqa: E402

#: sample name -> fake root name
SAMPLES: Dict[str, str] = {
    "kvm-deflate-off": "kvm-deflate-off-after-oom",
    "kvm-deflate-on": "kvm-deflate-on-after-oom",
    "firecracker-6.18": "firecracker-6.18",
    "hyperv": "hyperv",
    "hyperv-virtuozzo": "hyperv-virtuozzo",
    "vmware-new": "vmware-new",
    "vmware-old": "vmware-old",
    "xen": "xen",
    "no-balloon": "no-balloon",
}
TARBALL_OF = "kvm-deflate-off"
#: Where the roots appear to have been, in the logs kept (instead of a temp dir).
STABLE_BASE = "/tmp/balloon-oom-samples"

#: Dropped from every report: the host's kernel log (sos runs `dmesg` on the
#: host when the fake root has no dmesg binary).
DROPPED = ("sos_commands/balloon/dmesg",)


def run_sos_on(root: str, tmpdir: str) -> str:
    """Run the real sos on ``root`` with hostname ``guest``; return the report dir."""
    prefix: List[str] = ["unshare", "--uts"]
    if os.geteuid() != 0:
        prefix.append("-r")
    prefix += ["sh", "-c", 'hostname guest && exec "$@"', "sh"]
    env = dict(os.environ, container="oci", HOST=root)
    with open(os.path.join(tmpdir, "sos-output.txt"), "w") as out:
        rc = sosrun.run_sos(
            ["report", "--batch", "--build", "--quiet", "--no-report", "-o", "balloon",
             "--sysroot", root, "--tmp-dir", tmpdir],
            env=env, prefix=prefix, output=out,
        )
    reports = glob.glob(os.path.join(tmpdir, "sosreport-guest-*"))
    if rc != 0 or len(reports) != 1:
        with open(os.path.join(tmpdir, "sos-output.txt")) as fobj:
            raise SystemExit(f"sos failed on {root} (rc={rc}):\n{fobj.read()}")
    errors = glob.glob(os.path.join(reports[0], "sos_logs", "*plugin-errors*"))
    if errors:
        raise SystemExit(f"plugin errors in {errors[0]}")
    return reports[0]


def _substitute(path: str, old: str, new: str) -> None:
    with open(path) as fobj:
        text = fobj.read()
    with open(path, "w") as fobj:
        fobj.write(text.replace(old, new))


def clean(report: str, base: str) -> None:
    """Drop host noise; keep sos's layout."""
    for rel in DROPPED:
        path = os.path.join(report, rel)
        if os.path.lexists(path):
            os.unlink(path)
    manifest_path = os.path.join(report, "sos_reports", "manifest.json")
    with open(manifest_path) as fobj:
        manifest = json.load(fobj)
    rep = manifest["components"]["report"]
    rep["devices"] = {k: [] for k in rep.get("devices", {})}  # the host's disks
    plug = rep["plugins"]["balloon"]
    plug["commands"] = [c for c in plug["commands"] if c.get("filepath") not in DROPPED]
    with open(manifest_path, "w") as fobj:
        json.dump(manifest, fobj, indent=4)
        fobj.write("\n")
    for rel in ("sos_reports/manifest.json", "sos_logs/sos.log", "sos_logs/ui.log"):
        _substitute(os.path.join(report, rel), base, STABLE_BASE)


def pack(report: str, name: str, dest: str) -> None:
    """A .tar.xz as sos makes it: one top directory, the report's name."""
    top = os.path.basename(report)
    with tarfile.open(dest, "w:xz") as tar:
        first = ["version.txt", "sos_reports", "sos_logs"]
        for rel in first + sorted(set(os.listdir(report)) - set(first)):
            if os.path.lexists(os.path.join(report, rel)):
                tar.add(os.path.join(report, rel), arcname=f"{top}/{rel}")


def provenance_md(roots: Dict[str, sosroots.FakeRoot], report_names: Dict[str, str]) -> str:
    out = [
        "# Sample sosreports: provenance",
        "",
        "Made by `samples/generate.py`: each fake guest root below was built by",
        "`tests/sosroots/`, then Debian's real `sos report` 4.0 (`/usr/bin/sos`, run through",
        "`balloon_oom.sosrun` with our plugin, `--sysroot ROOT` and `container=oci HOST=ROOT`,",
        "hostname `guest` in a UTS namespace) collected it with `-o balloon --build --no-report`.",
        "",
        "Each `samples/<name>/` is that report tree. Edits after sos, and only these:",
        "",
        "- `sos_commands/balloon/dmesg` removed: under `--sysroot` sos ran `dmesg` on the build",
        "  host (the fake root has no dmesg binary). The kernel log of a sample is the guest's",
        "  `var/log/dmesg` where a real capture exists; its manifest `commands` entry is removed too;",
        "- `sos_reports/manifest.json`: `devices` emptied (the build host's disks);",
        "- the temporary directory in `manifest.json`, `sos.log`, `ui.log` replaced by",
        f"  `{STABLE_BASE}`.",
        "",
        "Kept as sos wrote them: `version.txt`, `sos_logs/*` (their 're-trying in host root' lines",
        "are sos's), `sos_strings/balloon/debugfs.txt` (written by our plugin),",
        "`sos_commands/balloon/date_--utc` (the build host's clock at collection time).",
        "",
        f"`{TARBALL_OF}.tar.xz` is `samples/{TARBALL_OF}/` packed as sos 4.0 packs a report: one",
        f"top directory named like the report (`{report_names.get(TARBALL_OF, '')}`), xz-compressed.",
        "",
        "Captures: `/work/shared/real-captures` (see their README.md files); hand-made values exist",
        "only where no capture does, and are written with the kernel's own format strings",
        "(each file names the kernel function whose format strings it follows).",
        "",
    ]
    for sample, root_name in SAMPLES.items():
        root = roots[sample]
        out += [f"## {sample}", "", f"Fake root `{root_name}`: {root.description}.",
                f"Report directory name as sos made it: `{report_names[sample]}`.", "",
                "| file in the report | where it came from |", "| --- | --- |"]
        for rel in sorted(root.provenance):
            if rel in ("bin/sh", "usr/bin/timeout"):
                continue
            out.append(f"| `{rel}` | {root.provenance[rel]} |")
        out.append("")
    return "\n".join(out)


def main() -> int:
    problem = sosroots.captures_available()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    base = tempfile.mkdtemp(prefix="balloon-samples-")
    os.chmod(base, 0o755)
    roots: Dict[str, sosroots.FakeRoot] = {}
    report_names: Dict[str, str] = {}
    try:
        for sample, root_name in SAMPLES.items():
            root = sosroots.build(root_name, os.path.join(base, "roots"))
            roots[sample] = root
            tmpdir = os.path.join(base, "sos", sample)
            os.makedirs(tmpdir)
            report = run_sos_on(root.path, tmpdir)
            clean(report, base)
            report_names[sample] = os.path.basename(report)
            dest = os.path.join(HERE, sample)
            if os.path.exists(dest):
                shutil.rmtree(dest)
            shutil.copytree(report, dest, symlinks=True)
            for top, dirs, names in os.walk(dest):  # sos makes 0700/0600; samples are public
                for d in dirs:
                    os.chmod(os.path.join(top, d), 0o755)
                for n in names:
                    if not os.path.islink(os.path.join(top, n)):
                        os.chmod(os.path.join(top, n), 0o644)
            os.chmod(dest, 0o755)
            if sample == TARBALL_OF:
                pack(report, sample, os.path.join(HERE, f"{sample}.tar.xz"))
            print(f"{sample}: {report_names[sample]}")
        with open(os.path.join(HERE, "PROVENANCE.md"), "w") as fobj:
            fobj.write(provenance_md(roots, report_names))
    finally:
        shutil.rmtree(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
