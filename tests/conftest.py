# SPDX-License-Identifier: GPL-2.0-or-later
"""Hypothesis profiles for the whole suite, and fixtures shared by several test modules.

``ci`` (the default): a few hundred examples per property, no deadline (a
loaded CI machine must not turn slowness into failures).  ``slow``: at least
10 000 examples per property, for a fuzzing run by hand::

    .venv/bin/python -m pytest tests/test_fuzz_*.py --hypothesis-profile=slow

(``--hypothesis-profile`` is hypothesis' own pytest option.)
"""

import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from tests import soslatest

_COMMON = dict(
    deadline=None,
    # Mutating real captures makes big inputs on purpose.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

settings.register_profile("ci", max_examples=300, **_COMMON)
settings.register_profile("slow", max_examples=10_000, **_COMMON)
settings.load_profile("ci")


# --- fleet: sample reports shared by tests/test_fleet*.py (made once per session) -------------

@pytest.fixture(scope="session")
def fleet_dir(tmp_path_factory):
    """Copies of the samples, one corrupt tarball, one empty directory."""
    from tests.fleet_reports import make_fleet_dir

    return make_fleet_dir(tmp_path_factory.mktemp("fleet"))


@pytest.fixture(scope="session")
def single(fleet_dir):
    """Each good report analysed alone, in this process: what the fleet must reproduce."""
    from balloon_oom.analysis import analyze
    from balloon_oom.render.json_out import document
    from balloon_oom.verdict import Thresholds
    from tests.fleet_reports import paths_of

    good = [p for p in paths_of(fleet_dir) if "corrupt" not in p and "empty" not in p]
    return {p: document(analyze(p, thresholds=Thresholds())) for p in good}


@pytest.fixture(scope="session")
def jsonl_run(fleet_dir):
    """``(status, stdout, stderr)`` of a ``--format jsonl --jobs 2`` run over the fleet."""
    from tests.fleet_reports import paths_of, run

    return run(paths_of(fleet_dir), jobs=2)


@pytest.fixture(scope="session")
def runaway_dir(tmp_path_factory):
    """A good report, one whose log never ends (1 TiB sparse), a good one."""
    from tests.fleet_reports import make_runaway_dir

    return make_runaway_dir(tmp_path_factory.mktemp("runaway"))


# --- drgn: tests/test_drgn_*.py build simulated kernels from real DWARF -------------------------

@pytest.fixture
def tmpdir_str():
    """A scratch directory (as a ``str``) for a simulated kernel's compiled types."""
    with tempfile.TemporaryDirectory() as d:
        yield d


# --- sos: the real-sos tests of tests/test_sos_plugin_{runs,analyzer}.py, collected again on
# --- current sos by tests/test_sos_plugin_latest.py (which overrides the two below) -----------

@pytest.fixture
def sos_install():
    """The sos the ``sos`` tests run: None is the system's (find_sos())."""
    return None


@pytest.fixture
def expected_files():
    """The files each root's report holds (another sos's tests may add some)."""
    from tests.sosreports import EXPECTED_FILES

    return EXPECTED_FILES


# --- sos: current sos (tests/soslatest.py), shared by tests/test_soslatest.py and
# --- tests/test_sos_plugin_latest*.py (fetched and probed once per session) ----------------------

@pytest.fixture(scope="session", params=soslatest.SUITES)
def latest(request):
    """Each suite's sos, fetched on first use (skip, with the reason, if it cannot be)."""
    try:
        return soslatest.sos_latest(suite=request.param)
    except soslatest.SosLatestUnavailable as exc:
        pytest.skip(f"no current sos to test on: {exc}")


@pytest.fixture(scope="session")
def latest_install(latest):
    from balloon_oom import sosrun

    return sosrun.find_sos(latest.pythonpath)


#: Asks whether the sos in PYTHONPATH writes ``environment`` into every report: the
#: proxy variables sos collects by default (sos 567a5549, in 4.9.2 and 4.10), a file
#: written even when none is set.
_HAS_ENV_FILE = "import sos.report; print(hasattr(sos.report, 'default_env_vars'))"


@pytest.fixture(scope="session")
def report_extra(latest):
    """Files this sos adds to every report: ``{"environment"}`` or nothing."""
    out = subprocess.check_output([soslatest.INTERPRETER, "-c", _HAS_ENV_FILE],
                                  env=dict(os.environ, PYTHONPATH=latest.pythonpath),
                                  universal_newlines=True, cwd="/").strip()
    return {"environment"} if out == "True" else set()
