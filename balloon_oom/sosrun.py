"""Run the system's sos with our ``balloon`` plugin, or install the plugin into it.

sos has no plugin path option: it imports every module found in the
directories of ``sos.report.plugins.__path__``.  :func:`run_sos` therefore
starts the interpreter that runs the installed ``sos`` script with a small
runner (:data:`RUNNER`) that appends :func:`plugin_dir` to that ``__path__``
and then does what upstream ``bin/sos`` does::

    balloon-oom sos report --batch -o balloon --tmp-dir /var/tmp

:func:`install_plugin` is the other way, the one RPM scriptlets use for
out-of-tree plugins: a symbolic link to our ``balloon.py`` inside the sos
plugins directory, so that a plain ``sos report`` has the plugin too.
:func:`uninstall_plugin` removes the link and the byte code it produced.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
from typing import IO, List, NamedTuple, Optional, Sequence

from balloon_oom.errors import BalloonOomError

#: How to collect a report with our plugin, right whether or not the plugin
#: was installed into the system's sos (the one instruction warnings give).
COLLECT_INSTRUCTION = ("`balloon-oom sos report -o balloon`, or `sos report -o balloon` after "
                       "`balloon-oom install-sos-plugin`")

#: Name of our plugin module (== ``plugin_name``, as sos's ``-o`` needs).
PLUGIN_FILE = "balloon.py"

#: The program given to ``python -c``; ``sys.argv[1]`` is the plugin
#: directory, the rest is sos's command line.  Python >= 3.6 syntax: it runs
#: under whatever interpreter the system's sos uses.
RUNNER = """\
import os, sys
import sos.report.plugins as _plugins
_dir = sys.argv[1]
if _dir not in _plugins.__path__:
    _plugins.__path__.append(_dir)
try:
    # sos 4.4-4.9: LinuxPolicy._container_init() (env container=oci HOST=...)
    # sets self._tmp_dir from itself, which only the Red Hat and SUSE
    # policies define before 4.10 (sos e4c50c25): AttributeError on Debian.
    from sos.policies.distros import LinuxPolicy as _linux
    if not hasattr(_linux, "_tmp_dir"):
        _linux._tmp_dir = "/var/tmp"
except ImportError:  # sos < 4.3 has no sos.policies.distros
    pass
from sos import SoS
_code = 0
try:
    SoS(sys.argv[2:]).execute()
except SystemExit as _exit:
    _code = _exit.code if isinstance(_exit.code, int) else (0 if _exit.code is None else 1)
except KeyboardInterrupt:
    _code = 130
