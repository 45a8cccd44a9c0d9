"""Build ``runner.pyz``: zrun's command line as one file, packed by shiv.

    python build_scripts/build_pyz.py [-o dist/runner.pyz] [--python SHEBANG]

Runs on any CPython 3.9-3.15 and builds one archive for all of them: zrun is
pure Python, and what only 3.9 needs (the ``importlib_resources`` backport
zrun depends on there) ships in a directory of its own at the archive's top,
outside the ``site-packages`` that shiv extracts, which ``zrun.pyz`` puts on
``sys.path`` (imported from the archive by zipimport) on 3.9 only; newer
interpreters see what a ``pip install`` would give them and extract nothing
they never run.

The steps, each done by the tool that owns it:

1. pip installs this project (``src/zrun``, built by setuptools from a copy of
   the tree, so no ``build/`` is left behind) into a staging ``site-packages``,
   and the 3.9 backports, at the exact versions and hashes in
   ``pyz-backports.txt``, into a ``zrun-backports-py39`` directory beside it.
2. What pip wrote that depends on the machine is dropped: ``bin/zrun`` (its
   shebang names the building interpreter; the archive calls the entry point
   directly) and ``direct_url.json`` (it records the temporary path), with
   their ``RECORD`` lines, and the backports' own test suites; file modes are
   normalised to 0644/0755.
3. ``shiv --site-packages <staging> --reproducible -e zrun.pyz:main``
   writes the archive, with every timestamp set to ``SOURCE_DATE_EPOCH`` or,
   when that is unset, the date of the checked-out commit.
4. Its ``__main__.py`` is replaced by ``pyz_main.py``: a fast path for later
   runs that starts zrun from the existing extraction without shiv's
   bootstrap (checked against ``environment.json`` here, see
   :func:`check_fast_path`), else shiv's bootstrap call, plus one usable line
   (set ``SHIV_ROOT``) when extraction is impossible. It and
   ``environment.json`` are stored uncompressed: every run reads them. The
   backports are added under ``zrun-backports-py39/``, dated and deflated as
   shiv does its entries.

The setuptools that pip builds zrun's wheel with is pinned in
``pyz-constraints.txt``, since its version is written into the archive. Two
builds of the same tree are therefore byte-identical, whichever of 3.9-3.13
ran them, and so is the shiv build id (a hash of the staged files), which
names the cache directory ``$SHIV_ROOT/runner.pyz_<build id>`` (``~/.shiv``
by default) that the archive extracts itself to on its first run.

Bytecode: shiv never puts ``*.pyc`` in an archive (it would suit one
interpreter only, and the build would depend on the one building it). No
``--compile-pyc`` either: compiling all of ``site-packages`` (3.9's backports
included) in a process pool tripled the first run. Each interpreter writes
``cpython-3X`` files for the modules it imports, as after a pip install;
``SHIV_COMPILE_PYC=1`` at the first run still compiles everything.
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
from types import ModuleType
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "dist" / "runner.pyz"
DEFAULT_SHEBANG = "/usr/bin/env python3"
# shiv's bootstrap calls this and exits with its return value, which is the target's exit status.
# It clears what the bootstrap leaves behind before handing over to zrun.cli.main:main.
ENTRY_POINT = "zrun.pyz:main"
BACKPORTS_REQUIREMENTS = Path(__file__).resolve().parent / "pyz-backports.txt"
BUILD_CONSTRAINTS = Path(__file__).resolve().parent / "pyz-constraints.txt"
# The archive's __main__.py: shiv's bootstrap plus a usable error when it cannot extract (see the file).
MAIN_PY = Path(__file__).resolve().parent / "pyz_main.py"
# How shiv's archive is finished: the fast path's checks, __main__.py swapped, the backports added.
FINISH_PY = Path(__file__).resolve().parent / "pyz_finish.py"
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
    """``pip install --target``: the project as pip installs it, without its dependencies (see :func:`pip_install_backports`)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-deps", "--no-compile", "--no-warn-script-location", "--target", str(target), str(project)]
    run_step("pip install", command, pip_environment())


