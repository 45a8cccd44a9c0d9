"""When a run fails: one ``zrun: error:`` line for zrun's errors, the user's own traceback for theirs.

A traceback shows the target's frames only (``-v`` shows all): zrun's and
importlib's frames are unlinked, as CPython hides importlib's own. An
interrupted run ends killed by SIGINT, as an interrupted Python does. A run
that succeeds never imports this module.
"""

from __future__ import annotations

import os
import sys

from .helptext import zrun_folder

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import List, Set

    from ..target import Target


def error(exc: BaseException, target: Target, paths: List[str]) -> int:
    """One ``zrun: error:`` line; exit 2 for a missing file, as python, else 1."""
    from ..errors import CorruptArchive, MissingPath, NotRunnable

    message = str(exc)
    if isinstance(exc, NotRunnable):
        from .diagnose import explain

        try:
            message = explain(exc, target, paths)
        except Exception:  # a hint that fails must not hide the error itself
            pass
    elif isinstance(exc, CorruptArchive) and "truncated or corrupt" not in message:
        message += " (the archive is truncated or corrupt)"
    sys.stderr.write(f"zrun: error: {message}\n")
    return 2 if isinstance(exc, MissingPath) else 1


def _is_ours(filename: str) -> bool:
    return _is_zrun(filename) or _is_importlib(filename)


def _is_zrun(filename: str) -> bool:
    return filename.startswith(zrun_folder() + os.sep)


def _is_importlib(filename: str) -> bool:
    return filename.startswith("<frozen importlib") or filename.endswith(f"{os.sep}importlib{os.sep}__init__.py")


def raised_by_user(exc: BaseException) -> bool:
    """True when a ZrunError came from code the target ran (e.g. a plugin host it drives)."""
    tb = exc.__traceback__
    while tb is not None:
        if not _is_ours(tb.tb_frame.f_code.co_filename):
            return True
        tb = tb.tb_next
    return False


def report(exc: BaseException, verbosity: int = 0) -> int:
    """Print the traceback of the user's frames only (all frames under ``-v``), through ``sys.excepthook``."""
    from ..loading.tracebacks import excepthook

    if not verbosity:
        _strip_ours(exc, set())
    excepthook()(type(exc), exc, exc.__traceback__)
    return 1


def _strip_ours(exc: BaseException, seen: Set[int]) -> None:
    """Unlink zrun's (and importlib's) frames wherever they are, as CPython hides importlib's own."""
    seen.add(id(exc))
    kept = []
    tb = exc.__traceback__
    dropped = True  # importlib's frames go only where zrun called it: the user's own import_module calls stay
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        dropped = _is_zrun(filename) or (dropped and _is_importlib(filename))
        if not dropped:
            kept.append(tb)
        tb = tb.tb_next
    for before, after in zip(kept, [*kept[1:], None]):
        before.tb_next = after
    exc.__traceback__ = kept[0] if kept else None
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None and id(linked) not in seen:
            _strip_ours(linked, seen)


def die_of_sigint() -> int:
    """End as an interrupted Python does: killed by SIGINT, where the platform allows."""
    from ..stdlib import stdlib

    signal = stdlib("signal")
    if hasattr(signal, "SIGINT") and hasattr(os, "kill") and os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return 130
