"""Frozen-like sources: code objects only, no source text, no file.

A bundle (``.zrf``) stores them marshalled, behind a header that names the
interpreter they were compiled for, because marshal data from another
bytecode version can crash the interpreter rather than fail cleanly.

Their code is labelled ``<zrun frozen NAME>``, not CPython's ``<frozen NAME>``:
3.14's ``linecache`` reads ``<frozen ...>`` code's lines from the ``__file__``
of whatever module globals it is handed, which for a function whose
``__module__`` names a host module (a run as ``__main__``, a ``run_name``) is
the host's file, so ``inspect.getsource`` returned the host's lines.
"""

from __future__ import annotations

import os
import struct
import sys
from importlib.util import MAGIC_NUMBER

from .errors import BundleError
from .loading.bytecode import compile_source, pyc_bytes
from .source import BUNDLE_MAGIC as BUNDLE_MAGIC  # defined there so that opening a location need not import this module
from .source import MemorySource, Source
from .zip.files import open_regular, starts_with

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Mapping, Optional, Union

_TAG = (sys.implementation.cache_tag or "").encode("ascii")


def is_bundle(path: str) -> bool:
    """True when ``path`` is a regular file that starts with the bundle signature (never blocking on a FIFO)."""
    return starts_with(path, BUNDLE_MAGIC)


def _read_regular(path: str) -> bytes:
    """A regular file's bytes; a FIFO or directory is an ``OSError``."""
    stream, _ = open_regular(path)
    with stream:
        return stream.read()


def module_name(entry: str) -> str:
    """``pkg/__init__.py`` -> ``pkg``; ``pkg/mod.py`` -> ``pkg.mod``."""
    stem = entry.rsplit(".", 1)[0]
    if stem.endswith("/__init__") or stem == "__init__":
        stem = stem[: -len("__init__")].rstrip("/")
    return stem.replace("/", ".")


class FrozenSource(MemorySource):
    """Modules as code objects (``.pyc`` images), plus the data files of packages."""

    _kind = "frozen"

    def __init__(self, files: Mapping[str, bytes], *, name: Optional[str] = None) -> None:
        for entry in files:
            if entry.endswith(".py"):
                raise ValueError(f"{entry}: a FrozenSource holds code objects, not source text")
        super().__init__(files, name=name)

    @classmethod
    def compile(cls, source: Union[Source, str, os.PathLike[str]], *, name: Optional[str] = None) -> FrozenSource:
        """Compile every module of ``source`` (a source, directory or archive path)."""
        origin = _as_source(source)
        files: Dict[str, bytes] = {}
        for entry in origin.files():
            if "__pycache__/" in f"/{entry}":
                continue
            if entry.endswith(".py"):
                code = compile_source(origin.read(entry), f"<zrun frozen {module_name(entry)}>", module_name(entry))
                files[entry[:-3] + ".pyc"] = pyc_bytes(code)
            elif not (entry.endswith(".pyc") and origin.is_file(entry[:-1])):
                files[entry] = origin.read(entry)
        return cls(files, name=name)

    def dump(self, path: Union[str, os.PathLike[str]]) -> None:
        """Write a bundle file; it is read back only by the same bytecode version."""
        chunks = [BUNDLE_MAGIC, MAGIC_NUMBER, struct.pack("<B", len(_TAG)), _TAG, struct.pack("<I", len(self._data))]
        for entry in sorted(self._data):
            raw = entry.encode("utf-8")
            data = self._data[entry]
            chunks += [struct.pack("<HI", len(raw), len(data)), raw, data]
        tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
        with open(tmp, "wb") as stream:
            stream.write(b"".join(chunks))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]], *, name: Optional[str] = None) -> FrozenSource:
        """Read a bundle, refusing one built for another interpreter by name."""
        where = os.fspath(path)
        try:
            blob = _read_regular(where)
        except OSError as exc:
            raise BundleError(where, f"cannot read bundle ({exc.strerror or exc})") from None
        except MemoryError:
            raise BundleError(where, f"not enough memory to read the bundle ({_size(where)} bytes)") from None
        if blob[: len(BUNDLE_MAGIC)] != BUNDLE_MAGIC:
            raise BundleError(where, "not a zrun bundle")
        try:
            return cls(_parse(blob, where), name=name or os.path.basename(where))
        except struct.error:
            raise BundleError(where, "truncated bundle") from None


def _size(path: str) -> str:
    try:
        return str(os.stat(path).st_size)
    except OSError:
        return "?"


def _parse(blob: bytes, where: str) -> Dict[str, bytes]:
    offset = len(BUNDLE_MAGIC)
    magic = blob[offset : offset + 4]
    (tag_len,) = struct.unpack_from("<B", blob, offset + 4)
    tag = blob[offset + 5 : offset + 5 + tag_len].decode("ascii", "replace")
    if magic != MAGIC_NUMBER or tag != _TAG.decode():
        raise BundleError(
            where,
            f"built for {tag or 'an unknown interpreter'} (bytecode magic {magic.hex()}), "
            f"but this is {_TAG.decode()} (bytecode magic {MAGIC_NUMBER.hex()}); rebuild the bundle with this interpreter",
        )
    offset += 5 + tag_len
    (count,) = struct.unpack_from("<I", blob, offset)
    offset += 4
    files: Dict[str, bytes] = {}
    for _ in range(count):
        name_len, data_len = struct.unpack_from("<HI", blob, offset)
        offset += 6
        end = offset + name_len + data_len
        if end > len(blob):
            raise BundleError(where, "truncated bundle")
        entry = blob[offset : offset + name_len].decode("utf-8")
        files[entry] = blob[offset + name_len : end]
        offset = end
    if offset != len(blob):
        raise BundleError(where, f"{len(blob) - offset} unexpected bytes after the last entry")
    return files


def _file_source(path: str) -> Source:
    """A file's source for :meth:`FrozenSource.compile`: a bundle if it is one, else a zip archive.

    A run opens its location through :func:`zrun.engine.locations.archive_source`,
    which imports this module only for a bundle.
    """
    if is_bundle(path):
        return FrozenSource.load(path)
    from .zip.source import ZipSource

    return ZipSource(path)


def _as_source(source: Union[Source, str, os.PathLike[str]]) -> Source:
    """What :meth:`FrozenSource.compile` reads: a source as it is, a directory's files, or a file's source."""
    if isinstance(source, Source):
        return source
    path = os.fsdecode(os.fspath(source))
    if not os.path.isdir(path):
        return _file_source(path)
    files: Dict[str, bytes] = {}
    for folder, _, names in os.walk(path):
        for leaf in names:
            full = os.path.join(folder, leaf)
            with open(full, "rb") as stream:
                files[os.path.relpath(full, path).replace(os.sep, "/")] = stream.read()
    return MemorySource(files)
