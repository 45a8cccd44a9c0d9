"""Path-entry finders over sources, and the path hooks that make them.

A :class:`SourceFinder` answers for one directory of one source, as the
finder that :func:`path_hook` returns for a ``sys.path`` or ``__path__`` entry
inside a live source (and, wrapped by :class:`zrun.loading.loader.SearchFirst`,
before all else for a run's own sources). :func:`zip_path_hook` also claims
zip files on ``sys.path`` from zipimport. Each module found gets the loader
class :func:`find_in` picks for its source.
"""

from __future__ import annotations

import os
import sys

from ..errors import ArchiveNotFound
from ..source import Source, registered
from ..stdlib import OWN, in_own_work, stdlib
from .moduleloader import ModuleLoader, read_by_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Iterator, Optional, Set, Tuple, Type


class SourceFinder:
    """Path-entry finder for one directory (``prefix``) of a source."""

    def __init__(self, source: Source, prefix: str = "") -> None:
        self.source = source
        self.prefix = prefix

    def find_spec(self, fullname: str, target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        if _own(fullname) or in_own_work():  # zrun's own code and imports never come from a source
            return None
        if not _refreshed(self.source):
            return None
        return find_in(self.source, fullname, self.prefix + fullname.rpartition(".")[2])

    def invalidate_caches(self) -> None:
        _refreshed(self.source)

    def iter_modules(self, prefix: str = "") -> Iterator[Tuple[str, bool]]:
        """``pkgutil.iter_modules`` for this folder, as pkgutil lists a directory: modules, and
        folders holding an ``__init__`` (namespace packages are not listed).

        pkgutil's ``iter_importer_modules`` knows only ``FileFinder`` and
        ``zipimporter`` by type, and asks any other finder for this method: no
        registration with pkgutil is needed, so none is imported when it is (3.9's runpy).
        """
        inspect = stdlib("inspect")
        source, folder = self.source, self.prefix.rstrip("/")
        if not source.is_dir(folder):
            return
        yielded: Set[str] = set()
        for entry in source.children(folder):
            name = entry.rpartition("/")[2]
            modname = inspect.getmodulename(name)
            is_package = False
            if not modname and source.is_dir(entry) and "." not in name:
                if not any(inspect.getmodulename(child.rpartition("/")[2]) == "__init__" for child in source.children(entry)):
                    continue
                modname, is_package = name, True
            if modname and modname != "__init__" and "." not in modname and modname not in yielded:
                yielded.add(modname)
                yield prefix + modname, is_package

    def get_data(self, path: str) -> bytes:
        """A file of the source by its full path, as zipimporter's ``get_data`` reads it.

        3.14.10+ and 3.15's ``linecache`` look source lines of archive modules
        up through ``sys.path_importer_cache[parent].get_data(filename)``
        (a ``SyntaxWarning`` raised while compiling shows its line that way).
        """
        return read_by_path(self.source, path)

    def __repr__(self) -> str:
        return f"<SourceFinder {self.source.filename(self.prefix.rstrip('/'))}>"


def _refreshed(source: Source) -> bool:
    """Re-index ``source`` if it changed; ``False`` if its archive is gone (it then holds nothing)."""
    try:
        source.refresh()
    except ArchiveNotFound:
        return False
    return True


def _own(fullname: str) -> bool:
    return fullname == OWN or fullname.startswith(OWN + ".")


def find_in(source: Source, fullname: str, base: str) -> Optional[ModuleSpec]:
    """The spec for ``fullname`` stored under ``base`` (``pkg/mod``) in ``source``."""
    return loader_type(source).find(source, fullname, base)


def loader_type(source: Source) -> Type[ModuleLoader]:
    """A zip archive on disk gets the loader that is also a ``zipimporter`` (:mod:`zrun.loading.zipimporter`)."""
    if source.archive_path is None:
        return ModuleLoader
    found = _archive_loader
    if found is None:  # imported once, not per module found: only runs that find modules in an archive on disk import zipimport's kin
        found = _archive_loader_type()
    return found


_archive_loader: Optional[Type[ModuleLoader]] = None


def _archive_loader_type() -> Type[ModuleLoader]:
    global _archive_loader
    from .zipimporter import ArchiveLoader

    _archive_loader = ArchiveLoader
    return ArchiveLoader


def path_hook(entry: str) -> SourceFinder:
    """Path-entry hook: a finder for a live source's root or a folder inside it."""
    head, tail = entry if isinstance(entry, str) else os.fsdecode(entry), ""  # TypeError for non-paths, as zipimporter
    while head:
        source = registered(head)
        if source is not None:
            return SourceFinder(source, f"{tail}/" if tail else "")
        cut = max(head.rfind("/"), head.rfind(os.sep))
        if cut <= 0:
            break
        head, tail = head[:cut], f"{head[cut + 1 :]}/{tail}" if tail else head[cut + 1 :]
    raise ImportError("not a zrun source", path=entry)


def zip_path_hook(entry: str) -> SourceFinder:
    """Path-entry hook that also claims zip files on ``sys.path`` from zipimporter.

    Directories and the running zrun's own package folder are refused before
    anything is imported: zipimporter keeps serving zrun's own code.
    """
    if isinstance(entry, str) and (os.path.isdir(entry) or _inside_own_package(entry)):
        raise ImportError("not a zip archive for zrun", path=entry)
    try:
        return path_hook(entry)
    except ImportError:
        pass
    from ..errors import ArchiveError
    from ..zip.source import ZipSource, split_archive_path

    try:
        archive, inner = split_archive_path(entry)
        if not _looks_like_zip(archive):
            raise ImportError("not a zip archive", path=entry)
        source = ZipSource(archive)
    except ArchiveError:
        raise ImportError("not a zip archive", path=entry) from None
    return SourceFinder(source, f"{inner}/" if inner else "")


def _inside_own_package(entry: str) -> bool:
    folders = getattr(sys.modules.get(OWN), "__path__", ())
    return any(entry == folder or entry.startswith((folder + "/", folder + os.sep)) for folder in folders)


def _looks_like_zip(path: str) -> bool:
    from ..errors import NotAnArchive
    from ..zip.archive import Archive

    try:
        Archive.open(path)
    except NotAnArchive:
        return False
    return True
