"""Operating-system limits for process workers: address space, CPU time, open files.

Applied with :mod:`resource` inside the worker process, never in the host.
Address space and open files are set (soft and hard) once, when the worker
starts, so a plugin cannot raise them again. CPU time counts for the whole
life of a process, so before each task the soft limit is moved to the time
used so far plus ``cpu`` seconds: a task that overruns gets ``SIGXCPU``,
which ends the worker (reported as :class:`~zrun.workers.errors.WorkerDied`).
The hard CPU limit is left alone, so a plugin could raise its own soft limit:
these limits stop accidents, they are not a sandbox.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from .errors import WorkerError


@dataclass(frozen=True)
class Limits:
    """Per-worker limits: ``memory`` (bytes of address space), ``cpu`` (seconds per task), ``files`` (descriptors)."""

    memory: Optional[int] = None
    cpu: Optional[float] = None
    files: Optional[int] = None

    def check(self) -> None:
        """Refuse, in the host, limits this operating system cannot apply."""
        wanted = self._fixed() + ([("RLIMIT_CPU", 0)] if self.cpu is not None else [])
        if not wanted:
            return
        resource = _resource()
        missing = [name for name, _ in wanted if not hasattr(resource, name)]
        if missing:
            raise WorkerError(f"this system has no {', '.join(missing)}: cannot limit workers")

    def apply(self) -> None:
        """In the worker, at start: fix the address-space and descriptor limits for good."""
        if not self._fixed():
            return
        resource = _resource()
        for name, value in self._fixed():
            which = getattr(resource, name)
            _, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))

    def arm(self) -> None:
        """In the worker, before a task: allow ``cpu`` more seconds of CPU time from now."""
        if self.cpu is None:
            return
        resource = _resource()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + self.cpu)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def _fixed(self) -> List[Tuple[str, int]]:
        pairs = [("RLIMIT_AS", self.memory), ("RLIMIT_NOFILE", self.files)]
        return [(name, int(value)) for name, value in pairs if value is not None]

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.memory, self.cpu, self.files))


def _resource() -> Any:
    try:
        import resource
    except ImportError:  # Windows
        raise WorkerError("resource limits need the resource module, which this system lacks") from None
    return resource
