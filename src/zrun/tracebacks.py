"""Source lines in tracebacks for code that has no file on disk.

zrun registers each module's source with :mod:`linecache`, which the
``traceback`` module reads. Before 3.13 the interpreter's default excepthook
is written in C and only reads real files (gh-86291), so while it is still
the default it is replaced by the ``traceback`` module's equivalent.
"""

from __future__ import annotations

import sys
from types import TracebackType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Type


def print_exception(kind: Type[BaseException], value: BaseException, tb: Optional[TracebackType]) -> None:
    """``sys.excepthook`` that reads source through linecache, as 3.13's does."""
    import traceback

    traceback.print_exception(kind, value, tb)


def ensure_source_lines() -> None:
    """Install :func:`print_exception` if the C default hook is still in place."""
    if sys.version_info < (3, 13) and sys.excepthook is sys.__excepthook__:
        sys.excepthook = print_exception
