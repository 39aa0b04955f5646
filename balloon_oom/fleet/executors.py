# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet executors: one report in a process of its own under limits, many locally or on Dask.

Every report is analysed by the same pure, picklable function
(:func:`analyze_one`) in a forked process (:func:`run_limited`) killed past
``--timeout`` seconds or ``--max-rss`` MB, or that dies (a crash in a C
library): its result is then an error saying which.  :func:`run_local` runs
``--jobs`` of them at a time, :func:`run_dask` on a Dask cluster; both yield
results in input order whatever the order they finish in.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import pickle
import select
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import BalloonOomError
from ..verdict import Thresholds


@dataclass(frozen=True)
class FleetOptions:
    """What every report is analysed with (picklable: it travels to workers)."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    debuginfo: Optional[Tuple[str, ...]] = None
    #: Also render each report's HTML page (``--html DIR``), returned under ``"_html"``.
    html: bool = False



def error_result(path: str, message: str) -> Dict[str, Any]:
    """The result of a report that could not be analysed (message on one line)."""
    return {"source": {"path": path}, "error": " ".join(str(message).split())}


def analyze_one(path: str, options: FleetOptions) -> Dict[str, Any]:
    """Analyse one report; the JSON document, or an error result.  Never raises.

    Top-level and pure (same input, same output), so it can run in a worker
    process or on a Dask worker.
    """
    from ..analysis import analyze
    from ..render.json_out import document

    try:
        analysis = analyze(path, debuginfo=list(options.debuginfo) if options.debuginfo else None,
                           thresholds=options.thresholds)
        doc = document(analysis)
        if options.html:
            from ..render import html
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
           max_rss_mb: Optional[float], others_busy: int = 0) -> None:
    """In the forked process: run the worker, write its pickled result to ``fd``, exit."""
    status = 1
    try:
        from balloon_oom.readers.decompressors import set_busy_elsewhere

        set_busy_elsewhere(others_busy)
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
                stop: Optional[threading.Event] = None, others_busy: int = 0) -> Dict[str, Any]:
    """``worker(path, options)`` in a forked process of its own, killed when it
    runs longer than ``limits.timeout`` or grows past ``limits.max_rss_mb``;
    then, or when the process dies, an error result saying why.  Never raises.
    ``others_busy``: CPUs this machine's other reports keep busy meanwhile
    (the scan then starts no helper thread it has no CPU for).

    A plain ``fork`` (the analyzer is imported first, so the child starts
    warm), not ``multiprocessing``: it also works inside a Dask worker, whose
    daemonic process may not start children of its own that way.
    """
    import balloon_oom.analysis  # noqa: F401 - imported once, before the fork
    import balloon_oom.render.json_out  # noqa: F401
    from balloon_oom.readers.stream import warm

    warm()  # the Hyperscan database and NumPy, once, before the fork

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
            _child(wfd, worker, path, options, limits.max_rss_mb, others_busy)
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
        futures = {pool.submit(run_limited, p, options, limits, worker, stop, jobs - 1): i
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
    others_busy = 0  # a remote cluster's machines: unknown, each scan decides alone
    if address == "local":
        workers = max(1, min(jobs or default_jobs(), len(paths)))
        cluster = LocalCluster(n_workers=workers,
                               threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        others_busy = workers - 1
    else:
        try:
            client = Client(address, timeout=30)
        except (OSError, TimeoutError) as exc:
            raise BalloonOomError(f"--dask {address}: cannot reach the scheduler ({exc})") \
                from None
    try:
        # pure=False: a report may change on disk between runs; never reuse a result.
        futures = client.map(run_limited, paths, options=options,
                             limits=Limits(timeout=timeout, max_rss_mb=None),
                             others_busy=others_busy, pure=False)
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

