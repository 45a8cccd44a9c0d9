"""The temporary changes a run makes to the interpreter, one context manager each.

As runpy's ``_TempModule`` and ``_ModifiedArgv0``: a piece makes one change
on entry and undoes it on exit, however the body ends, so restoring is
structural. A run enters them on one :class:`~zrun.engine.steps.Pieces`
stack, which undoes them in reverse order; the run's :class:`~zrun.engine.sysstate.SysState` then puts
back whatever else the run's code changed, and proves the pieces left nothing.
Plain classes, not ``contextlib``: the CLI's start-up imports no ``contextlib``
on 3.13+.
"""

from __future__ import annotations

import os
import sys
from _weakref import ref

from ..loading.callbacks import register_with_registries, when_imported
from ..loading.loader import SearchFirst, insert_first, path_hook
from ..source import Source

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, ClassVar, Iterable, List, Optional, Sequence, Tuple

    from .entries import Entry

_MISSING: Any = object()
_SPAWN = "multiprocessing.spawn"


class SourcesFirst:
    """``entries`` are searched before everything else, and their folders resolve through zrun's path hook.

    Cached path-entry finders for places inside the sources are forgotten
    (an earlier import's zipimporter would serve the package's submodules
    from another loader, or from the archive's old content); ``aliases``,
    a location's spellings of its path, are importer-cache keys for ``aliased``.
    Namespace packages merge their portions (the merger goes on ``sys.meta_path``
    when a source holds one), and the import registries
    (``pkgutil``, ``pkg_resources``, distlib) learn about zrun's loaders.
    """

    def __init__(self, entries: Sequence[Entry], aliases: Iterable[str] = (), aliased: Optional[Source] = None) -> None:
        self.finder = SearchFirst(entries)
        self.aliases = list(aliases) if aliased is not None else []
        self.aliased = aliased

    def __enter__(self) -> SearchFirst:
        self.meta_path, self.path_hooks, cache = sys.meta_path, sys.path_hooks, sys.path_importer_cache
        before = list(self.meta_path)
        roots = [entry.root for entry in self.finder.entries if isinstance(entry, Source)]
        self.forgotten = {key: cache.pop(key) for key in [key for key in list(cache) if _inside(key, roots)]}
        self.added_hook = path_hook not in self.path_hooks
        self.replaced = {key: cache.get(key, _MISSING) for key in self.aliases}
        insert_first(self.finder)
        if self.added_hook:
            self.path_hooks.insert(0, path_hook)
        if any(isinstance(entry, Source) and entry.holds_portions() for entry in self.finder.entries):
            from ..loading.namespaces import merge_namespaces  # only sources with a namespace package need it

            merge_namespaces()
        register_with_registries()
        self.added = [item for item in self.meta_path if not any(item is old for old in before) and _zrun_made(item)]
        if self.aliased is not None:
            cache.update(dict.fromkeys(self.aliases, path_hook(self.aliased.root)))
        return self.finder

    def __exit__(self, *exc: object) -> None:
        cache = sys.path_importer_cache
        for key, value in self.replaced.items():
            if value is _MISSING:
                cache.pop(key, None)
            else:
                cache[key] = value
        cache.update(self.forgotten)
        if self.added_hook and not _swapped_back(self.path_hooks) and path_hook in self.path_hooks:
            self.path_hooks.remove(path_hook)
        if not _swapped_back(self.meta_path):
            self.meta_path[:] = [item for item in self.meta_path if not any(item is mine for mine in self.added)]


def _swapped_back(listing: object) -> bool:
    """A run's stand-in for a host list (:class:`zrun.engine.otherthreads.TrackedList`): its restore swaps
    the host's list back whole; removing from the stand-in would make a thread walking it skip an entry."""
    return getattr(listing, "swapped_back", False)


def _inside(key: str, roots: Sequence[str]) -> bool:
    return any(key == root or key.startswith((root + "/", root + os.sep)) for root in roots)


def _zrun_made(item: object) -> bool:
    """zrun's own finders (the search-first one, the namespace merger, the post-import watch); never another thread's."""
    return type(item).__module__.partition(".")[0] == "zrun"


