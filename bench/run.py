#!/usr/bin/env python3
"""Benchmark: ``balloon-oom analyze`` against the physical floor, side by side.

    python bench/run.py                      # full run (1 GiB report, and 2 GiB for the RSS check)
    python bench/run.py --size-mb 128        # quick run
    python bench/run.py --profile            # also cProfile case 1 (top functions)

Cases (each prints wall time with the CPU time (user + system) beside it, peak RSS
of the child process, and the ratios of wall and of CPU time to the baseline's):

1. a sosreport ``.tar.xz`` of ``--size-mb`` uncompressed (journal + messages
   with OOM reports at known lines) vs one ``xz -dc FILE > /dev/null`` pass;
   then the same at twice the size, to show whether RSS stays flat.
2. the same report as a directory vs ``grep -c 'invoked oom-killer'`` on its logs.
3. the lab's vmcore (only if ``tests/lab`` has already produced one) vs
   ``crash -s`` printing the same structures.
4. fleet: ``--copies`` copies of ``samples/kvm-deflate-off`` at ``--jobs 1`` and 2.
5. each log format (journal, syslog, dmesg) alone, ``--format-size-mb`` (600):
   as ``.tar.xz`` vs ``xz -dc``, and as a directory vs ``grep -c``, per
   prefilter engine (Hyperscan when installed, and the pure-Python one).
6. a fleet of ``--fleet-reports`` (1000) realistic reports (hard links to ten
   generated ones of ``--fleet-log-mb`` (30) MiB of logs, varied formats, half
   tarballs): ``--jobs 2`` and a Dask ``LocalCluster`` of 2 workers.

Every timed analyzer run is checked: the OOM events it reports must be the
ones the generator placed (a number for a wrong answer means nothing).
Wall times are the best of ``--repeat`` runs; RSS is the largest.
"""

from __future__ import annotations

import argparse
import compileall
import cProfile
import glob
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.fleet import FLEET_HEADERS, case_fleet, case_fleet_many  # noqa: E402
from bench.inputs import FORMAT_PATHS, build_report, make_tarball  # noqa: E402
from bench.measure import (GOALS, analyzer, engines_available, found_pids,  # noqa: E402
                           measure, measure_interleaved, native_engines, print_table, ratio,
                           row, timed)

# --- cases ------------------------------------------------------------------------------------

