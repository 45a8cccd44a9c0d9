"""Run a target the way the interpreter would, in a real ``__main__`` module.

runpy runs code in a plain dict unless ``alter_sys`` is given, which breaks
``pickle``, spawn-mode ``multiprocessing`` and ``dataclasses`` (REFERENCE §2).
Here the main module is a real module object carrying the real spec, placed in
``sys.modules`` for the run, and :class:`~zrun.sysstate.SysState` puts
everything back afterwards.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from .errors import NotRunnable
from .finding import absolute, evict, main_details, main_script, module_details, open_location, searched_sources, with_refusals
from .imported import register_with_registries
from .loader import SearchFirst, insert_first, location_of, path_hook
from .namespaces import merge_namespaces
from .source import Source
from .stdlib import OWN
from .sysstate import SysState
from .target import Target, parse

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import CodeType
    from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

    from .finding import Location

    SourceLike = Union[Source, str, "os.PathLike[str]", bytes]
    Entry = Union[Source, str]
else:
    SourceLike = Entry = object


def as_sources(items: Iterable[SourceLike]) -> List[Entry]:
    """Accept ready sources, archive paths, directories and zip bytes alike.

    A directory stays a path: the stdlib's own finder serves it, with its
    ``__pycache__`` writing and ``__file__`` conventions intact.
    """
    entries: List[Entry] = []
    for item in items:
        if isinstance(item, Source):
            entries.append(item)
        elif not isinstance(item, (bytes, bytearray, memoryview)) and os.path.isdir(item):
            entries.append(os.path.abspath(os.fsdecode(item)))
        else:
            from .zipsource import ZipSource  # only when an archive is given

            entries.append(ZipSource(item))
    return entries


# --- what this interpreter does that other versions do not (docs/compatibility.md, "Per-version
# behaviour zrun follows"); kept here, not in a module of their own, to add no import to start-up.

#: 3.15 dropped ``__cached__``: neither its import system nor its runpy sets the
#: name (``__spec__.cached`` remains). Decided by version, not by probing an
#: imported module, whose ``__cached__`` depends on which loader loaded it.
SETS_CACHED = sys.version_info < (3, 15)


def adds_path0() -> bool:
    """Whether ``python -m zrun`` found an entry at ``sys.path[0]`` put there for it.

    Under ``-P`` / ``PYTHONSAFEPATH`` (``sys.flags.safe_path``, 3.11+) and
    ``-I`` (which implies it, and is the only such switch before 3.11) the
    interpreter adds no script folder or working directory: ``sys.path[0]`` is
    then an ordinary entry, usually the standard library's zip, and must stay.
    """
    return not (getattr(sys.flags, "safe_path", False) or sys.flags.isolated)


def main_names() -> Dict[str, Any]:
    """What the interpreter put in its own ``__main__`` beyond runpy's names, fresh.

    Before 3.14 (PEP 649) that is ``__annotations__ = {}``, which code run by
    ``python script.py`` and ``python -m`` sees. Read from the ``__main__`` that
    ``python -m zrun`` itself runs in rather than decided by version.
    """
    main = sys.modules.get("__main__")
    return {"__annotations__": {}} if main is not None and "__annotations__" in vars(main) else {}


def module_globals(
    module: ModuleType,
    *,
    spec: Optional[ModuleSpec],
    init_globals: Optional[Dict[str, Any]] = None,
    script: Optional[str] = None,
    package: Optional[str] = None,
    loader: Any = None,
) -> Dict[str, Any]:
    """Fill a module namespace with the names this interpreter's import system would set.

    ``script``, ``package`` and ``loader`` describe code run with no spec (a
    script file): ``python PATH`` gives it a file loader, runpy none.
    """
    namespace = module.__dict__
    name = module.__name__  # read before init_globals may overwrite it
    if init_globals is not None:
        namespace.update(init_globals)
    if spec is None:
        namespace.update(__file__=script, __loader__=loader, __package__=package, __spec__=None)
        cached = None
    else:
        namespace.update(
            __file__=spec.origin if spec.has_location else None,
            __loader__=spec.loader,
            __package__=spec.parent,
            __spec__=spec,
        )
        cached = spec.cached
    if SETS_CACHED:
        namespace["__cached__"] = cached
    namespace.update(__name__=name, __doc__=None)
    return namespace


def forget_finders(roots: Iterable[str]) -> None:
    """Drop cached path-entry finders (zipimporters, say) for places inside these sources.

    A package's ``__path__`` entry is looked up in ``sys.path_importer_cache``;
    a finder cached there by an earlier import would serve the package's
    submodules from another loader, or from the archive's old content.
    SysState puts the entries back after the run.
    """
    cache = sys.path_importer_cache
    for root in roots:
        for key in [key for key in list(cache) if key == root or key.startswith((root + "/", root + os.sep))]:
            del cache[key]


def exec_code(code: CodeType, module: ModuleType) -> None:
    """Execute ``code`` in ``module``; zrun frames end here for tracebacks."""
    exec(code, module.__dict__)


class Run:
    """One run: the search set-up, the target resolved, the module executed."""

    def __init__(self, state: SysState, *, sources: Sequence[Entry], alter_sys: bool, replace_path0: bool) -> None:
        self.state = state
        self.sources = list(sources)
        self.alter_sys = alter_sys
        self.replace_path0 = replace_path0
        #: ``-P`` / ``-I``: a script's folder, like the working directory for ``-m``, goes nowhere.
        self.safe_path = not adds_path0()
        #: Names the interpreter's own ``__main__`` has beyond runpy's (:func:`main_names`).
        self.main_names: Dict[str, Any] = {}
        self.keep: List[Any] = []
        self.started = False

    def search(self, location: Optional[Location]) -> None:
        """Put the sources (and the location) first, and let ``__path__`` entries resolve."""
        entries: List[Entry] = list(self.sources)
        if location is not None and location.kind != "script":
            entries.insert(0, location.entry)
        if not entries:
            return
        self.keep.append(entries)
        forget_finders(entry.root for entry in entries if isinstance(entry, Source))
        insert_first(SearchFirst(entries))
        if self.alter_sys and any(location_of(entry) is not None for entry in entries):
            from .spawn import watch  # spawned children must find these sources too

            watch()
        if path_hook not in sys.path_hooks:
            sys.path_hooks.insert(0, path_hook)
        merge_namespaces()
        register_with_registries()
        if location is not None and location.source is not None:
            finder = path_hook(location.source.root)
            for spelling in {location.path, location.path0(), os.path.abspath(location.path)}:
                sys.path_importer_cache[spelling] = finder

    def set_path0(self, entry: Optional[str]) -> None:
        if not self.alter_sys or entry is None:
            return
        if self.replace_path0 and sys.path:
            sys.path[0] = entry
        else:
            sys.path.insert(0, entry)

    def set_argv(self, argv0: str, argv: Sequence[str]) -> None:
        """Change ``sys.argv`` in place, as runpy and console scripts do: ``def main(args=sys.argv)``
        captured the list when its module was imported."""
        if not self.alter_sys:
            return
        if isinstance(getattr(sys, "argv", None), list):
            sys.argv[:] = [argv0, *argv]
        else:
            sys.argv = [argv0, *argv]

    def new_module(self, run_name: str) -> ModuleType:
        module = ModuleType(run_name)
        if self.alter_sys:
            self.state.protect([run_name])
        return module

    def execute(
        self,
        code: CodeType,
        module: ModuleType,
        spec: Optional[ModuleSpec],
        *,
        init_globals: Optional[Dict[str, Any]] = None,
        script: Optional[str] = None,
        package: Optional[str] = None,
        loader: Any = None,
    ) -> Dict[str, Any]:
        namespace = module_globals(module, spec=spec, init_globals=init_globals, script=script, package=package, loader=loader)
        namespace.update(self.main_names)
        if self.alter_sys:
            sys.modules[module.__name__] = module
        self.started = True
        exec_code(code, module)
        return namespace

    def target(self, target: Target, argv: Sequence[str], run_name: str) -> Any:
        location = open_location(target.location) if target.location else None
        if location is not None and location.kind == "script" and (target.module or target.func):
            raise NotRunnable(f"{target.location!r} is not a directory or archive, so it has no module {target.module!r}")
        self.search(location)
        if location is not None and target.module:
            # The location's package replaces any same-named one for the run only; zrun itself never.
            top = target.module.partition(".")[0]
            if top == OWN:
                from .owncopy import refuse_other_zrun

                refuse_other_zrun(location)
            else:
                evict([top])
                self.state.protect_tree([top])
        self.set_path0(self.path0(location))
        if target.func:
            return self.call(target, argv)
        if target.module:
            self.set_argv("-m", argv)  # what the parent package's import sees under python -m (bpo-8202)
            with hint_paths(target):
                name, spec, code = module_details(target.module)
            self.set_argv(spec.origin or name, argv)
            return self.execute(code, self.new_module(run_name), spec)
        assert location is not None
        if location.kind == "script":
            script = absolute(location.path)  # python's __file__ and code name since 3.9
            code, loader = main_script(script, run_name)
            self.set_argv(location.path, argv)
            return self.execute(code, self.new_module(run_name), None, script=script, loader=loader)
        return self.main_of(location, argv, run_name)

    def path0(self, location: Optional[Location]) -> Optional[str]:
        """The ``sys.path[0]`` entry ``python -m MOD`` / ``python PATH`` would have, if any.

        A directory or archive is always there (its ``__main__`` is found
        through it); the working directory and a script's folder are not under
        ``-P`` / ``-I``.
        """
        if location is not None and not (location.kind == "script" and self.safe_path):
            return location.path0()
        if location is None and self.replace_path0:
            return os.getcwd()
        return None

    def main_of(
        self, location: Location, argv: Sequence[str], run_name: str, init_globals: Optional[Dict[str, Any]] = None
    ) -> Dict[str, Any]:
        """Run the ``__main__`` inside a directory or archive, as ``python PATH`` does."""
        _, spec, code = main_details(location, location.path)
        self.set_argv(location.path, argv)
        module = self.new_module(run_name)
        if self.alter_sys:
            from .spawn import respawn_from_path

            respawn_from_path(module, os.path.abspath(location.path))
        return self.execute(code, module, spec, init_globals=init_globals)

    def call(self, target: Target, argv: Sequence[str]) -> Any:
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
        self.set_argv(getattr(spec, "origin", None) or target.module, argv)
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
        self.started = True
        if not self.alter_sys:
            return func()
        from .mainmodule import as_console_script

        with as_console_script(self.state):
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
    from contextlib import nullcontext  # library runs only: the CLI's run_main needs neither

    from .lock import hold

    parsed = parse(target) if isinstance(target, str) else target
    locked = hold(lock_timeout, f"run {target if isinstance(target, str) else 'a target'}") if alter_sys else nullcontext()
    with locked, SysState(modules=isolate) as state:
        runner = Run(state, sources=as_sources(sources), alter_sys=alter_sys, replace_path0=False)
        try:
            return runner.target(parsed, argv, run_name)
        except BaseException:
            if not runner.started:
                state.all_modules = True  # a run that failed to start leaves no trace at all
            raise


def run_main(target: Target, argv: Sequence[str], sources: Iterable[SourceLike] = ()) -> Any:
    """The CLI's run: like :func:`run`, but nothing is restored (the process is ending)."""
    from .mainmodule import command_line_of

    entries = as_sources(sources)
    command_line_of(target, argv, entries)
    runner = Run(SysState(), sources=entries, alter_sys=True, replace_path0=adds_path0())
    runner.main_names = main_names()
    return runner.target(target, argv, "__main__")

