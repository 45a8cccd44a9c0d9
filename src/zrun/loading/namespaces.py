"""PEP 420 namespace packages whose portions are spread over sources and ``sys.path``.

A finder reports a namespace *portion* as a spec with no loader and one
search location; ``PathFinder`` keeps scanning, a regular package found later
wins, and otherwise the portions merge into one package. zrun's path-entry
finders answer that way, so ``PathFinder`` merges zip, memory and directory
portions alike. Two things the stdlib cannot do are done here: merging the
portions of a run's sources (searched by a meta-path finder, before
``sys.path``), and serving the merged package's resources, which the stdlib's
namespace reader finds only in real directories (and in zips from 3.13).
"""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

from .finders import path_hook
from .moduleloader import StdlibNamespaceLoader, is_portion

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, List, Optional, Sequence


class PortionsLoader(StdlibNamespaceLoader):
    """The stdlib's namespace loader, with resources from every kind of portion.

    A subclass, so code that checks for a namespace loader still sees one.
    """

    _path: Any

    @classmethod
    def over(cls, path: Iterable[str]) -> PortionsLoader:
        """A loader for a package whose ``__path__`` is ``path`` (kept, not copied: a
        ``_NamespacePath`` recomputes itself when ``sys.path`` changes)."""
        loader: PortionsLoader = cls.__new__(cls)
        loader._path = path
        return loader

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run; ``__file__`` is ``None``, as the import system sets it for namespace packages."""
        vars(module).setdefault("__file__", None)

    def get_resource_reader(self, fullname: str) -> Any:  # type: ignore[override]
        from .multiplexed import PortionsReader

        return PortionsReader(self._path)


def merged_spec(fullname: str, portions: Sequence[str]) -> ModuleSpec:
    """The spec of a namespace package made of ``portions`` (search locations, in order)."""
    locations = list(dict.fromkeys(portions))
    spec = ModuleSpec(fullname, PortionsLoader.over(locations), is_package=True)  # type: ignore[arg-type]
    spec.submodule_search_locations = locations
    return spec


def find_across(fullname: str, specs: Iterable[Optional[ModuleSpec]]) -> Optional[ModuleSpec]:
    """PEP 420's scan over ``specs`` (what each finder answers, asked as the scan goes on), then namespace portions on ``sys.path``.

    The first module or regular package wins, even after portions; portions
    alone make a namespace package, merged with ``sys.path``'s portions of the
    same name (a regular package there does not replace the run's namespace:
    the run's sources come first).
    """
    portions: List[str] = []
    for spec in specs:
        if spec is None:
            continue
        if not is_portion(spec):
            return spec
        portions.extend(spec.submodule_search_locations or ())
    if not portions:
        return None
    elsewhere = PathFinder.find_spec(fullname)
    if elsewhere is not None and elsewhere.loader is None and elsewhere.submodule_search_locations is not None:
        portions.extend(elsewhere.submodule_search_locations)
    return merged_spec(fullname, portions)


class MergedNamespaces:
    """Meta-path finder just before ``PathFinder``: its answer, with resources for zrun portions.

    ``PathFinder`` merges portions into a spec with no loader, and the import
    system then gives the package the stdlib's namespace loader, whose reader
    raises ``NotADirectoryError`` for a zip or memory portion (3.10-3.12).
    The spec found here is the one ``PathFinder`` returns; only its loader is
    set when a portion is zrun's. A miss is left to ``PathFinder`` itself.
    """

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        spec = PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is None and spec.submodule_search_locations is not None:
            if any(_served(location) for location in spec.submodule_search_locations):
                spec.loader = PortionsLoader.over(spec.submodule_search_locations)  # type: ignore[assignment]
        return spec

    def invalidate_caches(self) -> None:
        """``PathFinder`` is on ``sys.meta_path`` too and invalidates its own caches."""

    def __repr__(self) -> str:
        return "<zrun MergedNamespaces>"


MERGED = MergedNamespaces()


def merge_namespaces() -> None:
    """Put :data:`MERGED` just before ``PathFinder`` on ``sys.meta_path`` (once)."""
    if MERGED in sys.meta_path:
        return
    where = sys.meta_path.index(PathFinder) if PathFinder in sys.meta_path else len(sys.meta_path)
    sys.meta_path.insert(where, MERGED)


def stop_merging() -> None:
    """Take :data:`MERGED` off ``sys.meta_path``."""
    while MERGED in sys.meta_path:
        sys.meta_path.remove(MERGED)


def _served(location: str) -> bool:
    """Whether a live zrun source holds ``location`` (before any finder is cached for it)."""
    try:
        path_hook(location)
    except ImportError:
        return False
    return True
