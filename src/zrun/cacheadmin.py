"""Looking after the cache: what is there, and clean-up (``zrun cache ...``).

shiv's users end up with tens of gigabytes of stale extractions (shiv #188);
here every entry records its last use, and ``prune`` removes what was not used
for a while. Only the folders zrun writes (:data:`zrun.cache.KINDS`) are ever
deleted from, so a mistaken ``ZRUN_CACHE_DIR=~`` loses nothing else.
"""

from __future__ import annotations

import os
import sys

from .cache import KINDS, location, refusal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Iterator, List, Tuple

USAGE = "usage: zrun cache info | prune [--older-than DAYS] | clear\n"
HELP = (
    USAGE
    + """
Show or clean zrun's cache of compiled code, archive indexes and extracted
extension modules (see docs/cache.md).

commands:
  info                    where the cache is, whether it is used, and its size
  prune [--older-than DAYS]
                          remove entries not used for DAYS days (default 30)
  clear                   remove every entry

environment:
  ZRUN_CACHE_DIR          the cache directory (default: the user cache directory)
  ZRUN_NO_CACHE=1         run without the cache
"""
)


def _entries(root: str) -> Iterator[Tuple[str, str, float, int]]:
    """(kind, path, last use, bytes) of every entry: code and index files, extension folders, leftovers."""
    for kind in KINDS:
        top = os.path.join(root, kind)
        for path in _listdir(top) if kind == "ext" else [path for shard in _listdir(top) for path in _listdir(shard)]:
            try:
                st = os.lstat(path)
                size = st.st_size + sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(path) for f in fs)
            except OSError:
                continue
            yield kind, path, max(st.st_atime, st.st_mtime), size


def _listdir(path: str) -> List[str]:
    try:
        return [os.path.join(path, name) for name in os.listdir(path)]
    except OSError:
        return []


def info() -> Dict[str, Any]:
    """Where the cache is, whether it is used, and ``[entries, bytes]`` per kind."""
    path = location()
    exists = os.path.isdir(path)
    off = os.environ.get("ZRUN_NO_CACHE", "") not in ("", "0")
    status = "disabled by ZRUN_NO_CACHE" if off else (refusal(path) or "in use") if exists else "not created yet"
    report: Dict[str, Any] = {"path": path, "status": status, **{kind: [0, 0] for kind in KINDS}}
    for kind, _, _, size in _entries(path) if exists else ():
        report[kind][0] += 1
        report[kind][1] += size
    return report


def prune(older_than_days: float = 30.0) -> Tuple[int, int]:
    """Remove entries last used over ``older_than_days`` ago; return (entries, bytes) removed.

    Last use is the later of access and modification time: ``relatime`` mounts
    keep access times within a day, on ``noatime`` ones entries age from when
    they were written. Extension folders are touched whenever they are reused.
    """
    import shutil
    import time

    cutoff, root = time.time() - older_than_days * 86400, location()
    count = freed = 0
    for _, path, used, size in list(_entries(root)) if refusal(root) is None else ():
        if used >= cutoff:
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                gone = f"{path}.{os.getpid()}.del"  # vanishes at once for concurrent runs
                os.rename(path, gone)
                shutil.rmtree(gone, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            continue
        count, freed = count + 1, freed + size
    return count, freed


def clear() -> Tuple[int, int]:
    """Remove every entry; only zrun's own folders, so a mistaken ``ZRUN_CACHE_DIR=~`` stays safe."""
    return prune(-1e9)


def main(args: List[str]) -> int:
    """``zrun cache info | prune [--older-than DAYS] | clear``; the exit status (2: usage error)."""
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(HELP)
        return 0
    command, rest = (args[0] if args else "info"), list(args[1:])
    days = "30"
    if command == "prune" and rest[:1] == ["--older-than"] and len(rest) == 2:
        days, rest = rest[1], []
    elif command == "prune" and len(rest) == 1 and rest[0].startswith("--older-than="):
        days, rest = rest[0].partition("=")[2], []
    if rest or command not in ("info", "prune", "clear") or not days.replace(".", "", 1).isdigit():
        sys.stderr.write(f"{USAGE}zrun: error: bad cache command {' '.join(args)!r}\n")
        return 2
    if command == "info":
        report = info()
        sys.stdout.write(f"cache: {report['path']} ({report['status']})\n")
        for kind in KINDS:
            sys.stdout.write(f"  {kind:<6} {report[kind][0]:>8} entries {report[kind][1] / 1048576:>10.1f} MiB\n")
        return 0
    count, freed = prune(float(days)) if command == "prune" else clear()
    sys.stdout.write(f"removed {count} entries, {freed / 1048576:.1f} MiB\n")
    return 0
