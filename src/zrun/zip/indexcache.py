"""Parsed central directories of large archives, kept in zrun's cache.

Parsing a central directory costs time in proportion to its entries (zipimport:
~90 ms for 10,000 before the first import, REFERENCE.md §3). A later run over
the same file reads the stored table instead (:mod:`zrun.zip.table`: sorted
names, fixed-size records, bisected in place), so it decodes only the entries
it looks up: its cost no longer grows with the archive. A small archive is not
worth a file in the cache: below :data:`MIN_ENTRIES` the saving is under ~2 ms
a run (measurements in docs/cache.md). The first run of a large archive makes
the table straight from the directory (:func:`first_run`, :mod:`zrun.zip.streamed`)
and searches it too, so no run holds a ``dict`` of every member.

The key is the archive's path and its ``stat`` identity (device, inode, size,
modification and change times), plus the local time zone, because member times
are stored as local DOS times and converted as zipimport does. Any rewrite of
the file changes its change time, so an entry never describes another content.
A damaged entry is noticed when its header, length or tail is read at open, or
when a damaged chunk is first used: the archive is then parsed again and the
entry rewritten.
"""

from __future__ import annotations

import time

from ..cache import store as cache
from .files import parse, parse_again
from .table import Damaged, Table
from .tablebuild import build
from .tableviews import Members, Names

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import BinaryIO, Callable, Optional

    from .index import Directory, Fetch, Index

#: Archives with fewer members are parsed every time (measured: docs/cache.md).
MIN_ENTRIES = 1000
#: No archive of :data:`MIN_ENTRIES` members is smaller: 46 + 30 header bytes and
#: a name of at least one byte twice, per member. Smaller files skip the lookup.
MIN_BYTES = MIN_ENTRIES * 78
_FORMAT = 2


def identity(path: str, st: os.stat_result) -> str:
    """Path, stat identity and time zone: everything the parsed index depends on."""
    parts = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, time.timezone, time.altzone, time.tzname, _FORMAT)
    return "\0".join(map(str, parts))


def load(path: str, st: os.stat_result) -> Optional[Index]:
    """The index a previous run stored for this very file, searched in place; or ``None``.

    If a damaged chunk turns up later, the archive is parsed again to answer
    for the table, and the parse replaces the entry (if the file is still the
    one ``st`` describes).
    """
    if st.st_size < MIN_BYTES:
        return None
    opened = cache.open_index(identity(path, st))
    if opened is None:
        return None
    try:
        return _searched(path, st, *opened)
    except (Damaged, EOFError, ValueError, TypeError):
        return None  # damaged at open, or not a table of this format: parse instead


def first_run(f: BinaryIO, st: os.stat_result, path: str) -> Index:
    """The index of an archive with no stored table, stored for later runs if it is large enough.

    A directory of :data:`MIN_ENTRIES` entries or more is streamed into the
    table (:mod:`zrun.zip.streamed`), which is stored and then searched as a
    later run searches it: no ``dict`` of every member is ever made. A smaller
    one is parsed into a ``dict`` here, as before.
    """

    def large(fetch: Fetch, directory: Directory) -> Optional[Index]:
        if directory[3] < MIN_ENTRIES:  # the end record's count (which a 16-bit field may have wrapped: then a dict)
            return None
        from . import streamed  # only here: no other run needs it

        built = streamed.table(fetch, directory, path)
        if built is None or built[1] < MIN_ENTRIES:
            return None  # names over 4 GiB, or mostly folders: parsed as before
        table, _ = built
        key = identity(path, st)
        cache.store_index(key, table)
        opened = cache.open_index(key)
        if opened is not None:
            try:
                return _searched(path, st, *opened)
            except (Damaged, EOFError, ValueError, TypeError):
                pass  # replaced or damaged since it was written: the table in hand is sound
        view = memoryview(table)
        return _searched(path, st, lambda at, n: view[at:at + n].tobytes(), len(table))

    index = parse(f, st, path, large)
    if isinstance(index[0], dict):
        store(path, st, index)
    return index


def _searched(path: str, st: os.stat_result, read: Callable[[int, int], bytes], size: int) -> Index:
    """The views of a table (:class:`Damaged` if its header, length or tail is wrong) that answer from a parse after damage."""

    def reparse() -> Index:
        index, same = parse_again(path, st)
        table.parsed = index  # answers from now on: the rewrite below imports, and imports look here
        if same:
            store(path, st, index)
        return index

    table = Table(read, size, reparse)
    return Members(table), Names(table, "", dirs=True), table.refused


def store(path: str, st: os.stat_result, index: Index) -> None:
    """Keep ``index`` for later runs if the archive is large enough to be worth it."""
    if len(index[0]) < MIN_ENTRIES:
        return
    table = build(index)
    if table is not None:
        cache.store_index(identity(path, st), table)
