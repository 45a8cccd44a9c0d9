"""Everything a run may change in ``sys``, captured once and put back once.

runpy manages ``argv[0]`` and one ``sys.modules`` entry and leaks the rest
(REFERENCE §2). :class:`SysState` owns the whole set, so every way out of a
run (return, exception, ``SystemExit``, ``KeyboardInterrupt``) restores
through the same ``finally``.
"""

from __future__ import annotations

import _thread
import os
import sys

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Type

_MISSING: Any = object()
_LISTS = ("argv", "path", "meta_path", "path_hooks")

#: Serialises runs that alter ``sys``: it is process-global state.
SYS_LOCK = _thread.RLock()


class SysState:
    """A snapshot of ``sys`` (and optionally environ and cwd) that can be restored.

    ``modules=True`` restores all of ``sys.modules``: modules first imported
    after the snapshot are removed and shadowed ones come back. Otherwise only
    the names given to :meth:`protect` (``__main__`` always) are restored.
    """

    def __init__(self, *, modules: bool = False, environ: bool = False, cwd: bool = False) -> None:
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
        self._environ = dict(os.environ) if environ else None
        self._cwd = os.getcwd() if cwd else None

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
        """The restore, as independent steps in a fixed order."""
        parts = [self._list_restorer(name) for name in _LISTS]
        parts += [self._restore_importer_cache, self._restore_modules, self._restore_environ, self._restore_cwd]
        return parts

    def _list_restorer(self, name: str) -> Callable[[], None]:
        return lambda: self._restore_list(name)

    def _restore_list(self, name: str) -> None:
        original = self._lists[name]
        if original is _MISSING:
            if hasattr(sys, name):
                delattr(sys, name)
            return
        if isinstance(original, list):
            original[:] = self._contents[name]
        setattr(sys, name, original)

    def _restore_importer_cache(self) -> None:
        cache = sys.path_importer_cache
        for key in [key for key in cache if key not in self._importer_cache]:
            del cache[key]
        cache.update(self._importer_cache)

    def _restore_modules(self) -> None:
        """The protected names first: they need no computing, so ``__main__`` comes
        back even when listing the others fails (a ``MemoryError`` in the set union)."""
        self._put_back(self._protected)
        self._put_back(self._module_names())

    def _put_back(self, names: Iterable[str]) -> None:
        modules = sys.modules
        for name in names:
            before = self._modules.get(name, _MISSING)
            if before is _MISSING:
                modules.pop(name, None)
            elif modules.get(name) is not before:
                modules[name] = before

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
        # zrun's own modules, imported lazily during a run, stay: removing them
        # would leave two copies of its classes and registries in the process.
        return {name for name in set(sys.modules) | set(self._modules) if name != "zrun" and not name.startswith("zrun.")}

    def new_modules(self) -> List[str]:
        """Names in ``sys.modules`` now that were not there at the snapshot."""
        return sorted(name for name in sys.modules if name not in self._modules)

    def diff(self) -> List[str]:
        """One line per difference between ``sys`` now and the snapshot; empty if none."""
        lines: List[str] = []
        for name in _LISTS:
            original, now = self._lists[name], getattr(sys, name, _MISSING)
            if now is not original:
                lines.append(f"sys.{name} is a different object")
            elif isinstance(now, list) and now != self._contents[name]:
                lines.append(f"sys.{name} changed: {self._contents[name]!r} -> {now!r}")
        cache = sys.path_importer_cache
        added = sorted(set(cache) - set(self._importer_cache))
        if added:
            lines.append(f"sys.path_importer_cache gained {added!r}")
        changed = sorted(key for key, value in self._importer_cache.items() if cache.get(key, _MISSING) is not value)
        if changed:
            lines.append(f"sys.path_importer_cache lost or replaced {changed!r}")
        for name in sorted(self._module_names()):
            before, now = self._modules.get(name, _MISSING), sys.modules.get(name, _MISSING)
            if before is not now:
                what = "added" if before is _MISSING else "removed" if now is _MISSING else "replaced"
                lines.append(f"sys.modules[{name!r}] {what}")
        if self._environ is not None and dict(os.environ) != self._environ:
            lines.append("os.environ changed")
        if self._cwd is not None and os.getcwd() != self._cwd:
            lines.append(f"working directory changed: {self._cwd!r} -> {os.getcwd()!r}")
        return lines

    def __enter__(self) -> SysState:
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.restore()
