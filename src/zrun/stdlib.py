"""zrun's own imports: never from a run's sources, never through ``sys.path``.

zrun imports some standard-library modules (``zlib``, ``_blake2``, ``bz2``,
...) and some of its own submodules lazily, because importing them up front
would cost every run's start-up. A lazy import happens when zrun first needs
the module, which is often while a run's sources are searched first
(:class:`zrun.loading.loader.SearchFirst` at ``sys.meta_path[0]``) or while zrun's own
path hook is asked about a ``sys.path`` entry. Through the import system an
archive holding ``zlib.py`` then handed zrun *its* zlib (CPython's
``test_zipimport.testAFakeZlib``), and a hook that imported ``_blake2``
through ``sys.path`` asked itself about the same entry again, until
``RecursionError`` (``test_zipimport_support.test_doctest_issue4197``).

Two rules answer it:

- :func:`stdlib` finds a module only where the interpreter keeps its own:
  built-in, frozen, then the stdlib and extension directories, through
  finders of its own. ``sys.meta_path``, ``sys.path``, ``sys.path_hooks`` and
  the importer cache are never consulted, so no source and no hook is asked.
- :func:`own_work` tells zrun's finders to step aside: while :func:`stdlib`
  loads a module (whose own imports do go through the import system), and
  while the body of one of zrun's modules runs, i.e. zrun is importing its
  own code. zrun's finders then answer nothing, and those imports see only
  ``sys.path``, as the host's own imports would.
"""

from __future__ import annotations

import _thread
import os
import sys
from importlib import machinery  # not ``from importlib.machinery import ...``: see below

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from importlib.machinery import FileFinder, ModuleSpec
    from types import FrameType, ModuleType
    from typing import Any, Dict, List, Optional

# ``from importlib.machinery import NAME`` asks the module for ``__path__`` first, and on 3.15 its
# ``__getattr__`` imports ``warnings`` (with ``_py_warnings``: 0.3 ms) to answer that: the modules
# of zrun's start-up read importlib.machinery's names as attributes instead.

#: The running zrun's top-level name; no source or archive ever provides it.
OWN = __name__.partition(".")[0]
_local = _thread._local()
_finders: List[FileFinder] = []
_loaded: Dict[str, ModuleType] = {}  # what stdlib() handed out, by name
_ABSENT: Any = object()
#: Frames of the import machinery, between an ``import`` and the finder it reaches.
_MACHINERY = frozenset({"find_spec", "exec_module", "create_module", "_call_with_frames_removed", "import_module"})


def stdlib(name: str) -> ModuleType:
    """The standard library's ``name``, found and loaded as :mod:`zrun.stdlib` explains.

    When nobody has imported ``name`` yet it is imported for the process, as an
    import at start-up would have; when ``sys.modules`` holds something else
    under that name (an archive's ``zlib.py``), zrun loads its own copy and
    leaves that entry alone. ``sys.modules[name] = None`` blocks it, as it
    blocks an import statement.
    """
    module = _loaded.get(name)
    if module is not None and sys.modules.get(name, module) is not None:
        return module
    found = sys.modules.get(name, _ABSENT)
    if found is None:
        raise ModuleNotFoundError(f"import of {name} halted; None in sys.modules", name=name)
    if found is not _ABSENT and _imported_from_stdlib(name, found):  # the common case: no directory listing
        _loaded[name] = found
        return found  # type: ignore[no-any-return]
    spec = _find(name)
    parent, _, leaf = name.rpartition(".")
    with own_work():
        current = sys.modules.get(name)
        if current is None and parent and sys.modules.get(parent) is not _loaded[parent]:
            current = _alone(spec)  # the package in sys.modules is not the stdlib's: keep out of it
        elif current is None:
            current = _import(spec)
            if parent:
                setattr(_loaded[parent], leaf, current)  # as the import statement binds a submodule
        elif not _same(current, spec):
            current = _alone(spec)
    _loaded[name] = current
    return current


def loaded(name: str) -> bool:
    """True when ``sys.modules[name]`` is the module :func:`stdlib` loaded for zrun (so it stays)."""
    module = _loaded.get(name)
    return module is not None and sys.modules.get(name) is module


class own_work:
    """While entered (in this thread), zrun's finders answer nothing: zrun is importing for itself."""

    def __enter__(self) -> None:
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _local.depth -= 1


def in_own_work() -> bool:
    """True inside :class:`own_work`, or when the import was started by the body of a zrun module."""
    if getattr(_local, "depth", 0):
        return True
    frame: Optional[FrameType] = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "<module>":
            # A module body: zrun's own if it is one of zrun's modules; any other
            # module body is being imported by somebody, so look at who did.
            name = frame.f_globals.get("__name__")
            if isinstance(name, str) and (name == OWN or name.startswith(OWN + ".")):
                return True
        elif code.co_name not in _MACHINERY and not code.co_filename.startswith("<frozen importlib"):
            return False  # a function that imports: the user's, or zrun running the user's code
        frame = frame.f_back
    return False


