"""``importlib.metadata`` for the distributions inside a run's sources.

``importlib.metadata`` finds distributions by asking each meta-path finder
for ``find_distributions``; the stdlib's only answer scans ``sys.path``, so a
wheel given as ``--path`` or ``sources=`` (searched by a meta-path finder, not
on ``sys.path``) had no version and no entry points. Here the ``.dist-info``
and ``.egg-info`` folders at the top of each source are its distributions,
read through the source, so memory and frozen sources have metadata too.
"""

from __future__ import annotations

import os
import re
import sys
from importlib.metadata import Distribution, DistributionFinder, MetadataPathFinder

from ..source import Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional, Sequence, Union

_SUFFIXES = (".dist-info", ".egg-info")


def normalized(name: str) -> str:
    """A project name as metadata folders spell it (PEP 503, with ``_``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


class SourceDistribution(Distribution):
    """One ``.dist-info`` / ``.egg-info`` folder of a source."""

    def __init__(self, source: Source, folder: str) -> None:
        self._source = source
        self._folder = folder

    def read_text(self, filename: Any) -> Optional[str]:
        name = f"{self._folder}/{os.fspath(filename)}"
        if not self._source.is_file(name):
            return None
        return self._source.read(name).decode("utf-8")

    read_text.__doc__ = Distribution.read_text.__doc__

    def locate_file(self, path: Any) -> Any:
        """Where a file of the distribution lives; a real path only for sources on disk."""
        from ..stdlib import stdlib  # never a run's own pathlib.py

        return stdlib("pathlib").PurePosixPath(self._source.filename(str(path).replace(os.sep, "/")))

    def __repr__(self) -> str:
        return f"<SourceDistribution {self._source.filename(self._folder)}>"


def in_source(source: Source, name: Optional[str]) -> Iterator[SourceDistribution]:
    """The distributions at the top of ``source`` (named ``name``, if given)."""
    wanted = normalized(name) if name else None
    for entry in source.children(""):
        if not entry.endswith(_SUFFIXES) or not source.is_dir(entry):
            continue
        project = entry.rsplit(".", 1)[0].partition("-")[0]
        if wanted is None or normalized(project) == wanted:
            yield SourceDistribution(source, entry)


def find_distributions(entries: Sequence[Union[str, Source]], context: Any = None) -> Iterator[Distribution]:
    """``find_distributions`` over a run's entries, for those ``sys.path`` does not already hold
    (``MetadataPathFinder`` reports those)."""
    name = getattr(context, "name", None)
    on_path = set(sys.path)
    for entry in entries:
        if isinstance(entry, str):
            if entry not in on_path:
                yield from MetadataPathFinder.find_distributions(DistributionFinder.Context(name=name, path=[entry]))
        elif entry.root not in on_path:
            yield from in_source(entry, name)


def forget_path_entries() -> None:
    """Clear importlib.metadata's cache of ``sys.path`` entries, as ``importlib.invalidate_caches()`` does.

    It keeps a ``zipfile.Path`` per entry it searched (``FastPath``, 3.10+), so
    an archive a scope or run put on ``sys.path`` would stay open after it: one
    descriptor per plugin archive a host ever ran, up to 128.
    """
    MetadataPathFinder().invalidate_caches()  # an instance: 3.10-3.12 forgot the method's @classmethod
