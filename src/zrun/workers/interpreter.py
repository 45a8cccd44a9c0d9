"""Sub-interpreter workers (CPython 3.14+, PEP 734): own ``sys``, modules and GIL, one process.

A worker is one :func:`concurrent.interpreters.create` interpreter. A task
runs in it on the calling host thread, which leaves the host's GIL while it
does, so N workers called from N threads run in parallel. The interpreter
cannot be interrupted from outside: a timeout gives up waiting and retires
the worker, whose code runs on until it returns (then the interpreter is
closed). Crashes (``os._exit``, a segfault) end the whole host process.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from typing import Any, List, Optional, Tuple

from .errors import WorkerError, WorkerTimeout
from .limits import Limits
from .task import serve, warm

#: Give the new interpreter the host's current sys.path (a tuple is shareable, a list is not).
_ADOPT_PATH = "import sys; sys.path[:] = path"


def available() -> bool:
    """Whether this interpreter can create isolated sub-interpreters (CPython 3.14+)."""
    return sys.version_info >= (3, 14) and importlib.util.find_spec("concurrent.interpreters") is not None


class InterpreterWorker:
    """One sub-interpreter that runs tasks one at a time; isolates Python state, not the process."""

    @staticmethod
    def available() -> bool:
        """Whether this interpreter can create isolated sub-interpreters (CPython 3.14+)."""
        return available()

    @classmethod
    def check(cls, limits: Optional[Limits]) -> None:
        """Refuse, in the host, what this kind of worker cannot do here."""
        if not available():
            raise WorkerError(f"sub-interpreter workers need CPython 3.14+ (concurrent.interpreters); this is {sys.version.split()[0]}")
        if limits:
            raise WorkerError("resource limits apply to the whole process: use ProcessWorker for limits")

    def __init__(self, limits: Optional[Limits] = None) -> None:
        self._interp: Any = _interpreters().create()
        self._interp.prepare_main(path=tuple(entry for entry in sys.path if isinstance(entry, str)))
        self._interp.exec(_ADOPT_PATH)
        self._lock = threading.Lock()
        self._abandoned = False
        self._ready = False
        self.tasks = 0
        self.alive = True

    def ready(self, timeout: Optional[float] = None) -> None:
        """Import what tasks need in the interpreter, once."""
        if not self._ready:
            self._interp.call(warm)
            self._ready = True

    @property
    def ident(self) -> int:
        """The interpreter's id."""
        number: int = self._interp.id
        return number

    def perform(self, blob: bytes, timeout: Optional[float], what: str) -> bytes:
        """Run one task in the interpreter; with a timeout, from a thread that may be left behind."""
        self.ready()
        self.tasks += 1
        if timeout is None:
            return self._call(blob)
        box: List[Tuple[bool, Any]] = []
        thread = threading.Thread(target=self._call_into, args=(blob, box), name=f"zrun-interpreter-{self.ident}")
        thread.start()
        thread.join(timeout)
        with self._lock:
            if not box:
                self._abandoned = True
                self.alive = False
                raise WorkerTimeout(
                    f"{what!r} ran over its {timeout} s timeout: a sub-interpreter cannot be stopped, so interpreter "
                    f"{self.ident} runs on until the task returns and is closed then"
                )
        ok, value = box[0]
        if not ok:
            raise value
        answer: bytes = value
        return answer

    def _call(self, blob: bytes) -> bytes:
        try:
            answer: bytes = self._interp.call(serve, blob)
        except _interpreters().ExecutionFailed as exc:  # serve itself failed: zrun not importable there, say
            raise WorkerError(f"worker interpreter {self.ident} failed: {exc}") from None
        return answer

    def _call_into(self, blob: bytes, box: List[Tuple[bool, Any]]) -> None:
        try:
            result: Tuple[bool, Any] = (True, self._call(blob))
        except BaseException as exc:
            result = (False, exc)
        with self._lock:
            box.append(result)
            abandoned = self._abandoned
        if abandoned:
            self._close_interpreter()

    def stop(self) -> None:
        """Nothing to signal: an interpreter is closed, not asked."""
        self.alive = False

    def close(self, timeout: float = 5.0) -> None:
        """Close the interpreter; this waits for threads the plugin started in it."""
        self.alive = False
        with self._lock:
            if self._abandoned:
                return  # the thread still running in it closes it
        self._close_interpreter()

    def kill(self) -> None:
        """Retire the worker; an interpreter cannot be killed, only closed once idle."""
        self.close()

    def _close_interpreter(self) -> None:
        try:
            self._interp.close()
        except Exception:  # already closed, or closing from the wrong thread: nothing left to free
            pass

    def __repr__(self) -> str:
        return f"<InterpreterWorker id={self._interp.id} tasks={self.tasks}>"


def _interpreters() -> Any:
    return importlib.import_module("concurrent.interpreters")
