"""Looking after the cache: what is there, and clean-up (``zrun cache ...``).

shiv's users end up with tens of gigabytes of stale extractions (shiv #188);
here every entry records its last use, and ``prune`` removes what was not used
for a while. Clean-up deletes only what zrun wrote: the folder must be zrun's
(its ``CACHEDIR.TAG`` carries zrun's line, and it is checked as the cache is,
:mod:`zrun.cache.root`), only names in zrun's own formats inside the
:data:`~zrun.cache.store.KINDS` folders are touched, and no symbolic link is ever
followed (every access is relative to a descriptor, ``O_NOFOLLOW``). So a
mistaken ``ZRUN_CACHE_DIR=~`` or ``=.`` is refused and loses nothing.
"""

from __future__ import annotations

import os
import stat
import sys

from ..cache import root as cacheroot
from ..cache import shiv as shivcache
from ..cache import store as cache
from ..cache.root import Untrusted
from ..cache.store import KINDS, location
from ..settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Iterator, List, Tuple

    from ..cache.root import Root

    Entry = Tuple[str, str, float, int, bool]  # kind, path below the root, last use, bytes, a temporary?

#: A temporary file (or a folder being deleted) this many seconds old belongs to a writer that died.
STALE_TEMPORARY = 600.0
USAGE = "usage: zrun cache info | prune [--older-than DAYS] | clear\n"
HELP = (
    USAGE
    + """
Show or clean zrun's cache of compiled code (a pack per archive), archive
indexes and extracted extension modules (see docs/cache.md).

commands:
  info                    where the cache is, whether it is used, and its size
  prune [--older-than DAYS]
                          remove entries not used for DAYS days (default 30)
                          and temporary files left by killed processes
  clear                   remove every entry

environment:
  ZRUN_CACHE_DIR          the cache directory (default: the user cache directory)
  ZRUN_NO_CACHE=1         run without the cache
  SHIV_ROOT               where runner.pyz extracts itself (default: ~/.shiv);
                          its extractions but the running one are pruned too
"""
)


def _hex(name: str, length: int) -> bool:
    return len(name) == length and all(c in "0123456789abcdef" for c in name)


def _entries(found: Root) -> Iterator[Entry]:
    """Every entry zrun wrote: packs, code and index files, extraction folders and locks, and temporaries."""
    for kind in KINDS:
        try:
            cacheroot.folder(found, kind, create=False)
            listing = found.scandir(kind)
        except FileNotFoundError:
            continue
        for name, st in listing:
            rel = f"{kind}/{name}"
            if kind == "ext":
                yield from _ext_entries(found, rel, name, st)
            elif _hex(name, 2) and stat.S_ISDIR(st.st_mode):
                cacheroot.folder(found, rel, create=False)
                for leaf, leaf_st in found.scandir(rel):
                    stem = leaf.partition(".")[0]
                    if _hex(stem, 38) and stat.S_ISREG(leaf_st.st_mode) and (stem == leaf or cache.is_temporary(leaf)):
                        yield _entry(kind, f"{rel}/{leaf}", leaf_st, stem != leaf)


def _ext_entries(found: Root, rel: str, name: str, st: os.stat_result) -> Iterator[Entry]:
    """``<key>`` folders (with the temporaries inside them), ``<key>.lock``, and ``<key>.<pid>.del`` leftovers."""
    stem, _, suffix = name.partition(".")
    if not _hex(stem, 40):
        return
    if not suffix and stat.S_ISDIR(st.st_mode):
        cacheroot.folder(found, rel, create=False)
        size = 0
        for inner, inner_st in _walk(found, rel):
            size += inner_st.st_size
            if cache.is_temporary(inner.rpartition("/")[2]):
                yield _entry("ext", inner, inner_st, True)
        yield _entry("ext", rel, st, False, size)
    elif suffix == "lock" and stat.S_ISREG(st.st_mode):
        yield _entry("ext", rel, st, False)
    elif suffix.endswith(".del") and suffix[:-4].isdigit() and stat.S_ISDIR(st.st_mode):
        yield _entry("ext", rel, st, True, sum(inner_st.st_size for _, inner_st in _walk(found, rel)))


def _entry(kind: str, rel: str, st: os.stat_result, temporary: bool, extra: int = 0) -> Entry:
    used = st.st_mtime if temporary else max(st.st_atime, st.st_mtime)
    return kind, rel, used, st.st_size + extra, temporary


