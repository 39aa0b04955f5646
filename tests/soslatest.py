"""Current sos releases for the tests: Debian's ``sos`` packages, each fetched once.

Debian 12 ships sos 4.0 and PyPI has no sos 4.x (PyPI ``sos`` is an
unrelated project), so the plugin is also tested on the sos of later Debian
suites (:data:`SUITES`): trixie's (4.9.1) and trixie-backports' (4.12.1).
Each ``_all.deb`` is downloaded with apt, using a private source list naming
that suite alone, package lists and cache (the system's apt setup is
untouched), and unpacked (``dpkg-deb -x``, nothing installed) into::

    ${BALLOON_OOM_CACHE:-~/.cache/balloon-oom}/sos-SUITE/
        fetch.lock          flock held while fetching or checking
        sos_4.9.1-1_all.deb the package as downloaded (the version apt offers)
        root/               its files; root/usr/lib/python3/dist-packages/sos
        ready.json          written last: {"version": "4.9.1", "deb": ...}

Later calls read ``ready.json`` and need no network.  Delete the directory to
fetch the suite's newer sos.  The interpreter that runs it is Debian 12's
``/usr/bin/python3``, which needs python3-magic, python3-packaging,
python3-pexpect and python3-yaml (the package's dependencies).

>>> found = sos_latest()                      # doctest: +SKIP
>>> found.version, found.pythonpath           # doctest: +SKIP
('4.9.1', '/root/.cache/balloon-oom/sos-trixie/root/usr/lib/python3/dist-packages')
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple, Optional, Sequence

#: Debian suites whose sos the tests run (each on its own: apt picks its candidate).
SUITES = ("trixie", "trixie-backports")
SUITE = "trixie"
PACKAGE = "sos"
#: Debian mirror; ``$BALLOON_OOM_DEBIAN_MIRROR`` overrides it.
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: The interpreter Debian's sos runs on (``#! /usr/bin/python3`` in the package).
INTERPRETER = "/usr/bin/python3"
DIST_PACKAGES = "usr/lib/python3/dist-packages"
#: What sos 4.9.1's ``sos report`` imports besides the standard library.
DEPENDENCIES = {"magic": "python3-magic", "packaging": "python3-packaging",
                "pexpect": "python3-pexpect", "yaml": "python3-yaml"}

_PROBE = (
    "import sys, sos, sos.report, sos.policies\n"
    "assert sos.__file__.startswith(sys.argv[1]), sos.__file__\n"
    "print(sos.__version__)\n"
)


class SosLatestUnavailable(Exception):
    """The current sos cannot be fetched or does not run here (the reason says why)."""


class SosLatest(NamedTuple):
    """An unpacked sos: put :attr:`pythonpath` first in ``PYTHONPATH`` to run it."""

    pythonpath: str
    version: str
    deb: str
    suite: str = SUITE


def cache_dir(suite: str = SUITE) -> Path:
    """``${BALLOON_OOM_CACHE:-~/.cache/balloon-oom}/sos-SUITE``."""
    env = os.environ.get("BALLOON_OOM_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "balloon-oom"
    return base / f"sos-{suite}"


def _tail(text: str, lines: int = 4) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "no output"


def _run(cmd: Sequence[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=600, **kwargs)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SosLatestUnavailable(f"{what}: cannot run {cmd[0]}: {exc}") from None
    if proc.returncode != 0:
        raise SosLatestUnavailable(
            f"{what} failed (exit {proc.returncode}): {_tail(proc.stderr or proc.stdout)}")
    return proc


def probe_version(pythonpath: str, interpreter: str = INTERPRETER) -> str:
    """The version of the sos in ``pythonpath`` as ``interpreter`` imports it.

    Raises :class:`SosLatestUnavailable` naming the Debian packages to install
    when one of sos's dependencies is missing.
    """
    env = dict(os.environ, PYTHONPATH=pythonpath)
    try:
        proc = subprocess.run([interpreter, "-c", _PROBE, pythonpath], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SosLatestUnavailable(f"cannot run {interpreter}: {exc}") from None
    if proc.returncode != 0:
        for module, package in DEPENDENCIES.items():
            if f"No module named '{module}'" in proc.stderr:
                raise SosLatestUnavailable(
                    f"sos in {pythonpath} needs {package} for {interpreter}: "
                    f"apt-get install -y {' '.join(sorted(DEPENDENCIES.values()))}")
        raise SosLatestUnavailable(
            f"{interpreter} cannot import the sos in {pythonpath}: {_tail(proc.stderr)}")
    return proc.stdout.strip()


def _apt_options(work: Path, mirror: str, suite: str) -> list:
    """apt-get options for a private source list, package lists and cache."""
    (work / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (work / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources = work / "sources.list"
    sources.write_text(f"deb {mirror} {suite} main\n")
    user = pwd.getpwuid(os.geteuid()).pw_name
    return [
        "-o", f"Dir::Etc::sourcelist={sources}",
        "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={work / 'lists'}",
        "-o", f"Dir::Cache={work / 'cache'}",
        # download into our own directory as ourselves (no _apt sandbox user)
        "-o", f"APT::Sandbox::User={user}",
        "-q",
    ]


def _fetch(dest: Path, mirror: str, interpreter: str, suite: str) -> SosLatest:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise SosLatestUnavailable("apt-get and dpkg-deb are needed to fetch Debian's sos")
    work = Path(tempfile.mkdtemp(prefix="fetch-", dir=dest))
    try:
        options = _apt_options(work, mirror, suite)
        _run(["apt-get", *options, "--error-on=any", "update"],
             f"apt-get update from {mirror} {suite}")
        _run(["apt-get", *options, "download", PACKAGE], f"apt-get download {PACKAGE} ({suite})",
             cwd=str(work))
        debs = glob.glob(str(work / f"{PACKAGE}_*_all.deb"))
        if len(debs) != 1:
            raise SosLatestUnavailable(f"apt-get download {PACKAGE} gave {debs or 'no .deb'}")
        unpacked = work / "root"
        _run(["dpkg-deb", "-x", debs[0], str(unpacked)], f"dpkg-deb -x {debs[0]}")
        version = probe_version(str(unpacked / DIST_PACKAGES), interpreter)
        deb = dest / os.path.basename(debs[0])
        for old in (dest / "root", deb):
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
        os.replace(debs[0], deb)
        os.replace(unpacked, dest / "root")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = SosLatest(str(dest / "root" / DIST_PACKAGES), version, str(deb), suite)
    ready = dest / "ready.json.tmp"
    ready.write_text(json.dumps({"version": version, "deb": deb.name, "suite": suite,
                                 "mirror": mirror}) + "\n")
    os.replace(ready, dest / "ready.json")
    return found


def sos_latest(cache: Optional[Path] = None, *, mirror: Optional[str] = None,
               interpreter: str = INTERPRETER, suite: str = SUITE) -> SosLatest:
    """The sos of Debian ``suite``, unpacked in ``cache`` (default :func:`cache_dir`).

    Fetches it on the first call (holding ``fetch.lock``, so parallel test
    runs fetch once); afterwards only checks that ``interpreter`` imports it
    with the version recorded.  Raises :class:`SosLatestUnavailable` with
    the reason (no network, no apt, missing python3 dependency, ...).
    """
    dest = Path(cache) if cache is not None else cache_dir(suite)
    mirror = mirror or os.environ.get("BALLOON_OOM_DEBIAN_MIRROR") or DEFAULT_MIRROR
    try:
        dest.mkdir(parents=True, exist_ok=True)
        lock = open(dest / "fetch.lock", "w")
    except OSError as exc:
        raise SosLatestUnavailable(f"cannot use the cache {dest}: {exc}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ready = dest / "ready.json"
            if ready.exists():
                try:
                    info = json.loads(ready.read_text())
                    recorded, deb = info["version"], str(dest / info["deb"])
                except (OSError, ValueError, KeyError, TypeError):
                    recorded = deb = None
                pythonpath = str(dest / "root" / DIST_PACKAGES)
                if recorded and os.path.isdir(os.path.join(pythonpath, "sos")):
                    version = probe_version(pythonpath, interpreter)
                    if version == recorded:
                        return SosLatest(pythonpath, version, deb, suite)
                ready.unlink()  # damaged or changed cache: fetch again
            return _fetch(dest, mirror, interpreter, suite)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
