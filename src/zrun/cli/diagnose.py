"""What the CLI adds to a not-found error: where zrun looked, and what the user may have meant.

runpy's messages stay first and word for word (tools match them); the hints
follow after ``; ``. They are computed only once a run has failed, from what
exists where zrun looked: the target's archive or directory (its index only,
nothing is imported), the ``--path`` entries, and ``sys.path``, as the failed
run left them. The process is ending, so the imports made here cost nothing
that matters.
"""

from __future__ import annotations

import difflib
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from typing import Any, Iterable, List, Optional, Sequence

from ..errors import NotRunnable
from ..source import Source
from ..target import Target

#: Names shown at most, in "did you mean" and in lists of what can run.
SHOWN = 5
#: Files looked at, at most, when a directory is listed for suggestions.
WALK_LIMIT = 20000
_MODULE_SUFFIXES = (".py", ".pyc", *EXTENSION_SUFFIXES)


def explain(exc: NotRunnable, target: Target, paths: Sequence[str]) -> str:
    """``exc``'s message with where zrun looked and what exists there that is close."""
    message = str(exc)
    if message.startswith("can't open file"):
        # a close name helps only where nothing is there: not for a symlink loop (ELOOP) or EACCES
        return message + _similar_files(target.location or "") if "[Errno 2] " in message else message
    if message.startswith("can't find '__main__' module in"):
        return message + _what_runs(target.location or "")
    if message.startswith(f"module {target.module!r} has no attribute"):
        return message + _close_attributes(target)
    missing = _missing_module(exc, target)
    if missing is None:
        return message
    hints = [f"looked in {_where(target, paths)}"]
    leaf = missing.rpartition(".")[2]
    known = [name for name in _siblings(missing, target, paths) if leaf.startswith("_") or not name.startswith("_")]
    close = difflib.get_close_matches(leaf, known, SHOWN, 0.6)
    if close:
        parent = missing.rpartition(".")[0]
        names = [f"{parent}.{name}" if parent else name for name in close]
        hints.append(f"did you mean {_either(names)}?")
    return "; ".join([message, *hints])


def _either(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _missing_module(exc: NotRunnable, target: Target) -> Optional[str]:
    """The first dotted name that does not exist: ``other`` for a missing ``other.mod``."""
    cause = exc.__cause__
    if isinstance(cause, ModuleNotFoundError) and cause.name:
        return cause.name
    message = str(exc)
    if message.startswith("No module named "):
        return message[len("No module named ") :].split(";")[0].split()[0]
    return None


def _where(target: Target, paths: Sequence[str]) -> str:
    """The places searched, in order, as the user can check them."""
    if target.location:
        return target.location
    places = [f"--path {entry}" for entry in paths]
    entries = [entry or "''" for entry in sys.path]
    return ", ".join([*places, f"sys.path ({', '.join(entries)})" if entries else "sys.path (empty)"])


def _siblings(missing: str, target: Target, paths: Sequence[str]) -> List[str]:
    """Names of the modules that live where ``missing`` was looked for."""
    parent = missing.rpartition(".")[0]
    if target.location:
        return sorted(_children(module_names(target.location), parent))
    found = set(_children(_names_of_sources(paths), parent))
    if parent:
        package = sys.modules.get(parent)
        path = getattr(package, "__path__", None)
        if path is not None:
            found.update(_children(_names_in_folders(list(path)), ""))
    else:
        from ..stdlib import stdlib  # never a run's own pkgutil.py: the run's sources are still searched

        found.update(name for _, name, _ in stdlib("pkgutil").iter_modules())
        found.update(name for name in sys.builtin_module_names if not name.startswith("_"))
        found.update(getattr(sys, "stdlib_module_names", ()))
    return sorted(found)


def _children(names: Iterable[str], parent: str) -> List[str]:
    prefix = f"{parent}." if parent else ""
    return [name[len(prefix) :] for name in names if name.startswith(prefix) and "." not in name[len(prefix) :]]


def module_names(location: str) -> List[str]:
    """Every module and package name in an archive, bundle or directory (read from its index or a walk)."""
    if os.path.isdir(location):
        return sorted(set(_names_in_folders([location], deep=True)))
    source = open_source(location)
    return names_in(source.files()) if source is not None else []


def open_source(location: str) -> Optional[Source]:
    """The archive or bundle at ``location``, or ``None`` when it is neither."""
    from ..engine.locations import archive_source
    from ..errors import ArchiveError

    try:
        return archive_source(location)
    except ArchiveError:
        return None


def names_in(entries: Iterable[str]) -> List[str]:
    """Module names of archive entries: ``pkg/__init__.py`` is ``pkg``, ``pkg/mod.py`` is ``pkg.mod``."""
    names = set()
    for entry in entries:
        stem = next((entry[: -len(suffix)] for suffix in _MODULE_SUFFIXES if entry.endswith(suffix)), None)
        if stem is None or "__pycache__" in entry or ".dist-info/" in entry:
            continue
        if stem.endswith("/__init__") or stem == "__init__":
            stem = stem[: -len("__init__")].rstrip("/")
        name = stem.replace("/", ".")
        if name and all(part.isidentifier() for part in name.split(".")):
            names.add(name)
    return sorted(names)


def _names_of_sources(paths: Sequence[str]) -> List[str]:
    names: List[str] = []
    for entry in paths:
        names.extend(module_names(entry))
    return names


def _names_in_folders(folders: Sequence[str], deep: bool = False) -> List[str]:
    """Module names in real folders, without importing; ``deep`` descends into packages."""
    entries: List[str] = []
    for folder in folders:
        if not os.path.isdir(folder):
            continue
        for top, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if deep and d != "__pycache__" and not d.startswith("."))
            rel = os.path.relpath(top, folder).replace(os.sep, "/")
            prefix = "" if rel == "." else f"{rel}/"
            entries.extend(prefix + name for name in files)
            entries.extend(f"{prefix}{name}/__init__.py" for name in os.listdir(top) if not deep and os.path.isdir(os.path.join(top, name)))
            if len(entries) > WALK_LIMIT:
                break
    return names_in(entries)


