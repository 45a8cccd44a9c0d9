"""What can go wrong with an isolated worker, as :class:`zrun.ZrunError` subclasses.

A plugin's own exception is not among them: it comes back as itself (with
the worker's traceback text as its ``__cause__``), as a plugin's exception
leaves :meth:`zrun.Scope.call`. These say that the *worker* failed.
"""

from __future__ import annotations

from ..errors import ZrunError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class WorkerError(ZrunError):
    """Root of the worker errors: a worker that cannot start, run or answer."""


class WorkerDied(WorkerError):
    """The worker process ended while running a task (``os._exit``, a signal, a crash).

    ``exitcode`` is the process's exit status, or minus the signal number as
    :attr:`multiprocessing.Process.exitcode` gives it. The pool replaces the worker.
    """

    def __init__(self, message: str, exitcode: Optional[int] = None) -> None:
        super().__init__(message)
        self.exitcode = exitcode


class WorkerTimeout(WorkerError, TimeoutError):
    """A task ran past its timeout; a process worker and its process group were killed."""


class NotIsolatable(WorkerError, ImportError):
    """A plugin imports a native extension that cannot load in a sub-interpreter.

    Raised when the pool has no ``fallback``; ``name`` is the extension's name.
    """


class PluginError(WorkerError):
    """A plugin's exception or result that cannot cross back to the host (it does not pickle).

    ``type_name`` is the exception's qualified type; the message keeps its text.
    """

    def __init__(self, message: str, type_name: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name


class RemoteTraceback(ZrunError):
    """The ``__cause__`` of an exception raised in a worker: its traceback text there."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'
