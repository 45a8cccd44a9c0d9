"""A wheel's console scripts, run by name as the programs ``pip install`` writes: ``zrun tool.whl``, ``--script NAME``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

from conftest import Launcher, expect_ok
from wheels import tool_wheels

__all__ = ["tool_wheels"]  # the fixture, imported for pytest


def seen(result: subprocess.CompletedProcess[str], code: int = 3) -> Dict[str, Any]:
    return json.loads(expect_ok(result, code))  # type: ignore[no-any-return]


def test_only_console_script_of_a_wheel(zrun_cli: Launcher, tool_wheels: Dict[str, Path], tmp_path: Path) -> None:
    """``zrun tool.whl`` is the ``tool`` program pip would install: argv[0] its name, exit status main()'s value."""
    result = zrun_cli(str(tool_wheels["onetool"]), "a", "--flag", cwd=tmp_path)
    assert seen(result) == {"argv": ["onetool", "a", "--flag"], "main": "__main__", "module": "onetool.cli"}


def test_like_the_program_pip_installs(zrun_cli: Launcher, tool_wheels: Dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "target"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", "--target", str(target)]
    subprocess.run([*pip, str(tool_wheels["onetool"])], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    theirs = subprocess.run([sys.executable, str(target / "bin" / "onetool"), "x"], capture_output=True, text=True, env=env, timeout=60)
    expected = seen(theirs)
    expected["argv"][0] = os.path.basename(expected["argv"][0])
    assert seen(zrun_cli(str(tool_wheels["onetool"]), "x", cwd=tmp_path)) == expected
    # the installed folder, with its *.dist-info, works as well
    assert seen(zrun_cli("--script", "onetool", f"{target}{os.sep}", "x", cwd=tmp_path)) == expected


def test_named_script_of_several(zrun_cli: Launcher, tool_wheels: Dict[str, Path], tmp_path: Path) -> None:
    wheel = str(tool_wheels["twotool"])
    assert seen(zrun_cli("--script", "twotool", wheel, "y", cwd=tmp_path))["argv"] == ["twotool", "y"]
    shout = zrun_cli("--script=twotool-shout", wheel, "--help", cwd=tmp_path)
    assert (shout.returncode, shout.stdout, shout.stderr) == (0, "SHOUT ['--help']\n", "")


def test_several_scripts_need_a_name(zrun_cli: Launcher, tool_wheels: Dict[str, Path], tmp_path: Path) -> None:
    wheel = str(tool_wheels["twotool"])
    result = zrun_cli(wheel, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"zrun: error: {wheel!r} has no __main__ and 2 console scripts; choose one with --script NAME: twotool, twotool-shout\n"
    )


def test_unknown_script(zrun_cli: Launcher, tool_wheels: Dict[str, Path], tmp_path: Path) -> None:
    wheel = str(tool_wheels["twotool"])
    result = zrun_cli("--script", "twotol", wheel, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        f"zrun: error: {wheel!r} has no console script 'twotol'; did you mean twotool? (it has twotool, twotool-shout)\n",
    )
    # another entry-point group is no console script
    assert zrun_cli("--script", "extra", wheel, cwd=tmp_path).returncode == 1


def test_script_needs_a_location(zrun_cli: Launcher, tool_wheels: Dict[str, Path], tmp_path: Path) -> None:
    result = zrun_cli("--script", "x", f"{tool_wheels['onetool']}:onetool.cli", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"zrun: error: --script x needs an archive, wheel or directory as TARGET, not '{tool_wheels['onetool']}:onetool.cli'"
    )


def test_modules_of_a_wheel_still_run_by_name(zrun_cli: Launcher, tool_wheels: Dict[str, Path], tmp_path: Path) -> None:
    result = zrun_cli(f"{tool_wheels['twotool']}:twotool.cli:shout", "z", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "SHOUT ['z']\n"), result.stderr


def test_script_of_a_missing_wheel(zrun_cli: Launcher, tmp_path: Path) -> None:
    """As python for a missing file: its message and exit status 2."""
    result = zrun_cli("--script", "tool", "gone.whl", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        f"zrun: error: can't open file {str(tmp_path / 'gone.whl')!r}: [Errno 2] No such file or directory\n",
    )
