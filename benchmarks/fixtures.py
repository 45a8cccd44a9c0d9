"""The suite's own fixtures, written fresh into a work directory.

Everything is made from the real modules in ``payload/`` (copied, never
generated from strings) and by the tools that own each format: ``zipfile``,
the stdlib ``zipapp``, shiv, pex, and ``build_scripts/build_pyz.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import zipapp
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAYLOAD = HERE / "payload"
BUILD_PYZ = ROOT / "build_scripts" / "build_pyz.py"


@dataclass(frozen=True)
class Sizes:
    """How big the generated fixtures are."""

    modules: int  # generated modules in the bulk package
    entries: int  # entries in the big archive, its two hello modules included


FULL = Sizes(modules=2000, entries=100_000)
QUICK = Sizes(modules=20, entries=500)


@dataclass(frozen=True)
class Fixtures:
    """Paths of everything the cases run; the same for every interpreter."""

    sizes: Sizes
    empty: Path  # a working directory in which no fixture can be imported by accident
    hello_dir: Path  # holds hello/ (``python -m hello`` runs here)
    hello_zip: Path
    hello_zipapp: Path
    bulk_dir: Path  # holds bulk/ with the generated modules
    bulk_zip: Path
    big_zip: Path  # hello/ and ``entries - 2`` filler members


def module_name(index: int) -> str:
    """Name of the ``index``-th generated module (``payload/bulk/__main__.py`` spells it too)."""
    return f"m{index:05d}"


def copy_package(name: str, dest: Path) -> Path:
    """Copy ``payload/<name>/`` (sources only) into ``dest``."""
    return Path(shutil.copytree(PAYLOAD / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")))


def zip_tree(root: Path, output: Path) -> Path:
    """A source-only zip of the files under ``root``, as a packager writes it (deflated, sorted)."""
    files = sorted(path for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    return output


def write_bulk(dest: Path, count: int) -> Path:
    """``dest/bulk/``: the payload package plus ``count`` copies of ``payload/bulk_module.py``."""
    package = copy_package("bulk", dest)
    body = (PAYLOAD / "bulk_module.py").read_bytes()
    for index in range(count):
        (package / f"{module_name(index)}.py").write_bytes(body)
    return package


def write_big_zip(hello_root: Path, output: Path, entries: int) -> Path:
    """The hello package plus empty stored filler members, ``entries`` members in all.

    zipfile switches to ZIP64 by itself past 65,535 entries, which is what
    zipimport before 3.13 cannot read.
    """
    hello = sorted(path for path in (hello_root / "hello").glob("*.py"))
    with zipfile.ZipFile(output, "w", zipfile.ZIP_STORED) as archive:
        for path in hello:
            archive.write(path, path.relative_to(hello_root).as_posix())
        for index in range(entries - len(hello)):
            archive.writestr(f"filler/{index // 1000:03d}/{index:06d}.txt", b"")
    return output


def build(work: Path, sizes: Sizes) -> Fixtures:
    """Write every interpreter-independent fixture under ``work``."""
    empty = work / "empty"
    empty.mkdir(parents=True)
    hello_dir = work / "hello-dir"
    copy_package("hello", hello_dir)
    hello_zip = zip_tree(hello_dir, work / "hello.zip")
    hello_zipapp = work / "hello-zipapp.pyz"
    zipapp.create_archive(hello_dir, hello_zipapp, main="hello:main")
    bulk_dir = work / "bulk-dir"
    write_bulk(bulk_dir, sizes.modules)
    bulk_zip = zip_tree(bulk_dir, work / "bulk.zip")
    big_zip = write_big_zip(hello_dir, work / "big.zip", sizes.entries)
    return Fixtures(sizes, empty, hello_dir, hello_zip, hello_zipapp, bulk_dir, bulk_zip, big_zip)


class ToolError(Exception):
    """A build step failed; ``str()`` is one line for the report, ``output`` the whole story for the log."""

    def __init__(self, command: List[str], returncode: int, output: str) -> None:
        lines = [line for line in output.strip().splitlines() if line.strip()]
        super().__init__(f"`{Path(command[0]).name} {' '.join(command[1:3])}` failed (exit {returncode}): {lines[-1] if lines else ''}")
        self.output = output


def run_tool(command: List[str], env: Optional[Dict[str, str]] = None) -> str:
    """Run a build step and return its output; raise :class:`ToolError` if it fails."""
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise ToolError(command, result.returncode, result.stdout)
    return result.stdout


def build_shiv_app(python: Path, fixtures: Fixtures, output: Path) -> Path:
    """A plain shiv app whose entry point is ``hello:main``: what runner.pyz is compared with."""
    command = [str(python), "-m", "shiv", "--site-packages", str(fixtures.hello_dir), "--reproducible", "-e", "hello:main"]
    run_tool([*command, "-o", str(output)])
    return output


def build_pex_app(python: Path, fixtures: Fixtures, output: Path, *, venv: bool = False) -> Path:
    """A pex app of the hello package, entry point ``hello:main``; ``venv`` adds pex's ``--venv`` mode."""
    command = [str(python), "-m", "pex", "-D", str(fixtures.hello_dir), "-e", "hello:main", "-o", str(output)]
    run_tool([*command, "--venv"] if venv else command)
    return output


def build_runner_pyz(python: Path, output: Path) -> Path:
    """runner.pyz as the project builds it: ``build_scripts/build_pyz.py`` run by ``python`` (which needs shiv)."""
    run_tool([str(python), str(BUILD_PYZ), "-o", str(output)])
    return output
