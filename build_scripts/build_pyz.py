"""Build ``runner.pyz``: zrun's command line as one file, packed by shiv.

    python build_scripts/build_pyz.py [-o dist/runner.pyz] [--python SHEBANG]

Runs on any CPython 3.9-3.13 and builds one archive for all of them: zrun is
pure Python, and shiv keeps only sources (it skips ``*.pyc``), which each
interpreter compiles for itself on first use.

The steps, each done by the tool that owns it:

1. pip installs this project (``src/zrun``, built by setuptools from a copy of
   the tree, so no ``build/`` is left behind) into a staging ``site-packages``.
2. What pip wrote that depends on the machine is dropped: ``bin/zrun`` (its
   shebang names the building interpreter; the archive calls the entry point
   directly) and ``direct_url.json`` (it records the temporary path), with
   their ``RECORD`` lines; file modes are normalised to 0644/0755.
3. ``shiv --site-packages <staging> --reproducible -e zrun.cli:main`` writes
   the archive, with every timestamp set to ``SOURCE_DATE_EPOCH`` or, when
   that is unset, the date of the checked-out commit.

Two builds of the same tree are therefore byte-identical, and so is the shiv
build id (a hash of the staged files), which names the cache directory
``~/.shiv/runner.pyz_<build id>`` that the archive extracts itself to.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "dist" / "runner.pyz"
DEFAULT_SHEBANG = "/usr/bin/env python3"
# shiv's bootstrap calls this and exits with its return value, which is the target's exit status.
ENTRY_POINT = "zrun.cli:main"
# What setuptools needs from the tree; everything else (tests, docs, build/, *.egg-info) stays out.
PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in", "README.md", "LICENSE")


class BuildError(Exception):
    """A step of the build failed; the message says which and why."""


def source_date_epoch(root: Path = ROOT) -> Optional[str]:
    """``SOURCE_DATE_EPOCH`` if set, else the commit date of ``root``'s HEAD, else ``None``.

    ``None`` leaves the choice to shiv's ``--reproducible`` (1980-01-01).
    """
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return os.environ["SOURCE_DATE_EPOCH"]
    try:
        result = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%ct"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip() or None


def copy_project(root: Path, dest: Path) -> Path:
    """Copy what the build backend reads into ``dest`` (no caches, no stale ``build/``)."""
    for name in PROJECT_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, dest / name)
    shutil.copytree(root / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    return dest


def pip_install(project: Path, target: Path) -> None:
    """``pip install --target``: the project as pip installs it, without its (zero) dependencies."""
    env = dict(os.environ)
    env.pop("PIP_REQUIRE_VIRTUALENV", None)  # --target is not an environment; shiv does the same
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-deps", "--no-compile", "--no-warn-script-location", "--target", str(target), str(project)]
    run_step("pip install", command, env)


def prune(site_packages: Path) -> None:
    """Drop what depends on the building machine and normalise file modes (see module docstring)."""
    shutil.rmtree(site_packages / "bin", ignore_errors=True)
    for dist_info in site_packages.glob("*.dist-info"):
        (dist_info / "direct_url.json").unlink(missing_ok=True)
        record = dist_info / "RECORD"
        if record.is_file():
            kept = [line for line in record.read_text(encoding="utf-8").splitlines() if _recorded_file_exists(site_packages, line)]
            record.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    for path in site_packages.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _recorded_file_exists(site_packages: Path, line: str) -> bool:
    name = line.split(",", 1)[0]
    path = (site_packages / name).resolve()
    return path.is_file() and site_packages.resolve() in path.parents


def shiv(site_packages: Path, output: Path, shebang: str, epoch: Optional[str]) -> None:
    env = dict(os.environ)
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = epoch
    command = [sys.executable, "-m", "shiv", "--site-packages", str(site_packages), "--reproducible"]
    command += ["--entry-point", ENTRY_POINT, "--python", shebang, "--output-file", str(output)]
    run_step("shiv", command, env)


def run_step(name: str, command: List[str], env: Dict[str, str]) -> None:
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise BuildError(f"{name} failed (exit {result.returncode}):\n$ {' '.join(command)}\n{result.stdout}")


def require_shiv() -> None:
    if importlib.util.find_spec("shiv") is None:
        raise BuildError(f"shiv is not installed for {sys.executable}; install the build extra: pip install 'zrun[build]'")


def build(output: Path = DEFAULT_OUTPUT, *, shebang: str = DEFAULT_SHEBANG, root: Path = ROOT) -> Path:
    """Build the archive at ``output`` (replaced only once the build succeeded) and return its path."""
    require_shiv()
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zrun-pyz-") as work:
        project = Path(work, "project")
        project.mkdir()
        site_packages = Path(work, "site-packages")
        pip_install(copy_project(root, project), site_packages)
        prune(site_packages)
        staged = Path(work, output.name)
        shiv(site_packages, staged, shebang, source_date_epoch(root))
        partial = output.with_name(f".{output.name}.partial")
        shutil.copy2(staged, partial)
        os.replace(partial, output)
    return output


def describe(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with zipfile.ZipFile(path) as archive:
        build_id = json.loads(archive.read("environment.json"))["build_id"]
    return f"{path}: {path.stat().st_size} bytes, sha256 {digest[:16]}, shiv cache dir ~/.shiv/{path.name}_{build_id[:12]}..."


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build_pyz.py",
        description="Build runner.pyz, zrun's command line as one shiv zipapp for CPython 3.9-3.13.",
        epilog="Timestamps come from SOURCE_DATE_EPOCH, else the commit date: two builds of one tree are byte-identical.",
    )
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the archive (default: %(default)s)")
    parser.add_argument("-p", "--python", default=DEFAULT_SHEBANG, metavar="SHEBANG", help="interpreter for the #! line (default: %(default)r)")
    args = parser.parse_args(argv)
    try:
        path = build(args.output, shebang=args.python)
    except BuildError as exc:
        print(f"build_pyz.py: error: {exc}", file=sys.stderr)
        return 1
    print(describe(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
