"""Source lines in tracebacks for code that has no file on disk.

zrun registers each module's source with :mod:`linecache`, which the
``traceback`` module reads. ``linecache`` costs milliseconds to import
(``tokenize``, ``re``), so until the target imports it the sources wait here
and are handed over when it is imported. Before 3.13 the interpreter's
default excepthook is written in C and only reads real files (gh-86291), so
the CLI prints through :func:`excepthook`, the ``traceback`` module's
equivalent while ``sys.excepthook`` is still the default. ``sys.excepthook``
itself is never replaced: a library run must give the host back its own.
"""

from __future__ import annotations

import sys
from types import TracebackType

from ..stdlib import stdlib
from .callbacks import when_imported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Callable, Dict, Optional, Type

_waiting: Dict[str, Callable[[], Optional[str]]] = {}


def register(filename: str, source: Callable[[], Optional[str]]) -> None:
    """Let tracebacks show ``filename``'s lines, read by ``source()`` only when one is shown."""
    linecache = sys.modules.get("linecache")
    if linecache is not None:
        _hand_over(linecache)  # what waited while a run's import hook was in place, if any
        linecache.cache[filename] = (source,)  # a lazy entry: linecache calls it for the text
    else:
        _waiting[filename] = source
        when_imported("linecache", _hand_over)


def excepthook() -> Callable[[Type[BaseException], BaseException, Optional[TracebackType]], Any]:
    """``sys.excepthook``, or :func:`print_exception` while that is the C default before 3.13."""
    if sys.version_info < (3, 13) and sys.excepthook is sys.__excepthook__:
        return print_exception
    return sys.excepthook


def print_exception(kind: Type[BaseException], value: BaseException, tb: Optional[TracebackType]) -> None:
    """``sys.excepthook`` that reads source through linecache, as 3.13's does."""
    traceback = stdlib("traceback")  # the real one, whatever the run's sources hold
    _hand_over(traceback.linecache)
    traceback.print_exception(kind, value, tb)


def _hand_over(linecache: ModuleType) -> None:
    while _waiting:
        filename, source = _waiting.popitem()
        linecache.cache[filename] = (source,)

