"""The one PEP 451 finder/loader family, serving every kind of source.

A :class:`SourceFinder` answers for one directory of one source (as a
meta-path finder, or as the path-entry finder that :func:`path_hook` returns
for a ``sys.path`` or ``__path__`` entry). Each module it finds gets a
:class:`ModuleLoader`, which knows its source entry and nothing else.

Compiled code is kept in zrun's cache (:func:`zrun.loading.bytecode.compile_cached`),
and an extension module found in a source is extracted when it is imported
(:mod:`zrun.loading.extensions`), since the dynamic loader can only map a real file.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec, PathFinder
from types import CodeType, ModuleType

from ..source import Source, registered
from ..stdlib import OWN, in_own_work
from .bytecode import compile_cached, compile_source, shipped_pyc_code, source_text, sourceless_code
from .tracebacks import register

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Sequence, Union


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

    def get_data(self, path: str) -> bytes:
        """A file of the source by its full path, as zipimporter's ``get_data`` reads it.

        3.14.10+ and 3.15's ``linecache`` look source lines of archive modules
        up through ``sys.path_importer_cache[parent].get_data(filename)``
        (a ``SyntaxWarning`` raised while compiling shows its line that way).
        """
        return read_by_path(self.source, path)

    def __repr__(self) -> str:
        return f"<SourceFinder {self.source.filename(self.prefix.rstrip('/'))}>"


def read_by_path(source: Source, path: str) -> bytes:
    """The entry of ``source`` that ``path`` (below the source's root, or relative to its
    archive as zipimporter takes it) names; ``FileNotFoundError`` if none."""
    root = source.root
    if source.archive_path is not None and not os.path.isabs(path):
        path = os.path.join(source.archive_path, path)
    for sep in ("/", os.sep):
        if path.startswith(root + sep):
            name = path[len(root) + 1 :].replace(os.sep, "/")
            if source.is_file(name):
                return source.read(name)
    raise FileNotFoundError(path)


def _refreshed(source: Source) -> bool:
    """Re-index ``source`` if it changed; ``False`` if its archive is gone (it then holds nothing)."""
    from ..errors import ArchiveNotFound

    try:
        source.refresh()
    except ArchiveNotFound:
        return False
    return True


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
        from .namespaces import find_across  # namespace portions of several entries merge (PEP 420)

        return find_across(fullname, (_finder_of(entry) for entry in self.entries))

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
        return lambda fullname: PathFinder.find_spec(fullname, [entry])
    return SourceFinder(entry).find_spec


def insert_first(finder: object) -> None:
    """Put ``finder`` first on ``sys.meta_path``, behind only the import recorders of
    :mod:`zrun.engine.otherthreads`, which must see every lookup of every thread."""
    meta_path = sys.meta_path
    at = 0
    while at < len(meta_path) and getattr(meta_path[at], "records_imports", False):
        at += 1
    meta_path.insert(at, finder)  # type: ignore[arg-type]


def searched_first() -> List[Union[str, Source]]:
    """The entries of every active :class:`SearchFirst`, in search order: a run's location and sources."""
    return [entry for finder in sys.meta_path if isinstance(finder, SearchFirst) for entry in finder.entries]


def _own(fullname: str) -> bool:
    return fullname == OWN or fullname.startswith(OWN + ".")


def location_of(entry: Union[str, Source]) -> Optional[str]:
    """The ``sys.path`` entry for a source with a real location, else ``None``."""
    if isinstance(entry, str):
        return entry
    return entry.root if entry.has_location else None


def find_in(source: Source, fullname: str, base: str) -> Optional[ModuleSpec]:
    """The spec for ``fullname`` stored under ``base`` (``pkg/mod``) in ``source``."""
    loader = _loader_type(source)
    for entry in (f"{base}/__init__.py", f"{base}/__init__.pyc"):
        if source.is_file(entry):
            return loader(source, fullname, entry, True).spec()
    for suffix in EXTENSION_SUFFIXES:  # before source, as FileFinder orders them
        if source.is_file(base + suffix):
            from .extensions import extension_spec

            return extension_spec(source, fullname, base + suffix)
    for entry in (f"{base}.py", f"{base}.pyc"):
        if source.is_file(entry):
            return loader(source, fullname, entry, False).spec()
    if base and source.is_dir(base):
        return portion(fullname, source.filename(base))
    return None


def _loader_type(source: Source) -> type[ModuleLoader]:
    """A zip archive on disk gets the loader that is also a ``zipimporter`` (:mod:`zrun.loading.zipimporter`)."""
    if source.archive_path is None:
        return ModuleLoader
    from .zipimporter import ArchiveLoader

    return ArchiveLoader