def own_import(name: str) -> ModuleType:
    """Import a module zrun needs from outside the standard library (``backports.zstd``)
    through ``sys.path`` as the host would, with zrun's finders stepping aside: never from a source."""
    import importlib

    with own_work():
        return importlib.import_module(name)


def _find(name: str) -> ModuleSpec:
    parent = name.rpartition(".")[0]
    if parent:  # a submodule: in its genuine package's folders only
        package = stdlib(parent)
        spec = _search(name, [_finder(folder) for folder in getattr(package, "__path__", ())])
        if spec is None:
            raise ModuleNotFoundError(f"No module named {name!r} in the standard library", name=name)
        return spec
    spec = machinery.BuiltinImporter.find_spec(name) or machinery.FrozenImporter.find_spec(name)
    if spec is None:
        if not _finders:
            _finders.extend(map(_finder, _directories(sysconfig=False)))
        spec = _search(name)
        if spec is None:
            _finders.extend(map(_finder, _directories(sysconfig=True)))
            spec = _search(name)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {name!r} in the standard library", name=name)
    return spec


def _search(name: str, finders: Optional[List[FileFinder]] = None) -> Optional[ModuleSpec]:
    for finder in _finders if finders is None else finders:
        spec = finder.find_spec(name)
        if spec is not None and spec.loader is not None:
            return spec
    return None


def _directories(sysconfig: bool) -> List[str]:
    """The stdlib folder and the extension folder beside it; with ``sysconfig``, the ones it names."""
    if not sysconfig:
        home = getattr(sys, "_stdlib_dir", None) or os.path.dirname(os.__file__)
        return [home, os.path.join(home, "lib-dynload")]
    config = stdlib("sysconfig")
    places = [config.get_path("stdlib"), config.get_path("platstdlib")]
    places += [os.path.join(places[1], "lib-dynload"), os.path.join(sys.base_exec_prefix, "DLLs")]
    return [place for place in places if place and os.path.isdir(place)]


def _finder(directory: str) -> FileFinder:
    """The interpreter's own finder for ``directory`` when it made one (its listing is warm), else a new one."""
    cached = sys.path_importer_cache.get(directory)
    if type(cached) is machinery.FileFinder:
        return cached
    return machinery.FileFinder(
        directory,
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
        (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES),
    )


def _imported_from_stdlib(name: str, module: ModuleType) -> bool:
    """A top-level module already imported from where :func:`stdlib` would find it (judged by its spec alone)."""
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if "." in name or not isinstance(origin, str) or getattr(spec, "name", None) != name:
        return False
    if origin == "built-in":
        return name in sys.builtin_module_names
    if origin == "frozen":
        return machinery.FrozenImporter.find_spec(name) is not None
    folder = os.path.dirname(origin)
    if getattr(spec, "submodule_search_locations", None) is not None:  # a package: pkg/__init__.py
        folder = os.path.dirname(folder)
    return folder in _directories(sysconfig=False)


def _same(module: ModuleType, spec: ModuleSpec) -> bool:
    found = getattr(module, "__spec__", None)
    return found is not None and found.origin == spec.origin


def _import(spec: ModuleSpec) -> ModuleType:
    """Import ``spec`` into ``sys.modules`` under the module's import lock, as an import statement would."""
    _bootstrap: Any = sys.modules["importlib._bootstrap"]  # where the import statement's locks live
    with _bootstrap._ModuleLockManager(spec.name):
        current = sys.modules.get(spec.name)
        if current is not None:  # another thread imported it meanwhile
            return current if _same(current, spec) else _alone(spec)
        module: ModuleType = _bootstrap._load_unlocked(spec)
        return module


def _alone(spec: ModuleSpec) -> ModuleType:
    """A private copy, not in ``sys.modules``: the name there belongs to something else.

    Creating a single-phase-init extension module (3.9's ``zlib``) puts it in
    ``sys.modules`` as a side effect; the entry that was there is put back.
    """
    from importlib.util import module_from_spec

    previous = sys.modules.get(spec.name, _ABSENT)
    try:
        module = module_from_spec(spec)
        assert spec.loader is not None
        spec.loader.exec_module(module)
    finally:
        if sys.modules.get(spec.name, _ABSENT) is not previous:
            if previous is _ABSENT:
                sys.modules.pop(spec.name, None)
            else:
                sys.modules[spec.name] = previous
    return module
