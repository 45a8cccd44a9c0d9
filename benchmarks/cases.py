"""The cases and their commands, for one interpreter.

Every command runs in a clean environment (no ``PYTHON*``, ``ZRUN_*``,
``SHIV_*`` or ``PEX_*`` from the caller), with shiv's, pex's and zrun's caches
pointed into the work directory. zrun is this checkout's ``src/`` through
``PYTHONPATH``, so the suite measures the tree it sits in on any interpreter,
installed or not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple, Union

from .fixtures import ROOT, Bulk, Fixtures
from .measure import Command

SRC = ROOT / "src"
RUN_MODULE = Path(__file__).resolve().parent / "launchers" / "run_module.py"
COLD = ("ZRUN_CACHE_DIR",)  # an empty zrun cache for every run
_CALLER_PREFIXES = ("PYTHON", "ZRUN_", "SHIV_", "PEX_", "__PYVENV")


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    commands: List[Command]
    baselines: Tuple[str, ...]  # keys of the commands the time ratios are taken against, one column each
    rss_baseline: str  # key of the command the memory ratios are taken against
    runs: int
    warmup: int = 1  # rounds before the timed ones: fill the OS cache, __pycache__, shiv/pex/zrun caches
    series: str = ""  # for a point of a scaling series: "entries" or "modules"
    size: int = 0  # and its size


@dataclass(frozen=True)
class Apps:
    """The built apps, or why each one is missing (a string instead of a path)."""

    shiv: Union[Path, str]
    pex: Union[Path, str]
    pex_venv: Union[Path, str]
    runner_pyz: Union[Path, str]


@dataclass(frozen=True)
class Runs:
    hello: int
    packaged: int
    bulk: int
    scale: int  # every point of the scaling series
    rss: int  # rounds through GNU time, after the timed ones


def clean_environment(work: Path) -> Dict[str, str]:
    """The caller's environment without what changes how Python, zrun, shiv or pex start."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_CALLER_PREFIXES)}
    env.update(SHIV_ROOT=str(work / "shiv-root"), PEX_ROOT=str(work / "pex-root"))
    return env


