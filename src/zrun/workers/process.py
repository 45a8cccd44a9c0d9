"""Process workers: a spawned interpreter per worker, tasks over a pipe, killed as a group.

``spawn`` (not ``fork``) on every platform: a forked child would start with
everything the host has loaded, the state this level exists to keep apart.
The worker makes itself a process-group leader before it reads its first
task, so a timeout kills the worker and every child its plugin started
(unless one of them left the group with ``setsid``). Where the OS has no
process groups (Windows) only the worker itself is killed.
"""

from __future__ import annotations

import os
import signal
from typing import Any, Optional

from .errors import WorkerDied, WorkerTimeout
from .limits import Limits
from .task import serve, warm


class ProcessWorker:
    """One spawned process that runs tasks one at a time; isolates everything but the disk."""

    @classmethod
    def check(cls, limits: Optional[Limits]) -> None:
        """Refuse, in the host, what this kind of worker cannot do here."""
        if limits:
            limits.check()

    def __init__(self, limits: Optional[Limits] = None) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process: Any = context.Process(target=_main, args=(child, limits), name="zrun-worker")
        self._process.start()
        child.close()
        self._ready = False
        self.tasks = 0
        self.alive = True

    @property
    def ident(self) -> int:
        """The worker's process id."""
        pid: int = self._process.pid
        return pid

    def ready(self, timeout: Optional[float] = None) -> None:
        """Wait until the worker has started and can serve (its first message)."""
        from multiprocessing.connection import wait

        if self._ready:
            return
        try:
            if self._conn in wait([self._conn, self._process.sentinel], timeout):
                self._conn.recv_bytes()
                self._ready = True
                return
        except (EOFError, OSError):
            pass
        self.kill()
        raise WorkerDied(f"worker process {self.ident} did not start ({describe(self._process.exitcode)})", self._process.exitcode)

    def perform(self, blob: bytes, timeout: Optional[float], what: str) -> bytes:
        """Send one task and wait for its outcome, its timeout, or the worker's death."""
        from multiprocessing.connection import wait

        self.ready()
        self.tasks += 1
        try:
            self._conn.send_bytes(blob)
            ready = wait([self._conn, self._process.sentinel], timeout)
            if self._conn in ready:
                answer: bytes = self._conn.recv_bytes()
                return answer
        except (EOFError, OSError):
            ready = [self._process.sentinel]
        self.kill()
        if not ready:
            raise WorkerTimeout(f"{what!r} ran over its {timeout} s timeout: worker process {self.ident} and its process group were killed")
        code = self._process.exitcode
        raise WorkerDied(f"worker process {self.ident} died while running {what!r} ({describe(code)})", code)

    def kill(self) -> None:
        """Kill the worker's process group, then the worker, and reap it."""
        self.alive = False
        if hasattr(os, "killpg"):
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except OSError:  # no such group (yet): the worker had not started serving
                pass
        self._process.kill()
        self._process.join(5)
        self._conn.close()

    def stop(self) -> None:
        """Ask the worker to finish (end of its pipe) without waiting."""
        self.alive = False
        self._conn.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker and wait for it; kill it if it does not end within ``timeout``."""
        self.stop()
        self._process.join(timeout)
        if self._process.exitcode is None:
            self.kill()

    def __repr__(self) -> str:
        return f"<ProcessWorker pid={self._process.pid} tasks={self.tasks}>"


def describe(code: Optional[int]) -> str:
    """``-11`` -> ``killed by SIGSEGV``; ``3`` -> ``exit status 3``."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _main(conn: Any, limits: Optional[Limits]) -> None:
    """The worker process: lead a process group, apply limits, serve tasks until the pipe ends."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    if limits:
        limits.apply()
    warm()
    conn.send_bytes(b"")  # ready
    while True:
        try:
            blob = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if limits:
            limits.arm()
        conn.send_bytes(serve(blob))
