"""Everything a run may change in ``sys``, captured once and put back once.

runpy manages ``argv[0]`` and one ``sys.modules`` entry and leaks the rest
(REFERENCE §2). :class:`SysState` owns the whole set, so every way out of a
run (return, exception, ``SystemExit``, ``KeyboardInterrupt``) restores
through the same ``finally``. Entered (``with``), it also keeps apart what
other threads import, and add to ``sys.path``, ``meta_path`` and
``path_hooks``, meanwhile (:mod:`zrun.engine.otherthreads`), so restoring never
undoes their work.
"""

from __future__ import annotations

import _thread
import os
import sys

from ..stdlib import loaded

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable, ContextManager, Dict, Iterable, List, Optional, Set, Tuple, Type

    from .otherthreads import Tracking

_MISSING: Any = object()
_LISTS = ("argv", "path", "meta_path", "path_hooks")
#: Rebound by plugins more than anything else; ``tracebacklimit`` is absent until someone sets it.
_HOOKS = ("displayhook", "excepthook", "breakpointhook", "unraisablehook", "dont_write_bytecode", "tracebacklimit")
_STREAMS = ("stdin", "stdout", "stderr")
#: Interpreter settings with a getter and a setter: (what diff() calls it, getter, setter).
_SETTINGS = (("recursion limit", "getrecursionlimit", "setrecursionlimit"),
             ("switch interval", "getswitchinterval", "setswitchinterval"),
             ("int max str digits", "get_int_max_str_digits", "set_int_max_str_digits"))  # 3.11+, 3.10.7+

#: Serialises runs that alter ``sys``: it is process-global state.
SYS_LOCK = _thread.RLock()


