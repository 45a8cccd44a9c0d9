"""What a path target is: a folder, a source (archive or bundle), or a script.

One class per kind, so "is it a script?" is a question of type, and each
kind says itself what it adds to a run's search and to ``sys.path[0]``.
``open_location`` classifies a path as ``python PATH`` would, and
``archive_source`` is the one way every module turns a file into a source (a bundle's
reader, :mod:`zrun.frozen`, is imported for a bundle only).
"""

from __future__ import annotations

import os

from ..errors import ArchiveError, MissingPath, NotAnArchive
from ..loading.loader import SearchFirst
from ..source import BUNDLE_MAGIC, Source

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from typing import Optional, Union


def absolute(path: str) -> str:
    """``path`` made absolute as the interpreter does for ``python PATH``: joined to the cwd, not normalised."""
    return path if os.path.isabs(path) else os.path.join(os.getcwd(), path)


class Location:
    """A path target that holds modules: searched first for the run, its ``__main__`` found inside."""

    __slots__ = ("path", "source")

    def __init__(self, path: str, source: Optional[Source] = None) -> None:
        self.path = path
        self.source = source

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r}, {self.source!r})"

    @property
    def entry(self) -> Union[str, Source]:
        """What this location contributes to the search for a run."""
        return self.source if self.source is not None else absolute(self.path)

    def find(self, name: str) -> Optional[ModuleSpec]:
        """Find a top-level module in this location only."""
        return SearchFirst([self.entry]).find_spec(name)

    def path0(self, safe_path: bool = False) -> Optional[str]:
        """What ``python PATH`` puts at ``sys.path[0]``: the path made absolute, even under ``-P``."""
        return absolute(self.path)


class Folder(Location):
    """A directory: the stdlib's path finder serves it."""

    __slots__ = ()


class Bundle(Location):
    """An archive, a folder inside one, or a frozen bundle: a :class:`~zrun.source.Source` serves it."""

    __slots__ = ()

    source: Source


class Script(Location):
    """A file run as ``python PATH``: it holds no modules and is searched for none."""

    __slots__ = ()

    def find(self, name: str) -> Optional[ModuleSpec]:
        return None

    def path0(self, safe_path: bool = False) -> Optional[str]:
        """The script's real folder; nothing under ``-P`` / ``-I`` (``sys.flags.safe_path``)."""
        return None if safe_path else os.path.dirname(os.path.realpath(self.path))


def location_for(entry: Union[str, Source]) -> Location:
    """A search entry (a directory path or a source) as a run location."""
    return Folder(entry) if isinstance(entry, str) else Bundle(entry.root, entry)


def archive_source(path: str) -> Source:
    """A file's source: a frozen bundle if it starts with :data:`~zrun.source.BUNDLE_MAGIC`, else a zip archive
    (a clear error if neither).

    How a run turns a file into a source (``FrozenSource.compile``, below the
    engine, has its own four lines). The signature is checked here, so a zip
    run imports neither :mod:`zrun.frozen` nor the ``struct`` its reader uses
    (a run's sources may offer a ``struct`` of their own, and then win).
    """
    from ..zip.files import starts_with

    if starts_with(path, BUNDLE_MAGIC):
        from ..frozen import FrozenSource

        return FrozenSource.load(path)
    from ..zip.source import ZipSource

    return ZipSource(path)


def open_location(path: str) -> Location:
    """Classify ``path`` as ``python PATH`` would, reading at most the zip index."""
    if os.path.isdir(path):
        return Folder(path)
    if not os.path.exists(path):
        inside = _inside_archive(path)
        if inside is not None:
            return inside
        from ..zip.archive import missing

        why = missing(path)  # ENOENT, or ELOOP for a symlink loop, as python PATH says
        raise MissingPath(f"can't open file {absolute(path)!r}: [Errno {why.errno}] {why.strerror}")
    try:
        return Bundle(path, archive_source(path))
    except NotAnArchive:
        return Script(path)


def _inside_archive(path: str) -> Optional[Location]:
    """``app.zip/sub``: a folder inside an archive, as ``python app.zip/sub`` and runpy accept."""
    from ..zip.source import ZipSource, split_archive_path

    try:
        _, inner = split_archive_path(path)
        if not inner:
            return None
        return Bundle(path, ZipSource(path))
    except ArchiveError:
        return None
