"""One of the generated modules of the 2,000-module case: a typical small module.

Constants, a class with a few methods and some functions, about the size and
shape of an average module in a real application, so that compiling it (what
zipimport does on every run) and unmarshalling it (what a warm cache does)
cost what they cost in real code.
"""

from __future__ import annotations

DEFAULT_LIMIT = 64
NAMES = ("alpha", "beta", "gamma", "delta", "epsilon")
TABLE = {name: index * index for index, name in enumerate(NAMES)}


class Record:
    """A small value object with validation and a text form."""

    __slots__ = ("key", "tags", "value")

    def __init__(self, key: str, value: int, tags: tuple[str, ...] = ()) -> None:
        if not key:
            raise ValueError("key must not be empty")
        self.key = key
        self.value = value
        self.tags = tags

    def __repr__(self) -> str:
        return f"Record({self.key!r}, {self.value!r}, tags={self.tags!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (self.key, self.value, self.tags) == (other.key, other.value, other.tags)

    def __hash__(self) -> int:
        return hash((self.key, self.value, self.tags))

    def scaled(self, factor: int) -> Record:
        return Record(self.key, self.value * factor, self.tags)

    def tagged(self, *tags: str) -> Record:
        return Record(self.key, self.value, tuple(sorted({*self.tags, *tags})))


def parse(line: str) -> Record:
    """``key=value[,tag...]`` to a :class:`Record`."""
    head, _, rest = line.partition(",")
    key, _, value = head.partition("=")
    tags = tuple(tag.strip() for tag in rest.split(",") if tag.strip())
    return Record(key.strip(), int(value or 0), tags)


def summarise(records: list[Record], limit: int = DEFAULT_LIMIT) -> dict[str, int]:
    totals: dict[str, int] = {}
    for record in records[:limit]:
        totals[record.key] = totals.get(record.key, 0) + record.value
        for tag in record.tags:
            totals[f"#{tag}"] = totals.get(f"#{tag}", 0) + 1
    return totals


def lookup(name: str) -> int:
    try:
        return TABLE[name]
    except KeyError:
        return -1
