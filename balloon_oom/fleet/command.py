# SPDX-License-Identifier: GPL-2.0-or-later
"""The fleet command: ``balloon-oom analyze PATH…`` over many reports (see the package doc)."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, TextIO, Tuple

from ..errors import BalloonOomError
from ..verdict import Thresholds
from .executors import (DEFAULT_MAX_RSS_MB, DEFAULT_TIMEOUT, FleetOptions, Limits, error_result,
                        run_dask, run_local)
from .inputs import expand_inputs
from .summary import (FleetSummary, note_guest, render_reports_table, render_summary, report_row,
                      same_guest_hints)

#: Exit status when no report at all could be analysed (the CLI's EXIT_ERROR).
EXIT_NONE_ANALYSED = 2


class _Progress:
    """``[#####.....] 12/40 reports, 1 failed, 3.1/s`` on a terminal; silent otherwise."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.enabled = total > 0 and stream.isatty()
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self._last = 0.0

    def __call__(self, result: Dict[str, Any]) -> None:
        self.done += 1
        self.failed += "error" in result
        now = time.monotonic()
        if self.enabled and (now - self._last >= 0.1 or self.done == self.total):
            self._last = now
            width = 30
            filled = width * self.done // self.total
            rate = self.done / max(now - self.start, 1e-9)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total} reports, {self.failed} failed, "
                              f"{rate:.1f}/s ")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()



def run_fleet(args, thresholds: Optional[Thresholds] = None,
              stdout: TextIO = None, stderr: TextIO = None) -> int:  # type: ignore[assignment]
    """``balloon-oom analyze PATH…`` over many reports; the exit status (see module doc)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    options = FleetOptions(thresholds=thresholds or Thresholds(),
                           debuginfo=tuple(args.debuginfo) if getattr(args, "debuginfo", None)
                           else None)
    jobs = getattr(args, "jobs", None)
    if jobs is not None and jobs < 1:
        raise BalloonOomError(f"--jobs must be at least 1, not {jobs}")
    timeout = getattr(args, "timeout", DEFAULT_TIMEOUT)
    max_rss = getattr(args, "max_rss", DEFAULT_MAX_RSS_MB)
    for name, value in (("--timeout", timeout), ("--max-rss", max_rss)):
        if value is not None and value <= 0:
            raise BalloonOomError(f"{name} must be positive, not {value:g}")
    dask = getattr(args, "dask", None)
    fmt = getattr(args, "format", "table")
    html_dir = getattr(args, "html", None)
    if getattr(args, "explain", False):
        stderr.write("balloon-oom: --explain applies to one report; ignored with several\n")
    if html_dir == "-":
        raise BalloonOomError("--html - writes one page; with several reports give a directory")
    if html_dir:
        try:
            os.makedirs(html_dir, exist_ok=True)
        except OSError as exc:
            raise BalloonOomError(f"{html_dir}: cannot make the HTML directory "
                                  f"({exc.strerror or exc})") from None
        options = FleetOptions(thresholds=options.thresholds, debuginfo=options.debuginfo,
                               html=True)

    inputs = expand_inputs(args.paths)
    reports = [i.path for i in inputs if i.error is None]
    summary = FleetSummary()
    progress = _Progress(len(reports), stderr)

    dash_rows: List[Any] = []  # --html DIR: one small row per report

    def results() -> Iterator[Dict[str, Any]]:
        """Every input's result, in input order."""
        if dask:
            analysed = run_dask(reports, options, dask, jobs=jobs, on_done=progress,
                                timeout=timeout)
        else:
            analysed = run_local(reports, options, jobs=jobs, on_done=progress,
                                 limits=Limits(timeout=timeout, max_rss_mb=max_rss))
        for item in inputs:
            result = error_result(item.path, item.error) if item.error else next(analysed)
            page = result.pop("_html", None)
            if html_dir:
                from ..render import dashboard
                row = dashboard.dashboard_row(len(dash_rows) + 1, result, page is not None)
                if page is not None:
                    dashboard.write_page(html_dir, row.page, page)
                dash_rows.append(row)
            yield result

    guests: Dict[Tuple[str, str], List[str]] = {}
    docs: List[Dict[str, Any]] = []  # --format json only
    rows: List[List[str]] = []  # --format table: the row, not the document
    try:
        if fmt == "jsonl":
            for result in results():
                summary.add(result)
                note_guest(guests, result)
                stdout.write(json.dumps(result, separators=(",", ":")) + "\n")
                stdout.flush()
        else:
            for result in results():
                summary.add(result)
                note_guest(guests, result)
                if fmt == "json":
                    docs.append(result)
                else:
                    rows.append(report_row(result))
    finally:
        progress.close()

    if fmt == "json":
        stdout.write(json.dumps({"reports": docs, "summary": summary.as_dict()}, indent=2) + "\n")
    elif fmt == "jsonl":
        stderr.write(render_summary(summary))
    else:
        stdout.write(render_reports_table(rows) + "\n\n" + render_summary(summary))
    for hint in same_guest_hints(guests):
        stderr.write(hint)
    if html_dir:
        from ..render import dashboard
        index = os.path.join(html_dir, "index.html")
        dashboard.write_page(html_dir, "index.html", dashboard.render(dash_rows))
        stderr.write(f"wrote {index} ({dashboard.rows_summary(dash_rows)}; one page per "
                     "report beside it)\n")
    if summary.analysed:
        return 0
    why = f": {summary.failures[0][1]}" if summary.failures else ""
    stderr.write(f"balloon-oom: no report could be analysed{why}\n")
    return EXIT_NONE_ANALYSED
