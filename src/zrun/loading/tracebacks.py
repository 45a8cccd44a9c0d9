"""Tracebacks of a failed run, with source lines for code that has no file on disk.

Each module compiled from source gives :mod:`linecache` its lines through
:func:`zrun.loading.callbacks.source_lines` (lazily: until the target imports
``linecache`` they wait there), so this module is imported only to print. Before
3.13 the interpreter's default excepthook is written in C and only reads real
files (gh-86291), so the CLI prints through :func:`excepthook`, the
``traceback`` module's equivalent while ``sys.excepthook`` is still the
default. ``sys.excepthook`` itself is never replaced: a library run must give
the host back its own.
"""

from __future__ import annotations

import sys
from types import TracebackType

from ..stdlib import stdlib
from .callbacks import hand_over_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Type


def excepthook() -> Callable[[Type[BaseException], BaseException, Optional[TracebackType]], Any]:
    """``sys.excepthook``, or :func:`print_exception` while that is the C default before 3.13."""
    if sys.version_info < (3, 13) and sys.excepthook is sys.__excepthook__:
        return print_exception
    return sys.excepthook


def print_exception(kind: Type[BaseException], value: BaseException, tb: Optional[TracebackType]) -> None:
    """``sys.excepthook`` that reads source through linecache, as 3.13's does."""
    traceback = stdlib("traceback")  # the real one, whatever the run's sources hold
    hand_over_lines(traceback.linecache)
    traceback.print_exception(kind, value, tb)
