"""Native extension modules in sources: found like any module, loaded from an extracted copy.

The dynamic loader can only map a real file, so an extension module is copied
out of its source when it is imported, with the ``*.libs`` / ``.dylibs``
folders that auditwheel, delvewheel and delocate put its shared libraries in,
and nothing else (:mod:`zrun.loading.extraction` writes the copies). A copy
the dynamic loader refuses is reported by its name in the source.

The dynamic loader maps a file by path, so the extension is loaded from the
checked path, not from ``/proc/self/fd/N`` of a descriptor: ``$ORIGIN`` in an
``RPATH`` is the folder of the path given to ``dlopen`` (under ``/proc/self/fd``
the bundled ``*.libs`` would not be found), ``__file__`` would name a
descriptor, and macOS and Windows have no such path. The path cannot be swapped
after the check because every folder on it, from ``/`` down, was checked to be
changeable by nobody but the user and root (:mod:`zrun.cache.root`).
"""

from __future__ import annotations

import os
from importlib.machinery import ExtensionFileLoader, ModuleSpec  # loaded already: the finders import machinery

from ..errors import ExtensionInArchive
from .extraction import Wanted, as_wanted, extract, is_safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List


class ExtractedLoader(ExtensionFileLoader):
    """An extension loaded from its extracted copy.

    A copy the dynamic loader refuses (damaged, or built for another platform)
    is reported by its name in the archive, as :class:`ExtensionInArchive`;
    errors raised by the module's own initialisation pass through untouched.
    """

    def __init__(self, fullname: str, path: str, member: str) -> None:
        super().__init__(fullname, path)
        self.member = member

    def create_module(self, spec: ModuleSpec) -> Any:
        try:
            return super().create_module(spec)
        except ImportError as exc:
            if type(exc) is not ImportError or exc.path != self.path:
                raise
            raise ExtensionInArchive(
                f"{self.member}: extension module {self.name!r} cannot be loaded: {exc} (extracted to {self.path})", name=self.name
            ) from exc


def extension_members(source: Any, entry: str) -> List[str]:
    """``entry`` and the shared libraries it may link against: top-level ``*.libs``, ancestor ``.dylibs``.

    A library member whose name cannot be extracted safely (``C:.libs/x``) is
    left out, so it alone is refused, not every extension of the archive: an
    extension that needs it then fails to load, naming it.
    """
    parts = entry.split("/")[:-1]
    folders = [name for name in source.children("") if name.endswith(".libs") and source.is_dir(name)]
    folders += ["/".join([*parts[:depth], ".dylibs"]) for depth in range(1, len(parts) + 1)]
    wanted, stack = [entry], [folder for folder in folders if source.is_dir(folder)]
    while stack:
        for child in source.children(stack.pop()):
            if is_safe(child):
                (stack if source.is_dir(child) else wanted).append(child)
    return wanted


def extension_spec(source: Any, fullname: str, entry: str) -> ModuleSpec:
    """A spec that loads extension ``entry`` of ``source`` from its extracted copy.

    :class:`~zrun.errors.ExtensionInArchive` when no folder at all can be
    written (cache off or unwritable, and no usable temporary directory).
    """
    try:
        folder = extract(source.identity(), {name: wanted(source, name) for name in extension_members(source, entry)}, archive=source.root)
    except OSError as exc:
        raise ExtensionInArchive(
            f"{source.filename(entry)}: extension module {fullname!r} could not be extracted: {exc}", name=fullname
        ) from None
    path = os.path.join(folder, *entry.split("/"))
    spec = ModuleSpec(fullname, ExtractedLoader(fullname, path, source.filename(entry)), origin=path)
    spec.has_location = True  # __file__ is the extracted copy: a real file, as the dynamic loader needs
    return spec


def wanted(source: Any, name: str) -> Wanted:
    """What extracting ``name`` must produce: an archive file's member by its index, anything else by its bytes."""
    archive = getattr(source, "archive", None)
    if archive is not None and getattr(source, "has_location", False):
        member = archive.members.get(source.filename(name)[len(archive.path) + 1 :].replace(os.sep, "/"))
        if member is not None:
            return Wanted(member.size, member.crc, lambda: bytes(source.read(name)))
    return as_wanted(lambda: source.read(name))
