"""The steps every run is made of, shared by ``run``, the CLI, ``run_module``, ``run_path`` and ``Scope.run``.

Put the sources first, let them win over modules that came from elsewhere,
set ``sys.path[0]`` and ``sys.argv``, make the main module, fill its globals
and execute. Each step changes ``sys`` only in ways the run's
:class:`~zrun.engine.sysstate.SysState` snapshot puts back, so an entry point is the
order of its steps, and a fix in a step reaches every entry point.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from ..loading.callbacks import register_with_registries
from ..loading.loader import SearchFirst, insert_first, location_of, path_hook
from ..loading.namespaces import merge_namespaces
from ..source import Source
from .finding import main_details
from .locations import Script, absolute
from .sysstate import SysState

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import CodeType
    from typing import Any, Dict, Iterable, List, Optional, Sequence

    from .entries import Entry
    from .locations import Location

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


def put_first(entries: Sequence[Entry]) -> None:
    """Search ``entries`` before everything else: a run's and a scope's one way to do it.

    Their packages' ``__path__`` entries resolve through zrun's path hook,
    namespace packages merge their portions, and the import registries
    (``pkgutil``, ``pkg_resources``, distlib) learn about zrun's loaders.
    """
    insert_first(SearchFirst(entries))
    if path_hook not in sys.path_hooks:
        sys.path_hooks.insert(0, path_hook)
    merge_namespaces()
    register_with_registries()


def exec_code(code: CodeType, module: ModuleType) -> None:
    """Execute ``code`` in ``module``; zrun frames end here for tracebacks."""
    exec(code, module.__dict__)


class Run:
    """One run's steps over one SysState; an entry point calls them in its order."""

    def __init__(self, state: SysState, *, sources: Sequence[Entry], alter_sys: bool, replace_path0: bool) -> None:
        self.state = state
        self.sources = list(sources)
        self.alter_sys = alter_sys
        self.replace_path0 = replace_path0
        #: ``-P`` / ``-I``: a script's folder, like the working directory for ``-m``, goes nowhere.
        self.safe_path = not adds_path0()
        #: Names the interpreter's own ``__main__`` has beyond runpy's (:func:`zrun.engine.run.main_names`).
        self.main_names: Dict[str, Any] = {}
        self.keep: List[Any] = []
        self.started = False

    def search(self, location: Optional[Location]) -> None:
        """Put the sources (and the location) first, and let ``__path__`` entries resolve."""
        entries: List[Entry] = list(self.sources)
        if location is not None and not isinstance(location, Script):
            entries.insert(0, location.entry)
        if not entries:
            return
        self.keep.append(entries)
        self.sources_win()
        forget_finders(entry.root for entry in entries if isinstance(entry, Source))
        put_first(entries)
        if self.alter_sys and any(location_of(entry) is not None for entry in entries):
            from .spawn import watch  # spawned children must find these sources too

            watch()
        if location is not None and location.source is not None:
            finder = path_hook(location.source.root)
            for spelling in {location.path, absolute(location.path), os.path.abspath(location.path)}:
                sys.path_importer_cache[spelling] = finder

    def sources_win(self) -> None:
        """Hide, for the run, modules that the run's sources answer but that came from elsewhere.

        An earlier run (or the host) may have imported ``pkg`` from another
        source; left in ``sys.modules`` it would answer this run's ``pkg``,
        and the run would execute the other source's code. Modules that came
        from this run's own sources stay: a second run over them reuses them.
        """
        if not self.sources:
            return
        from ..plugins.shadows import foreign

        hidden = foreign(self.sources)
        self.state.protect(hidden)
        for name in hidden:
            del sys.modules[name]

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

    def execute(self, code: CodeType, module: ModuleType, spec: Optional[ModuleSpec], **names: Any) -> Dict[str, Any]:
        """Fill the globals (:func:`module_globals` takes ``names``), put the module in place, execute."""
        namespace = module_globals(module, spec=spec, **names)
        namespace.update(self.main_names)
        if self.alter_sys:
            sys.modules[module.__name__] = module
        self.started = True
        exec_code(code, module)
        return namespace

    def main_of(
        self,
        location: Location,
        argv: Sequence[str],
        run_name: str,
        init_globals: Optional[Dict[str, Any]] = None,
        *,
        respawn: bool = True,
    ) -> Dict[str, Any]:
        """Run the ``__main__`` inside a directory or archive, as ``python PATH`` does.

        ``respawn``: spawned children re-run it from its path (not for a scope's sources).
        """
        _, spec, code = main_details(location, location.path)
        self.set_argv(location.path, argv)
        module = self.new_module(run_name)
        if self.alter_sys and respawn:
            from .spawn import respawn_from_path

            respawn_from_path(module, os.path.abspath(location.path))
        return self.execute(code, module, spec, init_globals=init_globals)
