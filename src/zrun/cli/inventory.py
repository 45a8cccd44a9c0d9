"""What an archive, wheel, bundle or directory holds, as ``zrun info`` reports it: read, never run.

All of it comes from the zip index (or a directory walk), plus the small text
members a wheel declares itself by (``*.dist-info/METADATA`` and
``entry_points.txt``, through :func:`zrun.plugins.discovery.entries_of`): no module is
imported, ``sys`` is not touched, and nothing is written but what any read
of the archive by zrun stores: the parsed index of an archive of 1000 members
or more (:mod:`zrun.zip.indexcache`).
"""

from __future__ import annotations

import os
from importlib.machinery import EXTENSION_SUFFIXES
from typing import Any, Dict, FrozenSet, List, Tuple

from ..frozen import FrozenSource
from ..plugins.discovery import entries_of
from ..settings import Settings
from ..source import Source, directories_of
from ..zip.methods import NAMES
from .diagnose import names_in

#: Suffixes of native extension modules for any platform (EXTENSION_SUFFIXES names only this one's).
NATIVE_SUFFIXES = (".so", ".pyd")


class DirectorySource(Source):
    """A directory seen as a source: its file list, for ``info`` and console scripts only.

    Runs from a directory go through the interpreter's own finder; this never
    serves imports. The walk stops at ``limit`` files, against a huge tree.
    """

    has_location = True

    def __init__(self, path: str, limit: int = 100000) -> None:
        self._path = os.path.abspath(path)
        self._limit = limit
        super().__init__(self._path)

    def _index(self) -> Tuple[FrozenSet[str], FrozenSet[str]]:
        names: List[str] = []
        for top, dirs, files in os.walk(self._path):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            rel = os.path.relpath(top, self._path).replace(os.sep, "/")
            names.extend(name if rel == "." else f"{rel}/{name}" for name in files)
            if len(names) >= self._limit:
                break
        found = frozenset(names)
        return found, directories_of(found)

    def read(self, name: str) -> bytes:
        with open(os.path.join(self._path, *name.split("/")), "rb") as stream:
            return stream.read()

    def identity(self) -> str:
        return f"dir:{self._path}"


def describe(location: str) -> Dict[str, Any]:
    """Everything ``zrun info`` shows, as a JSON-ready dict."""
    if os.path.isdir(location):
        source: Source = DirectorySource(location)
        kind, index_cached = "directory", False
    else:
        index_cached = _index_cached(location)  # before opening: the reader stores a large archive's index
        source = _open(location)
        kind = "bundle" if isinstance(source, FrozenSource) else "wheel" if location.lower().endswith(".whl") else "zip archive"
    files = sorted(source.files())
    entries = entries_of(source)
    modules = names_in(files)
    packages = sorted(
        {name for name in modules if any(f"{name.replace('.', '/')}/__init__{suffix}" in files for suffix in (".py", ".pyc"))}
    )
    report: Dict[str, Any] = {
        "path": os.path.abspath(location),
        "kind": kind,
        "files": len(files),
        "metadata": _metadata(source, files),
        "main": [location if entry.ref == "__main__" else f"{location}:{entry.ref}" for entry in entries if entry.kind == "main"],
        "console_scripts": {e.name: e.ref for e in entries if e.group == "console_scripts"},
        "gui_scripts": {e.name: e.ref for e in entries if e.group == "gui_scripts"},
        "entry_points": {},
        "packages": packages,
        "modules": [name for name in modules if name not in packages],
        "extensions": [
            {"member": name, "loads_here": name.endswith(tuple(EXTENSION_SUFFIXES))} for name in files if name.endswith(NATIVE_SUFFIXES)
        ],
    }
    for entry in entries:
        if entry.kind == "entry_point" and entry.group not in ("console_scripts", "gui_scripts"):
            report["entry_points"].setdefault(entry.group, {})[entry.name] = entry.ref
    report.update(_storage(source, location, files, index_cached))
    return report


def _open(location: str) -> Source:
    """The archive or bundle at ``location``; a missing file is ``FileNotFoundError``, a damaged one an ArchiveError."""
    from ..engine.locations import archive_source
    from ..errors import ArchiveNotFound, NotAnArchive

    try:
        return archive_source(location)
    except ArchiveNotFound:
        raise FileNotFoundError(location) from None
    except NotAnArchive:
        raise NotAnArchive(os.path.abspath(location), "not a zip archive, bundle or directory") from None


def _metadata(source: Source, files: List[str]) -> Dict[str, str]:
    """``Name`` and ``Version`` of each top-level ``*.dist-info/METADATA``."""
    found = {}
    for name in files:
        folder, _, leaf = name.rpartition("/")
        if leaf == "METADATA" and folder.endswith(".dist-info") and "/" not in folder:
            fields = {}
            for line in source.read(name).decode("utf-8", "replace").splitlines():
                if not line.strip():
                    break  # the headers end at the first empty line; the description follows
                key, _, value = line.partition(":")
                if key in ("Name", "Version"):
                    fields[key] = value.strip()
            found[fields.get("Name", folder)] = fields.get("Version", "?")
    return found


def _storage(source: Source, location: str, files: List[str], index_cached: bool) -> Dict[str, Any]:
    """Size, compression and what zrun's cache already holds for a zip archive."""
    archive = getattr(source, "archive", None)
    if archive is None:
        size = sum(_size(os.path.join(location, *name.split("/"))) for name in files) if os.path.isdir(location) else _size(location)
        return {"size": size, "compression": {}, "uncompressed": None, "cache": None}
    members = archive.members
    methods: Dict[str, int] = {}
    for member in members.values():
        label = NAMES.get(member.method, f"method {member.method}")
        methods[label] = methods.get(label, 0) + 1
    return {
        "size": _size(archive.path),
        "compression": methods,
        "uncompressed": sum(member.size for member in members.values()),
        "cache": _cached(source, files, index_cached),
    }


def _cached(source: Source, files: List[str], index_cached: bool) -> Dict[str, Any]:
    """How many modules zrun's cache holds compiled code for, and whether extensions are extracted there."""
    from ..cache import packs
    from ..cache import store as cache
    from ..loading.extraction import folder_key
    from ..zip import indexcache

    root = cache.location()
    off = Settings().ZRUN_NO_CACHE
    archive: Any = getattr(source, "archive")  # noqa: B009 - a ZipSource, checked by the caller
    sources = [name for name in files if name.endswith(".py")]
    wanted = {}
    for name in sources:
        filename = source.filename(name)
        member = archive.members.get(filename[len(archive.path) + 1 :].replace(os.sep, "/"))
        if member is not None:
            wanted[filename] = (member.crc, member.size)
    held = packs.count_held(root, source.identity(), wanted)
    extracted = os.path.isdir(os.path.join(root, "ext", folder_key(source.identity())))
    return {
        "directory": root,
        "disabled": off,
        "compiled": held,
        "sources": len(sources),
        "extensions_extracted": extracted,
        "index": index_cached if len(archive.members) >= indexcache.MIN_ENTRIES else None,
    }


def _index_cached(location: str) -> bool:
    """Whether zrun's cache holds the parsed index of the archive file at ``location``."""
    from ..cache import store as cache
    from ..zip import indexcache

    path = os.path.abspath(location)
    try:
        st = os.stat(path)
    except OSError:
        return False
    key = cache.digest("index", indexcache.identity(path, st))
    return os.path.isfile(os.path.join(cache.location(), "index", key[:2], key[2:]))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
