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
"""

from __future__ import annotations

import concurrent.futures as cf
import glob
import heapq
import json
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, TextIO,
                    Tuple)

from .errors import BalloonOomError
from .verdict import Thresholds

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
]

#: Exit status when no report at all could be analysed (the CLI's EXIT_ERROR).
EXIT_NONE_ANALYSED = 2
#: Rows of the "largest balloons at OOM" table.
TOP_BALLOONS = 10
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class FleetOptions:
    """What every report is analysed with (picklable: it travels to workers)."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    debuginfo: Optional[Tuple[str, ...]] = None
    #: Also render each report's HTML page (``--html DIR``), returned under ``"_html"``.
    html: bool = False


# --- inputs -----------------------------------------------------------------------------------

def _is_report_dir(path: Path) -> bool:
    from .analysis import is_report_dir

    return is_report_dir(path)


def _is_tarball(path: Path) -> bool:
    from .readers.members import looks_like_tarball

    return path.is_file() and looks_like_tarball(path)


@dataclass(frozen=True)
class FleetInput:
    """One report to analyse, or a PATH argument that names none (``error`` set)."""

    path: str
    error: Optional[str] = None


def expand_inputs(paths: Sequence[str]) -> List[FleetInput]:
    """The reports the PATH arguments name, in order, each once.

    A PATH that is a sosreport directory (``version.txt``, ``sos_commands/``…)
    or a file (tarball, vmcore) is one report.  Any other directory stands
    for its children that are report directories or tarballs (sorted by name;
    checksum files and other strays are passed over).  A PATH with ``*?[``
    that does not exist as written is a glob.  A PATH that names nothing, or
    a directory holding no report, is kept as an input with an ``error``.

    >>> expand_inputs(["/nonexistent/x"])
    [FleetInput(path='/nonexistent/x', error='/nonexistent/x: no such file or directory')]
    """
    out: List[FleetInput] = []
    seen = set()

    def add(p: str) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(FleetInput(p))

    for arg in paths:
        if not os.path.lexists(arg) and _GLOB_CHARS & set(arg):
            candidates = sorted(glob.glob(arg))
            if not candidates:
                out.append(FleetInput(arg, f"{arg}: no file matches this pattern"))
        else:
            candidates = [arg]
        for cand in candidates:
            p = Path(cand)
            if not p.exists():
                out.append(FleetInput(cand, f"{cand}: no such file or directory"))
            elif not p.is_dir() or _is_report_dir(p) or os.path.realpath(cand) == "/":
                add(cand)
            else:
                children = [os.path.join(cand, name) for name in sorted(os.listdir(cand))]
                found = [c for c in children
                         if (os.path.isdir(c) and _is_report_dir(Path(c))) or _is_tarball(Path(c))]
                if not found:
                    out.append(FleetInput(cand, f"{cand}: no sosreport here (neither a report "
                                                "directory nor a directory holding report "
                                                "directories or tarballs)"))
                for c in found:
                    add(c)
    return out


# --- one report -------------------------------------------------------------------------------

def error_result(path: str, message: str) -> Dict[str, Any]:
    """The result of a report that could not be analysed (message on one line)."""
    return {"source": {"path": path}, "error": " ".join(str(message).split())}


def analyze_one(path: str, options: FleetOptions) -> Dict[str, Any]:
    """Analyse one report; the JSON document, or an error result.  Never raises.

    Top-level and pure (same input, same output), so it can run in a worker
    process or on a Dask worker.
    """
    from .analysis import analyze
    from .render.json_out import document

    try:
        analysis = analyze(path, debuginfo=list(options.debuginfo) if options.debuginfo else None,
                           thresholds=options.thresholds)
        doc = document(analysis)
        if options.html:
            from .render import html
            doc["_html"] = html.render(analysis)
        return doc
    except BalloonOomError as exc:
        return error_result(path, str(exc))
    except MemoryError:
        return error_result(path, "internal error: out of memory")
    except Exception as exc:  # a bug in one report must not stop the fleet
        return error_result(path, f"internal error: {type(exc).__name__}: {exc}")


