"""Members decoded from a stored index table's columns: one row, all of them, or every name once.

:class:`zrun.zip.table.Table` finds a name by bisection and decodes its :func:`row`; a scan
decodes the columns whole (:func:`read_columns`). It bisects per lookup while lookups are few (one
import from a huge archive reads a few chunks). Importing most of an archive
(issue 16: 2,000 modules, each probed ~8 times by the search order and once
more for its cache key) made those bisections the largest part of a warm run's
loader time, so past a fraction of the names the table reads them all once,
in two slices, and answers from a ``dict``; the columns are decoded whole when
the first member is asked for.
"""

from __future__ import annotations

import struct
import sys

from ..stdlib import stdlib
from .index import Member

_MTIME = struct.Struct("<d")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Dict, FrozenSet, List, Optional


class Rows:
    """Member name -> row, the folder names, and (once a member is asked for) the table's columns."""

    __slots__ = ("_columns", "_read_columns", "folders", "rows")

    def __init__(self, names: List[str], folders: List[str], read_columns: Callable[[], List[Any]]) -> None:
        self.rows: Dict[str, int] = dict(zip(names, range(len(names))))
        self.folders: FrozenSet[str] = frozenset(folders)
        self._columns: Optional[List[Any]] = None
        self._read_columns = read_columns

    def get(self, name: str) -> Optional[Member]:
        """The member ``name``, from the columns; ``Damaged`` (from reading them) propagates to the table."""
        i = self.rows.get(name)
        if i is None:
            return None
        columns = self._columns
        if columns is None:
            columns = self._columns = self._read_columns()
        offset, csize, size, mtime, crc, method, flags = columns
        return tuple.__new__(Member, (name, offset[i], method[i], csize[i], size[i], crc[i], mtime[i], flags[i]))


def read_columns(read: Callable[[int, int], bytes], at: int, n: int) -> List[Any]:
    """The ``n`` members' columns of a table (``read(start, end)`` reads it; they start at ``at``), in this machine's byte order."""
    array, columns = stdlib("array").array, []
    for code in ("Q", "Q", "Q", "d", "I", "H", "H"):  # header offsets, csizes, sizes, mtimes, CRCs, methods, flags: tablebuild.COLUMNS
        column = array(code)
        column.frombytes(read(at, at + column.itemsize * n))
        at += column.itemsize * n
        if sys.byteorder != "little":
            column.byteswap()
        columns.append(column)
    return columns


def row(read: Callable[[int, int], bytes], at: int, n: int, i: int, name: str) -> Member:
    """Member ``i`` (of ``n``) alone: eight reads of the columns that start at ``at``, each from a checked chunk."""
    offset, csize, size = (int.from_bytes(read(at + 8 * (k * n + i), at + 8 * (k * n + i) + 8), "little") for k in range(3))
    (mtime,) = _MTIME.unpack(read(at + 8 * (3 * n + i), at + 8 * (3 * n + i) + 8))
    at += 32 * n
    crc = int.from_bytes(read(at + 4 * i, at + 4 * i + 4), "little")
    at += 4 * n
    method = int.from_bytes(read(at + 2 * i, at + 2 * i + 2), "little")
    flags = int.from_bytes(read(at + 2 * (n + i), at + 2 * (n + i) + 2), "little")
    return tuple.__new__(Member, (name, offset, method, csize, size, crc, mtime, flags))
