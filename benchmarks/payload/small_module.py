"""One of the ~20-line generated modules of the small-module variant."""

LIMIT = 8
NAMES = ("alpha", "beta", "gamma")


class Pair:
    __slots__ = ("left", "right")

    def __init__(self, left: int, right: int) -> None:
        self.left = left
        self.right = right

    def total(self) -> int:
        return self.left + self.right


def first(values: "list[int]") -> int:
    return values[0] if values else -1
