"""The venvs and apps of each place: a clean venv per interpreter, shiv and pex, the hello apps, runner.pyz.

Each place (this machine, the chroot) gets its own: a venv made on this
machine does not run inside the chroot, nor one made inside it here.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Union

from . import fixtures
from .cases import Apps
from .measure import gnu_time
from .places import Place, Sid, wrap
from .results import Interpreter

PEER_PACKAGES = ("shiv>=1.0.4,<1.1", "pex")
PLOT_PACKAGES = ("matplotlib",)


def log(message: str) -> None:
    print(f"benchmarks: {message}", file=sys.stderr, flush=True)


def clean_venv(place: Place, interpreter: Interpreter, location: Path) -> Interpreter:
    """``interpreter`` through a venv of its own without pip: none of the base install's ``site-packages``.

    What a base install's ``site-packages`` holds is noise here: one ``.pth``
    file that imports a package costs every command of the suite tens of
    milliseconds at start-up, zrun and its peers alike.
    """
    fixtures.run_tool(wrap(place, [interpreter.executable, "-m", "venv", "--without-pip", str(location)]))
    return dataclasses.replace(interpreter, executable=str(location / "bin" / "python"), base=interpreter.executable)


def make_venv(place: Place, python: Path, location: Path, packages: Sequence[str]) -> Path:
    """A throwaway venv in ``place`` made by ``python``, with ``packages`` from the package index; its python."""
    log(f"creating a throwaway venv in {location} with {', '.join(packages)} (pip, from the package index)")
    fixtures.run_tool(wrap(place, [str(python), "-m", "venv", str(location)]))
    venv_python = location / "bin" / "python"
    fixtures.run_tool(wrap(place, [str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages]))
    return venv_python


def versions(place: Place, python: Path, names: Sequence[str]) -> str:
    """``shiv 1.0.8, pex 2.1`` as pip lists them in the venv of ``python``."""
    listed = json.loads(fixtures.run_tool(wrap(place, [str(python), "-m", "pip", "list", "--format=json",
                                                       "--disable-pip-version-check"])))
    found = {item["name"].lower(): item["version"] for item in listed}
    return ", ".join(f"{name} {found.get(name, '?')}" for name in names)


def build(what: str, step: Callable[[], Path]) -> Union[Path, str]:
    """Run a build step; if it fails, log why and return the reason its rows are not run."""
    try:
        return step()
    except fixtures.ToolError as exc:
        log(f"{what}: {exc}\n{exc.output}")
        return f"its build failed: {exc}"


def build_apps(place: Place, work: Path, built: fixtures.Fixtures, peers_python: Union[Path, str], pyz: Optional[Path]) -> Apps:
    """The shiv and pex hello apps and runner.pyz (unless given) for interpreters in ``place``, or why each is missing."""
    if isinstance(peers_python, str):
        missing: Union[Path, str] = peers_python
        return Apps(shiv=missing, pex=missing, pex_venv=missing, runner_pyz=pyz.resolve() if pyz else missing)
    py = peers_python
    log(f"building the shiv and pex hello apps and runner.pyz with {py}")
    return Apps(
        shiv=build("shiv app", lambda: fixtures.build_shiv_app(place, py, built, work / "hello-shiv.pyz")),
        pex=build("pex app", lambda: fixtures.build_pex_app(place, py, built, work / "hello.pex")),
        pex_venv=build("pex --venv app", lambda: fixtures.build_pex_app(place, py, built, work / "hello-venv.pex", venv=True)),
        runner_pyz=pyz.resolve() if pyz else build("runner.pyz", lambda: fixtures.build_runner_pyz(place, py,
                                                                                                              work / "runner.pyz")),
    )


def rss_tools(work: Path, places: Sequence[Place]) -> List[str]:
    """GNU time for every place: the chroot has none, so the host's (it needs only libc) is copied under ``work``."""
    host = gnu_time()
    if host is None:
        log("GNU time not found (Debian: apt-get install time): peak RSS not measured")
        return []
    if not any(isinstance(place, Sid) for place in places):
        return [host]
    (work / "tools").mkdir(exist_ok=True)
    return [host, str(shutil.copy2(host, work / "tools" / "time"))]


def peers_for(place: Place, python: Path, work: Path, wanted: bool = True) -> Union[Path, str]:
    """The python of ``place``'s peers venv (shiv and pex), or why there is none."""
    if not wanted:
        return "--no-peers"
    try:
        return make_venv(place, python, work / f"peers-{type(place).__name__.lower()}", PEER_PACKAGES)
    except fixtures.ToolError as exc:
        log(f"no peers in {type(place).__name__}: {exc}\n{exc.output}")
        return f"its peers venv failed: {exc}"