sys.stdout.flush()
sys.stderr.flush()
os._exit(_code)
"""

#: Where sos's own plugins live, as seen by a given interpreter.
_PLUGINS_DIR_PROBE = (
    "import os, sos.report.plugins as p; print(os.path.dirname(os.path.abspath(p.__file__)))"
)
_VERSION_PROBE = "import sos; print(sos.__version__)"

_SOS_SCRIPTS = ("sos", "sosreport")
_FALLBACK_SCRIPT = "/usr/bin/sos"


class SosInstall(NamedTuple):
    """The installed sos: the interpreter that runs it and its version.

    ``pythonpath``, when set, is a directory holding another ``sos`` package
    (e.g. one unpacked from a newer distribution's ``.deb``) that the
    interpreter imports instead of its own: it goes first in ``PYTHONPATH``.

    >>> SosInstall("/usr/bin/python3", "4.0", "/usr/bin/sos").version
    '4.0'
    """

    interpreter: str
    version: str
    script: str
    pythonpath: Optional[str] = None


def _shebang_interpreter(script: str) -> Optional[str]:
    """The interpreter named by a script's ``#!`` line (``env`` resolved).

    Returns ``None`` for a file without a Python shebang.
    """
    try:
        with open(script, "rb") as fobj:
            first = fobj.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
        if not words:
            return None
        found = shutil.which(words[0])
        return found
    if "python" not in os.path.basename(words[0]):
        return None
    return words[0]


def _with_pythonpath(env: Optional[dict], pythonpath: Optional[str]) -> Optional[dict]:
    """``env`` (default: ours) with ``pythonpath`` first in ``PYTHONPATH``."""
    if not pythonpath:
        return env
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)
    return env


def _run_probe(interpreter: str, code: str, pythonpath: Optional[str] = None) -> str:
    try:
        proc = subprocess.run(
            [interpreter, "-c", code],
            env=_with_pythonpath(None, pythonpath),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BalloonOomError(f"cannot run {interpreter}: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BalloonOomError(f"{interpreter} cannot import sos: {last}")
    return proc.stdout.strip()


def find_sos(pythonpath: Optional[str] = None) -> SosInstall:
    """Locate the installed sos: its script, the script's interpreter, its version.

    Looks for ``sos`` then ``sosreport`` on ``PATH``, then ``/usr/bin/sos``.
    On Debian 12 this gives ``SosInstall('/usr/bin/python3', '4.0',
    '/usr/bin/sos')``.  Raises :class:`BalloonOomError` when there is none.

    With ``pythonpath``, the ``sos`` package in that directory is the one
    run, by the interpreter the installed script names; the version is
    that package's (``4.9.1`` for Debian 13's, unpacked on Debian 12).
    """
    candidates = [shutil.which(name) for name in _SOS_SCRIPTS] + [_FALLBACK_SCRIPT]
    tried = []
    for script in candidates:
        if not script or script in tried or not os.path.isfile(script):
            continue
        tried.append(script)
        interpreter = _shebang_interpreter(script)
        if interpreter is None:
            continue
        version = _run_probe(interpreter, _VERSION_PROBE, pythonpath)
        return SosInstall(interpreter, version, script, pythonpath)
    raise BalloonOomError(
        "sos (sosreport) is not installed: no sos or sosreport script on PATH "
        "nor /usr/bin/sos (Debian/Ubuntu: apt-get install sosreport; "
        "Fedora/RHEL: dnf install sos)"
    )


def plugin_dir() -> str:
    """The directory holding ``balloon.py``.

    Installed: the package data directory ``balloon_oom/sos_plugins``.  In a
    source checkout: ``<repo>/sos_plugins``.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (
        os.path.join(here, "sos_plugins"),
        os.path.join(os.path.dirname(here), "sos_plugins"),
    ):
        if os.path.isfile(os.path.join(candidate, PLUGIN_FILE)):
            return candidate
    raise BalloonOomError(
        f"the sos plugin {PLUGIN_FILE} is missing from this installation "
        f"(looked in {here}/sos_plugins and {os.path.dirname(here)}/sos_plugins)"
    )


def sos_command(
    args: Sequence[str],
    sos: Optional[SosInstall] = None,
    prefix: Sequence[str] = (),
    plugins: Optional[str] = None,
) -> List[str]:
    """The command line :func:`run_sos` runs (handy to show or log)."""
    sos = sos or find_sos()
    return [*prefix, sos.interpreter, "-c", RUNNER, plugins or plugin_dir(), *args]


def run_sos(
    args: Sequence[str],
    *,
    env: Optional[dict] = None,
    prefix: Sequence[str] = (),
    sos: Optional[SosInstall] = None,
    output: Optional[IO[str]] = None,
    plugins: Optional[str] = None,
) -> int:
    """Run the system's sos with our plugin directory added; return its exit code.

    ``args`` is sos's own command line, e.g. ``["report", "--batch", "-o",
    "balloon"]``.  ``prefix`` goes in front of the interpreter (``["unshare",
    "-r"]`` to run as root in a user namespace).  ``env`` replaces the
    environment.  ``output``, a file, receives sos's stdout and stderr
    (default: the terminal).  ``sos.pythonpath`` is put first in the
    ``PYTHONPATH`` of the environment used.  ``plugins``, a directory
    holding a copy of ``balloon.py``, replaces :func:`plugin_dir` (for a
    user who cannot read this installation, e.g. sos run as ``nobody``).
    """
    sos = sos or find_sos()
    cmd = sos_command(args, sos, prefix, plugins)
    try:
        proc = subprocess.run(
            cmd,
            env=_with_pythonpath(env, sos.pythonpath),
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
        )
    except OSError as exc:
        raise BalloonOomError(f"cannot run {cmd[0]}: {exc}") from None
    return proc.returncode


def sos_plugins_dir(sos: Optional[SosInstall] = None) -> str:
    """sos's own plugins directory, as the interpreter running sos sees it."""
    sos = sos or find_sos()
    return _run_probe(sos.interpreter, _PLUGINS_DIR_PROBE, sos.pythonpath)


def _require_root(action: str) -> None:
    if os.geteuid() != 0:
        raise BalloonOomError(f"{action} needs root (the sos plugins directory is the system's)")


def _ours(link: str, source: str) -> bool:
    """Is ``link`` a symbolic link made by :func:`install_plugin`?"""
    if not os.path.islink(link):
        return False
    target = os.readlink(link)
    if os.path.realpath(link) == os.path.realpath(source):
        return True
    # A link left by another checkout or virtualenv of balloon-oom.
    parts = os.path.normpath(target).split(os.sep)
    return parts[-2:] == ["sos_plugins", PLUGIN_FILE]


