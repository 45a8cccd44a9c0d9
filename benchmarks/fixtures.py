"""The suite's own fixtures, written fresh into a work directory.

Everything is made from the real modules in ``payload/`` (copied, never
generated from strings) and by the tools that own each format: ``zipfile``,
the stdlib ``zipapp``, shiv, pex, and ``build_scripts/build_pyz.py``; the
archives of the entries scaling series (up to 1,000,000 members, 110 MB) by
the streaming writer in ``zipwriter.py``, once per run of the suite.
"""

from __future__ import annotations

import shutil
import subprocess
import zipapp
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from .places import Place, wrap
from .zipwriter import write_stored

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAYLOAD = HERE / "payload"
BUILD_PYZ = ROOT / "build_scripts" / "build_pyz.py"


@dataclass(frozen=True)
class Sizes:
    """How big the generated fixtures are."""

    modules: int  # generated modules in the two bulk packages (80-line and ~20-line modules)
    entries_scale: Tuple[int, ...]  # entries of each archive of the entries scaling series, hello/ included
    modules_scale: Tuple[int, ...]  # modules of each package of the modules scaling series


FULL = Sizes(modules=2000, entries_scale=(1_000, 10_000, 100_000, 1_000_000), modules_scale=(10, 100, 1_000, 10_000))
QUICK = Sizes(modules=12, entries_scale=(40, 80, 160, 320), modules_scale=(2, 4, 8, 16))


@dataclass(frozen=True)
class Bulk:
    """A ``bulk`` package of ``count`` generated modules, as a directory (holding ``bulk/``) and as a zip."""

    count: int
    dir: Path
    zip: Path


@dataclass(frozen=True)
class Fixtures:
    """Paths of everything the cases run; the same for every interpreter, found from ``work`` and the sizes alone."""

    sizes: Sizes
    empty: Path  # a working directory in which no fixture can be imported by accident
    hello_dir: Path  # holds hello/ (``python -m hello`` runs here)
    hello_zip: Path
    hello_zipapp: Path
    bulk: Bulk  # copies of payload/bulk_module.py (80 lines)
    small: Bulk  # copies of payload/small_module.py (~20 lines)
    entries: Tuple[Tuple[int, Path], ...]  # (entries, archive): hello/ and filler members
    modules: Tuple[Bulk, ...]  # the modules scaling series


def locate(work: Path, sizes: Sizes) -> Fixtures:
    """Where :func:`build` puts everything, without building it (a measuring session finds the fixtures so)."""
    def bulk(name: str, count: int) -> Bulk:
        return Bulk(count, work / f"{name}-dir", work / f"{name}.zip")

    return Fixtures(
        sizes,
        empty=work / "empty",
        hello_dir=work / "hello-dir",
        hello_zip=work / "hello.zip",
        hello_zipapp=work / "hello-zipapp.pyz",
        bulk=bulk("bulk", sizes.modules),
        small=bulk("small", sizes.modules),
        entries=tuple((count, work / f"entries-{count}.zip") for count in sizes.entries_scale),
        modules=tuple(bulk(f"modules-{count}", count) for count in sizes.modules_scale),
    )


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


def write_bulk(bulk: Bulk, module: str) -> Bulk:
    """``bulk.dir/bulk/``: the payload package plus ``bulk.count`` copies of ``payload/<module>``; and its zip."""
    package = copy_package("bulk", bulk.dir)
    body = (PAYLOAD / module).read_bytes()
    for index in range(bulk.count):
        (package / f"{module_name(index)}.py").write_bytes(body)
    zip_tree(bulk.dir, bulk.zip)
    return bulk


def filler_members(hello_root: Path, entries: int) -> Iterator[Tuple[str, bytes]]:
    """The hello package, then empty filler members: ``entries`` members in all."""
    hello = sorted((hello_root / "hello").glob("*.py"))
    for path in hello:
        yield path.relative_to(hello_root).as_posix(), path.read_bytes()
    for index in range(entries - len(hello)):
        yield f"filler/{index // 1000:03d}/{index:06d}.txt", b""


def write_entries_zip(hello_root: Path, output: Path, entries: int) -> Path:
    """A stored archive of ``entries`` members; ZIP64 past 65,535 (what zipimport before 3.13 cannot read)."""
    with open(output, "wb") as stream:
        write_stored(stream, filler_members(hello_root, entries))
    return output


def build(work: Path, sizes: Sizes) -> Fixtures:
    """Write every interpreter-independent fixture under ``work``."""
    built = locate(work, sizes)
    built.empty.mkdir(parents=True)
    copy_package("hello", built.hello_dir)
    zip_tree(built.hello_dir, built.hello_zip)
    zipapp.create_archive(built.hello_dir, built.hello_zipapp, main="hello:main")
    write_bulk(built.bulk, "bulk_module.py")
    write_bulk(built.small, "small_module.py")
    for count, path in built.entries:
        write_entries_zip(built.hello_dir, path, count)
    for bulk in built.modules:
        write_bulk(bulk, "bulk_module.py")
    return built


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


def build_shiv_app(place: Place, python: Path, fixtures: Fixtures, output: Path) -> Path:
    """A plain shiv app whose entry point is ``hello:main``: what runner.pyz is compared with."""
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [str(python), "-m", "shiv", "--site-packages", str(fixtures.hello_dir), "--reproducible", "-e", "hello:main"]
    run_tool(wrap(place, [*command, "-o", str(output)]))
    return output


def build_pex_app(place: Place, python: Path, fixtures: Fixtures, output: Path, *, venv: bool = False) -> Path:
    """A pex app of the hello package, entry point ``hello:main``; ``venv`` adds pex's ``--venv`` mode."""
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [str(python), "-m", "pex", "-D", str(fixtures.hello_dir), "-e", "hello:main", "-o", str(output)]
    run_tool(wrap(place, [*command, "--venv"] if venv else command))
    return output


def build_runner_pyz(place: Place, python: Path, output: Path) -> Path:
    """runner.pyz as the project builds it: ``build_scripts/build_pyz.py`` run by ``python`` (which needs shiv)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    run_tool(wrap(place, [str(python), str(BUILD_PYZ), "-o", str(output)]))
    return output
