"""The one PEP 451 finder/loader family, serving every kind of source.

A :class:`SourceFinder` answers for one directory of one source (as a
meta-path finder, or as the path-entry finder that :func:`path_hook` returns
for a ``sys.path`` or ``__path__`` entry). Each module it finds gets a
:class:`ModuleLoader`, which knows its source entry and nothing else.
"""

from __future__ import annotations

import linecache
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec, PathFinder
from types import CodeType, ModuleType

from .bytecode import BadBytecode, code_from_pyc, compile_source, source_text
from .errors import ExtensionInArchive
from .source import Source, registered
from .tracebacks import ensure_source_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Sequence, Union

_CACHE_TAG = sys.implementation.cache_tag


class SourceFinder:
    """Path-entry finder for one directory (``prefix``) of a source."""

    def __init__(self, source: Source, prefix: str = "") -> None:
        self.source = source
        self.prefix = prefix

    def find_spec(self, fullname: str, target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        self.source.refresh()
        return find_in(self.source, fullname, self.prefix + fullname.rpartition(".")[2])

    def invalidate_caches(self) -> None:
        self.source.refresh()

    def __repr__(self) -> str:
        return f"<SourceFinder {self.source.filename(self.prefix.rstrip('/'))}>"


class SearchFirst:
    """Meta-path finder that puts a run's sources and location before all else.

    Only top-level names are answered; submodules follow their package's
    ``__path__``, so a host package of the same name keeps its submodules.
    """

    def __init__(self, entries: Sequence[Union[str, Source]]) -> None:
        self.entries = list(entries)

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        if path is not None:
            return None
        for entry in self.entries:
            if isinstance(entry, str):
                spec = PathFinder.find_spec(fullname, [entry])
            else:
                spec = SourceFinder(entry).find_spec(fullname)
            if spec is not None:
                return spec
        return None

    def invalidate_caches(self) -> None:
        for entry in self.entries:
            if not isinstance(entry, str):
                entry.refresh()

    def __repr__(self) -> str:
        return f"<SearchFirst {self.entries!r}>"


def find_in(source: Source, fullname: str, base: str) -> Optional[ModuleSpec]:
    """The spec for ``fullname`` stored under ``base`` (``pkg/mod``) in ``source``."""
    for entry, is_package in ((f"{base}/__init__.py", True), (f"{base}/__init__.pyc", True), (f"{base}.py", False), (f"{base}.pyc", False)):
        if source.is_file(entry):
            return ModuleLoader(source, fullname, entry, is_package).spec()
    for suffix in EXTENSION_SUFFIXES:
        if source.is_file(base + suffix):
            raise ExtensionInArchive(
                f"{source.filename(base + suffix)}: extension module {fullname!r} is inside an archive "
                "and cannot be imported from there; it must be extracted to a directory first",
                name=fullname,
            )
    if base and source.is_dir(base):
        return ModuleLoader(source, fullname, None, True).spec(search=base)
    return None


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
        spec = ModuleSpec(self.name, self, origin=origin, is_package=self._is_package)  # type: ignore[arg-type]
        if self._is_package:
            assert spec.submodule_search_locations is not None
            where = search if search is not None else self.entry.rpartition("/")[0]  # type: ignore[union-attr]
            spec.submodule_search_locations.append(self.source.filename(where))
        spec.has_location = bool(self.source.has_location and self.entry)
        spec.cached = None
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
        """Compile at most once: a valid cached ``.pyc`` wins over the source."""
        self._check(fullname)
        entry = self.entry
        if entry is None:
            return compile("", f"<namespace {fullname}>", "exec", dont_inherit=True)
        filename = self.source.filename(entry)
        data = self.source.read(entry)
        if entry.endswith(".pyc"):
            code = self._unmarshal(data, filename)
            if code is None:
                raise ImportError(f"bad magic number in {filename!r}", name=fullname, path=filename)
            return code
        for candidate in self._pyc_candidates(entry):
            if self.source.is_file(candidate):
                code = self._unmarshal(self.source.read(candidate), filename, source=data, mtime=self.source.mtime(entry))
                if code is not None:
                    break
        else:
            code = compile_source(data, filename)
        linecache.cache[filename] = (self._source_text,)
        ensure_source_lines()
        return code

    @staticmethod
    def _pyc_candidates(entry: str) -> List[str]:
        folder, _, leaf = entry.rpartition("/")
        stem = leaf[:-3]
        level = sys.flags.optimize
        opt = f".opt-{level}" if level else ""
        inside = f"{folder}/" if folder else ""
        return [f"{inside}__pycache__/{stem}.{_CACHE_TAG}{opt}.pyc", f"{inside}{stem}.pyc"]

    def _unmarshal(self, pyc: bytes, filename: str, *, source: Optional[bytes] = None, mtime: Optional[float] = None) -> Optional[CodeType]:
        size: Optional[int] = None
        getter: Optional[Callable[[], bytes]] = None
        if source is not None:
            data = source
            size, getter = len(data), lambda: data
        try:
            return code_from_pyc(pyc, filename, source_mtime=mtime, source_size=size, source_bytes=getter)
        except BadBytecode as exc:
            if source is not None:
                return None
            raise ImportError(str(exc), name=self.name, path=filename) from None

    def get_data(self, path: str) -> bytes:
        """Read a file of the source by the path a module would compute."""
        root = self.source.root
        for sep in ("/", os.sep):
            if path.startswith(root + sep):
                name = path[len(root) + 1 :].replace(os.sep, "/")
                if self.source.is_file(name):
                    return self.source.read(name)
        raise FileNotFoundError(path)

    def get_resource_reader(self, fullname: str) -> Any:
        """Resources of a package, readable in every source kind and version."""
        if fullname != self.name or not self._is_package:
            return None
        from .resources import SourceReader

        folder = self.entry.rpartition("/")[0] if self.entry else self.name.replace(".", "/")
        return SourceReader(self.source, folder)

    def __repr__(self) -> str:
        return f"<ModuleLoader {self.name} from {self.source.root}>"


def path_hook(entry: str) -> SourceFinder:
    """Path-entry hook: a finder for a live source's root or a folder inside it."""
    head, tail = entry, ""
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
    """Path-entry hook that also claims zip files on ``sys.path`` from zipimporter."""
    try:
        return path_hook(entry)
    except ImportError:
        pass
    from .errors import ArchiveError
    from .zipsource import ZipSource, split_archive_path

    try:
        archive, inner = split_archive_path(entry)
        if not _looks_like_zip(archive):
            raise ImportError("not a zip archive", path=entry)
        source = ZipSource(archive)
    except ArchiveError:
        raise ImportError("not a zip archive", path=entry) from None
    return SourceFinder(source, f"{inner}/" if inner else "")


def _looks_like_zip(path: str) -> bool:
    from .archive import Archive
    from .errors import NotAnArchive

    try:
        Archive.open(path)
    except NotAnArchive:
        return False
    return True