def _similar_files(location: str) -> str:
    folder, leaf = os.path.split(location)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return ""
    close = difflib.get_close_matches(leaf, names, SHOWN, 0.6)
    return f"; did you mean {_either([os.path.join(folder, name) for name in close])}?" if close else ""


def _what_runs(location: str) -> str:
    """``; it can run ...``: the ``__main__`` packages, console scripts and some modules of a location."""
    from ..plugins.discovery import entries_of

    source = open_source(location) if not os.path.isdir(location) else None
    if source is None:
        modules = module_names(location)
        folder = os.path.abspath(location)
        modules = [name for name in modules if not os.path.isdir(os.path.join(folder, *name.split(".")))]
        mains = [name[: -len(".__main__")] for name in modules if name.endswith(".__main__")]
        points: List[str] = []
    else:
        entries = entries_of(source)
        mains = [entry.name for entry in entries if entry.kind == "main" and entry.name != "__main__"]
        points = [entry.name for entry in entries if entry.group in ("console_scripts", "gui_scripts")]
        files = set(source.files())
        modules = [name for name in names_in(files) if not _is_package(name, files)]
    found = [f"{location}:{name}" for name in mains[:SHOWN]]
    found += [f"--script {name} {location}" for name in points[:SHOWN]]
    others = [name for name in modules if not name.endswith("__main__") and name not in mains]
    if not found and others:
        found = [f"{location}:{name}" for name in others[:SHOWN]]
    if not found:
        return f"; {location} holds no modules"
    more = len(mains) + len(points) + (0 if mains or points else len(others)) - len(found)
    return f"; it can run {', '.join(found)}" + (f" and {more} more (zrun info {location})" if more > 0 else f" (zrun info {location})")


def _is_package(name: str, files: Iterable[str]) -> bool:
    base = name.replace(".", "/")
    return f"{base}/__init__.py" in files or f"{base}/__init__.pyc" in files


def _close_attributes(target: Target) -> str:
    module = sys.modules.get(target.module or "")
    if module is None or not target.func:
        return ""
    head, _, last = target.func.rpartition(".")
    owner: Any = module
    for attr in filter(None, head.split(".")):
        owner = getattr(owner, attr, None)
    names = [name for name in dir(owner) if not name.startswith("_")] if owner is not None else []
    close = difflib.get_close_matches(last, names, SHOWN, 0.6)
    if not close:
        return ""
    where = f"{target.location}:" if target.location else ""
    prefix = f"{head}." if head else ""
    return f"; did you mean {_either([f'{where}{target.module}:{prefix}{name}' for name in close])}?"