def cases(python: Path, fixtures: Fixtures, apps: Apps, runs: Runs, work: Path) -> List[Case]:
    """The hello, first-run, 2,000-module and scaling cases for ``python``; ``work`` is this interpreter's folder."""
    base = clean_environment(work)
    warm_cache = str(work / "zrun-cache")
    zrun_env = dict(base, PYTHONPATH=str(SRC), ZRUN_CACHE_DIR=warm_cache)
    py = str(python)
    empty = fixtures.empty

    def command(key: str, label: str, argv: List[str], env: Dict[str, str], cwd: Path = empty, expect: str = "hello",
                fresh: Tuple[str, ...] = ()) -> Command:
        return Command(key, label, argv, env, cwd, expect, fresh)

    def app(key: str, label: str, built: Union[Path, str], env: Dict[str, str], *args: str, fresh: Tuple[str, ...] = ()) -> Command:
        """Run a built app; a string instead of a path says why it was not built, and the row is skipped."""
        if isinstance(built, str):
            return Command(key, label, [], env, empty, "hello", skip=built)
        return command(key, label, [py, str(built), *args], env, fresh=fresh)

    def on_path(entry: Path) -> Dict[str, str]:
        return dict(base, PYTHONPATH=str(entry))

    pyz_env = dict(base, ZRUN_CACHE_DIR=warm_cache)
    hello_zip, m_hello = fixtures.hello_zip, [py, "-m", "hello"]
    hello = [
        command("pass", "`python -c pass`", [py, "-c", "pass"], base, expect=""),
        command("dir", "`python -m hello` (directory, warm `__pycache__`)", m_hello, base, cwd=fixtures.hello_dir),
        command("zipimport", "zipimport: `PYTHONPATH=hello.zip python -m hello`", m_hello, on_path(hello_zip)),
        command("runpy", "`runpy.run_module('hello')`, hello.zip on `PYTHONPATH`", [py, str(RUN_MODULE), "hello"], on_path(hello_zip)),
        command("zrun", "`python -m zrun hello.zip:hello`", [py, "-m", "zrun", f"{hello_zip}:hello"], zrun_env),
        command("zipapp", "stdlib zipapp: `python hello.pyz`", [py, str(fixtures.hello_zipapp)], base),
        app("shiv", "shiv app, later runs", apps.shiv, base),
        app("pyz", "`python runner.pyz hello.zip:hello`, later runs", apps.runner_pyz, pyz_env, f"{hello_zip}:hello"),
    ]
    # First runs and pex take 0.2-3 s each: a case of their own, with fewer rounds, so the
    # fine-grained hello rows above can have many.
    packaged = [
        command("pass", "`python -c pass`", [py, "-c", "pass"], base, expect=""),
        app("shiv_first", "shiv app, first run (empty `SHIV_ROOT`)", apps.shiv, base, fresh=("SHIV_ROOT",)),
        app("pyz_first", "`python runner.pyz hello.zip:hello`, first run (empty shiv and zrun caches)", apps.runner_pyz, pyz_env,
            f"{hello_zip}:hello", fresh=("SHIV_ROOT", "ZRUN_CACHE_DIR")),
        app("pex", "pex app, later runs", apps.pex, base),
        app("pex_venv", "pex `--venv` app, later runs", apps.pex_venv, base),
    ]
    def bulk_commands(bulk: Bulk, *, off: bool) -> List[Command]:
        count = str(bulk.count)
        imported = f"imported {count}"
        m_bulk, zrun_bulk = [py, "-m", "bulk", count], [py, "-m", "zrun", f"{bulk.zip}:bulk", count]
        listed = [
            command("dir", "directory, warm `__pycache__`: `python -m bulk`", m_bulk, base, cwd=bulk.dir, expect=imported),
            command("zipimport", "zipimport: `PYTHONPATH=bulk.zip python -m bulk`", m_bulk, on_path(bulk.zip), expect=imported),
            command("zrun_cold", "`python -m zrun bulk.zip:bulk`, cold cache", zrun_bulk, zrun_env, expect=imported, fresh=COLD),
            command("zrun_warm", "`python -m zrun bulk.zip:bulk`, warm cache", zrun_bulk, zrun_env, expect=imported),
        ]
        if off:
            listed.append(command("zrun_off", "`python -m zrun bulk.zip:bulk`, cache off (`ZRUN_NO_CACHE=1`)", zrun_bulk,
                                  dict(zrun_env, ZRUN_NO_CACHE="1"), expect=imported))
        return listed

    def entries_commands(archive: Path) -> List[Command]:
        zrun_big = [py, "-m", "zrun", f"{archive}:hello"]
        return [
            command("pass", "`python -c pass`", [py, "-c", "pass"], base, expect=""),
            Command("zipimport", "zipimport: `PYTHONPATH=big.zip python -m hello`", m_hello, on_path(archive), empty, "hello",
                    known_failure="expected before 3.13 past 65,535 entries: its zipimport cannot read ZIP64 archives"),
            command("zrun_first", "`python -m zrun big.zip:hello`, first run (empty cache)", zrun_big, zrun_env, fresh=COLD),
            command("zrun_second", "`python -m zrun big.zip:hello`, second and later runs", zrun_big, zrun_env),
        ]

    modules = f"{fixtures.sizes.modules:,}"
    listed = [
        Case("hello", "Hello-world start-up", hello, baselines=("pass", "zipimport"), rss_baseline="dir", runs=runs.hello, warmup=2),
        Case("packaged", "Hello-world start-up: first runs and pex", packaged, baselines=("pass",), rss_baseline="pass",
             runs=runs.packaged),
        Case("bulk", f"Importing {modules} source modules (80 lines each)", bulk_commands(fixtures.bulk, off=True),
             baselines=("dir", "zipimport"), rss_baseline="dir", runs=runs.bulk),
        Case("small", f"Importing {modules} small source modules (~20 lines each)", bulk_commands(fixtures.small, off=True),
             baselines=("dir", "zipimport"), rss_baseline="dir", runs=runs.bulk),
    ]
    for index, (count, archive) in enumerate(fixtures.entries):
        listed.append(Case(f"entries-{index}", f"Scaling: one import from a {count:,}-entry archive", entries_commands(archive),
                           baselines=("zipimport", "pass"), rss_baseline="pass", runs=runs.scale, series="entries", size=count))
    for index, bulk in enumerate(fixtures.modules):
        listed.append(Case(f"modules-{index}", f"Scaling: importing {bulk.count:,} modules (80 lines each)",
                           bulk_commands(bulk, off=False), baselines=("dir", "zipimport"), rss_baseline="dir", runs=runs.scale,
                           series="modules", size=bulk.count))
    return listed
