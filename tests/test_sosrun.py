"""balloon_oom.sosrun: finding the system's sos, running it, installing the plugin.

Runs Debian's real sos 4.0 (``/usr/bin/sos``); nothing of sos is mocked.
Install/uninstall run against a temporary copy of the sos plugins directory
and, as root, against the real one (then check nothing is left behind).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from balloon_oom import sosrun
from balloon_oom.errors import BalloonOomError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

needs_sos = pytest.mark.skipif(not os.path.exists("/usr/bin/sos"), reason="needs /usr/bin/sos")


@needs_sos
def test_find_sos_debian():
    found = sosrun.find_sos()
    with open(found.script) as fobj:
        shebang = fobj.readline()
    assert shebang == f"#!{found.interpreter}\n"
    assert found.version == subprocess.check_output(
        [found.interpreter, "-c", "import sos; print(sos.__version__)"],
        universal_newlines=True).strip()
    assert found.version.split(".")[0] == "4"


def test_shebang_interpreter(tmp_path):
    script = tmp_path / "sos"
    script.write_text("#!/usr/bin/env -S python3 -u\nprint(1)\n")
    assert sosrun._shebang_interpreter(str(script)) == shutil.which("python3")
    script.write_text("#!/usr/bin/python3.11\n")
    assert sosrun._shebang_interpreter(str(script)) == "/usr/bin/python3.11"
    script.write_text("#!/bin/sh\nexec python3 -m sos\n")
    assert sosrun._shebang_interpreter(str(script)) is None
    script.write_bytes(b"\x7fELF\x02\x01")
    assert sosrun._shebang_interpreter(str(script)) is None


def test_find_sos_without_sos(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sosrun, "_FALLBACK_SCRIPT", str(tmp_path / "no-sos"))
    with pytest.raises(BalloonOomError, match="sos \\(sosreport\\) is not installed"):
        sosrun.find_sos()


def test_plugin_dir_is_the_checkout_sos_plugins():
    assert sosrun.plugin_dir() == os.path.join(REPO, "sos_plugins")
    # sos imports every module of the directories it searches: ours holds one plugin
    # (and README.md, which sos's ImporterHelper skips: not a .py file)
    assert sorted(os.listdir(sosrun.plugin_dir())) in (
        ["README.md", "__init__.py", "balloon.py"],
        ["README.md", "__init__.py", "__pycache__", "balloon.py"])


def test_runner_is_python36_syntax():
    """RUNNER runs under the system's interpreter: no f-strings, walrus, etc."""
    import ast
    tree = ast.parse(sosrun.RUNNER)
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.JoinedStr, ast.NamedExpr))]
    assert "SoS(sys.argv[2:]).execute()" in sosrun.RUNNER
    assert "os._exit(_code)" in sosrun.RUNNER


@needs_sos
def test_run_sos_lists_our_plugin(tmp_path):
    out = tmp_path / "out.txt"
    with open(out, "w") as fobj:
        rc = sosrun.run_sos(["report", "--list-plugins", "--batch"], output=fobj,
                            prefix=[] if os.geteuid() == 0 else ["unshare", "-r"])
    text = out.read_text()
    assert rc == 0, text
    line = [l for l in text.splitlines() if l.split()[:1] == ["balloon"]]
    assert line and "Memory balloon drivers of virtual machine guests" in line[0]


@needs_sos
def test_run_sos_passes_the_exit_code(tmp_path):
    out = tmp_path / "out.txt"
    with open(out, "w") as fobj:
        rc = sosrun.run_sos(["report", "--batch", "-o", "no_such_plugin_xyz",
                             "--tmp-dir", str(tmp_path)], output=fobj,
                            prefix=[] if os.geteuid() == 0 else ["unshare", "-r"])
    assert rc == 1
    assert "no_such_plugin_xyz" in out.read_text()


