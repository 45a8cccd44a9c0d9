"""``importlib.resources`` for packages in any source, on every supported Python.

The stdlib reaches a package's files through ``loader.get_resource_reader``;
answering with a reader whose ``files()`` walks the source directly makes
``files()``, ``as_file()`` and the older ``read_text()`` family work for zip,
memory and frozen sources alike, namespace packages included (which the
stdlib's own namespace reader cannot do for zips before 3.13).
"""

from __future__ import annotations

import io
import sys
from typing import IO, Any, Iterator

from ..source import Source

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable, TraversableResources
else:
    from importlib.abc import Traversable, TraversableResources


class SourceTraversable(Traversable):
    """One file or directory of a source, addressed by its entry name."""

    def __init__(self, source: Source, name: str) -> None:
        self._source = source
        self._name = name

    @property
    def name(self) -> str:
        return self._name.rpartition("/")[2]

    def is_dir(self) -> bool:
        return self._source.is_dir(self._name)

    def is_file(self) -> bool:
        return self._source.is_file(self._name)

    isfile = is_file  # 3.9's TraversableResources.is_resource calls isfile()

    def iterdir(self) -> Iterator[SourceTraversable]:
        if not self.is_dir():
            raise NotADirectoryError(self._source.filename(self._name))
        return (SourceTraversable(self._source, entry) for entry in self._source.children(self._name))

    def joinpath(self, *descendants: str) -> SourceTraversable:
        parts = [self._name] if self._name else []
        for descendant in descendants:
            parts.extend(part for part in str(descendant).replace("\\", "/").split("/") if part and part != ".")
        return SourceTraversable(self._source, "/".join(parts))

    def __truediv__(self, child: str) -> SourceTraversable:
        return self.joinpath(child)

    def read_bytes(self) -> bytes:
        if not self.is_file():
            raise FileNotFoundError(self._source.filename(self._name))
        return self._source.read(self._name)

    def read_text(self, encoding: Any = None, errors: Any = None) -> str:
        """Decoded with universal newlines (``\\r\\n`` and ``\\r`` become ``\\n``), as
        ``pathlib.Path`` and ``zipfile.Path`` read text, so a data file reads the same from every source."""
        text = self.read_bytes().decode(encoding or "utf-8", errors or "strict")
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> IO[Any]:
        if mode not in ("r", "rb"):
            raise ValueError(f"{self._source.filename(self._name)}: resources are read-only (mode {mode!r})")
        stream = io.BytesIO(self.read_bytes())
        if mode == "rb":
            return stream
        kwargs.setdefault("encoding", "utf-8")
        return io.TextIOWrapper(stream, *args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SourceTraversable) and (other._source, other._name) == (self._source, self._name)

    def __hash__(self) -> int:
        return hash((id(self._source), self._name))

    def __str__(self) -> str:
        return self._source.filename(self._name)

    def __repr__(self) -> str:
        return f"SourceTraversable({self._source.filename(self._name)!r})"


class SourceReader(TraversableResources):
    """Resource reader for one package directory of a source."""

    def __init__(self, source: Source, folder: str) -> None:
        self._source = source
        self._folder = folder

    def files(self) -> SourceTraversable:
        return SourceTraversable(self._source, self._folder)