def install_plugin(target_dir: Optional[str] = None, *, check_root: bool = True) -> str:
    """Link our ``balloon.py`` into sos's plugins directory; return the link's path.

    ``target_dir`` defaults to :func:`sos_plugins_dir`.  Installing twice is
    fine; an existing ``balloon.py`` that is not our link is never replaced.
    """
    if check_root:
        _require_root("install-sos-plugin")
    target_dir = target_dir or sos_plugins_dir()
    source = os.path.join(plugin_dir(), PLUGIN_FILE)
    link = os.path.join(target_dir, PLUGIN_FILE)
    if os.path.lexists(link):
        if _ours(link, source):
            if os.path.realpath(link) != os.path.realpath(source):
                os.unlink(link)
                os.symlink(source, link)
            return link
        raise BalloonOomError(f"{link} exists and is not balloon-oom's link; not replacing it")
    try:
        os.symlink(source, link)
    except OSError as exc:
        raise BalloonOomError(f"cannot create {link}: {exc.strerror}") from None
    return link


def uninstall_plugin(target_dir: Optional[str] = None, *, check_root: bool = True) -> List[str]:
    """Remove the link made by :func:`install_plugin` and its byte code.

    Returns the paths removed (empty when nothing was installed).  A
    ``balloon.py`` that is not our link is left alone (error).
    """
    if check_root:
        _require_root("uninstall-sos-plugin")
    target_dir = target_dir or sos_plugins_dir()
    source = os.path.join(plugin_dir(), PLUGIN_FILE)
    link = os.path.join(target_dir, PLUGIN_FILE)
    removed: List[str] = []
    if os.path.lexists(link):
        if not _ours(link, source):
            raise BalloonOomError(f"{link} is not balloon-oom's link; not removing it")
        os.unlink(link)
        removed.append(link)
    stem = os.path.splitext(PLUGIN_FILE)[0]
    for pyc in sorted(glob.glob(os.path.join(target_dir, "__pycache__", f"{stem}.*.pyc"))):
        try:
            os.unlink(pyc)
            removed.append(pyc)
        except OSError as exc:
            raise BalloonOomError(f"cannot remove {pyc}: {exc.strerror}") from None
    return removed


def _fail(exc: BalloonOomError) -> int:
    print(f"balloon-oom: {exc}", file=sys.stderr)
    return 1


def main_sos(argv: Sequence[str]) -> int:
    """``balloon-oom sos ARGS…``: the system's sos, with our plugin available."""
    args = list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(
            "usage: balloon-oom sos report [SOS OPTIONS]\n"
            "Runs the installed sos with the balloon plugin added, e.g.\n"
            "  balloon-oom sos report --batch -o balloon"
        )
        return 0
    try:
        return run_sos(args)
    except BalloonOomError as exc:
        return _fail(exc)


def _dir_parser(prog: str, text: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=text)
    parser.add_argument(
        "--plugins-dir",
        metavar="DIR",
        help="sos's plugins directory (default: asked from the interpreter running sos)",
    )
    return parser


def main_install(argv: Sequence[str]) -> int:
    """``balloon-oom install-sos-plugin``: make plain ``sos report`` know ``balloon``."""
    opts = _dir_parser(
        "balloon-oom install-sos-plugin",
        "Link the balloon sos plugin into the system's sos (root only).",
    ).parse_args(list(argv))
    try:
        link = install_plugin(opts.plugins_dir)
    except BalloonOomError as exc:
        return _fail(exc)
    print(f"installed {link} -> {os.readlink(link)}")
    return 0


def main_uninstall(argv: Sequence[str]) -> int:
    """``balloon-oom uninstall-sos-plugin``: remove what install-sos-plugin made."""
    opts = _dir_parser(
        "balloon-oom uninstall-sos-plugin",
        "Remove the balloon sos plugin link and its byte code (root only).",
    ).parse_args(list(argv))
    try:
        removed = uninstall_plugin(opts.plugins_dir)
    except BalloonOomError as exc:
        return _fail(exc)
    for path in removed:
        print(f"removed {path}")
    if not removed:
        print("nothing to remove: the balloon sos plugin was not installed")
    return 0


if __name__ == "__main__":  # python -m balloon_oom.sosrun report --batch -o balloon
    sys.exit(main_sos(sys.argv[1:]))
