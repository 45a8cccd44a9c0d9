"""Parsed central directories of large archives, kept in zrun's cache.

Parsing a central directory costs time in proportion to its entries (zipimport:
~90 ms for 10,000 before the first import, REFERENCE.md §3). A later run over
the same file reads the stored table instead (:mod:`zrun.zip.table`: sorted
names, fixed-size records, bisected in place), so it decodes only the entries
it looks up: its cost no longer grows with the archive. A small archive is not
worth a file in the cache: below :data:`MIN_ENTRIES` the saving is under ~2 ms
a run (measurements in docs/cache.md).

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
from .files import parse_again
from .table import Damaged, Table
from .tablebuild import build
from .tableviews import Members, Names

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import AbstractSet, List, Mapping, Optional, Tuple

    from .index import Index as Parsed
    from .index import Member

    Index = Tuple[Mapping[str, Member], AbstractSet[str], List[str]]

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

    def reparse() -> Parsed:
        index, same = parse_again(path, st)
        table.parsed = index  # answers from now on: the rewrite below imports, and imports look here
        if same:
            store(path, st, index)
        return index

    try:
        table = Table(opened[0], opened[1], reparse)
    except (Damaged, EOFError, ValueError, TypeError):
        return None  # damaged at open, or not a table of this format: parse instead
    return Members(table), Names(table, "", dirs=True), table.refused


def store(path: str, st: os.stat_result, index: Parsed) -> None:
    """Keep ``index`` for later runs if the archive is large enough to be worth it."""
    if len(index[0]) < MIN_ENTRIES:
        return
    table = build(index)
    if table is not None:
        cache.store_index(identity(path, st), table)
