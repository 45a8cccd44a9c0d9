"""Waiting for zrun's one ``sys`` lock, with a deadline and a clear error.

``sys`` is process-global, so every zrun run that alters it holds
:data:`zrun.engine.sysstate.SYS_LOCK` (an ``RLock``: the thread that holds it may
nest runs freely). A host thread that waits for it forever because another
thread is inside a long plugin run looks like a hang; :func:`hold` turns the
wait into :class:`LockTimeout` after ``timeout`` seconds instead.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

from ..errors import ZrunError
from .sysstate import SYS_LOCK


class LockTimeout(ZrunError, TimeoutError):
    """zrun's ``sys`` lock was not acquired in time: another thread is altering ``sys``."""


def acquire(timeout: Optional[float], what: str = "alter sys") -> None:
    """Take ``SYS_LOCK`` (forever for ``None``) or raise :class:`LockTimeout` naming ``what``.

    The caller releases it with ``SYS_LOCK.release()``.
    """
    if timeout is None:
        SYS_LOCK.acquire()
    elif not SYS_LOCK.acquire(True, max(float(timeout), 0.0)):
        raise LockTimeout(
            f"could not {what} within {timeout:g} s: another thread holds zrun's sys lock "
            "(a run with alter_sys=True, or an entered Scope); see docs/plugin-hosts.md"
        )


@contextmanager
def hold(timeout: Optional[float], what: str = "alter sys") -> Iterator[None]:
    """Hold ``SYS_LOCK`` for the block, waiting at most ``timeout`` seconds for it."""
    acquire(timeout, what)
    try:
        yield
    finally:
        SYS_LOCK.release()