# --- running ----------------------------------------------------------------------------------

Worker = Callable[[str, FleetOptions], Dict[str, Any]]


def default_jobs() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


#: Per-report limits (``--timeout``, ``--max-rss``) when none are given.
DEFAULT_TIMEOUT = 300.0
DEFAULT_MAX_RSS_MB = 1024.0
#: How often a report's process is checked against its limits (seconds).
_POLL = 0.02


@dataclass(frozen=True)
class Limits:
    """What one report may take before its process is killed (None: no limit).

    ``max_rss_mb`` is the resident memory of the process analysing it, read
    from ``/proc`` every 20 ms; its data segment is also capped
    (``RLIMIT_DATA``, 256 MB above) so that a burst between two looks fails
    its allocation instead of taking the machine's memory.
    """

    timeout: Optional[float] = DEFAULT_TIMEOUT
    max_rss_mb: Optional[float] = DEFAULT_MAX_RSS_MB


def _rss_mb(pid: int) -> Optional[float]:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except (OSError, ValueError, IndexError):
        return None


def _child(fd: int, worker: Worker, path: str, options: FleetOptions,
           max_rss_mb: Optional[float]) -> None:
    """In the forked process: run the worker, write its pickled result to ``fd``, exit."""
    status = 1
    try:
        if max_rss_mb:
            import resource

            cap = int((max_rss_mb + 256) * (1 << 20))
            try:
                resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
            except (ValueError, OSError):
                pass
        try:
            result = worker(path, options)
        except MemoryError:
            result = error_result(path, f"killed: it needed more than --max-rss {max_rss_mb:g} MB")
        except BaseException as exc:  # noqa: B902 - this process ends here whatever happens
            result = error_result(path, f"internal error: {type(exc).__name__}: {exc}")
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        status = 0
    finally:
        os._exit(status)


#: Held from a report's pipe to its parent-side close (see :func:`run_limited`).
_FORK_LOCK = threading.Lock()


def run_limited(path: str, options: FleetOptions, limits: Limits = Limits(),
                worker: Worker = analyze_one,
                stop: Optional[threading.Event] = None) -> Dict[str, Any]:
    """``worker(path, options)`` in a forked process of its own, killed when it
    runs longer than ``limits.timeout`` or grows past ``limits.max_rss_mb``;
    then, or when the process dies, an error result saying why.  Never raises.

    A plain ``fork`` (the analyzer is imported first, so the child starts
    warm), not ``multiprocessing``: it also works inside a Dask worker, whose
    daemonic process may not start children of its own that way.
    """
    import balloon_oom.analysis  # noqa: F401 - imported once, before the fork
    import balloon_oom.render.json_out  # noqa: F401

    # Pipe, fork and the parent's close of the write end happen under one lock:
    # a child forked by another thread meanwhile would inherit this write end,
    # and this reader would then see no EOF until that child (a runaway, say)
    # ended, reporting a finished report as timed out.
    with _FORK_LOCK:
        rfd, wfd = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(rfd)
            os.close(wfd)
            return error_result(path, f"could not start its analysis process ({exc})")
        if pid == 0:  # pragma: no cover - the child (coverage cannot follow it)
            os.close(rfd)
            _child(wfd, worker, path, options, limits.max_rss_mb)
        os.close(wfd)
    start = time.monotonic()
    chunks: List[bytes] = []
    why: Optional[str] = None
    try:
        while True:
            ready, _, _ = select.select([rfd], [], [], _POLL)
            if ready:
                data = os.read(rfd, 1 << 20)
                if not data:
                    break
                chunks.append(data)
                continue
            if stop is not None and stop.is_set():
                why = "interrupted"
                break
            if limits.timeout and time.monotonic() - start > limits.timeout:
                why = f"killed: still running after --timeout {limits.timeout:g} s"
                break
            if limits.max_rss_mb:
                rss = _rss_mb(pid)
                if rss is not None and rss > limits.max_rss_mb:
                    why = (f"killed: its analysis used {rss:.0f} MB, more than --max-rss "
                           f"{limits.max_rss_mb:g} MB")
                    break
    finally:
        if why is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.close(rfd)
        os.waitpid(pid, 0)
    if why is not None:
        return error_result(path, why)
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:  # nothing (or half a result) written: the process died
        return error_result(path, "the analysis process died (crashed or was killed) while "
                                  "reading this report")