class HiddenModules:
    """Modules out of ``sys.modules`` for the run, so the run's sources answer their names; the same objects come back."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(names)

    @classmethod
    def trees(cls, tops: Sequence[str]) -> HiddenModules:
        """These packages and every submodule of theirs now in ``sys.modules``."""
        prefixes = tuple(f"{top}." for top in tops)
        return cls(name for name in list(sys.modules) if name in tops or name.startswith(prefixes))

    def __enter__(self) -> None:
        modules = sys.modules
        self.saved = {name: modules.pop(name) for name in self.names if name in modules}

    def __exit__(self, *exc: object) -> None:
        from .sysstate import settle_parents  # loaded: every run that is left has a SysState

        modules, changed = sys.modules, []
        for name, module in self.saved.items():
            now = modules.get(name, _MISSING)
            if now is not module:
                modules[name] = module
                changed.append((name, now, module))
        settle_parents(changed)


class Path0:
    """``entry`` at ``sys.path[0]``, inserted, or ``replace``-ing what the interpreter put there; ``None``: no change."""

    def __init__(self, entry: Optional[str], *, replace: bool = False) -> None:
        self.entry = entry
        self.replace = replace

    def __enter__(self) -> None:
        self.path, entry = sys.path, self.entry
        if entry is None:
            return
        self.previous = self.path[0] if self.replace and self.path else _MISSING
        if self.previous is _MISSING:
            self.path.insert(0, entry)
        else:
            self.path[0] = entry

    def __exit__(self, *exc: object) -> None:
        path = self.path
        if self.entry is None:
            return
        if "importlib.metadata" in sys.modules:  # it keeps the entry's archive open: see forget_path_entries
            from ..loading.distributions import forget_path_entries

            forget_path_entries()
        if _swapped_back(path) or self.entry not in path:
            return
        where = 0 if path[0] == self.entry else path.index(self.entry)
        if self.previous is _MISSING:
            del path[where]
        else:
            path[where] = self.previous


class Argv:
    """``sys.argv`` is ``[argv0, *argv]``, changed in place as runpy and console scripts do
    (``def main(args=sys.argv)`` captured the list at import); the same list and contents come back."""

    def __init__(self, argv0: str, argv: Sequence[str]) -> None:
        self.argv = [argv0, *argv]

    def __enter__(self) -> None:
        self.original = getattr(sys, "argv", _MISSING)
        self.contents = list(self.original) if isinstance(self.original, list) else None
        if self.contents is not None:
            self.original[:] = self.argv
        else:
            sys.argv = self.argv

    def __exit__(self, *exc: object) -> None:
        if self.original is _MISSING:
            if hasattr(sys, "argv"):
                del sys.argv
            return
        if self.contents is not None:
            self.original[:] = self.contents
        sys.argv = self.original


class MainModule:
    """``module`` in ``sys.modules`` under its name while the run executes it.

    What was there comes back if the entry is still ``module``; code that
    replaced or removed it meant to, and the run's SysState, which always
    restores the names it protects, decides.
    """

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def __enter__(self) -> ModuleType:
        name = self.module.__name__
        self.previous = sys.modules.get(name, _MISSING)
        sys.modules[name] = self.module
        return self.module

    def __exit__(self, *exc: object) -> None:
        name = self.module.__name__
        if sys.modules.get(name) is self.module:
            if self.previous is _MISSING:
                del sys.modules[name]
            else:
                sys.modules[name] = self.previous


class SpawnPatch:
    """Spawn-mode children find the run's sources and, for a ``module`` run from ``path``, rebuild it from the path.

    :mod:`zrun.engine.spawn` patches ``multiprocessing.spawn`` once it is
    imported (it costs tens of milliseconds: not before), and unpatches it
    when the last run that needed it ends.
    """

    #: The one main module run from a path, and how many entered pieces want the patch.
    respawn: ClassVar[List[Tuple[Any, str]]] = []
    active: ClassVar[int] = 0

    def __init__(self, module: Optional[ModuleType] = None, path: Optional[str] = None) -> None:
        self.module = module
        self.path = path

    def __enter__(self) -> None:
        self.previous = list(SpawnPatch.respawn)
        if self.module is not None and self.path is not None:
            SpawnPatch.respawn[:] = [(ref(self.module), self.path)]
        SpawnPatch.active += 1
        when_imported(_SPAWN, _patch_spawn)

    def __exit__(self, *exc: object) -> None:
        SpawnPatch.active -= 1
        SpawnPatch.respawn[:] = self.previous
        spawn = sys.modules.get(_SPAWN)
        if not SpawnPatch.active and spawn is not None:
            from .spawn import unpatch

            unpatch(spawn)


def _patch_spawn(module: ModuleType) -> None:
    """Once ``multiprocessing.spawn`` is imported: patch it, if a run still wants it."""
    if SpawnPatch.active:
        from .spawn import patch

        patch(module, SpawnPatch.respawn)
