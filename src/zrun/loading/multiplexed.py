"""The files of a namespace package: one directory seen through all of its portions.

Modelled on importlib_resources' ``MultiplexedPath`` and ``NamespaceReader``,
which only see real directories (and zips from 3.13): a portion here may be a
folder of any zrun source, a directory, or a zip that zipimport serves.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional

from ..stdlib import stdlib
from .finders import path_hook, zip_path_hook
from .resources import SourceTraversable

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable, TraversableResources
else:
    from importlib.abc import Traversable, TraversableResources


def portion_files(location: str) -> Optional[Traversable]:
    """The directory a namespace ``__path__`` entry names, whatever holds it."""
    if os.path.isdir(location):
        folder: Traversable = stdlib("pathlib").Path(location)  # never a run's own pathlib.py
        return folder
    for hook in (path_hook, zip_path_hook):
        try:
            finder = hook(location)
        except ImportError:
            continue
        return SourceTraversable(finder.source, finder.prefix.rstrip("/"))
    return None


class MultiplexedTraversable(Traversable):
    """Several directories of the same name, read as one: the first portion holding a name wins."""

    def __init__(self, *paths: Traversable) -> None:
        if not paths:
            raise FileNotFoundError("a namespace package with no portions has no files")
        self._paths = paths

    @property
    def name(self) -> str:
        return self._paths[0].name

    def is_dir(self) -> bool:
        return True

    def is_file(self) -> bool:
        return False

    isfile = is_file  # 3.9's TraversableResources.is_resource calls isfile()

    def iterdir(self) -> Iterator[Traversable]:
        found: Dict[str, List[Traversable]] = {}
        for path in self._paths:
            for child in path.iterdir():
                found.setdefault(child.name, []).append(child)
        return (_merged(children) for children in found.values())

    def joinpath(self, *descendants: str) -> Traversable:
        if not descendants:
            return self
        candidates = [path.joinpath(*descendants) for path in self._paths]
        present = [candidate for candidate in candidates if candidate.is_dir() or candidate.is_file()]
        return _merged(present) if present else candidates[0]

    def __truediv__(self, child: str) -> Traversable:
        return self.joinpath(child)

    def open(self, *args: Any, **kwargs: Any) -> IO[Any]:
        raise FileNotFoundError(f"{self} is a directory")

    def read_bytes(self) -> bytes:
        raise FileNotFoundError(f"{self} is a directory")

    def read_text(self, encoding: Any = None, errors: Any = None) -> str:
        raise FileNotFoundError(f"{self} is a directory")

    def __repr__(self) -> str:
        return f"MultiplexedTraversable({', '.join(repr(str(path)) for path in self._paths)})"


def _merged(children: List[Traversable]) -> Traversable:
    directories = [child for child in children if child.is_dir()]
    if len(directories) > 1 and children[0].is_dir():
        return MultiplexedTraversable(*directories)
    return children[0]


class PortionsReader(TraversableResources):
    """Resource reader of a namespace package; ``path`` is its live ``__path__``."""

    def __init__(self, path: Iterable[str]) -> None:
        self._path = path

    def files(self) -> MultiplexedTraversable:
        found = [portion_files(location) for location in list(self._path)]
        return MultiplexedTraversable(*[files for files in found if files is not None])
