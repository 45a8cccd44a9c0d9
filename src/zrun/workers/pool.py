"""A pool of isolated workers: plugins run in parallel, each away from the host's state.

:class:`Workers` speaks :class:`zrun.Scope`'s language (``sources``, ``run``,
``call``) but every task runs in a worker: a spawned process
(:class:`~zrun.workers.process.ProcessWorker`, every version) or a
sub-interpreter (:class:`~zrun.workers.interpreter.InterpreterWorker`,
3.14+). The host never takes ``SYS_LOCK`` for them, so ``size`` tasks run at
once. A worker that dies or times out is dropped and a new one takes its
place for the next task. What each level isolates: ``docs/plugin-hosts.md``.
"""

from __future__ import annotations

import os
import pickle
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Type, Union

from ..engine.entries import SourceLike, one_or_many
from .errors import NotIsolatable, WorkerError
from .interpreter import InterpreterWorker
from .limits import Limits
from .process import ProcessWorker
from .task import Call, RunTarget, Shipped, Task, outcome, ship

Worker = Union[ProcessWorker, InterpreterWorker]
WorkerKind = Union[Type[ProcessWorker], Type[InterpreterWorker]]
Sources = Union[SourceLike, Iterable[SourceLike]]


class Workers:
    """Run plugin targets in isolated workers, up to ``size`` at once.

    ``worker`` is :class:`ProcessWorker` or :class:`InterpreterWorker`.
    ``max_tasks=1`` gives every task a fresh worker; by default a worker
    serves task after task (each in a fresh :class:`zrun.Scope`, so ``sys``
    is clean, but a stdlib patch stays for the next task in that worker).
    ``timeout`` (seconds) bounds each task, ``limits`` applies OS limits to
    process workers, and ``fallback`` is the worker kind that reruns a task
    whose native extension cannot load in a sub-interpreter (``None``: raise
    :class:`~zrun.workers.errors.NotIsolatable`).
    """

    def __init__(
        self,
        sources: Sources = (),
        *,
        worker: WorkerKind = ProcessWorker,
        size: Optional[int] = None,
        max_tasks: Optional[int] = None,
        timeout: Optional[float] = None,
        limits: Optional[Limits] = None,
        fallback: Optional[WorkerKind] = ProcessWorker,
    ) -> None:
        worker.check(limits)
        self.kind = worker
        self.size = size or os.cpu_count() or 2
        self.max_tasks = max_tasks
        self.timeout = timeout
        self.limits = limits
        self.fallback = None if fallback is worker else fallback
        self.replaced = 0  # workers dropped because they died or timed out
        self._shipped = _ship_all(sources)
        self._lock = threading.Lock()
        self._idle: List[Worker] = []
        self._live: Set[Worker] = set()
        self._backup: Optional[Workers] = None
        self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="zrun-workers")
        self._finalizer = weakref.finalize(self, _shut_down, self._executor, self._live)

    # What a host calls.
    def call(self, target: str, *args: Any, **kwargs: Any) -> Any:
        """``scope.call`` in a worker: import ``module``, return ``function(*args, **kwargs)``."""
        return self.submit_call(target, args, kwargs).result()

    def run(self, target: str, argv: Sequence[str] = ()) -> Any:
        """``scope.run`` in a worker; returns a ``module:function`` target's result, else None."""
        return self.submit_run(target, argv).result()

    def submit_call(
        self,
        target: str,
        args: Sequence[Any] = (),
        kwargs: Optional[Dict[str, Any]] = None,
        *,
        sources: Optional[Sources] = None,
        timeout: Optional[float] = None,
    ) -> Future[Any]:
        """Start :meth:`call` and return its future; ``sources``/``timeout`` override the pool's."""
        shipped = self._shipped if sources is None else _ship_all(sources)
        return self._submit(Call(target, tuple(args), dict(kwargs or {}), shipped), timeout)

    def submit_run(
        self, target: str, argv: Sequence[str] = (), *, sources: Optional[Sources] = None, timeout: Optional[float] = None
    ) -> Future[Any]:
        """Start :meth:`run` and return its future; ``sources``/``timeout`` override the pool's."""
        shipped = self._shipped if sources is None else _ship_all(sources)
        return self._submit(RunTarget(target, tuple(argv), shipped), timeout)

    def start(self) -> None:
        """Start every worker now, in parallel, and return once all can serve."""
        with self._lock:
            missing = self.size - len(self._live)
        failures = []
        for future in [self._executor.submit(self._new) for _ in range(missing)]:
            try:
                worker = future.result()
            except WorkerError as exc:  # keep the workers that did start; report the first that did not
                failures.append(exc)
                continue
            with self._lock:
                self._live.add(worker)
                self._idle.append(worker)
        if failures:
            raise failures[0]

    @property
    def workers(self) -> List[int]:
        """Process ids (or interpreter ids) of the live workers."""
        with self._lock:
            return sorted(worker.ident for worker in self._live)

    def close(self) -> None:
        """Wait for running tasks, then end every worker."""
        self._finalizer()
        if self._backup is not None:
            self._backup.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.close()

    # Dispatch, in the executor's threads.
    def _submit(self, task: Task, timeout: Optional[float]) -> Future[Any]:
        try:
            blob = pickle.dumps(task, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise WorkerError(f"the arguments for {task.target!r} do not pickle: {exc}") from exc
        return self._executor.submit(self._perform, blob, task.target, self.timeout if timeout is None else timeout)

    def _perform(self, blob: bytes, what: str, timeout: Optional[float]) -> Any:
        worker = self._take()
        try:
            answer = worker.perform(blob, timeout, what)
        except BaseException:
            self._drop(worker, replaced=True, kill=worker.alive)
            raise
        self._give_back(worker)
        try:
            return outcome(answer, what)
        except NotIsolatable:
            if self.fallback is None:
                raise
        return self._fallback_pool()._perform(blob, what, timeout)

    def _new(self) -> Worker:
        worker = self.kind(self.limits)
        worker.ready()
        return worker

    def _take(self) -> Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        worker = self.kind(self.limits)
        with self._lock:
            self._live.add(worker)
        return worker

    def _give_back(self, worker: Worker) -> None:
        if worker.alive and (self.max_tasks is None or worker.tasks < self.max_tasks):
            with self._lock:
                self._idle.append(worker)
            return
        self._drop(worker, replaced=False, kill=False)

    def _drop(self, worker: Worker, replaced: bool, kill: bool) -> None:
        with self._lock:
            self._live.discard(worker)
            self.replaced += replaced
        if kill:  # interrupted mid-task: its state is unknown
            worker.kill()
        else:
            worker.close()

    def _fallback_pool(self) -> Workers:
        with self._lock:
            if self._backup is None:
                assert self.fallback is not None
                self._backup = Workers(worker=self.fallback, size=self.size, max_tasks=self.max_tasks, timeout=self.timeout, fallback=None)
            return self._backup

    def __repr__(self) -> str:
        return f"<Workers {self.kind.__name__} size={self.size} live={len(self._live)}>"


def _ship_all(sources: Sources) -> Tuple[Shipped, ...]:
    return tuple(ship(entry) for entry in one_or_many(sources))


def _shut_down(executor: ThreadPoolExecutor, live: Set[Worker]) -> None:
    """Let running tasks finish, then end the workers: all asked first, then each awaited."""
    executor.shutdown(wait=True)
    workers = list(live)
    live.clear()
    for worker in workers:
        worker.stop()
    for worker in workers:
        worker.close()
