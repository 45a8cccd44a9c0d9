"""The loader of the one PEP 451 loader family: one module from one source entry.

A :class:`ModuleLoader` knows its source, its module's name and its entry,
and nothing else: the finders (:mod:`zrun.loading.finders`) make one for each
module they find, in the order :meth:`ModuleLoader.find` tries a directory's
names. Compiled code is kept in zrun's cache
(:func:`zrun.loading.bytecode.compile_cached`); an extension module found in a
source is extracted when it is imported (:mod:`zrun.loading.extensions`),
since the dynamic loader can only map a real file.

Features above the loader hook in at :data:`COMPILED` (how tracebacks find
source lines): this module imports none of them, so the family has no circle.
"""

from __future__ import annotations

import os
import sys
from importlib import machinery  # its names as attributes: see zrun.stdlib (3.15 imports warnings otherwise)
from types import CodeType, ModuleType

from ..source import Source
from .bytecode import compile_cached, compile_source, shipped_pyc_code, source_text, sourceless_code

ModuleSpec = machinery.ModuleSpec
if sys.version_info >= (3, 11):
    _NamespaceLoader = machinery.NamespaceLoader
else:  # the same class, private before 3.11
    from importlib._bootstrap_external import _NamespaceLoader

#: The stdlib's loader of namespace packages: what a portion merged by ``PathFinder`` gets, and the base of
#: :class:`zrun.loading.namespaces.PortionsLoader`.
StdlibNamespaceLoader = _NamespaceLoader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple, Type, TypeVar

    Loader = TypeVar("Loader", bound="ModuleLoader")

#: Called as ``hook(filename, source)`` for each module compiled from source text, ``source()``
#: reading that text only when asked; :mod:`zrun.loading.loader` adds
#: :func:`zrun.loading.callbacks.source_lines`, so tracebacks show the lines.
COMPILED: List[Callable[[str, Callable[[], Optional[str]]], None]] = []


#: What :meth:`ModuleLoader.find` tries after a module's path, in ``FileFinder``'s order, as zipimport's
#: ``_zip_searchorder``: (suffix, is a package); ``None`` for an extension module (before source, as FileFinder has it).
SEARCH_ORDER: Tuple[Tuple[str, Optional[bool]], ...] = (
    ("/__init__.py", True),
    ("/__init__.pyc", True),
    *((suffix, None) for suffix in machinery.EXTENSION_SUFFIXES),
    (".py", False),
    (".pyc", False),
)


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


def portion(fullname: str, location: str) -> ModuleSpec:
    """A PEP 420 namespace portion: no loader, one search location, so ``PathFinder`` merges it with others."""
    spec = ModuleSpec(fullname, None, is_package=True)
    spec.submodule_search_locations = [location]
    return spec


def is_portion(spec: ModuleSpec) -> bool:
    """Whether a finder's answer is a namespace portion (no loader, or the stdlib's namespace loader):
    a search goes on past it, and :mod:`zrun.loading.namespaces` merges it with the others."""
    return spec.loader is None or isinstance(spec.loader, StdlibNamespaceLoader)


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

    @classmethod
    def find(cls: Type[Loader], source: Source, fullname: str, base: str) -> Optional[ModuleSpec]:
        """The spec for ``fullname`` stored under ``base`` (``pkg/mod``) in ``source``, loaded by this class.

        The order is ``FileFinder``'s (:data:`SEARCH_ORDER`): a package, an extension
        module, a module, then a directory, which is a namespace portion.
        """
        is_file = source.is_file
        for suffix, package in SEARCH_ORDER:
            entry = base + suffix
            if is_file(entry):
                if package is None:
                    from .extensions import extension_spec

                    return extension_spec(source, fullname, entry)
                return cls(source, fullname, entry, package).spec()
        if base and source.is_dir(base):
            return portion(fullname, source.filename(base))
        return None

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
        for hook in COMPILED:
            hook(filename, self._source_text)
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
