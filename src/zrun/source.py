"""What every source of modules is: named entries that can be listed and read.

A source knows nothing about imports. The one loader family in
:mod:`zrun.loading.loader` turns any source into modules, so a zip archive, a dict of
strings and a bundle of code objects behave alike.
"""

from __future__ import annotations

import _weakref

from .stdlib import stdlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import AbstractSet, Dict, FrozenSet, Iterator, List, Mapping, Optional, Tuple, Union

#: The first bytes of a frozen bundle file (:mod:`zrun.frozen`). Kept here, below both, so that opening a
#: location (:func:`zrun.engine.locations.archive_source`) tells a bundle from a zip without importing the
#: bundle reader, which a zip run never needs.
BUNDLE_MAGIC = b"ZRUNFRZ1"

# root -> weak reference: a source lives as long as a run, a loader or a host holds it.
_registry: Dict[str, _weakref.ReferenceType[Source]] = {}
_counter = iter(range(1, 1 << 62))  # itertools.count's job; 3.15 does not load itertools at start-up


class Source:
    """Entries addressed by ``/``-separated names below a root string.

    ``root`` doubles as the ``sys.path`` / ``__path__`` entry for the source;
    ``has_location`` says whether ``root`` is a real place on disk, which is
    what decides whether modules get a ``__file__``.
    """

    root: str
    has_location: bool = False
    #: The zip file behind the source, for code that asks a loader for ``archive``.
    archive_path: Optional[str] = None

    def __init__(self, root: str) -> None:
        self.root = root
        # Any set of names: frozensets here, views searched in place for a large archive (zrun.zip.table).
        self._files: AbstractSet[str] = frozenset()
        self._dirs: AbstractSet[str] = frozenset()
        self._children: Optional[Dict[str, List[str]]] = None
        self._files, self._dirs = self._index()
        _register(self)

    # What a concrete source provides.
    def _index(self) -> Tuple[AbstractSet[str], AbstractSet[str]]:
        """The file names and directory names: answered by ``in``, iterated only to list everything."""
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        """The bytes of one file entry."""
        raise NotImplementedError

    def mtime(self, name: str) -> Optional[float]:
        """Modification time of an entry, where the storage records one."""
        return None

    def is_stale(self) -> bool:
        """True when the storage changed since the index was read."""
        return False

    def _reopen(self) -> None:
        """Reconnect to changed storage before the index is read again."""

    def identity(self) -> str:
        """A string that changes whenever the content changes."""
        raise NotImplementedError

    # Derived behaviour shared by all sources.
    def refresh(self) -> bool:
        """Re-read the index if the storage changed; say whether it did."""
        if not self.is_stale():
            return False
        self.reload()
        return True

    def reload(self) -> None:
        """Read the index again, unconditionally."""
        self._reopen()
        self._files, self._dirs = self._index()
        self._children = None

    def is_file(self, name: str) -> bool:
        return name in self._files

    def is_dir(self, name: str) -> bool:
        return name == "" or name in self._dirs

    def children(self, name: str) -> List[str]:
        """Immediate entries (files and directories) inside directory ``name``."""
        if self._children is None:
            table: Dict[str, List[str]] = {}
            for entry in [*self._files, *self._dirs]:
                parent, _, _ = entry.rpartition("/")
                table.setdefault(parent, []).append(entry)
            self._children = table
        return sorted(self._children.get(name, ()))

    def holds_portions(self) -> bool:
        """Whether a directory here has no ``__init__``: a namespace portion (PEP 420) that imports may meet.

        A run puts the namespace merger (:mod:`zrun.loading.namespaces`) in place
        only for sources that may hold one. An index searched in place (a large
        archive's, :mod:`zrun.zip.table`) is not walked for it: it may.
        """
        files, dirs = self._files, self._dirs
        if not isinstance(dirs, frozenset) or not isinstance(files, frozenset):
            return True
        return any(f"{name}/__init__.py" not in files and f"{name}/__init__.pyc" not in files for name in dirs)

    def filename(self, name: str) -> str:
        """How code from ``name`` is labelled in tracebacks and ``__file__``."""
        return f"{self.root}/{name}" if name else self.root

    def files(self) -> Iterator[str]:
        return iter(sorted(self._files))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root}>"


def _register(source: Source) -> None:
    root = source.root

    def forget(ref: _weakref.ReferenceType[Source]) -> None:
        if _registry.get(root) is ref:  # a newer source may hold the root by now
            del _registry[root]

    _registry[root] = _weakref.ref(source, forget)


def registered(root: str) -> Optional[Source]:
    """The live source whose root is ``root``, if any."""
    ref = _registry.get(root)
    return ref() if ref is not None else None


def unique_root(kind: str, name: Optional[str]) -> str:
    """A root string for a source with no location, unique among live sources."""
    base = f"<{kind}:{name or next(_counter)}>"
    root = base
    while registered(root) is not None:
        root = f"<{kind}:{name or ''}#{next(_counter)}>"
    return root


def directories_of(names: FrozenSet[str]) -> FrozenSet[str]:
    """Every directory implied by ``names``: ``a/b/c.py`` implies ``a`` and ``a/b``."""
    dirs = set()
    for name in names:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:depth]))
    return frozenset(dirs)


class MemorySource(Source):
    """Files held in a mapping; nothing is ever written to disk.

    ``files`` maps archive-style names (``"pkg/__init__.py"``) to ``str`` (stored
    as UTF-8) or ``bytes``. The mapping is copied, so later changes to it are not
    seen; build a new source to change the code.
    """

    def __init__(self, files: Mapping[str, Union[str, bytes]], *, name: Optional[str] = None) -> None:
        self._data: Dict[str, bytes] = {}
        for key, value in files.items():
            clean = key.replace("\\", "/").strip("/")
            self._data[clean] = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        super().__init__(unique_root(self._kind, name))

    _kind = "memory"

    def _index(self) -> Tuple[FrozenSet[str], FrozenSet[str]]:
        names = frozenset(self._data)
        return names, directories_of(names)

    def read(self, name: str) -> bytes:
        try:
            return self._data[name]
        except KeyError:
            raise FileNotFoundError(f"{self.filename(name)}: no such entry") from None

    def identity(self) -> str:
        hashlib = stdlib("hashlib")
        digest = hashlib.sha256()
        for key in sorted(self._data):
            digest.update(key.encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(self._data[key]).digest())
        return str(digest.hexdigest())
