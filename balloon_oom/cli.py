"""``balloon-oom``: the command line.

Subcommands: ``analyze`` (a sosreport dir/tarball, ``/`` for this guest, or a
vmcore), ``features`` (decode a virtio features string), ``sos`` (run the
system's sos with our plugin), ``install-sos-plugin`` /
``uninstall-sos-plugin``.  Errors print one line on stderr and exit non-zero;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import __version__
from .errors import BalloonOomError

EXIT_ERROR = 2


def _add_analyze(sub) -> None:
    p = sub.add_parser("analyze", help="analyse a sosreport, a vmcore, or this guest (/)",
                       description="Did the balloon take the memory this guest ran out of? "
                                   "PATH: a sosreport or supportconfig (directory or tarball), "
                                   "a kdump directory, a kernel log (plain or .gz/.xz/.bz2/.zst; "
                                   "- for standard input), a .zip or case tarball holding these, "
                                   "a vmcore, or / for the running guest.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=("table", "json", "jsonl", "markdown"), default="table",
                   help="markdown: the answer, events, memory picture and evidence for a ticket")
    p.add_argument("--explain", action="store_true",
                   help="show the file, field or line behind every value, and the arithmetic")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page "
                   "('-': the page on stdout instead of the table; several reports: a "
                   "directory, with a dashboard index.html and one page per report)")
    p.add_argument("--debuginfo", metavar="PATH", action="append",
                   help="vmlinux / module debug files or directories (vmcore only; repeatable)")
    p.add_argument("--threshold", type=float, default=0.10, metavar="FRACTION",
                   help="materiality's share arm: a balloon of at least this share of the "
                        "guest's memory is material (default 0.10)")
    p.add_argument("--no-victim-rule", action="store_true",
                   help="turn off materiality's kill arm (a balloon holding at least what "
                        "the kill freed is material)")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="reports analysed in parallel (several PATHs; default: CPU count)")
    p.add_argument("--same-guest", action="store_true",
                   help="the PATHs are several sources of ONE guest (a sosreport and a vmcore, "
                        "an older messages file…): one analysis, events merged, balloon figures "
                        "reconciled")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask cluster (scheduler address, or 'local'); needs the "
                        "dask extra")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="several PATHs: a report still being analysed after this long is "
                        "killed and listed as failed (default 300)")
    p.add_argument("--max-rss", type=float, default=1024.0, metavar="MB",
                   help="several PATHs, local run: a report whose analysis grows past this "
                        "resident memory is killed and listed as failed (default 1024; under "
                        "--dask the cluster's worker memory limit applies)")


def _cmd_analyze(args) -> int:
    from .analysis import analyze
    from .render import json_out
    from .verdict import Thresholds

    if not 0 < args.threshold < 1:
        raise BalloonOomError(f"--threshold must be between 0 and 1, not {args.threshold}")
    thresholds = Thresholds(fraction=args.threshold, victim_rss=not args.no_victim_rule)
    if args.same_guest:
        from .analysis import analyze_many
        analysis = analyze_many(args.paths, debuginfo=args.debuginfo, thresholds=thresholds)
    elif len(args.paths) > 1 or args.dask or _is_collection(args.paths[0]):
        from .fleet import run_fleet
        return run_fleet(args, thresholds)
    else:
        analysis = analyze(args.paths[0], debuginfo=args.debuginfo, thresholds=thresholds)
    if args.format == "json":
        sys.stdout.write(json_out.render(analysis) + "\n")
    elif args.format == "jsonl":
        sys.stdout.write(json_out.render_line(analysis) + "\n")
    elif args.format == "markdown":
        from .render import markdown
        sys.stdout.write(markdown.render(analysis))
    elif args.html == "-":
        pass  # the page is the output
    else:
        from .render import table
        sys.stdout.write(table.render(analysis, explain=args.explain))
    if args.html:
        from .render import html
    if args.html == "-":
        sys.stdout.write(html.render(analysis))
    elif args.html:
        try:
            with open(args.html, "w", encoding="utf-8") as f:
                f.write(html.render(analysis))
        except OSError as exc:
            raise BalloonOomError(f"{args.html}: cannot write the HTML page "
                                  f"({exc.strerror or exc})") from None
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def _is_collection(path: str) -> bool:
    """A directory holding many reports (not itself a report, not ``/``): fleet mode."""
    import os
    from pathlib import Path

    from .analysis import is_report_dir

    p = Path(path)
    return path != "-" and p.is_dir() and os.path.realpath(path) != "/" and not is_report_dir(p)


def _cmd_features(args) -> int:
    import json
    import os

    from tabulate import tabulate

    from .parsers.virtio_features import describe_bit, parse_feature_arg

    arg, source = args.string, None
    if os.path.isfile(arg):  # a features file (sysfs copy in a report)
        source = arg
        try:
            with open(arg, encoding="utf-8", errors="replace") as f:
                lines = [ln.strip() for ln in f.read(4096).splitlines() if ln.strip()]
        except OSError as exc:
            raise BalloonOomError(f"features: {arg}: {exc.strerror or exc}") from None
        if len(lines) != 1:
            raise BalloonOomError(f"features: {arg}: expected one line of 0/1, found "
                                  f"{len(lines)} lines")
        arg = lines[0]
    try:
        bits, form = parse_feature_arg(arg)
    except ValueError as exc:
        raise BalloonOomError(f"features: {exc}") from None
    rows = [(b, *describe_bit(b)) for b in bits]
    if args.format == "json":
        doc = {"input": args.string, "file": source, "form": form,
               "value_hex": hex(sum(1 << b for b in bits)),
               "deflate_on_oom": 2 in bits,
               "bits": [{"bit": b, "name": n, "kind": k, "meaning": m} for b, n, k, m in rows]}
        print(json.dumps(doc, indent=2))
        return 0
    if not rows:
        print("no feature bits set")
        return 0
    print(tabulate(rows, headers=["bit", "name", "kind", "meaning"]))
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line too (argparse prints the whole usage first)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="balloon-oom",
        description="Did the hypervisor's memory balloon take the memory this guest ran out of?")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_analyze(sub)
    p = sub.add_parser("features", help="decode virtio feature bits (string, hex, decimal, file)")
    p.add_argument("string", metavar="FEATURES",
                   help="the content of /sys/bus/virtio/devices/virtioN/features (64 or 128 "
                        "characters), a hex (0x25) or decimal value, or a path to a features "
                        "file")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p = sub.add_parser("sos", help="run the system's sos with the balloon plugin "
                                   "(e.g. balloon-oom sos report --batch -o balloon)",
                       add_help=False)
    p.add_argument("sos_args", nargs=argparse.REMAINDER)
    p = sub.add_parser("install-sos-plugin",
                       help="link the balloon plugin into the system sos (root)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("uninstall-sos-plugin", help="remove what install-sos-plugin added")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "analyze":
            return _cmd_analyze(args)
        if args.command == "features":
            return _cmd_features(args)
        from . import sosrun
        if args.command == "sos":
            return sosrun.main_sos(args.sos_args)
        if args.command == "install-sos-plugin":
            return sosrun.main_install(args.rest)
        return sosrun.main_uninstall(args.rest)
    except BalloonOomError as exc:
        if args.debug:
            raise
        print(f"balloon-oom: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line, and how to get the traceback
        if args.debug:
            raise
        print(f"balloon-oom: internal error: {type(exc).__name__}: {exc} "
              "(run with --debug for the traceback and report it)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
