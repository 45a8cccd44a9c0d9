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

from ..source import Source
from .locations import archive_source

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import Callable, Iterable, List, Optional, Union

    SourceLike = Union[Source, str, "os.PathLike[str]", bytes]
    Entry = Union[Source, str]
else:
    SourceLike = Entry = object


def as_entry(item: SourceLike) -> Entry:
    """The search entry for one thing a user passed; a ``TypeError`` for anything else."""
    global _dispatch
    if _dispatch is None:
        _dispatch = _dispatcher()
    return _dispatch(item)


_dispatch: Optional[Callable[[SourceLike], Entry]] = None


def _dispatcher() -> Callable[[SourceLike], Entry]:
    """Built at the first conversion, not at import: ``register`` imports ``typing``
    (``functools._is_union_type``, 3.11-3.13), milliseconds a run without sources must not pay."""
    from functools import singledispatch

    @singledispatch
    def convert(item: object) -> Entry:
        raise TypeError(f"a source is a path, zip bytes or a zrun.Source, not {type(item).__name__}")

    @convert.register(Source)
    def _ready(item: Source) -> Entry:
        return item

    @convert.register(bytes)
    @convert.register(bytearray)
    @convert.register(memoryview)
    def _zip_bytes(item: bytes) -> Entry:
        from ..zip.source import ZipSource  # only when an archive is given

        return ZipSource(item)

    @convert.register(str)
    @convert.register(os.PathLike)
    def _path(item: str) -> Entry:
        path = os.fsdecode(os.fspath(item))
        return os.path.abspath(path) if os.path.isdir(path) else archive_source(path)

    return convert


def as_sources(items: Iterable[SourceLike]) -> List[Entry]:
    """Accept ready sources, archive paths, directories and zip bytes alike."""
    return [as_entry(item) for item in items]


def one_or_many(sources: Union[SourceLike, Iterable[SourceLike]]) -> List[Entry]:
    """``Scope(path)`` and ``Scope([path, ...])`` alike: one source is not an iterable of them."""
    single = isinstance(sources, (str, bytes, bytearray, memoryview, os.PathLike, Source))
    return as_sources([sources] if single else sources)  # type: ignore[list-item,arg-type]
