"""From whatever a user passes as a source to a search entry: a :class:`~zrun.source.Source` or a directory path.

One conversion, dispatched on the type of what was passed, serves every
entry point (``run``, ``run_module``, ``Scope``, ``discover``, the hooks,
the CLI's ``--path``): a ready source is kept, bytes are a zip archive, and
a path is a directory (served by the stdlib's own finder, with its
``__pycache__`` writing and ``__file__`` conventions intact), a frozen
bundle, or an archive.
"""

from __future__ import annotations

import os
from functools import singledispatch

from .source import Source

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import Iterable, List, Union

    SourceLike = Union[Source, str, "os.PathLike[str]", bytes]
    Entry = Union[Source, str]
else:
    SourceLike = Entry = object


@singledispatch
def as_entry(item: object) -> Entry:
    """The search entry for one thing a user passed; a ``TypeError`` for anything else."""
    raise TypeError(f"a source is a path, zip bytes or a zrun.Source, not {type(item).__name__}")


@as_entry.register(Source)
def _ready(item: Source) -> Entry:
    return item


@as_entry.register(bytes)
@as_entry.register(bytearray)
@as_entry.register(memoryview)
def _zip_bytes(item: bytes) -> Entry:
    from .zipsource import ZipSource  # only when an archive is given

    return ZipSource(item)


@as_entry.register(str)
@as_entry.register(os.PathLike)
def _path(item: str) -> Entry:
    path = os.fsdecode(os.fspath(item))
    if os.path.isdir(path):
        return os.path.abspath(path)
    return archive_source(path)


def archive_source(path: str) -> Source:
    """The source for a file: a frozen bundle if it is one, else a zip archive (a clear error if neither)."""
    from .frozen import FrozenSource, is_bundle

    if is_bundle(path):
        return FrozenSource.load(path)
    from .zipsource import ZipSource

    return ZipSource(path)


def as_sources(items: Iterable[SourceLike]) -> List[Entry]:
    """Accept ready sources, archive paths, directories and zip bytes alike."""
    return [as_entry(item) for item in items]
