"""Parsed central directories of large archives, kept in zrun's cache.

Parsing a central directory costs time in proportion to its entries (zipimport:
~90 ms for 10,000 before the first import, REFERENCE.md §3). A later run over
the same file loads the parsed columns in one ``marshal.loads`` instead, which
is about 2.7 times cheaper at every size measured (500 to 100,000 entries). A
small archive is not worth a file in the cache: below :data:`MIN_ENTRIES` the
saving is under ~2 ms a run (measurements in docs/cache.md).

The key is the archive's path and its ``stat`` identity (device, inode, size,
modification and change times), plus the local time zone, because member times
are stored as local DOS times and converted as zipimport does. Any rewrite of
the file changes its change time, so an entry never describes another content.
"""

from __future__ import annotations

import gc
import marshal
import time
from itertools import repeat

from . import cache
from .zipindex import Member

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import Any, Dict, FrozenSet, List, Optional, Tuple

    Index = Tuple[Dict[str, Member], FrozenSet[str], List[str]]

#: Archives with fewer members are parsed every time (measured: docs/cache.md).
MIN_ENTRIES = 1000
#: No archive of :data:`MIN_ENTRIES` members is smaller: 46 + 30 header bytes and
#: a name of at least one byte twice, per member. Smaller files skip the lookup.
MIN_BYTES = MIN_ENTRIES * 78
_FORMAT = 1


def identity(path: str, st: os.stat_result) -> str:
    """Path, stat identity and time zone: everything the parsed index depends on."""
    parts = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, time.timezone, time.altzone, time.tzname, _FORMAT)
    return "\0".join(map(str, parts))


def load(path: str, st: os.stat_result) -> Optional[Index]:
    """The index a previous run stored for this very file, or ``None``."""
    if st.st_size < MIN_BYTES:
        return None
    payload = cache.load_index(identity(path, st))
    if payload is None:
        return None
    enabled = gc.isenabled()
    gc.disable()  # every object made here is kept: collections only cost time
    try:
        return _decode(marshal.loads(payload))
    except (EOFError, ValueError, TypeError, IndexError, AttributeError):
        return None  # intact but not an index (cannot happen unless the format changed): parse instead
    finally:
        if enabled:
            gc.enable()


def store(path: str, st: os.stat_result, index: Index) -> None:
    """Keep ``index`` for later runs if the archive is large enough to be worth it."""
    members, dirs, refused = index
    if len(members) < MIN_ENTRIES:
        return
    columns = list(zip(*members.values()))  # name, offset, method, sizes, crc, mtime, flags
    payload = marshal.dumps(("\0".join(columns[0]), *columns[1:], sorted(dirs), list(refused)))
    cache.store_index(identity(path, st), payload)


def _decode(data: Any) -> Index:
    """Members rebuilt column-wise: one C-level pass instead of a Python loop per entry."""
    joined, *columns, dirs, refused = data
    names = joined.split("\0")
    if len(columns) != 7 or any(len(column) != len(names) for column in columns):
        raise ValueError("not an index of this format")
    members = dict(zip(names, map(tuple.__new__, repeat(Member), zip(names, *columns))))
    return members, frozenset(dirs), list(refused)
