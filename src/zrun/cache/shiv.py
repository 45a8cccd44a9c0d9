"""runner.pyz's own extractions in shiv's cache (``${SHIV_ROOT:-~/.shiv}/<name>_<build id>``).

shiv never deletes an extraction (shiv #188: 23 GB of them), and every build
of runner.pyz, and every copy under another name, adds one. ``zrun cache``
reports and removes them, but only those that are runner.pyz's: a folder
``<name>_<64 hex digits>`` whose ``site-packages`` holds ``zrun/pyz.py``, and
its ``.<folder>_lock`` file beside it. The extraction the running process
imports from is never removed, nor one whose lock another process holds (it
is being extracted right now). Last use is the folder's modification time,
which :func:`zrun.pyz.main` refreshes at every start of runner.pyz.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from typing import Iterator, List, Optional, Tuple

_NAME = re.compile(r".+_[0-9a-f]{64}")


def root() -> str:
    """Where shiv extracts: ``SHIV_ROOT``, else ``~/.shiv`` (as shiv's ``cache_path``)."""
    return os.path.abspath(os.path.expanduser(os.environ.get("SHIV_ROOT") or "~/.shiv"))


def running() -> Optional[str]:
    """The extraction this process runs from, when it is runner.pyz.

    This file is ``<extraction>/site-packages/zrun/cache/shiv.py`` there, as
    :func:`zrun.pyz.site_packages` finds its ``site-packages`` from its own file.
    """
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    return here if _is_ours(here) else None


def _is_ours(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "site-packages", "zrun", "pyz.py"))


def extractions(where: Optional[str] = None) -> Iterator[Tuple[str, float, int]]:
    """(folder, last use, bytes) of each runner.pyz extraction under ``where`` (default :func:`root`)."""
    top = where or root()
    try:
        names = sorted(os.listdir(top))
    except OSError:
        return
    for name in names:
        folder = os.path.join(top, name)
        if not _NAME.fullmatch(name) or os.path.islink(folder) or not _is_ours(folder):
            continue
        try:
            used = os.stat(folder).st_mtime
            size = sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(folder) for f in fs)
        except OSError:
            continue
        yield folder, used, size


def lock_file(folder: str) -> str:
    """shiv's lock beside an extraction: ``.<name>_lock``."""
    parent, name = os.path.split(folder)
    return os.path.join(parent, f".{name}_lock")


def prune(older_than_days: float) -> Tuple[int, int]:
    """Remove runner.pyz extractions (and their locks) unused for ``older_than_days``; (count, bytes) removed."""
    cutoff, mine = time.time() - older_than_days * 86400, running()
    count = freed = 0
    for folder, used, size in list(extractions()):
        if used >= cutoff or folder == mine:
            continue
        if _remove(folder):
            count, freed = count + 1, freed + size
    return count, freed


def _remove(folder: str) -> bool:
    """Rename then delete ``folder`` under shiv's lock, unless another process holds the lock."""
    lock = lock_file(folder)
    fd = _try_lock(lock)
    if fd == -1:
        return False  # being extracted now
    try:
        gone = f"{folder}.{os.getpid()}.del"
        os.rename(folder, gone)
        shutil.rmtree(gone, ignore_errors=True)
        try:
            os.unlink(lock)
        except OSError:
            pass
        return True
    except OSError:
        return False
    finally:
        if fd is not None:
            os.close(fd)


def _try_lock(path: str) -> Optional[int]:
    """An exclusive non-blocking ``flock`` on shiv's lock file: the fd, ``None`` without one, -1 if held."""
    if not os.path.exists(path):
        return None
    try:
        from ..stdlib import stdlib

        fcntl = stdlib("fcntl")
    except ImportError:  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return -1
    return fd


def prune_line(older_than_days: float) -> str:
    """Prune runner.pyz's extractions and say what went, for ``zrun cache prune`` and ``clear``."""
    count, freed = prune(older_than_days)
    return f"removed {count} runner.pyz extractions from {root()}, {freed / 1048576:.1f} MiB\n"


def report_lines() -> List[str]:
    """The ``zrun cache info`` lines about runner.pyz's extractions."""
    found = list(extractions())
    mine = running()
    total = sum(size for _, _, size in found)
    lines = [f"runner.pyz extractions: {root()} ({len(found)} entries, {total / 1048576:.1f} MiB)"]
    for folder, used, size in found:
        age = (time.time() - used) / 86400
        note = ", running now" if folder == mine else ""
        lines.append(f"  {os.path.basename(folder)[:-52]}  {size / 1048576:>8.1f} MiB, last used {age:.0f} days ago{note}")
    return lines