def pip_install_backports(target: Path) -> None:
    """Install what zrun needs on 3.9 into ``target``, whatever the building interpreter."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--no-deps"]
    command += ["--only-binary=:all:", "--python-version", "3.9", "--require-hashes", "--target", str(target)]
    command += ["--requirement", str(BACKPORTS_REQUIREMENTS)]
    run_step("pip install (3.9 backports)", command, pip_environment())


def pip_environment() -> Dict[str, str]:
    """pip's settings, with the build backend pinned in pip's isolated build environment, for old and new pips."""
    env = dict(os.environ)
    env.pop("PIP_REQUIRE_VIRTUALENV", None)  # --target is not an environment; shiv does the same
    env["PIP_CONSTRAINT"] = str(BUILD_CONSTRAINTS)
    env["PIP_BUILD_CONSTRAINT"] = str(BUILD_CONSTRAINTS)  # pip >= 25.3 no longer applies PIP_CONSTRAINT there
    return env


def load(path: Path, name: str) -> ModuleType:
    """The module in ``path``, loaded without ``sys.path`` (this script is run, and loaded by the tests, from anywhere)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def backports_directory(root: Path) -> str:
    """``zrun.pyz.BACKPORTS`` of the tree being built, which ``zrun.pyz`` adds to ``sys.path`` on 3.9."""
    name: str = load(root / "src" / "zrun" / "pyz.py", "_zrun_pyz_layout").BACKPORTS
    return name


def prune(site_packages: Path, backports: Path) -> None:
    """Drop what depends on the building machine and normalise file modes (see module docstring).

    The backports' own test suites go too: never imported, and half the archive.
    """
    shutil.rmtree(site_packages / "bin", ignore_errors=True)
    for tests in sorted(backports.glob("*/tests")):
        shutil.rmtree(tests)
    for tree in (site_packages, backports):
        for dist_info in sorted(tree.rglob("*.dist-info")):
            (dist_info / "direct_url.json").unlink(missing_ok=True)
            record = dist_info / "RECORD"
            if record.is_file():
                lines = record.read_text(encoding="utf-8").splitlines()
                kept = [line for line in lines if _recorded_file_exists(dist_info.parent, line)]
                record.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        for path in tree.rglob("*"):
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
        backports = Path(work, backports_directory(root))  # not under site-packages: shiv must not extract it
        pip_install_backports(backports)
        prune(site_packages, backports)
        staged = Path(work, output.name)
        shiv(site_packages, staged, shebang, source_date_epoch(root))
        finish = load(FINISH_PY, "_zrun_pyz_finish")
        try:
            finish.check_fast_path(staged, ENTRY_POINT)
        except ValueError as exc:
            raise BuildError(str(exc)) from None
        finish.replace_main(staged, MAIN_PY.read_bytes(), backports)
        partial = output.with_name(f".{output.name}.partial")
        shutil.copy2(staged, partial)
        os.replace(partial, output)
    return output


def describe(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with zipfile.ZipFile(path) as archive:
        build_id = json.loads(archive.read("environment.json"))["build_id"]
    root = os.environ.get("SHIV_ROOT") or "~/.shiv"
    return f"{path}: {path.stat().st_size} bytes, sha256 {digest[:16]}, extracts to {root}/{path.name}_{build_id[:12]}..."


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build_pyz.py",
        description="Build runner.pyz, zrun's command line as one shiv zipapp for CPython 3.9-3.13.",
        epilog="Timestamps come from SOURCE_DATE_EPOCH, else the commit date: two builds of one tree are byte-identical.",
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=DEFAULT_OUTPUT, metavar="PATH", help="where to write the archive (default: dist/runner.pyz)"
    )
    parser.add_argument(
        "-p", "--python", default=DEFAULT_SHEBANG, metavar="SHEBANG", help="interpreter for the #! line (default: %(default)r)"
    )
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