def portion(fullname: str, location: str) -> ModuleSpec:
    """A PEP 420 namespace portion: no loader, one search location, so ``PathFinder`` merges it with others."""
    spec = ModuleSpec(fullname, None, is_package=True)
    spec.submodule_search_locations = [location]
    return spec


class SourceSpec(ModuleSpec):
    """A spec whose ``cached`` stays ``None``.

    ``ModuleSpec.cached`` derives a ``__pycache__`` path from ``origin`` even
    after ``spec.cached = None``, and for an archive that names a file inside
    it that nobody writes; zrun's own cache is no ``__cached__`` file either.
    """

    @property
    def cached(self) -> None:
        return None

    @cached.setter
    def cached(self, value: Optional[str]) -> None:
        pass


class ModuleLoader:
    """Loads one module from one source entry (``None`` for a namespace package)."""

    def __init__(self, source: Source, name: str, entry: Optional[str], is_package: bool) -> None:
        self.source = source
        self.name = name
        self.entry = entry
        self._is_package = is_package

    @property
    def archive(self) -> Optional[str]:
        """The zip file, as zipimporter names it (3.9's ``files()`` looks here)."""
        return self.source.archive_path

    def spec(self, search: Optional[str] = None) -> ModuleSpec:
        origin = self.source.filename(self.entry) if self.entry else None
        spec = SourceSpec(self.name, self, origin=origin, is_package=self._is_package)  # type: ignore[arg-type]
        if self._is_package:
            assert spec.submodule_search_locations is not None
            where = search if search is not None else self.entry.rpartition("/")[0]  # type: ignore[union-attr]
            spec.submodule_search_locations.append(self.source.filename(where))
        spec.has_location = bool(self.source.has_location and self.entry)
        return spec

    def _check(self, fullname: str) -> None:
        if fullname != self.name:
            raise ImportError(f"loader for {self.name} cannot handle {fullname}", name=fullname)

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        exec(self.get_code(spec.name if spec else self.name), module.__dict__)

    def is_package(self, fullname: str) -> bool:
        self._check(fullname)
        return self._is_package

    def get_filename(self, fullname: str) -> str:
        """The entry's path; only sources with a real location have one."""
        self._check(fullname)
        if not self.entry or not self.source.has_location:
            raise ImportError(f"{fullname} has no file location", name=fullname)
        return self.source.filename(self.entry)

    def get_source(self, fullname: str) -> Optional[str]:
        self._check(fullname)
        return self._source_text()

    def _source_text(self) -> Optional[str]:
        if not self.entry or not self.entry.endswith(".py"):
            return None
        return source_text(self.source.read(self.entry))

    def get_code(self, fullname: str) -> CodeType:
        """Compile at most once: a valid ``.pyc`` in the source wins, then zrun's cache.

        A cache hit reads nothing from the source: the key of a zip member comes
        from the archive's index, and the text is read only if a traceback asks.
        """
        self._check(fullname)
        entry = self.entry
        if entry is None:
            return compile("", f"<namespace {fullname}>", "exec", dont_inherit=True)
        filename = self.source.filename(entry)
        if entry.endswith(".pyc"):
            return sourceless_code(self.source.read(entry), filename, fullname)
        code = shipped_pyc_code(self.source, entry, filename)
        if code is None:
            code = compile_cached(self.source, entry, filename, lambda data, name: compile_source(data, name, fullname))
        register(filename, self._source_text)
        return code

    def get_data(self, path: str) -> bytes:
        """Read a file of the source by the path a module would compute (or, as
        zipimporter allows, by its name relative to the archive)."""
        return read_by_path(self.source, path)

    def get_resource_reader(self, fullname: str) -> Any:
        """Resources of a package, or of the package directory that holds a module.

        A module's reader serves its directory, as the stdlib's ``FileReader``
        and (3.13) ``ZipReader`` do: 3.12's ``files()`` with no anchor asks the
        calling module's loader, and without a reader it gets an orphan path.
        """
        if fullname != self.name:
            return None
        from .resources import SourceReader

        folder = self.entry.rpartition("/")[0] if self.entry else self.name.replace(".", "/")
        return SourceReader(self.source, folder)

    def __repr__(self) -> str:
        return f"<ModuleLoader {self.name} from {self.source.root}>"


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
        head, tail = head[:cut], f"{head[cut + 1:]}/{tail}" if tail else head[cut + 1 :]
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
