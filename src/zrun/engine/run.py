"""Run a target the way the interpreter would, in a real ``__main__`` module.

runpy runs code in a plain dict unless ``alter_sys`` is given, which breaks
``pickle``, spawn-mode ``multiprocessing`` and ``dataclasses`` (REFERENCE §2).
Here the main module is a real module object carrying the real spec, placed in
``sys.modules`` for the run, and :class:`~zrun.engine.sysstate.SysState` puts
everything back afterwards. The steps of a run are :mod:`zrun.engine.steps`';
this module picks them for a target: a module, a function, a location's
``__main__``, or a script.
"""

from __future__ import annotations

import os
import sys

from ..errors import NotRunnable
from ..stdlib import OWN
from ..target import Target, parse
from .finding import main_script, module_details, searched_sources, with_refusals
from .locations import Location, Script, absolute, open_location
from .steps import Run, adds_path0

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

    from .entries import Entry, SourceLike

__all__ = ["Run", "main_names", "run", "run_main", "run_target"]


def main_names() -> Dict[str, Any]:
    """What the interpreter put in its own ``__main__`` beyond runpy's names, fresh.

    Before 3.14 (PEP 649) that is ``__annotations__ = {}``, which code run by
    ``python script.py`` and ``python -m`` sees. Read from the ``__main__`` that
    ``python -m zrun`` itself runs in rather than decided by version.
    """
    main = sys.modules.get("__main__")
    return {"__annotations__": {}} if main is not None and "__annotations__" in vars(main) else {}


def run_target(runner: Run, target: Target, argv: Sequence[str], run_name: str) -> Any:
    """Run ``target`` with ``runner``'s steps: its module, its function, its ``__main__`` or the script."""
    location = open_location(target.location) if target.location else None
    if isinstance(location, Script) and (target.module or target.func):
        raise NotRunnable(f"{target.location!r} is not a directory or archive, so it has no module {target.module!r}")
    runner.search(location)
    if location is not None and target.module:
        location_wins(runner, location, target.module)
    runner.set_path0(path0(runner, location))
    if target.func:
        return call(runner, target, argv)
    if target.module:
        runner.set_argv("-m", argv)  # what the parent package's import sees under python -m (bpo-8202)
        with hint_paths(target):
            name, spec, code = module_details(target.module)
        runner.set_argv(spec.origin or name, argv)
        return runner.execute(code, runner.new_module(run_name), spec)
    assert location is not None
    if isinstance(location, Script):
        script = absolute(location.path)  # python's __file__ and code name since 3.9
        code, loader = main_script(script, run_name)
        runner.set_argv(location.path, argv)
        return runner.execute(code, runner.new_module(run_name), None, script=script, loader=loader)
    return runner.main_of(location, argv, run_name)


def location_wins(runner: Run, location: Location, module: str) -> None:
    """The location's package replaces any same-named one, for the run only; zrun itself never."""
    top = module.partition(".")[0]
    if top == OWN:
        from .owncopy import refuse_other_zrun

        refuse_other_zrun(location)
    else:
        runner.hide([top], trees=True)


def path0(runner: Run, location: Optional[Location]) -> Optional[str]:
    """The ``sys.path[0]`` entry ``python -m MOD`` / ``python PATH`` would have, if any.

    A directory or archive is always there (its ``__main__`` is found
    through it); the working directory and a script's folder are not under
    ``-P`` / ``-I``.
    """
    if location is not None:
        return location.path0(runner.safe_path)
    return os.getcwd() if runner.replace_path0 else None


def call(runner: Run, target: Target, argv: Sequence[str]) -> Any:
    """Import the target's module and call its function, as a console script would."""
    import importlib

    assert target.module and target.func
    try:
        module = importlib.import_module(target.module)
    except ModuleNotFoundError as exc:
        if exc.name and (target.module == exc.name or target.module.startswith(exc.name + ".")):
            message = with_refusals(f"No module named {target.module}", searched_sources())
            with hint_paths(target):
                raise NotRunnable(message, name=target.module) from None
        raise
    spec = getattr(module, "__spec__", None)
    runner.set_argv(getattr(spec, "origin", None) or target.module, argv)
    func: Any = module
    for attr in target.func.split("."):
        try:
            func = getattr(func, attr)
        except AttributeError:
            message = f"module {target.module!r} has no attribute {target.func!r}"
            if target.location is None and os.path.isdir(target.module):
                message += f"; for module {target.func!r} in directory {target.module!r}, write './{target.module}:{target.func}'"
            raise NotRunnable(message, name=target.module) from None
    if not callable(func):
        raise NotRunnable(f"{target.module}:{target.func} is not callable")
    runner.started = True
    if not runner.alter_sys:
        return func()
    from .mainmodule import console_script_main
    from .pieces import MainModule

    with MainModule(console_script_main()):
        return func()


class hint_paths:
    """Add to "No module named X" how to run the file or folder named X, when one exists."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        name = self.target.module
        if not isinstance(error, NotRunnable) or self.target.location or not name or not str(error).startswith("No module named"):
            return
        top = name.partition(".")[0]
        if top in sys.modules:  # the package was found; a submodule is missing
            return
        if os.path.isdir(top):
            hint = f"'{top}' is a directory here: run it as './{top}', or a module inside it as './{top}:MODULE'"
        elif os.path.exists(top):
            hint = f"'{top}' is a file here: run it as './{top}'"
        else:
            return
        raise NotRunnable(f"{error}; {hint}", name=name) from None


def run(
    target: Union[str, Target],
    argv: Sequence[str] = (),
    *,
    run_name: str = "__main__",
    alter_sys: bool = True,
    isolate: bool = False,
    sources: Iterable[SourceLike] = (),
    lock_timeout: Optional[float] = None,
) -> Any:
    """Run ``target`` as ``python -m``/``python PATH`` would, then undo every change.

    Returns the main module's namespace, or for ``module:function`` targets the
    function's return value (what ``sys.exit()`` would receive). Runs that alter
    ``sys`` take turns; ``lock_timeout`` bounds the wait (:class:`zrun.LockTimeout`).
    """
    from contextlib import nullcontext  # library runs only: the CLI's run_main needs none of these

    from .syslock import hold
    from .sysstate import SysState

    parsed = parse(target) if isinstance(target, str) else target
    locked = hold(lock_timeout, f"run {target if isinstance(target, str) else 'a target'}") if alter_sys else nullcontext()
    with locked, SysState(modules=isolate) as state:
        with Run(state, sources=_entries(sources), alter_sys=alter_sys, replace_path0=False) as runner:  # undone first
            try:
                return run_target(runner, parsed, argv, run_name)
            except BaseException:
                if not runner.started:
                    state.all_modules = True  # a run that failed to start leaves no trace at all
                raise


def run_main(target: Target, argv: Sequence[str], sources: Iterable[SourceLike] = ()) -> Any:
    """The CLI's run: like :func:`run`, but its pieces stay entered and nothing is restored (the process is ending)."""
    entries = _entries(sources)
    if not (target.func or entries or (target.location and target.module)):
        from .mainmodule import command_line_of  # where python itself has a command for the target

        command_line_of(target, argv)
    runner = Run(None, sources=entries, alter_sys=True, replace_path0=adds_path0())
    runner.main_names = main_names()
    return run_target(runner, target, argv, "__main__")


def _entries(sources: Iterable[SourceLike]) -> List[Entry]:
    """:func:`zrun.engine.entries.as_sources`, imported only for a run that has sources (not the CLI's usual run)."""
    items = list(sources)
    if not items:
        return []
    from .entries import as_sources

    return as_sources(items)