def case_report(work: Path, size_mb: float, seed: int, repeat: int, rows: List[List[str]],
                label: str, with_dir: bool) -> float:
    t0 = time.perf_counter()
    report = build_report(str(work / f"gen-{size_mb:g}"), size_mb=size_mb, seed=seed)
    tarball = str(work / f"report-{size_mb:g}.tar.xz")
    make_tarball(report.root, tarball)
    print(f"  generated {size_mb:g} MiB ({sum(l.lines for l in report.logs.values()):,} log "
          f"lines, {os.path.getsize(tarball) / 2**20:.1f} MiB compressed) in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    out = str(work / "out.json")

    xz, ours = measure_interleaved([(["sh", "-c", 'exec xz -dc "$0" > /dev/null', tarball], None,
                                     None), (analyzer("--format", "json", tarball), out, None)],
                                   repeat)
    pids = found_pids(out) if ours.status == 0 else []
    check = "ok" if pids == report.pids else f"WRONG: {pids} != {report.pids}"
    rows.append(row(f"1 tarball {label}", ours, "xz -dc", xz, GOALS["tarball"], check))
    tarball_rss = ours.rss_mb

    if with_dir:
        logs = [str(Path(report.root) / rel) for rel in report.logs]
        grep, ours = measure_interleaved(
            [(["grep", "-c", "invoked oom-killer", *logs], str(work / "grep.out"), None),
             (analyzer("--format", "json", report.root), out, None)], repeat)
        pids = found_pids(out) if ours.status == 0 else []
        check = "ok" if pids == report.pids else f"WRONG: {pids} != {report.pids}"
        rows.append(row(f"2 directory {label}", ours, "grep -c", grep, GOALS["directory"], check))
    shutil.rmtree(report.root)
    return tarball_rss


def lab_vmcore() -> Optional[tuple]:
    """``(vmcore, vmlinux, module debug dir)`` of a finished lab run, without building one."""
    cache = Path(os.environ.get("BALLOON_OOM_CACHE", Path.home() / ".cache" / "balloon-oom"))
    for vmcore in sorted(glob.glob(str(cache / "runs" / "*" / "deflate-off" / "inflated.elf"))):
        run = Path(vmcore).parent
        release = run.parent.name
        dbg = cache / "kernels" / release / "dbg" / "usr" / "lib" / "debug"
        vmlinux = dbg / "boot" / f"vmlinux-{release}"
        mods = dbg / "lib" / "modules" / release
        if (run / "done").exists() and vmlinux.exists():
            return vmcore, str(vmlinux), str(mods)
    return None


def case_vmcore(work: Path, repeat: int, rows: List[List[str]]) -> None:
    found = lab_vmcore()
    if found is None:
        print("  case 3 skipped: no lab vmcore cached (run the lab tests: pytest -m lab)")
        return
    if shutil.which("crash") is None:
        print("  case 3 skipped: crash is not installed")
        return
    vmcore, vmlinux, mods = found
    out = str(work / "vmcore.json")
    ours = measure(analyzer("--format", "json", "--debuginfo", vmlinux, "--debuginfo", mods,
                            vmcore), stdout=out, repeat=repeat)
    check = "n/a (no OOM in the inflated dump)"
    if ours.status != 0:
        check = f"analyzer exit status {ours.status}"
    else:
        with open(out) as f:
            balloons = json.load(f).get("balloons", [])
        sizes = [b.get("inflated_bytes") for b in balloons]
        check = "balloon 256 MiB ok" if 268435456 in sizes else f"WRONG balloon sizes {sizes}"
    ko = next(iter(glob.glob(os.path.join(mods, "**", "virtio_balloon.ko"), recursive=True)), None)
    cmds = work / "crash.cmds"
    lines = ["p _totalram_pages", "kmem -i", "kmem -V", "log"]
    if ko:
        lines.insert(1, f"mod -s virtio_balloon {ko}")
    cmds.write_text("\n".join(lines + ["quit"]) + "\n")
    crash = measure(["crash", "-s", vmlinux, vmcore, "-i", str(cmds)], repeat=repeat)
    rows.append(row("3 vmcore (drgn)", ours, "crash -s", crash, GOALS["vmcore"], check))


# --- case 5: each log format, as tarball and as directory ------------------------------------

#: Times are wall (CPU seconds, user + system, the command's children included: for a
#: tarball that is xz's and the analyzer's together); the goals apply to the wall ratio.
FORMAT_HEADERS = ["format", "size", "engine", "tarball", "xz -dc", "ratio (<= 1.15) (CPU)",
                  "directory", "grep -c", "ratio (<= 3) (CPU)", "peak RSS", "events"]


def case_formats(work: Path, size_mb: float, seed: int, repeat: int,
                 formats: Sequence[str], engines: Sequence[str]) -> List[List[str]]:
    """One row per format and engine: the report as ``.tar.xz`` against ``xz -dc``, and
    as a directory against ``grep -c 'invoked oom-killer'`` on its log (page cache warm),
    each pair run in turns (:func:`measure_interleaved`)."""
    rows = []
    for fmt in formats:
        t0 = time.perf_counter()
        report = build_report(str(work / f"gen-{fmt}"), size_mb=size_mb, seed=seed,
                              formats=(fmt,))
        tarball = str(work / f"report-{fmt}.tar.xz")
        make_tarball(report.root, tarball)
        log = str(Path(report.root) / FORMAT_PATHS[fmt])
        print(f"  {fmt}: generated {size_mb:g} MiB ({report.logs[FORMAT_PATHS[fmt]].lines:,} "
              f"lines, {os.path.getsize(tarball) / 2**20:.1f} MiB compressed) in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        out_tar, out_dir = str(work / "out-tar.json"), str(work / "out-dir.json")
        xz_cmd = (["sh", "-c", 'exec xz -dc "$0" > /dev/null', tarball], None, None)
        # To a file, not /dev/null: GNU grep stops at the first match when its
        # output is /dev/null, which would time a read of a sliver of the log.
        grep_cmd = (["grep", "-c", "invoked oom-killer", log], str(work / "grep.out"), None)
        for engine in engines:
            env = {"BALLOON_OOM_PREFILTER": engine}
            xz, tar = measure_interleaved(
                [xz_cmd, (analyzer("--format", "json", tarball), out_tar, env)], repeat)
            ok_tar = tar.status == 0 and found_pids(out_tar) == report.pids
            grep, dirt = measure_interleaved(
                [grep_cmd, (analyzer("--format", "json", report.root), out_dir, env)], repeat)
            ok_dir = dirt.status == 0 and found_pids(out_dir) == report.pids
            rows.append([fmt, f"{size_mb:g} MiB", engine, timed(tar), timed(xz),
                         ratio(tar, xz), timed(dirt), timed(grep), ratio(dirt, grep, digits=1),
                         f"{max(tar.rss_mb, dirt.rss_mb):.0f} MB",
                         "ok" if ok_tar and ok_dir else "WRONG"])
            print("  " + " | ".join(rows[-1]), flush=True)
        shutil.rmtree(report.root)
        os.unlink(tarball)
    return rows


def profile_case(work: Path, size_mb: float, seed: int, top: int = 20) -> None:
    """cProfile of the analyzer on the tarball (in this process)."""
    from balloon_oom.analysis import analyze

    report = build_report(str(work / "gen-profile"), size_mb=size_mb, seed=seed)
    tarball = str(work / "profile.tar.xz")
    make_tarball(report.root, tarball)
    prof = cProfile.Profile()
    prof.enable()
    analyze(tarball)
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(top)
    print(s.getvalue())
    shutil.rmtree(report.root)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-mb", type=float, default=1024,
                   help="uncompressed size of the generated report (default 1024)")
    p.add_argument("--workdir", help="scratch directory (default: a temporary one, removed)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement (best wall)")
    p.add_argument("--copies", type=int, default=32, help="reports in the fleet case")
    p.add_argument("--cases", default="1,2,3,4,5,6", help="which cases (comma list)")
    p.add_argument("--format-size-mb", type=float, default=600,
                   help="case 5: size of each single-format report (default 600)")
    p.add_argument("--formats", default="journal,syslog,dmesg", help="case 5: log formats")
    p.add_argument("--engines", default=None,
                   help="case 5: prefilter engines (default: every one available)")
    p.add_argument("--fleet-reports", type=int, default=1000, help="case 6: reports")
    p.add_argument("--fleet-log-mb", type=float, default=30,
                   help="case 6: MiB of logs in each report (default 30)")
    p.add_argument("--no-dask", action="store_true", help="case 6: skip the Dask run")
    p.add_argument("--no-double", action="store_true",
                   help="skip the twice-as-big report (RSS-flat check)")
    p.add_argument("--profile", action="store_true", help="cProfile case 1 and print the top")
    args = p.parse_args(argv)
    cases = {c.strip() for c in args.cases.split(",")}

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="balloon-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"balloon-oom benchmark: {os.cpu_count()} CPUs, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
          f"Python {sys.version.split()[0]}, workdir {work}", flush=True)
    # Bytecode as an installed package has it: a run that compiles every module
    # first (PYTHONDONTWRITEBYTECODE, a fresh checkout) would time the compiler.
    compileall.compile_dir(str(REPO / "balloon_oom"), quiet=1)
    print(f"  native engines: {native_engines()}", flush=True)
    rows: List[List[str]] = []
    try:
        if cases & {"1", "2"}:
            rss = [case_report(work, args.size_mb, args.seed, args.repeat, rows,
                               f"{args.size_mb:g} MiB", with_dir="2" in cases)]
            if not args.no_double and "1" in cases:
                rss.append(case_report(work, 2 * args.size_mb, args.seed, args.repeat, rows,
                                       f"{2 * args.size_mb:g} MiB", with_dir=False))
        if "3" in cases:
            case_vmcore(work, args.repeat, rows)
        if rows:
            print()
            print_table(rows)
        if cases & {"1", "2"}:
            flat = "" if len(rss) < 2 else (
                f"; at twice the size {rss[1]:.0f} MB ({'flat' if rss[1] <= rss[0] * 1.1 else 'GROWS'})")
            print(f"\npeak RSS at {args.size_mb:g} MiB: {rss[0]:.0f} MB (goal <= "
                  f"{GOALS['rss_mb']} MB){flat}")
        if "4" in cases:
            print()
            case_fleet(work, args.copies, args.repeat)
        if "5" in cases:
            from tabulate import tabulate

            engines = args.engines.split(",") if args.engines else engines_available()
            frows = case_formats(work, args.format_size_mb, args.seed, args.repeat,
                                 args.formats.split(","), engines)
            print()
            print(tabulate(frows, headers=FORMAT_HEADERS, disable_numparse=True), flush=True)
        if "6" in cases:
            from tabulate import tabulate

            dask = not args.no_dask
            if dask:
                try:
                    import distributed  # noqa: F401
                except ImportError:
                    print("  case 6: no Dask run (pip install 'balloon-oom[dask]')")
                    dask = False
            mrows = case_fleet_many(work, args.fleet_reports, args.fleet_log_mb, args.seed, dask)
            print()
            print(tabulate(mrows, headers=FLEET_HEADERS, disable_numparse=True), flush=True)
        if args.profile:
            print("\ncProfile, case 1 (in-process, top by own time):")
            profile_case(work, args.size_mb, args.seed)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
