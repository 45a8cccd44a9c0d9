"""A stored index table seen as what a parse makes: members as a ``dict``, names as a ``frozenset``.

:class:`zrun.zip.archive.Archive` and :class:`zrun.zip.source.ZipSource` use
``members`` and ``dirs`` alike whichever they hold; these views answer by
searching the table (:class:`zrun.zip.table.Table`), never by loading it.
"""

from __future__ import annotations

from _collections_abc import ItemsView, Mapping, Set, ValuesView

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, List, Tuple

    from .index import Member
    from .table import Table


class Members(Mapping):  # type: ignore[type-arg]
    """The members of a table, as the ``dict`` a parse makes: looked up, not loaded."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def __getitem__(self, name: str) -> Member:
        found = self._table.get(name) if isinstance(name, str) else None
        if found is None:
            raise KeyError(name)
        return found

    def get(self, name: str, default: Any = None) -> Any:
        found = self._table.get(name) if isinstance(name, str) else None
        return default if found is None else found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._table.get(name) is not None

    def __len__(self) -> int:
        return len(self._table.parsed[0]) if self._table.parsed else self._table.n

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.names("", dirs=False))

    def values(self) -> ValuesView[Member]:
        return _Values(self)

    def items(self) -> ItemsView[str, Member]:
        return _Items(self)


class _Values(ValuesView):  # type: ignore[type-arg]
    """One scan in name order, instead of a bisection per key."""

    def __init__(self, members: Members) -> None:
        super().__init__(members)
        self._table = members._table

    def __iter__(self) -> Iterator[Member]:
        return self._table.scan()


class _Items(ItemsView):  # type: ignore[type-arg]
    """One scan in name order, instead of a bisection per key."""

    def __init__(self, members: Members) -> None:
        super().__init__(members)
        self._table = members._table

    def __iter__(self) -> Iterator[Tuple[str, Member]]:
        return ((m[0], m) for m in self._table.scan())


class Names(Set):  # type: ignore[type-arg]
    """File or directory names of a table below ``prefix``, with the prefix cut: a set that is searched."""

    def __init__(self, table: Table, prefix: str, dirs: bool) -> None:
        self._table, self._prefix, self._dirs = table, prefix, dirs

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        full = self._prefix + name
        return self._table.has_dir(full) if self._dirs else self._table.has(full)

    def __iter__(self) -> Iterator[str]:
        cut = len(self._prefix)
        return (n[cut:] for n in self._table.names(self._prefix, self._dirs))

    def __len__(self) -> int:
        return len(self._table.names(self._prefix, self._dirs))

    def children(self, name: str) -> List[str]:
        """What :meth:`zrun.source.Source.children` answers for directory ``name``, unsorted."""
        full = f"{self._prefix}{name}/" if name else self._prefix
        cut = len(self._prefix)
        return [n[cut:] for n in self._table.children(full, self._dirs)]

    def below(self, prefix: str, dirs: bool) -> Names:
        """The files (or directories) below ``prefix`` (``""`` or ``"lib/"``), with it cut."""
        return Names(self._table, self._prefix + prefix, dirs)
