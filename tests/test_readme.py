"""The README's "Command line" and "Plugin hosts" commands, run as written, print what the README says.

Each command runs in a copy of ``examples/`` (never the checkout's), with
``.venv/bin/python`` standing for this interpreter and ``/tmp/`` for a test
folder; a fresh ``HOME`` makes ``~/.cache/zrun`` the cache, as on a new machine.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from zrun.settings import variables

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    return README[start : README.index("\n## ", start + 1)]


def blocks(text: str) -> List[str]:
    return re.findall(r"```(?:sh)?\n(.*?)```", text, re.S)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("hello.pyz", "build", "*.egg-info", "__pycache__")
    )
    (tmp_path / "home").mkdir()
    return tmp_path


def environment(workdir: Path) -> Dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ZRUN_", "XDG_")) and k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    return {**env, "HOME": str(workdir / "home")}


def run(command: str, workdir: Path) -> str:
    """One README line: ``.venv/bin/python`` is this interpreter, ``/tmp/`` the test folder."""
    words = [sys.executable if word == ".venv/bin/python" else word.replace("/tmp/", f"{workdir}/") for word in shlex.split(command)]
    result = subprocess.run(words, cwd=workdir, env=environment(workdir), capture_output=True, text=True, timeout=300)
    return result.stdout + result.stderr


def test_plugin_host_command_prints_what_the_readme_shows(workdir: Path) -> None:
    command, shown = blocks(section("Plugin hosts"))
    (line,) = command.strip().splitlines()
    out = "".join(run(part, workdir) for part in line.split(" && "))
    assert out == shown.replace("/tmp/", f"{workdir}/")


def test_console_script_commands(workdir: Path) -> None:
    block = next(block for block in blocks(section("Command line")) if "pip wheel" in block)
    build, *runs = block.strip().splitlines()
    out = run(build, workdir)
    if not list((workdir / "wheels").glob("*.whl")):
        pytest.skip(f"pip wheel cannot build here: {out[-300:]}")
    for line in runs:
        command, _, expected = line.partition("# ")
        assert run(command, workdir) == expected.strip() + "\n"


def test_info_and_error_examples(workdir: Path) -> None:
    run(".venv/bin/python examples/build_example.py", workdir)  # as the README does: .venv/bin/python is this interpreter
    run(".venv/bin/python -m zrun examples/hello.pyz:hello.greet World", workdir)  # the README's first command
    for block in blocks(section("Command line")):
        if block.startswith("$ "):
            command, _, shown = block.partition("\n")
            assert run(command[2:], workdir) == shown


def test_environment_table_is_the_settings() -> None:
    rows = re.findall(r"^\| `(ZRUN_[A-Z_]+)=([^`]*)` \| (.*) \|$", section("Command line"), re.M)
    assert [(name, f"{value}: {text}") for name, value, text in rows] == [(name, doc.splitlines()[0]) for name, doc in variables()]
