"""The steps every run is made of, shared by ``run``, the CLI, ``run_module``, ``run_path`` and ``Scope.run``.

A :class:`Run` enters the pieces of :mod:`zrun.engine.pieces` in the order an
entry point gives: the sources first (winning over modules that came from
elsewhere), ``sys.path[0]``, ``sys.argv``, the main module, the spawn patch;
then :func:`run_code` alone fills the globals and executes. Leaving the run
undoes the pieces in reverse; its :class:`~zrun.engine.sysstate.SysState`
puts back whatever else the code changed.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from ..loading.loader import location_of
from .finding import main_details
from .locations import Script, absolute
from .pieces import Argv, HiddenModules, MainModule, Path0, SourcesFirst, SpawnPatch

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import CodeType
    from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

    from .entries import Entry
    from .locations import Location
    from .sysstate import SysState

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


def run_code(code: CodeType, module: ModuleType, spec: Optional[ModuleSpec], main_names: Dict[str, Any], **names: Any) -> Dict[str, Any]:
    """Fill ``module``'s globals (:func:`module_globals` takes ``names``; ``main_names`` last) and execute ``code`` there.

    The one place a run executes its code: zrun's frames end here in tracebacks.
    """
    namespace = module_globals(module, spec=spec, **names)
    namespace.update(main_names)
    exec(code, namespace)
    return namespace


class Pieces:
    """The pieces one run entered; leaving undoes them in reverse order, each in its own ``try``.

    ``contextlib.ExitStack``'s job. No piece swallows an exception; the first
    error of an undo is raised once every piece was undone. The CLI's run
    never leaves its pieces: the process ends with the target's ``sys``.
    """

    def __init__(self) -> None:
        self._exits: List[Callable[..., Any]] = []

    def enter(self, piece: Any) -> Any:
        value = piece.__enter__()
        self._exits.append(piece.__exit__)
        return value

    def close(self) -> None:
        first: Optional[BaseException] = None
        while self._exits:
            try:
                self._exits.pop()(None, None, None)
            except BaseException as exc:  # re-raised below, once the other pieces are undone
                first = first or exc
        if first is not None:
            raise first

    def __enter__(self) -> Pieces:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Run:
    """One run: its SysState, its settings, and the pieces it entered, in the order an entry point enters them.

    Leaving it (``with``) undoes the pieces in reverse, before the SysState
    restores the rest. The CLI's run is never left: the process ends with
    the target's ``sys``, which its threads and ``atexit`` handlers still see.
    With ``alter_sys`` false only the search pieces are entered, as runpy's
    plain ``run_module`` changes nothing of ``sys``.
    """

    def __init__(self, state: Optional[SysState], *, sources: Sequence[Entry], alter_sys: bool, replace_path0: bool) -> None:
        #: What restores the rest after the pieces; ``None`` for the CLI's run, which restores nothing.
        self.state = state
        self.sources = list(sources)
        self.alter_sys = alter_sys
        self.replace_path0 = replace_path0
        #: ``-P`` / ``-I``: a script's folder, like the working directory for ``-m``, goes nowhere.
        self.safe_path = not adds_path0()
        #: Names the interpreter's own ``__main__`` has beyond runpy's (:func:`zrun.engine.run.main_names`).
        self.main_names: Dict[str, Any] = {}
        self.pieces = Pieces()
        self.started = False

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pieces.close()

    def search(self, location: Optional[Location]) -> None:
        """Put the sources (and the location) first, and let ``__path__`` entries resolve."""
        entries: List[Entry] = list(self.sources)
        if location is not None and not isinstance(location, Script):
            entries.insert(0, location.entry)
        if not entries:
            return
        if self.sources:
            self.hide(self.foreign())
        source = location.source if location is not None else None
        aliases = {location.path, absolute(location.path), os.path.abspath(location.path)} if location is not None else ()
        self.pieces.enter(SourcesFirst(entries, aliases, source))
        if self.alter_sys and any(location_of(entry) is not None for entry in entries):
            self.pieces.enter(SpawnPatch())  # spawned children must find these sources too

    def foreign(self) -> List[str]:
        """Modules that the run's sources answer but that came from elsewhere (an earlier run's, the host's):
        left in ``sys.modules`` they would answer this run's names with the other source's code."""
        from .shadows import foreign

        return foreign(self.sources)

    def hide(self, names: Iterable[str], *, trees: bool = False) -> None:
        """Take ``names`` (with ``trees``: and their submodules) out of ``sys.modules`` for the run only."""
        names = list(names)
        piece = HiddenModules.trees(names) if trees else HiddenModules(names)
        if self.state is not None:
            if trees:
                self.state.protect_tree(names)
            self.state.protect(piece.names)
        self.pieces.enter(piece)

    def set_path0(self, entry: Optional[str]) -> None:
        if self.alter_sys and entry is not None:
            self.pieces.enter(Path0(entry, replace=self.replace_path0))

    def set_argv(self, argv0: str, argv: Sequence[str]) -> None:
        if self.alter_sys:
            self.pieces.enter(Argv(argv0, argv))

    def new_module(self, run_name: str) -> ModuleType:
        """The main module: a real module object, where runpy's plain ``run_module`` uses a dict (REFERENCE §2)."""
        return ModuleType(run_name)

    def execute(self, code: CodeType, module: ModuleType, spec: Optional[ModuleSpec], **names: Any) -> Dict[str, Any]:
        """Put the module in place (with ``alter_sys``), then :func:`run_code`."""
        if self.alter_sys:
            if self.state is not None:
                self.state.protect([module.__name__])
            self.pieces.enter(MainModule(module))
        self.started = True
        return run_code(code, module, spec, self.main_names, **names)

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
            self.pieces.enter(SpawnPatch(module, os.path.abspath(location.path)))
        return self.execute(code, module, spec, init_globals=init_globals)
