"""The loader family's front: a run's sources searched first, and the one place its parts are joined.

:class:`SearchFirst` puts a run's sources and location before all else on
``sys.meta_path``, each searched by a :class:`~zrun.loading.finders.SourceFinder`
and their namespace portions merged (:mod:`zrun.loading.namespaces`). The
layers below never import upwards: the loader (:mod:`zrun.loading.moduleloader`)
and its zipimporter-shaped subclass at the bottom, the finders and path hooks
above them (:mod:`zrun.loading.finders`), features above those. A feature the
loader calls, source lines for linecache, is hooked in here, once; the
namespace merger (:mod:`zrun.loading.namespaces`) is imported only when a
search meets a namespace portion.

The names the engine and the install API use are importable from here.
"""

from __future__ import annotations

import sys
from importlib import machinery  # its names as attributes: see zrun.stdlib (3.15 imports warnings otherwise)

from ..source import Source
from ..stdlib import OWN, in_own_work
from . import moduleloader
from .callbacks import insert_first, source_lines
from .finders import SourceFinder, find_in, path_hook, zip_path_hook
from .moduleloader import ModuleLoader, is_portion

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Callable, Iterator, List, Optional, Sequence, Union

__all__ = [
    "ModuleLoader",
    "SearchFirst",
    "SourceFinder",
    "find_in",
    "insert_first",
    "location_of",
    "path_hook",
    "searched_first",
    "zip_path_hook",
]

if source_lines not in moduleloader.COMPILED:
    moduleloader.COMPILED.append(source_lines)


class SearchFirst:
    """Meta-path finder that puts a run's sources and location before all else.

    Only top-level names are answered; submodules follow their package's
    ``__path__``, so a host package of the same name keeps its submodules.
    ``zrun`` itself is never answered, and nothing is while zrun imports for
    itself (:func:`zrun.stdlib.in_own_work`): a source cannot replace zrun's code.
    """

    def __init__(self, entries: Sequence[Union[str, Source]]) -> None:
        self.entries = list(entries)

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        if path is not None or fullname == OWN or in_own_work():
            return None
        specs = (_finder_of(entry)(fullname) for entry in self.entries)  # asked one by one, as the scan goes on
        for spec in specs:
            if spec is not None and not is_portion(spec):
                return spec
            if spec is not None:  # portions of several entries merge (PEP 420), with sys.path's
                from .namespaces import find_across

                return find_across(fullname, _then(spec, specs))
        return None

    def invalidate_caches(self) -> None:
        for entry in self.entries:
            if not isinstance(entry, str):
                entry.refresh()

    def find_distributions(self, context: Any = None) -> Any:
        """``importlib.metadata`` asks meta-path finders; these entries are not on ``sys.path``."""
        from .distributions import find_distributions

        return find_distributions(self.entries, context)

    def __repr__(self) -> str:
        return f"<SearchFirst {self.entries!r}>"


def _finder_of(entry: Union[str, Source]) -> Callable[[str], Optional[ModuleSpec]]:
    if isinstance(entry, str):
        return lambda fullname: machinery.PathFinder.find_spec(fullname, [entry])
    return SourceFinder(entry).find_spec


def _then(first: ModuleSpec, rest: Iterator[Optional[ModuleSpec]]) -> Iterator[Optional[ModuleSpec]]:
    """``first``, then what ``rest`` still answers (``itertools.chain``, which 3.15 does not load at start-up)."""
    yield first
    yield from rest


def searched_first() -> List[Union[str, Source]]:
    """The entries of every active :class:`SearchFirst`, in search order: a run's location and sources."""
    return [entry for finder in sys.meta_path if isinstance(finder, SearchFirst) for entry in finder.entries]


def location_of(entry: Union[str, Source]) -> Optional[str]:
    """The ``sys.path`` entry for a source with a real location, else ``None``."""
    if isinstance(entry, str):
        return entry
    return entry.root if entry.has_location else None
