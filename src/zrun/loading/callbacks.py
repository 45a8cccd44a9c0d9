"""Callbacks that run once a module has been imported (PEP 369's post-import hooks).

zrun adjusts two stdlib modules, ``multiprocessing.spawn`` and ``linecache``,
only for targets that use them: importing either up front costs milliseconds
of every run's start-up (``linecache`` pulls in ``tokenize`` and ``re``).
The watch is a meta-path finder, placed by :func:`insert_first` where every
finder of zrun's goes. The source lines of archive code wait here
(:func:`source_lines`) until ``linecache`` is imported, so a run that shows no
traceback imports no traceback code at all. Nothing here imports the rest of
the loader family but lazily the library registrations, which are above it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Callable, Dict, List, Optional, Sequence

_callbacks: Dict[str, List[Callable[[ModuleType], None]]] = {}
_lines: Dict[str, Callable[[], Optional[str]]] = {}  # file name -> its source text, for linecache once imported


def when_imported(name: str, callback: Callable[[ModuleType], None]) -> None:
    """Call ``callback(module)`` now if ``name`` is imported, else right after it is."""
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    waiting = _callbacks.setdefault(name, [])
    if callback not in waiting:
        waiting.append(callback)
    if not any(isinstance(finder, _Watch) for finder in sys.meta_path):
        insert_first(_Watch())


def source_lines(filename: str, source: Callable[[], Optional[str]]) -> None:
    """Let tracebacks, ``warnings`` and ``inspect`` show ``filename``'s lines, read by ``source()`` only when shown.

    Given to :mod:`linecache` as a lazy entry; until the target imports it, the
    entry waits here and is handed over when it is imported.
    """
    linecache = sys.modules.get("linecache")
    if linecache is not None:
        hand_over_lines(linecache)  # what waited while a run's import hook was in place, if any
        linecache.cache[filename] = (source,)
    else:
        _lines[filename] = source
        when_imported("linecache", hand_over_lines)


def hand_over_lines(linecache: ModuleType) -> None:
    """Put every waiting :func:`source_lines` entry in ``linecache``'s cache."""
    while _lines:
        filename, source = _lines.popitem()
        linecache.cache[filename] = (source,)


def insert_first(finder: object) -> None:
    """Put ``finder`` first on ``sys.meta_path``, behind only the import recorders of
    :mod:`zrun.engine.otherthreads`, which must see every lookup of every thread."""
    meta_path = sys.meta_path
    at = 0
    while at < len(meta_path) and getattr(meta_path[at], "records_imports", False):
        at += 1
    meta_path.insert(at, finder)  # type: ignore[arg-type]


#: Libraries that keep registries of importer types; :mod:`zrun.loading.registrations` adds zrun's once they are imported.
REGISTRIES = ("distlib.resources", "pip._vendor.distlib.resources", "pkg_resources", "pip._vendor.pkg_resources")


def register_with_registries() -> None:
    """Teach each library in :data:`REGISTRIES` about zrun's finder and loaders, now or once imported."""
    for name in REGISTRIES:
        when_imported(name, _register)


def stop_registering(unwatch: bool) -> None:
    """Undo :func:`register_with_registries` for libraries not imported yet; with ``unwatch``
    (the watch was put on ``sys.meta_path`` for them), take the watch off too."""
    for name in REGISTRIES:
        waiting = _callbacks.get(name, [])
        while _register in waiting:
            waiting.remove(_register)
        if not waiting:
            _callbacks.pop(name, None)
    if unwatch or not _callbacks:
        sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _Watch)]


def watching() -> bool:
    """Whether the post-import watch is on ``sys.meta_path``."""
    return any(isinstance(finder, _Watch) for finder in sys.meta_path)


def _register(module: ModuleType) -> None:
    from .registrations import register

    register(module)


class _Watch:
    """Meta-path finder that lets the real finder find a watched module, then wraps its loader."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        if fullname not in _callbacks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: Optional[ModuleSpec] = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _Notify(spec.loader)  # type: ignore[assignment]
                return spec
        return None


class _Notify:
    """Executes the module with its own loader, puts that loader back, then runs the callbacks."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> Optional[ModuleType]:
        module: Optional[ModuleType] = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        module.__loader__ = self.loader
        self.loader.exec_module(module)
        for callback in _callbacks.pop(module.__name__, []):
            callback(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)
