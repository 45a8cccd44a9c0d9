"""Real wheels, built by ``pip wheel`` from tiny projects, for the console-script and ``zrun info`` tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

CLI = """\
import json, sys


def main():
    print(json.dumps({"argv": sys.argv, "main": sys.modules["__main__"].__name__, "module": __name__}))
    return 3


def shout():
    print("SHOUT", sys.argv[1:])
"""

PROJECTS = {
    "onetool": '[project.scripts]\nonetool = "onetool.cli:main"\n',
    "twotool": '[project.scripts]\ntwotool = "twotool.cli:main"\ntwotool-shout = "twotool.cli:shout"\n'
    '[project.entry-points."twotool.plugins"]\nextra = "twotool.cli:shout"\n',
}


def write_project(root: Path, name: str, scripts: str) -> Path:
    (root / "src" / name).mkdir(parents=True)
    (root / "src" / name / "__init__.py").write_text("", encoding="utf-8")
    (root / "src" / name / "cli.py").write_text(CLI, encoding="utf-8")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n\n{scripts}',
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="session")
def tool_wheels(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """``{"onetool": one console script, "twotool": two, and another entry point}``, each a ``.whl``."""
    top = tmp_path_factory.mktemp("wheels")
    projects = [write_project(top / name, name, scripts) for name, scripts in PROJECTS.items()]
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check", "-w", str(top / "dist")]
    result = subprocess.run([*command, *map(str, projects)], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.skip(f"pip wheel cannot build here (no setuptools for the build environment?): {result.stderr.strip()[-300:]}")
    return {name: next((top / "dist").glob(f"{name}-1.0-*.whl")) for name in PROJECTS}
