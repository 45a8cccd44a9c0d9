"""The ``hello`` console script: greets its arguments and says what it was called."""

import sys


def main() -> int:
    """What pip's ``hello`` wrapper (and ``zrun hellotool-1.0-py3-none-any.whl``) calls."""
    name = " ".join(sys.argv[1:]) or "World"
    print(f"Hello, {name}! (I am {sys.argv[0]!r})")
    return 0