@needs_sos
def test_run_sos_takes_a_copy_of_the_plugin(tmp_path):
    """``plugins=`` replaces the checkout's directory (what nobody's run uses)."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    with open(os.path.join(sosrun.plugin_dir(), sosrun.PLUGIN_FILE)) as fobj:
        text = fobj.read()
    old = "short_desc = 'Memory balloon drivers of virtual machine guests'"
    assert old in text
    (plugins / sosrun.PLUGIN_FILE).write_text(text.replace(old, "short_desc = 'The copy'"))
    cmd = sosrun.sos_command(["report"], plugins=str(plugins))
    assert cmd[3] == str(plugins)
    out = tmp_path / "out.txt"
    with open(out, "w") as fobj:
        rc = sosrun.run_sos(["report", "--list-plugins", "--batch"], output=fobj,
                            prefix=[] if os.geteuid() == 0 else ["unshare", "-r"],
                            plugins=str(plugins))
    text = out.read_text()
    assert rc == 0, text
    (line,) = [l for l in text.splitlines() if l.split()[:1] == ["balloon"]]
    assert "The copy" in line


def test_collect_instruction_in_the_warnings(tmp_path):
    """A report without kernel log nor balloon plugin: both warnings give the one instruction."""
    import json
    import sys
    (tmp_path / "version.txt").write_text("sos report: 4.0\n")
    (tmp_path / "sos_commands").mkdir()
    proc = subprocess.run([sys.executable, "-m", "balloon_oom", "analyze", str(tmp_path),
                           "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    warnings = json.loads(proc.stdout)["warnings"]
    with_it = [w for w in warnings if sosrun.COLLECT_INSTRUCTION in w]
    assert len(with_it) == 2, warnings
    assert with_it[0].startswith("no kernel log found")
    assert with_it[1].startswith("this report was made without the balloon sos plugin")
    assert sosrun.COLLECT_INSTRUCTION == ("`balloon-oom sos report -o balloon`, or `sos report "
                                          "-o balloon` after `balloon-oom install-sos-plugin`")


def test_main_sos_help(capsys):
    assert sosrun.main_sos(["--help"]) == 0
    assert "balloon-oom sos report" in capsys.readouterr().out


# ----------------------------------------------------------------- install / uninstall


@pytest.fixture
def plugins_copy(tmp_path):
    """A temporary copy of the system sos plugins directory (a few files)."""
    dest = tmp_path / "plugins"
    dest.mkdir()
    (dest / "__init__.py").write_text("")
    (dest / "memory.py").write_text("# stand-in for sos's own plugin\n")
    return str(dest)


def test_install_and_uninstall_in_a_copy(plugins_copy):
    before = sorted(os.listdir(plugins_copy))
    link = sosrun.install_plugin(plugins_copy, check_root=False)
    assert link == os.path.join(plugins_copy, "balloon.py")
    assert os.readlink(link) == os.path.join(sosrun.plugin_dir(), "balloon.py")
    # installing twice is fine
    assert sosrun.install_plugin(plugins_copy, check_root=False) == link
    # byte code as Python leaves it when sos imports the plugin
    os.makedirs(os.path.join(plugins_copy, "__pycache__"))
    pyc = os.path.join(plugins_copy, "__pycache__", "balloon.cpython-311.pyc")
    other = os.path.join(plugins_copy, "__pycache__", "memory.cpython-311.pyc")
    for path in (pyc, other):
        open(path, "wb").close()
    removed = sosrun.uninstall_plugin(plugins_copy, check_root=False)
    assert removed == [link, pyc]
    assert sorted(os.listdir(plugins_copy)) == sorted(before + ["__pycache__"])
    assert os.listdir(os.path.join(plugins_copy, "__pycache__")) == ["memory.cpython-311.pyc"]
    assert sosrun.uninstall_plugin(plugins_copy, check_root=False) == []


def test_install_refuses_a_foreign_file(plugins_copy):
    foreign = os.path.join(plugins_copy, "balloon.py")
    with open(foreign, "w") as fobj:
        fobj.write("# somebody else's balloon plugin\n")
    with pytest.raises(BalloonOomError, match="not balloon-oom's link"):
        sosrun.install_plugin(plugins_copy, check_root=False)
    with pytest.raises(BalloonOomError, match="not balloon-oom's link"):
        sosrun.uninstall_plugin(plugins_copy, check_root=False)
    with open(foreign) as fobj:
        assert fobj.read() == "# somebody else's balloon plugin\n"


def test_install_replaces_a_link_from_another_checkout(plugins_copy, tmp_path):
    old = tmp_path / "old-venv" / "balloon_oom" / "sos_plugins"
    old.mkdir(parents=True)
    (old / "balloon.py").write_text("# older copy\n")
    os.symlink(str(old / "balloon.py"), os.path.join(plugins_copy, "balloon.py"))
    link = sosrun.install_plugin(plugins_copy, check_root=False)
    assert os.readlink(link) == os.path.join(sosrun.plugin_dir(), "balloon.py")


def test_root_is_required(monkeypatch, plugins_copy, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert sosrun.main_install(["--plugins-dir", plugins_copy]) == 1
    err = capsys.readouterr().err
    assert err.startswith("balloon-oom: install-sos-plugin needs root")
    assert len(err.splitlines()) == 1
    assert not os.path.lexists(os.path.join(plugins_copy, "balloon.py"))


@needs_sos
@pytest.mark.sos
@pytest.mark.skipif(os.geteuid() != 0, reason="the real sos plugins directory needs root")
def test_install_into_the_real_sos_then_no_trace(tmp_path, capsys):
    real = sosrun.sos_plugins_dir()
    assert real == "/usr/lib/python3/dist-packages/sos/report/plugins"
    if os.path.lexists(os.path.join(real, "balloon.py")):
        pytest.skip("a balloon.py is already installed in the system sos")

    def snapshot():
        return sorted(os.listdir(real)), sorted(os.listdir(os.path.join(real, "__pycache__")))

    before = snapshot()
    try:
        assert sosrun.main_install([]) == 0
        assert capsys.readouterr().out.startswith(f"installed {real}/balloon.py -> ")
        # the plain system sos now knows the plugin (and compiles it)
        listing = subprocess.run(["/usr/bin/sos", "report", "--list-plugins", "--batch"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 universal_newlines=True, cwd=str(tmp_path))
        assert any(l.split()[:1] == ["balloon"] for l in listing.stdout.splitlines())
    finally:
        assert sosrun.main_uninstall([]) == 0
    assert snapshot() == before
