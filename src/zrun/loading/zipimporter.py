"""The loader of a module from a zip archive on disk is also a ``zipimport.zipimporter``.

Libraries special-case zipimport with ``isinstance(loader, zipimporter)`` and
then use its attributes: jinja2's ``PackageLoader`` reads ``archive``, calls
``get_data`` with full paths and lists ``_files``; pkg_resources' MRO lookup
finds zipimporter's provider. :class:`ArchiveLoader` is zrun's loader with
those attributes; zipimporter's own ``__init__`` (which would read the
archive's directory a second time, without ZIP64 before 3.13) never runs.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import zipimport
from types import CodeType, ModuleType

from ..errors import ArchiveError
from .moduleloader import ModuleLoader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from typing import Dict, Optional, Tuple

    TocEntry = Tuple[str, int, int, int, int, int, int, int]


class ArchiveLoader(ModuleLoader, zipimport.zipimporter):  # type: ignore[misc]
    """:class:`~zrun.loading.moduleloader.ModuleLoader` for a member of an archive on disk, shaped as the zipimporter
    of the member's directory (``prefix`` is that directory inside the archive)."""

    @property
    def _folder(self) -> str:
        """The directory of the archive whose zipimporter would have loaded this module."""
        entry = self.entry or ""
        folder = entry.rpartition("/")[0]
        if self._is_package:
            folder = folder.rpartition("/")[0]
        inner = os.path.relpath(self.source.root, self.archive) if self.source.root != self.archive else ""
        return "/".join(part for part in (inner.replace(os.sep, "/"), folder) if part)

    @property
    def prefix(self) -> str:  # type: ignore[override]
        folder = self._folder
        return folder.replace("/", os.sep) + os.sep if folder else ""

    @property
    def _files(self) -> Dict[str, TocEntry]:
        """zipimport's table of contents: archive-relative names (``os.sep``) to
        ``(path, method, compressed size, size, offset, time, date, crc)``."""
        archive = self.source.archive  # type: ignore[attr-defined]
        files: Dict[str, TocEntry] = {}
        for name, member in archive.members.items():
            key = name.replace("/", os.sep)
            files[key] = (
                os.path.join(archive.path, key),
                member.method,
                member.compressed_size,
                member.size,
                member.header_offset,
                0,
                0,
                member.crc,
            )
        for name in archive.dirs:
            key = name.replace("/", os.sep) + os.sep
            files.setdefault(key, (os.path.join(archive.path, key), 0, 0, 0, 0, 0, 0, 0))
        return files

    def find_spec(self, fullname: str, target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        """As the zipimporter of :attr:`prefix` finds a module there."""
        folder = self._folder
        inner = os.path.relpath(self.source.root, self.archive).replace(os.sep, "/") if self.source.root != self.archive else ""
        below = folder[len(inner) :].strip("/") if inner else folder
        last = fullname.rpartition(".")[2]
        self.source.refresh()
        return self.find(self.source, fullname, f"{below}/{last}" if below else last)

    def get_code(self, fullname: str) -> CodeType:
        """As zipimport reports a module that cannot be loaded: ``ZipImportError``, caused by the reason."""
        try:
            return super().get_code(fullname)
        except (ArchiveError, zipimport.ZipImportError):
            raise
        except ImportError as exc:
            raise zipimport.ZipImportError(f"module load failed: {exc}", name=fullname) from exc

    def invalidate_caches(self) -> None:
        self.source.refresh()

    def load_module(self, fullname: str) -> ModuleType:
        """zipimporter's deprecated protocol, through the spec."""
        spec = self.find_spec(fullname)
        if spec is None:
            raise zipimport.ZipImportError(f"can't find module {fullname!r}", name=fullname)
        module = importlib.util.module_from_spec(spec)
        sys.modules[fullname] = module
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except BaseException:
            sys.modules.pop(fullname, None)
            raise
        return sys.modules[fullname]
