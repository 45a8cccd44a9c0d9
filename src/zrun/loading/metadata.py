"""Package metadata (``*.dist-info`` files) of archives nobody has trusted yet, read under bounds.

:func:`zrun.discover` reads metadata before a host decides to run anything, so
a hostile wheel must cost it little: a metadata member is read under
:data:`MAX_METADATA_SIZE` (by its declared size, and inflation stops one byte
past that), and ``entry_points.txt`` is parsed in one linear pass over its
lines. ``configparser`` is not used for it: its option regex backtracks, so
one long line of spaces costs quadratic time (80 KB: 17 s).
"""

from __future__ import annotations

from functools import singledispatch

from ..errors import BadMetadata, MemberTooLarge
from ..source import Source
from ..zip.source import ZipSource

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Tuple

#: The largest metadata member read, in bytes: real ones are a few KiB.
MAX_METADATA_SIZE = 4 << 20
#: The most entry points one ``entry_points.txt`` may declare.
MAX_ENTRY_POINTS = 10_000


@singledispatch
def read_bounded(source: Source, entry: str, limit: int) -> bytes:
    """An entry's bytes, refused when over ``limit``; memory sources hold them already."""
    data = source.read(entry)
    if len(data) > limit:
        raise MemberTooLarge(source.root, f"is {len(data)} bytes, over the {limit}-byte limit", entry)
    return data


@read_bounded.register
def _(source: ZipSource, entry: str, limit: int) -> bytes:
    return source.read(entry, limit)  # refused by declared size before a byte is inflated


def read_text(source: Source, entry: str, limit: int = MAX_METADATA_SIZE) -> str:
    """A metadata member as text (UTF-8, as the packaging specifications require)."""
    try:
        return read_bounded(source, entry, limit).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMetadata(source.root, f"is not UTF-8 text ({exc.reason} at byte {exc.start})", entry) from None


def entry_points(text: str, where: str, entry: str) -> List[Tuple[str, str, str]]:
    """``(group, name, value)`` for each ``name = value`` line under a ``[group]`` header.

    The format is the packaging specification's INI subset: ``#`` and ``;``
    comments, blank lines, and indented continuation lines (ignored, as an
    entry point's value is one line). Anything else is :class:`BadMetadata`
    naming the line.
    """
    found: Dict[Tuple[str, str], str] = {}  # a repeated name keeps its place and takes the last value
    group = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped[0] == "[" and "]" in stripped:  # configparser's header: up to the last "]"
            group = stripped[1 : stripped.rindex("]")].strip()
            continue
        name, equals, value = stripped.partition("=")
        if line[0] in " \t" and found and not equals:
            continue  # a continuation of the previous value
        if not equals or group is None:
            what = "a 'name = value' line before any [group]" if equals else "neither '[group]' nor 'name = value'"
            raise BadMetadata(where, f"line {number} is {what}", entry)
        if len(found) == MAX_ENTRY_POINTS:
            raise BadMetadata(where, f"declares more than {MAX_ENTRY_POINTS} entry points", entry)
        found[group, name.strip()] = value.strip()
    return [(group, name, value) for (group, name), value in found.items()]