def run_local(paths: Sequence[str], options: FleetOptions, jobs: Optional[int] = None,
              worker: Worker = analyze_one,
              on_done: Optional[Callable[[Dict[str, Any]], None]] = None,
              limits: Limits = Limits()) -> Iterator[Dict[str, Any]]:
    """Results of ``worker(path, options)`` for each path, in input order.

    ``jobs`` reports at a time, each in a process of its own
    (:func:`run_limited`), so a report that crashes its process, runs past
    ``limits.timeout`` or grows past ``limits.max_rss_mb`` takes only itself
    down: its result is an error saying why.  ``on_done`` is called as each
    result arrives (in completion order), for a progress display.
    """
    paths = list(paths)
    if not paths:
        return
    jobs = max(1, min(jobs or default_jobs(), len(paths)))
    results: Dict[int, Dict[str, Any]] = {}
    next_out = 0
    stop = threading.Event()
    with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_limited, p, options, limits, worker, stop): i
                   for i, p in enumerate(paths)}
        try:
            for fut in cf.as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                if on_done is not None:
                    on_done(results[i])
                while next_out in results:
                    yield results.pop(next_out)
                    next_out += 1
        except BaseException:
            stop.set()
            for fut in futures:
                fut.cancel()
            raise


def run_dask(paths: Sequence[str], options: FleetOptions, address: str,
             jobs: Optional[int] = None,
             on_done: Optional[Callable[[Dict[str, Any]], None]] = None,
             timeout: Optional[float] = DEFAULT_TIMEOUT) -> Iterator[Dict[str, Any]]:
    """:func:`analyze_one` over ``paths`` with ``distributed.Client.map``, in input order.

    Each report runs in a process of its own on the worker
    (:func:`run_limited`), killed after ``timeout`` seconds; memory is
    bounded by the cluster's own worker memory limit.

    ``address``: a scheduler (``tcp://host:8786``), or ``local`` for a
    ``LocalCluster`` of ``jobs`` single-threaded worker processes on this
    machine.  Workers need ``balloon-oom`` installed and the report paths
    readable at the same place (a shared file system).
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise BalloonOomError("--dask needs the dask extra: pip install 'balloon-oom[dask]'") \
            from None
    paths = list(paths)
    if not paths:
        return
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=max(1, min(jobs or default_jobs(), len(paths))),
                               threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout=30)
        except (OSError, TimeoutError) as exc:
            raise BalloonOomError(f"--dask {address}: cannot reach the scheduler ({exc})") \
                from None
    try:
        # pure=False: a report may change on disk between runs; never reuse a result.
        futures = client.map(run_limited, paths, options=options,
                             limits=Limits(timeout=timeout, max_rss_mb=None), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: Dict[int, Dict[str, Any]] = {}
        next_out = 0
        for fut in as_completed(futures):
            i = index[fut.key]
            try:
                result = fut.result()
            except Exception as exc:  # KilledWorker and friends: this report only
                result = error_result(paths[i], f"dask: {type(exc).__name__}: {exc}")
            fut.release()
            results[i] = result
            if on_done is not None:
                on_done(result)
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --- summary ----------------------------------------------------------------------------------

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


# --- progress -----------------------------------------------------------------------------------

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


# --- the command --------------------------------------------------------------------------------

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
                from .render import dashboard
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
        from .render import dashboard
        index = os.path.join(html_dir, "index.html")
        dashboard.write_page(html_dir, "index.html", dashboard.render(dash_rows))
        stderr.write(f"wrote {index} ({dashboard.rows_summary(dash_rows)}; one page per "
                     "report beside it)\n")
    if summary.analysed:
        return 0
    why = f": {summary.failures[0][1]}" if summary.failures else ""
    stderr.write(f"balloon-oom: no report could be analysed{why}\n")
    return EXIT_NONE_ANALYSED