def _walk(found: Root, rel: str) -> Iterator[Tuple[str, os.stat_result]]:
    """Files below folder ``rel`` with their ``lstat``; links are listed, never followed."""
    try:
        listing = found.scandir(rel)
    except OSError:
        return
    for name, st in listing:
        child = f"{rel}/{name}"
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(found, child)
        else:
            yield child, st


def _remove_tree(found: Root, rel: str) -> None:
    """Delete folder ``rel`` and what is in it; a link inside is removed, never followed."""
    for name, st in found.scandir(rel):
        child = f"{rel}/{name}"
        try:
            if stat.S_ISDIR(st.st_mode):
                _remove_tree(found, child)
            else:
                found.unlink(child)
        except OSError:
            pass
    found.rmdir(rel)


def info() -> Dict[str, Any]:
    """Where the cache is, whether it is used, and ``[entries, bytes]`` per kind."""
    path = location()
    report: Dict[str, Any] = {"path": path, "status": "in use", **{kind: [0, 0] for kind in KINDS}}
    try:
        found = cache.trusted(path, create=False)
    except FileNotFoundError:
        report["status"] = "not created yet"
        return report
    except OSError as exc:
        report["status"] = f"not used: {exc.strerror or exc}"
        return report
    try:
        for kind, _, _, size, temporary in _entries(found):
            report[kind][0] += not temporary
            report[kind][1] += size if not temporary or kind != "ext" else 0
    except OSError:
        pass
    finally:
        found.close()
    if Settings().ZRUN_NO_CACHE:
        report["status"] = "disabled by ZRUN_NO_CACHE"
    return report


def prune(older_than_days: float = 30.0) -> Tuple[int, int]:
    """Remove entries last used over ``older_than_days`` ago, and stale temporaries; return (entries, bytes) removed.

    Last use is the later of access and modification time: ``relatime`` mounts
    keep access times within a day, on ``noatime`` ones entries age from when
    they were written. Extension folders are touched whenever they are reused.
    A temporary file goes once it is :data:`STALE_TEMPORARY` seconds old (its
    writer was killed). :class:`~zrun.cache.root.Untrusted` if the folder is not
    zrun's; nothing to do if it does not exist.
    """
    import time

    now = time.time()
    return _remove(now - older_than_days * 86400, now - STALE_TEMPORARY)


def clear() -> Tuple[int, int]:
    """Remove every entry and every temporary, as :func:`prune` would with no age limit."""
    return _remove(float("inf"), float("inf"))


def _remove(cutoff: float, temporary_cutoff: float) -> Tuple[int, int]:
    try:
        found = cache.trusted(location(), create=False)
    except FileNotFoundError:
        return 0, 0
    count = freed = 0
    try:
        for _, rel, used, size, temporary in list(_entries(found)):
            if used >= (temporary_cutoff if temporary else cutoff):
                continue
            try:
                if temporary and rel.endswith(".del"):
                    _remove_tree(found, rel)
                elif not temporary and rel.startswith("ext/") and not rel.endswith(".lock"):
                    gone = f"{rel}.{os.getpid()}.del"  # vanishes at once for concurrent runs
                    found.replace(rel, gone)
                    _remove_tree(found, gone)
                else:
                    found.unlink(rel)
            except OSError:
                continue
            count, freed = count + 1, freed + size
    finally:
        found.close()
    return count, freed


def main(args: List[str]) -> int:
    """``zrun cache info | prune [--older-than DAYS] | clear``; the exit status (2: usage error, 1: refused)."""
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
        if sys.dont_write_bytecode and not Settings().ZRUN_NO_CACHE:
            sys.stdout.write("  PYTHONDONTWRITEBYTECODE / -B is set: compiled code is read from the cache, never stored\n")
        for kind in KINDS:
            sys.stdout.write(f"  {kind:<6} {report[kind][0]:>8} entries {report[kind][1] / 1048576:>10.1f} MiB\n")
        sys.stdout.write("".join(line + "\n" for line in shivcache.report_lines()))
        return 0
    try:
        count, freed = prune(float(days)) if command == "prune" else clear()
    except OSError as exc:
        why = exc.strerror if isinstance(exc, Untrusted) else exc.strerror or exc
        sys.stderr.write(f"zrun: error: refusing to clean {location()}: {why}\n")
        return 1
    sys.stdout.write(f"removed {count} entries, {freed / 1048576:.1f} MiB\n")
    sys.stdout.write(shivcache.prune_line(float(days) if command == "prune" else -1e9))  # runner.pyz's own, in SHIV_ROOT
    return 0
