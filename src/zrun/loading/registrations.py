"""zrun's finder and loaders, registered with the libraries that keep registries of importers.

Some libraries look importers up by type in a table of their own, and know
only the stdlib's (``pkgutil``, which asks other finders for ``iter_modules``,
needs none: :meth:`zrun.loading.finders.SourceFinder.iter_modules`);
distlib (vendored in pip) maps ``type(loader)`` exactly to a resource finder,
so ``pip`` run from its own wheel fails with "Unable to locate finder";
``pkg_resources`` walks the loader's MRO and gives unknown types a provider
that raises ``NotImplementedError``. Each library is taught about zrun when it
is imported (:func:`zrun.loading.callbacks.when_imported`), never imported by zrun.
"""

from __future__ import annotations

import io
import os
from types import ModuleType

from ..source import Source
from ..stdlib import stdlib
from .moduleloader import ModuleLoader
from .zipimporter import ArchiveLoader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Set, Tuple

#: Library module -> how to register zrun with it.
LIBRARIES: Dict[str, Callable[[ModuleType], None]] = {}


def registers(*names: str) -> Callable[[Callable[[ModuleType], None]], Callable[[ModuleType], None]]:
    def add(function: Callable[[ModuleType], None]) -> Callable[[ModuleType], None]:
        for name in names:
            LIBRARIES[name] = function
        return function

    return add


def register(module: ModuleType) -> None:
    """Register zrun with ``module`` (a library in :data:`LIBRARIES`), once per module object."""
    if vars(module).get("_zrun_registered"):
        return
    LIBRARIES[module.__name__](module)
    module._zrun_registered = True  # type: ignore[attr-defined]


def loader_types() -> List[type]:
    """Every loader class zrun gives modules (exact-type registries need each)."""
    return [ModuleLoader, ArchiveLoader]


class _Entries:
    """Paths as a loader's module computes them (``root/pkg/data.txt``), mapped to source entries."""

    def __init__(self, loader: ModuleLoader) -> None:
        self.source: Source = loader.source
        self.folder = loader.entry.rpartition("/")[0] if loader.entry else loader.name.replace(".", "/")

    @property
    def base(self) -> str:
        return self.source.filename(self.folder)

    def entry(self, path: str) -> str:
        root = self.source.root
        if path == root:
            return ""
        for sep in ("/", os.sep):
            if path.startswith(root + sep):
                return path[len(root) + 1 :].replace(os.sep, "/").rstrip("/")
        raise FileNotFoundError(f"{path} is not inside {root}")

    def exists(self, path: str) -> bool:
        name = self.entry(path)
        return self.source.is_file(name) or self.source.is_dir(name)

    def is_dir(self, path: str) -> bool:
        return self.source.is_dir(self.entry(path))

    def names(self, path: str) -> List[str]:
        return [child.rpartition("/")[2] for child in self.source.children(self.entry(path))]

    def read(self, path: str) -> bytes:
        name = self.entry(path)
        if not self.source.is_file(name):
            raise FileNotFoundError(path)
        return self.source.read(name)


# --- distlib (pip._vendor.distlib) -------------------------------------------------


@registers("distlib.resources", "pip._vendor.distlib.resources")
def _distlib(resources: ModuleType) -> None:
    class SourceResourceFinder(resources.ResourceFinder):  # type: ignore[misc, name-defined]
        """distlib's resource finder over a zrun source (its ``ZipResourceFinder`` needs zipimport's tables)."""

        def __init__(self, module: ModuleType) -> None:
            super().__init__(module)
            self._entries = _Entries(self.loader)
            self.base = self._entries.base

        def _adjust_path(self, path: str) -> str:
            return path

        def _find(self, path: str) -> bool:
            return self._entries.exists(path)

        def _is_directory(self, path: str) -> bool:
            return self._entries.is_dir(path)

        def get_cache_info(self, resource: Any) -> Tuple[str, str]:
            return self._entries.source.root, self._entries.entry(resource.path)

        def get_bytes(self, resource: Any) -> bytes:
            return self._entries.read(resource.path)

        def get_stream(self, resource: Any) -> io.BytesIO:
            return io.BytesIO(self.get_bytes(resource))

        def get_size(self, resource: Any) -> int:
            return len(self.get_bytes(resource))

        def get_resources(self, resource: Any) -> Set[str]:
            skipped = self.skipped_extensions
            return {name for name in self._entries.names(resource.path) if name != "__pycache__" and not name.endswith(skipped)}

    for kind in loader_types():
        resources.register_finder(object.__new__(kind), SourceResourceFinder)


# --- pkg_resources (setuptools, and pip's vendored copy) ---------------------------


@registers("pkg_resources", "pip._vendor.pkg_resources")
def _pkg_resources(pkg_resources: ModuleType) -> None:
    class SourceProvider(pkg_resources.NullProvider):  # type: ignore[misc, name-defined]
        """Resources of a package in any zrun source; ``resource_filename`` extracts to the manager's cache."""

        def __init__(self, module: ModuleType) -> None:
            super().__init__(module)
            self._entries = _Entries(self.loader)
            self.module_path = self._entries.base

        def _has(self, path: str) -> bool:
            return self._entries.exists(path)

        def _isdir(self, path: str) -> bool:
            return self._entries.is_dir(path)

        def _listdir(self, path: str) -> List[str]:
            return self._entries.names(path)

        def _get(self, path: str) -> bytes:
            return self._entries.read(path)

        def get_resource_filename(self, manager: Any, resource_name: str) -> str:
            return self._extract(manager, self._fn(self.module_path, resource_name))

        def _extract(self, manager: Any, path: str) -> str:
            hashlib = stdlib("hashlib")
            name = self._entries.entry(path)
            tag = "zrun-" + hashlib.sha256(self._entries.source.identity().encode()).hexdigest()[:16]
            target: str = manager.get_cache_path(tag, name.split("/"))
            if self._entries.is_dir(path):
                for child in self._entries.names(path):
                    self._extract(manager, f"{path}/{child}")
                os.makedirs(target, exist_ok=True)
                return target
            data = self._entries.read(path)
            if not os.path.isfile(target) or os.path.getsize(target) != len(data):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                _write_whole(target, data)
            return target

    for kind in loader_types():
        pkg_resources.register_loader_type(kind, SourceProvider)


def _write_whole(path: str, data: bytes) -> None:
    """A temporary file beside ``path`` renamed over it: a concurrent reader sees all of it or none."""
    fd, tmp = stdlib("tempfile").mkstemp(dir=os.path.dirname(path), prefix=".zrun-")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