class SysState:
    """A snapshot of ``sys`` (and optionally environ and cwd) that can be restored.

    ``modules=True`` restores all of ``sys.modules``: modules first imported
    after the snapshot are removed and shadowed ones come back. Otherwise only
    the names given to :meth:`protect` (``__main__`` always) are restored.
    The ``sys`` hooks, the interpreter settings in ``_SETTINGS`` and the
    ``os.environ`` binding are always restored; ``streams=True`` adds
    ``sys.stdin``/``stdout``/``stderr`` (a scope's plugin must not keep the
    host's output, but a run's code may mean to redirect the process's).
    """

    def __init__(self, *, modules: bool = False, environ: bool = False, cwd: bool = False, streams: bool = False) -> None:
        self.all_modules = modules
        self._lists: Dict[str, Any] = {}
        self._contents: Dict[str, List[Any]] = {}
        for name in _LISTS:
            value = getattr(sys, name, _MISSING)
            self._lists[name] = value
            self._contents[name] = list(value) if isinstance(value, list) else []
        self._importer_cache = dict(sys.path_importer_cache)
        self._modules = dict(sys.modules)
        self._protected: Set[str] = {"__main__"}
        self._trees: Set[str] = set()
        self._hooks = {name: getattr(sys, name, _MISSING) for name in (*_STREAMS, *_HOOKS) if streams or name not in _STREAMS}
        self._settings = [(label, getattr(sys, get)(), get, put) for label, get, put in _SETTINGS if hasattr(sys, get)]
        self._os_environ = (os.environ, getattr(os, "environb", None))
        self._environ = dict(os.environ) if environ else None
        self._cwd = os.getcwd() if cwd else None
        self._tracking: Optional[Tracking] = None

    def start(self) -> None:
        """Begin keeping other threads' imports and ``sys.path`` changes apart (see :mod:`zrun.engine.otherthreads`).

        ``with`` calls it; :meth:`restore` ends it. ``sys.modules`` is
        snapshotted again once the recorder is in place, so no import falls between.
        """
        if self._tracking is None:
            from .otherthreads import Tracking

            self._tracking = Tracking()
            self._tracking.start()
            self._modules = dict(sys.modules)

    def adopt(self) -> ContextManager[None]:
        """Count this thread's imports as the run's own while inside (a scope's parallel runs)."""
        from .otherthreads import adopted

        return adopted(self._tracking)

    def protect(self, names: Iterable[str]) -> None:
        """Also restore these ``sys.modules`` entries, even without ``modules=True``."""
        self._protected.update(names)

    def protect_tree(self, names: Iterable[str]) -> None:
        """Restore these packages and every submodule of theirs, including ones first imported later."""
        self._trees.update(names)

    def restore(self) -> None:
        """Put everything captured back; the same list objects, the same contents.

        Each part is restored in its own ``try``: a ``MemoryError`` or
        ``KeyboardInterrupt`` while putting back one part must not leave the
        others changed. The first error is raised once every part was tried.
        """
        first: Optional[BaseException] = None
        for part in self._parts():
            try:
                part()
            except BaseException as exc:  # re-raised below, once the other parts are back
                if first is None:
                    first = exc
        if first is not None:
            raise first

    def _parts(self) -> List[Callable[[], None]]:
        """The restore, as independent steps in a fixed order.

        Modules come first, while the import recorder is still on ``sys.meta_path``:
        another thread's import that starts now is still seen as theirs.
        """
        parts = [self._restore_modules, *map(self._list_restorer, _LISTS)]
        parts += [self._restore_importer_cache, self._restore_hooks, self._restore_environ, self._restore_cwd]
        return parts

    def _list_restorer(self, name: str) -> Callable[[], None]:
        return lambda: self._restore_list(name)

    def _restore_list(self, name: str) -> None:
        original = self._lists[name]
        if self._tracking is not None and self._tracking.restore_list(name, self._contents[name]):
            return  # the same list, with the snapshot's entries and other threads' changes since
        if original is _MISSING:
            if hasattr(sys, name):
                delattr(sys, name)
            return
        if isinstance(original, list):
            original[:] = self._contents[name]
        setattr(sys, name, original)

    def _restore_importer_cache(self) -> None:
        cache = sys.path_importer_cache
        added = [key for key in list(cache) if key not in self._importer_cache]
        for key in set(added) - own_folders() if added else ():
            del cache[key]
        cache.update(self._importer_cache)

    def _restore_modules(self) -> None:
        """The protected names first: they need no computing, so ``__main__`` comes
        back even when listing the others fails (a ``MemoryError`` in the set union)."""
        changed = self._put_back(self._protected)
        settle_parents(changed + self._put_back(self._module_names()))

    def _put_back(self, names: Iterable[str]) -> List[Tuple[str, Any, Any]]:
        modules, changed = sys.modules, []
        if self._tracking is not None:
            self._tracking.settle()
        for name in names:
            before, now = self._modules.get(name, _MISSING), modules.get(name, _MISSING)
            if before is now or (before is _MISSING and self.theirs(name)):
                continue
            if before is _MISSING:
                modules.pop(name, None)
            else:
                modules[name] = before
            changed.append((name, now, before))
        return changed

    def theirs(self, name: str) -> bool:
        """First imported by another thread (or in progress there) since :meth:`start`: theirs to keep."""
        return self._tracking is not None and self._tracking.theirs(name)

    def _restore_hooks(self) -> None:
        for name, value in self._hooks.items():
            if value is _MISSING:
                if hasattr(sys, name):
                    delattr(sys, name)
            elif getattr(sys, name, _MISSING) is not value:
                setattr(sys, name, value)
        for _, value, getter, setter in self._settings:
            if getattr(sys, getter)() != value:
                getattr(sys, setter)(value)
        os.environ = self._os_environ[0]  # noqa: B003 - the binding is the point: a plugin's `os.environ = {}`
        if self._os_environ[1] is not None:
            os.environb = self._os_environ[1]

    def _restore_environ(self) -> None:
        if self._environ is not None and dict(os.environ) != self._environ:
            os.environ.clear()
            os.environ.update(self._environ)

    def _restore_cwd(self) -> None:
        if self._cwd is not None and os.getcwd() != self._cwd:
            os.chdir(self._cwd)

    def _module_names(self) -> Set[str]:
        if not self.all_modules:
            if not self._trees:
                return self._protected
            prefixes = tuple(f"{top}." for top in self._trees)
            return self._protected | {
                name for name in set(sys.modules) | set(self._modules) if name in self._trees or name.startswith(prefixes)
            }
        # zrun's own modules, and the stdlib modules it imported for itself (zrun.stdlib),
        # stay: removing them would leave two copies of their classes and registries in the process.
        return {
            name
            for name in set(sys.modules) | set(self._modules)
            if name != "zrun" and not name.startswith("zrun.") and not loaded(name)
        }

    def new_modules(self) -> List[str]:
        """Names in ``sys.modules`` now that were not there at the snapshot."""
        return sorted(name for name in list(sys.modules) if name not in self._modules)

    def diff(self) -> List[str]:
        """One line per difference between ``sys`` now and the snapshot; empty if none (:mod:`zrun.engine.sysdiff`)."""
        from .sysdiff import diff  # asked by tests and hosts, never on a run's way

        return diff(self, _MISSING, own_folders())

    def __enter__(self) -> SysState:
        self.start()
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.restore()


def settle_parents(changed: Iterable[Tuple[str, Any, Any]]) -> None:
    """Once ``sys.modules`` is settled, for each ``(name, gone, back)``: the parent that stays holds ``back``
    as its attribute where it held ``gone`` (else ``from xml import dom`` returns the dropped module)."""
    for name, gone, back in changed:
        parent, _, child = name.rpartition(".")
        holder = sys.modules.get(parent) if parent else None
        if holder is not None and getattr(holder, child, None) is gone:
            if back is _MISSING:
                delattr(holder, child)
            else:
                setattr(holder, child, back)


def own_folders() -> Set[str]:
    """zrun's own package folders: their finders serve zrun's lazy imports and stay, as zrun's modules do."""
    return {
        str(folder)
        for name, module in list(sys.modules.items())
        if name == "zrun" or name.startswith("zrun.")
        for folder in getattr(module, "__path__", None) or ()
    }
