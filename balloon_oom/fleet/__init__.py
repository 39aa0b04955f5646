# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet mode: many reports, one machine (processes) or a Dask cluster.

``balloon-oom analyze PATH…`` with several PATHs (or a directory of reports,
or a glob) lands here.  Inputs are expanded (:func:`expand_inputs`), each is
analysed by the same pure, picklable function (:func:`analyze_one`) in a
pool of processes (``--jobs N``, default the CPU count) or on a Dask cluster
(``--dask ADDRESS`` / ``--dask local``), and the results are written in input
order whatever the order they finish in, so every run over the same inputs
prints the same bytes.

One bad report never stops the run: its result is
``{"source": {"path": …}, "error": "one line"}``.  Each report is analysed
in a process of its own, killed when it runs past ``--timeout`` seconds or
grows past ``--max-rss`` MB (a runaway or hostile report), or that dies (a
crash in a C library): the error says which, and the run goes on.

Output (``--format``):

``jsonl``  one JSON object per report on stdout; the summary on stderr.
``json``   one object ``{"reports": […], "summary": {…}}`` on stdout.
``table``  one row per report, then the summary tables, on stdout.

The summary counts reports by verdict and by balloon driver, lists the
largest balloons at an OOM (top 10, with path) and every failed report.

Exit status: 0 when at least one report was analysed (failed ones are
listed, not fatal); 2 (the CLI's error status) when every input failed or
none was found.

Modules: :mod:`.inputs` (PATH arguments to reports), :mod:`.executors` (one
report under limits; local pool, Dask), :mod:`.summary` (counts, text tables,
same-guest hints), :mod:`.command` (:func:`run_fleet`); the ``--html``
dashboard is :mod:`balloon_oom.render.dashboard`.
"""

from .command import EXIT_NONE_ANALYSED, run_fleet
from .executors import (DEFAULT_MAX_RSS_MB, DEFAULT_TIMEOUT, FleetOptions, Limits, Worker,
                        analyze_one, default_jobs, error_result, run_dask, run_limited, run_local)
from .inputs import FleetInput, expand_inputs
from .summary import (TOP_BALLOONS, FleetSummary, note_guest, render_reports_table,
                      render_summary, report_row, same_guest_hints)


__all__ = [
    "DEFAULT_MAX_RSS_MB",
    "DEFAULT_TIMEOUT",
    "EXIT_NONE_ANALYSED",
    "FleetInput",
    "Limits",
    "FleetOptions",
    "FleetSummary",
    "analyze_one",
    "error_result",
    "expand_inputs",
    "render_reports_table",
    "render_summary",
    "report_row",
    "run_dask",
    "run_fleet",
    "run_limited",
    "run_local",
    "same_guest_hints",
    "note_guest",
    "default_jobs",
    "TOP_BALLOONS",
    "Worker",
]
