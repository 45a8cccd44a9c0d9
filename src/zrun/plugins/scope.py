"""Scopes: a long-running host runs plugin code and gets its ``sys`` back unchanged.

Inside a scope the plugin's sources are searched first, so a plugin that
ships its own ``utils`` or ``six`` gets its own; on exit every module first
imported inside is dropped, the host's shadowed modules come back (the same
objects), and finders, hooks, ``sys.path``, ``sys.argv`` and ``__main__`` are
as before. Entering holds zrun's one sys lock; runs with ``alter_sys=False``
in an entered scope may run in parallel from any thread, and exit waits for
them. The rules are spelled out in ``docs/plugin-hosts.md``.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from contextlib import ExitStack, contextmanager
from types import ModuleType, TracebackType
from typing import Any, Dict, Iterable, Iterator, List, Optional, Type, Union

from ..engine.entries import Entry, SourceLike, one_or_many
from ..engine.pieces import HiddenModules, Path0, SourcesFirst
from ..engine.run import run_target
from ..engine.runpy_api import run_module
from ..engine.shadows import drop, main_location, preload, shadowed
from ..engine.steps import Pieces, Run
from ..engine.syslock import acquire
from ..engine.sysstate import SYS_LOCK, SysState
from ..errors import NotRunnable, TargetError
from ..loading.loader import location_of
from ..source import Source
from ..target import Target, parse

Sources = Union[SourceLike, Iterable[SourceLike]]


class Scope:
    """Sources searched first while entered; ``sys`` put back exactly on exit.

    ``isolate`` drops every module first imported inside on exit;
    ``restore_environ``/``restore_cwd`` also put back ``os.environ`` and the
    working directory; ``lock_timeout`` bounds every wait for the sys lock
    (:class:`zrun.engine.syslock.LockTimeout`). A scope can be entered again later,
    and nested in the thread that entered it.
    """

    def __init__(
        self,
        sources: Sources,
        *,
        isolate: bool = True,
        restore_environ: bool = False,
        restore_cwd: bool = False,
        lock_timeout: Optional[float] = None,
    ) -> None:
        preload()
        self.sources: List[Entry] = one_or_many(sources)
        self.isolate = isolate
        self.restore_environ = restore_environ
        self.restore_cwd = restore_cwd
        self.lock_timeout = lock_timeout
        self._guard = threading.Condition()
        self._depth = 0  # nesting in the owning thread; changed only under SYS_LOCK
        self._busy = 0  # parallel runs in progress
        self._closing = False
        self._state: Optional[SysState] = None
        self._last: Optional[SysState] = None
        self._before: Dict[str, ModuleType] = {}
        self._modules: List[str] = []
        self._kept: Dict[str, ModuleType] = {}  # isolate=False: what the last entry left imported
        self._pieces = Pieces()  # what entering put in place: the host modules hidden, the sources first, on sys.path too

    # Entering and leaving.
    def __enter__(self) -> Scope:
        acquire(self.lock_timeout, "enter the scope")
        try:
            if self._depth == 0:
                self._open()
        except BaseException:
            SYS_LOCK.release()
            raise
        with self._guard:
            self._depth += 1
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        with self._guard:
            last = self._depth == 1
            if last:
                self._closing = True
                while self._busy:
                    self._guard.wait()
        try:
            if last:
                self._close()
        finally:
            with self._guard:
                self._depth -= 1
                self._closing = False
            SYS_LOCK.release()

    def _open(self) -> None:
        self._pieces = Pieces()
        state = self._state = SysState(modules=self.isolate, environ=self.restore_environ, cwd=self.restore_cwd, streams=True)
        state.start()  # other threads' imports and sys.path changes are theirs, not the plugin's
        self._before = dict(sys.modules)
        try:
            for entry in self.sources:
                if isinstance(entry, Source):
                    entry.refresh()
            hidden = shadowed(self.sources, self._before, self._kept)
            state.protect(hidden)
            self._pieces.enter(HiddenModules(hidden))
            self._pieces.enter(SourcesFirst(self.sources))
            for where in reversed([where for where in map(location_of, self.sources) if where is not None]):
                self._pieces.enter(Path0(where))  # sources on disk on sys.path too, in their order, first
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        assert self._state is not None
        state = self._last = self._state
        self._modules = self._imported()
        self._kept = {} if self.isolate else {name: sys.modules[name] for name in self._modules}
        self._state = None
        try:
            self._pieces.close()
        finally:
            state.restore()

    @contextmanager
    def _running(self, alters_sys: bool) -> Iterator[None]:
        """Share an entered scope for a run that leaves ``sys`` alone; else enter (and lock)."""
        shared = False
        if not alters_sys:
            with self._guard:
                shared = self._depth > 0 and not self._closing
                self._busy += shared
        if not shared:
            with self:
                yield
            return
        try:
            assert self._state is not None
            with self._state.adopt():  # this thread's imports are the plugin's, for this call
                yield
        finally:
            with self._guard:
                self._busy -= 1
                self._guard.notify_all()

    # What a host does inside.
    def run_module(
        self, name: str, init_globals: Optional[Dict[str, Any]] = None, run_name: Optional[str] = None, alter_sys: bool = False
    ) -> Dict[str, Any]:
        """``runpy.run_module`` over the scope's sources; parallel-safe unless ``alter_sys``."""
        with self._running(alter_sys):
            return run_module(name, init_globals, run_name, alter_sys)

    def run(self, target: Union[str, Target], argv: Iterable[str] = (), *, run_name: str = "__main__", alter_sys: bool = True) -> Any:
        """:func:`zrun.run` inside the scope; ``"__main__"`` runs the sources' own ``__main__``.

        Returns the main module's namespace, or a ``module:function`` target's result.
        """
        parsed = parse(target) if isinstance(target, str) else target
        alters = alter_sys or parsed.location is not None
        with self._running(alters), ExitStack() as stack:
            state = stack.enter_context(SysState()) if alters else SysState()
            runner = stack.enter_context(Run(state, sources=(), alter_sys=alter_sys, replace_path0=False))
            if parsed != Target(module="__main__"):
                return run_target(runner, parsed, list(argv), run_name)
            return runner.main_of(main_location(self.sources), list(argv), run_name, respawn=False)

    def import_module(self, name: str) -> ModuleType:
        """Import ``name`` with the scope's sources first (dropped on exit if ``isolate``)."""
        with self._running(False):
            return importlib.import_module(name)

    def call(self, target: str, *args: Any, **kwargs: Any) -> Any:
        """Import ``module`` and return ``function(*args, **kwargs)`` for ``"module:function"``.

        A location prefix is accepted when it names one of the scope's own sources,
        so :attr:`zrun.Runnable.target` strings work here too.
        """
        parsed = parse(target)
        if not parsed.module or not parsed.func:
            raise TargetError(f"{target!r} is not 'module:function'")
        if parsed.location is not None and os.path.abspath(parsed.location) not in map(location_of, self.sources):
            raise TargetError(f"{parsed.location!r} is not one of this scope's sources")
        with self._running(False):
            try:
                func: Any = importlib.import_module(parsed.module)
            except ModuleNotFoundError as exc:
                if exc.name and (parsed.module == exc.name or parsed.module.startswith(exc.name + ".")):
                    raise NotRunnable(f"No module named {parsed.module}", name=parsed.module) from None
                raise
            for attr in parsed.func.split("."):
                try:
                    func = getattr(func, attr)
                except AttributeError:
                    raise NotRunnable(f"module {parsed.module!r} has no attribute {parsed.func!r}", name=parsed.module) from None
            return func(*args, **kwargs)

    # Reporting and reloading.
    @property
    def modules(self) -> List[str]:
        """Names first imported (or replaced) inside the scope: now, or during the last entry."""
        return self._imported() if self._state is not None else list(self._modules)

    @property
    def stale(self) -> bool:
        """True when an archive source changed on disk since it was last read."""
        return any(entry.is_stale() for entry in self.sources if isinstance(entry, Source))

    def diff(self) -> List[str]:
        """Each difference between ``sys`` now and when the scope was (last) entered.

        Empty right after a clean exit: the one call a host needs to prove a
        plugin left no trace. While entered it shows the scope's own changes.
        """
        current = self._state or self._last
        return [] if current is None else current.diff()

    def reload(self) -> bool:
        """Drop the scope's modules and re-read changed sources; True if any had changed."""
        changed = self.stale
        with self:
            for entry in self.sources:
                if isinstance(entry, Source):
                    entry.refresh()
                else:
                    for key, finder in list(sys.path_importer_cache.items()):
                        if key == entry or key.startswith(entry + os.sep):
                            getattr(finder, "invalidate_caches", lambda: None)()
            drop([*self._imported(), *self._kept], self._kept)
            self._kept = {}
        return changed

    def _imported(self) -> List[str]:
        before, state = self._before, self._state or self._last
        theirs = state.theirs if state is not None else lambda name: False
        return sorted(name for name, module in list(sys.modules.items()) if before.get(name) is not module and not theirs(name))

    def __repr__(self) -> str:
        return f"<Scope {self.sources!r}{' entered' if self._state is not None else ''}>"
