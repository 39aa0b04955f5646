# SPDX-License-Identifier: GPL-2.0-or-later
"""Every error path of the command line: non-zero exit, exactly one line on stderr,
nothing on stdout, no traceback; ``--debug`` shows the traceback instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import sosroots

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))


def run(*args, timeout=120):
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def one_line(rc, out, err, *fragments, stdout_empty=True):
    assert rc == 2, (rc, err)
    assert out == "" or not stdout_empty
    assert err.count("\n") == 1 and err.startswith("balloon-oom"), err
    assert "Traceback" not in err and "internal error" not in err
    for frag in fragments:
        assert frag in err, (frag, err)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return Path(sosroots.build("kvm-deflate-off-after-oom",
                               str(tmp_path_factory.mktemp("r"))).path)


@pytest.mark.parametrize("args,fragment", [
    ((), "the following arguments are required: COMMAND"),
    (("analyze",), "the following arguments are required: PATH"),
    (("analyze", "--format", "xml", "x"), "invalid choice: 'xml'"),
    (("analyze", "--threshold", "abc", "x"), "invalid float value: 'abc'"),
    (("bogus",), "invalid choice: 'bogus'"),
    (("analyze", "--no-such-option", "x"), "unrecognized arguments: --no-such-option"),
])
def test_usage_errors(args, fragment):
    one_line(*run(*args), fragment, "--help")


def test_fifo_path_does_not_block(tmp_path):
    """Opening a FIFO to sniff its magic would block forever."""
    for name in ("pipe", "report.tar.xz"):
        fifo = tmp_path / name
        os.mkfifo(fifo)
        one_line(*run("analyze", fifo, timeout=60), str(fifo), "neither a sosreport")


def test_device_node_path():
    one_line(*run("analyze", "/dev/null"), "/dev/null: neither a sosreport")


def test_html_to_unwritable_path(report, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "page.html"
    # The table is on stdout already when the page fails: only stderr is checked.
    one_line(*run("analyze", report, "--html", target), str(target), "cannot write the HTML page",
             stdout_empty=False)


def test_html_over_a_directory(report, tmp_path):
    one_line(*run("analyze", report, "--html", tmp_path), str(tmp_path), stdout_empty=False)


def test_broken_pipe_is_quiet(report):
    """`balloon-oom analyze … | head -c 10`: no BrokenPipeError noise."""
    proc = subprocess.Popen([sys.executable, "-m", "balloon_oom", "analyze", "--explain",
                             str(report)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert rc in (0, 120, -13), rc      # 120: interpreter exit on a failed flush; SIGPIPE


@pytest.mark.parametrize("args", [
    ("analyze", "/nonexistent/report"),
    ("analyze", "/dev/null"),
    ("features", "01x"),
])
def test_debug_shows_the_traceback(args):
    rc, out, err = run("--debug", *args)
    assert rc != 0
    assert "Traceback (most recent call last)" in err and "Error" in err.splitlines()[-1]


def test_a_working_report_still_works(report):
    """The control: the same report analyses (so the errors above are the paths', not its)."""
    rc, out, err = run("analyze", report)
    assert (rc, err) == (0, "")
    assert "contributed" in out
