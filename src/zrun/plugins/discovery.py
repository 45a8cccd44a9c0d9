"""Find what plugins can run by reading archive indexes only; no plugin code executes.

A host must be able to list plugins before trusting any of them, so this
module reads just the zip central directory and, for packages with metadata,
``*.dist-info/entry_points.txt`` (the packaging specification's INI format,
read and parsed under the bounds of :mod:`zrun.loading.metadata`, so a hostile wheel
is refused in milliseconds). Nothing is imported and ``sys`` is not touched.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, List, NamedTuple, Optional, Union

from ..engine.locations import archive_source
from ..errors import ZrunError
from ..loading.metadata import entry_points, read_text
from ..source import Source
from ..target import is_module_name

#: The archive suffixes a plugin folder is scanned for.
ARCHIVE_SUFFIXES = (".zip", ".pyz", ".pyzw", ".whl")

Where = Union[str, "os.PathLike[str]", Source]
OnError = Callable[[str, Exception], None]


class Runnable(NamedTuple):
    """One runnable entry of one archive.

    ``kind`` is ``"main"`` (a ``__main__`` module; ``name`` is the package, or
    ``"__main__"`` at top level) or ``"entry_point"`` (``name`` from ``group``).
    ``ref`` is the target inside the archive (``"__main__"``, ``"pkg"``,
    ``"mod:attr"``) for a :class:`~zrun.Scope` over that archive; ``target``
    adds the archive path, for :func:`zrun.run`. ``located`` is False for
    sources with no path (memory, zip bytes), whose ``target`` is ``ref``.
    """

    archive: str
    kind: str
    name: str
    ref: str
    group: Optional[str] = None
    located: bool = True

    @property
    def target(self) -> str:
        if not self.located:
            return self.ref
        return self.archive if self.ref == "__main__" else f"{self.archive}:{self.ref}"


def discover(where: Union[Where, Iterable[Where]], *, on_error: Optional[OnError] = None) -> List[Runnable]:
    """Runnable entries of every archive in a folder, or of the given archives and sources.

    A folder contributes its ``.zip``/``.pyz``/``.pyzw``/``.whl`` files (not
    recursively). An archive that cannot be read, or metadata that does not
    parse, raises, unless ``on_error(archive, exception)`` is given, which
    then decides (a host usually logs and skips).
    """
    items = [where] if isinstance(where, (str, os.PathLike, Source)) else list(where)
    found: List[Runnable] = []
    for archive in _archives(items):
        label = archive if isinstance(archive, str) else archive.root
        try:
            found.extend(entries_of(_open(archive)))
        except (ZrunError, OSError) as exc:
            if on_error is None:
                raise
            on_error(label, exc)
    return found


def entries_of(source: Source) -> List[Runnable]:
    """The runnable entries of one opened source, ``__main__`` modules first."""
    label = source.root
    mains: List[Runnable] = []
    points: List[Runnable] = []
    for entry in source.files():
        folder, _, leaf = entry.rpartition("/")
        if leaf in ("__main__.py", "__main__.pyc"):
            name = folder.replace("/", ".") if folder else "__main__"
            if (not folder or is_module_name(name)) and not any(r.name == name for r in mains):
                mains.append(Runnable(label, "main", name, name, None, source.has_location))
        elif leaf == "entry_points.txt" and folder.endswith(".dist-info") and "/" not in folder:
            points.extend(_entry_points(source, entry))
    return mains + points


def _entry_points(source: Source, entry: str) -> List[Runnable]:
    """``[group]`` / ``name = module:attr [extras]`` lines, invalid references skipped."""
    found = []
    for group, name, value in entry_points(read_text(source, entry), source.root, entry):
        reference = value.partition("[")[0].strip()
        module, _, attr = reference.partition(":")
        module, attr = module.strip(), attr.strip()
        if is_module_name(module) and not module.startswith(".") and (not attr or is_module_name(attr)):
            ref = f"{module}:{attr}" if attr else module
            found.append(Runnable(source.root, "entry_point", name, ref, group, source.has_location))
    return found


def _archives(items: Iterable[Where]) -> List[Union[str, Source]]:
    archives: List[Union[str, Source]] = []
    for item in items:
        if isinstance(item, Source):
            archives.append(item)
            continue
        path = os.path.abspath(os.fspath(item))
        if os.path.isdir(path):
            leaves = sorted(leaf for leaf in os.listdir(path) if leaf.lower().endswith(ARCHIVE_SUFFIXES))
            archives.extend(os.path.join(path, leaf) for leaf in leaves if os.path.isfile(os.path.join(path, leaf)))
        else:
            archives.append(path)
    return archives


def _open(archive: Union[str, Source]) -> Source:
    if isinstance(archive, Source):
        archive.refresh()
        return archive
    return archive_source(archive)

