"""Process-wide installation of sources, for hosts that want imports, not runs.

A run puts its sources first only while it lasts. :func:`install` does the
same until :func:`uninstall`, and with no argument lets zrun (rather than
zipimporter) serve every zip archive on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
import zipimport

from ..engine.entries import SourceLike, as_sources
from ..loading.callbacks import register_with_registries, stop_registering, watching
from ..loading.loader import SearchFirst, SourceFinder, insert_first, path_hook, zip_path_hook
from ..loading.namespaces import merge_namespaces, stop_merging
from ..source import Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional

_installed = SearchFirst([])


def install(source: Optional[SourceLike] = None) -> Optional[Source]:
    """Search ``source`` before ``sys.path`` from now on; return the source object.

    With no argument, zip archives on ``sys.path`` are served by zrun's loader.
    The code the hooks run is imported first: imported from inside a hook, a
    module's imports would ask ``sys.path``, and so the hook, again.
    """
    from ..loading import extensions  # noqa: F401
    from ..zip import indexcache  # noqa: F401
    from ..zip import source as zip_source  # noqa: F401

    if source is None:
        from ..zip import archive  # noqa: F401  (its zlib now: a zlib.py in an archive on sys.path must not be found for it)

        if zip_path_hook not in sys.path_hooks:
            sys.path_hooks.insert(0, zip_path_hook)
        merge_namespaces()
        _registering()
        for entry, finder in list(sys.path_importer_cache.items()):
            if isinstance(finder, zipimport.zipimporter):
                del sys.path_importer_cache[entry]
        return None
    (added,) = as_sources([source])
    if not isinstance(added, Source):
        raise TypeError(f"install() takes a source or an archive, not the directory {added!r}; add directories to sys.path")
    if added not in _installed.entries:
        _installed.entries.insert(0, added)
    if _installed not in sys.meta_path:
        insert_first(_installed)
    if path_hook not in sys.path_hooks and zip_path_hook not in sys.path_hooks:
        sys.path_hooks.insert(0, path_hook)
    merge_namespaces()
    _registering()
    return added


_watch_added: List[bool] = []  # whether install() put the post-import watch on sys.meta_path


def _registering() -> None:
    if not _watch_added:
        watched = watching()
        register_with_registries()
        _watch_added.append(not watched and watching())


def uninstall(source: Optional[SourceLike] = None) -> None:
    """Undo :func:`install` for ``source`` (or, with no argument, the zip path hook)."""
    if source is None:
        _remove(sys.path_hooks, zip_path_hook)
        for entry in [entry for entry, finder in list(sys.path_importer_cache.items()) if isinstance(finder, SourceFinder)]:
            del sys.path_importer_cache[entry]
        if not _installed.entries:
            stop_merging()
            stop_registering(_watch_added.pop() if _watch_added else False)
        return
    _installed.entries[:] = [entry for entry in _installed.entries if not _same(entry, source)]
    if not _installed.entries:
        _remove(sys.meta_path, _installed)
        _remove(sys.path_hooks, path_hook)
        if zip_path_hook not in sys.path_hooks:
            stop_merging()
            stop_registering(_watch_added.pop() if _watch_added else False)


def installed() -> List[Source]:
    """Sources installed process-wide, first searched first."""
    return [entry for entry in _installed.entries if isinstance(entry, Source)]


def _same(entry: object, source: SourceLike) -> bool:
    if isinstance(source, Source):
        return entry is source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return False
    return isinstance(entry, Source) and entry.root == os.path.abspath(os.fsdecode(source))


def _remove(items: list, item: object) -> None:  # type: ignore[type-arg]
    while item in items:
        items.remove(item)
