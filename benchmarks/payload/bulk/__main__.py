"""``python -m bulk COUNT``: import ``bulk.m00000`` to ``bulk.m{COUNT-1}`` and say how many.

The names follow ``benchmarks.fixtures.module_name``; this file is copied into
the fixtures and cannot import from the suite.
"""

import importlib
import sys


def main(count: int) -> None:
    for index in range(count):
        importlib.import_module(f"bulk.m{index:05d}")
    print(f"imported {count}")


main(int(sys.argv[1]))
