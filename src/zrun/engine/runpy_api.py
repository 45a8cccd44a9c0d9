"""``run_module`` and ``run_path``: runpy's signatures and results, minus its bugs.

Switching is one import line. What differs on purpose (``__file__`` of code
with no location, ``__main__`` searched only inside the given path, full
restore of ``sys``) is listed in ``docs/compatibility.md``.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from typing import Any, Dict, Iterable, List, Optional, Union

from ..errors import NotRunnable
from .entries import SourceLike, as_sources
from .finding import module_details, script_code
from .locations import Location, Script, open_location
from .steps import Run
from .syslock import hold
from .sysstate import SysState

PathName = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def run_module(
    mod_name: str,
    init_globals: Optional[Dict[str, Any]] = None,
    run_name: Optional[str] = None,
    alter_sys: bool = False,
    *,
    sources: Iterable[SourceLike] = (),
    lock_timeout: Optional[float] = None,
) -> Dict[str, Any]:
    """Execute a module's code without importing it, as ``runpy.run_module`` does.

    ``sources`` are searched before ``sys.path`` for this run only; runs that
    change ``sys`` take turns, waiting at most ``lock_timeout`` seconds.
    """
    extra = as_sources(sources)
    changes_sys = alter_sys or bool(extra)  # runpy's plain run_module changes nothing: no lock, no snapshot
    with ExitStack() as stack:
        if changes_sys:
            stack.enter_context(hold(lock_timeout, f"run module {mod_name}"))
        state = stack.enter_context(SysState()) if changes_sys else SysState()
        runner = stack.enter_context(Run(state, sources=extra, alter_sys=alter_sys, replace_path0=False))
        runner.search(None)
        name, spec, code = module_details(mod_name)
        runner.set_argv(spec.origin or name, _argv_tail())
        namespace = runner.execute(code, runner.new_module(run_name or name), spec, init_globals=init_globals)
        return dict(namespace) if alter_sys else namespace


def run_path(
    path_name: PathName,
    init_globals: Optional[Dict[str, Any]] = None,
    run_name: Optional[str] = None,
    *,
    lock_timeout: Optional[float] = None,
) -> Dict[str, Any]:
    """Execute a script, or the ``__main__`` inside a directory or zip file.

    Unlike runpy, ``__main__`` is looked up inside ``path_name`` only.
    """
    path = os.fsdecode(os.fspath(path_name))
    name = run_name if run_name is not None else "<run_path>"
    with hold(lock_timeout, f"run path {path}"), SysState() as state, Run(state, sources=(), alter_sys=True, replace_path0=False) as runner:
        location = _open(path)
        if not isinstance(location, Script):
            runner.search(location)
            runner.set_path0(path)
            return dict(runner.main_of(location, _argv_tail(), name, init_globals))
        code = script_code(path, name)
        runner.set_argv(path, _argv_tail())
        package = name.rpartition(".")[0]
        return dict(runner.execute(code, runner.new_module(name), None, init_globals=init_globals, script=path, package=package))


def _open(path: str) -> Location:
    """runpy's error for a missing path is ``FileNotFoundError``; code switching keeps its ``except``."""
    try:
        return open_location(path)
    except NotRunnable:
        if os.path.exists(path):
            raise
        from ..zip.archive import missing

        raise missing(path) from None  # FileNotFoundError, or runpy's OSError for a symlink loop


def _argv_tail() -> List[str]:
    argv = getattr(sys, "argv", None)
    return list(argv[1:]) if isinstance(argv, list) else []
