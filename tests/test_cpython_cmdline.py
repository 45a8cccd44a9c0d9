"""CPython's own ``test_cmd_line_script``, every script and module it starts run by ``python -m zrun``.

``cpython_cmdline.py`` runs the test module in a subprocess in which each
``python OPTIONS -m MOD`` it starts becomes ``python OPTIONS -m zrun -m MOD``
and each ``python OPTIONS PATH`` becomes ``python OPTIONS -m zrun PATH``.
Only the tests that start nothing for zrun to run (``-c``, stdin, the REPL) are
left out, by name (``cpython_cmdline.NO_TARGET``); the rest take a few seconds.
Each allowed failure is a line of ``docs/compatibility.md``; a new failure is
a compatibility bug.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cpython_cmdline import through_zrun

HERE = Path(__file__).parent

#: test id -> the docs/compatibility.md line that explains why zrun differs.
DOCUMENTED = {
    # the test prints type(__loader__) and expects zipimport's
    "CmdLineTest.test_zipfile": "`__loader__` is zrun's `ModuleLoader`",
    "CmdLineTest.test_zipfile_compiled_timestamp": "`__loader__` is zrun's `ModuleLoader`",
    "CmdLineTest.test_zipfile_compiled_checked_hash": "`__loader__` is zrun's `ModuleLoader`",
    "CmdLineTest.test_zipfile_compiled_unchecked_hash": "`__loader__` is zrun's `ModuleLoader`",
    # compile() words a null byte differently from the interpreter's file reader, and has no line to show
    "CmdLineTest.test_syntaxerror_null_bytes": "A script with a null byte",
    "CmdLineTest.test_syntaxerror_null_bytes_in_multiline_string": "A script with a null byte",
}

#: The two that failed on every version before zrun followed ``-I``/``-P`` and bpo-8202; never allowed to fail.
MUST_PASS = ("CmdLineTest.test_consistent_sys_path_for_direct_execution", "CmdLineTest.test_issue8202")


def has_module(name: str) -> bool:
    """Whether ``name`` imports here (Debian splits CPython's test package into its own package)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["py", "-m", "pkg.mod", "a"], ["py", "-m", "zrun", "-m", "pkg.mod", "a"]),
        (["py", "-X", "faulthandler", "-I", "-mpkg", "a"], ["py", "-X", "faulthandler", "-I", "-m", "zrun", "-m", "pkg", "a"]),
        (["py", "-sm", "pkg.__main__"], ["py", "-s", "-m", "zrun", "-m", "pkg.__main__"]),
        (["py", "-Es", "/d/__main__.py", "x"], ["py", "-Es", "-m", "zrun", "/d/__main__.py", "x"]),
        (["py", "-W", "error", "-Werror:::m", "--check-hash-based-pycs", "always", "app.zip"],
         ["py", "-W", "error", "-Werror:::m", "--check-hash-based-pycs", "always", "-m", "zrun", "app.zip"]),
        (["py", "-E", "-c", "print(1)", "x.py"], ["py", "-E", "-c", "print(1)", "x.py"]),
        (["py", "-Ec", "print(1)"], ["py", "-Ec", "print(1)"]),
        (["py", "-i"], ["py", "-i"]),
        (["py", "-", "arg"], ["py", "-", "arg"]),
    ],
)
def test_shim_puts_zrun_before_the_target_only(command: list[str], expected: list[str]) -> None:
    assert through_zrun(command) == expected


@pytest.mark.skipif(not has_module("test.test_cmd_line_script"), reason="this interpreter ships without CPython's test package")
def test_cpython_cmd_line_script_passes_through_zrun_but_for_documented_differences(tmp_path: Path) -> None:
    if subprocess.run([sys.executable, "-I", "-c", "import zrun"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip("zrun is not installed where `python -I` finds it (the test's interpreters ignore PYTHONPATH)")
    result = subprocess.run(
        [sys.executable, str(HERE / "cpython_cmdline.py")], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["ran"]) > 30
    assert report["through_zrun"] > 40, "the shim sent (almost) nothing through zrun"
    traces = "\n".join(report["details"].values())
    for test_id in MUST_PASS:
        assert test_id in report["ran"]
        assert test_id not in report["broken"], traces
        assert test_id not in report["skipped"]
    undocumented = set(report["broken"]) - set(DOCUMENTED)
    assert not undocumented, f"zrun differs from python, undocumented: {sorted(undocumented)}\n{traces}"
    compatibility = (HERE.parent / "docs" / "compatibility.md").read_text(encoding="utf-8")
    for test_id in report["broken"]:
        assert DOCUMENTED[test_id] in compatibility, test_id
