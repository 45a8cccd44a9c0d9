"""zrun's one cache directory: compiled code, archive indexes, extracted extensions.

Entries are named by a digest of what they were made from, salted with the zrun
version and the bytecode magic, so versions and interpreters never share one. A
header (magic, length, CRC-32) exposes a damaged entry, which is then ignored and
replaced. Writes go to a temporary name and are renamed into place. A missing,
read-only or full disk means uncached runs, silently; ``ZRUN_NO_CACHE=1`` turns
the cache off. The folder is trusted only as :mod:`zrun.cache.root` checks it (no
other user can change any folder on its path or inside it) and only if it is
zrun's (its ``CACHEDIR.TAG`` carries zrun's line, or it was empty and gets one);
otherwise one warning per process, and the run is uncached.
"""

from __future__ import annotations

import errno
import marshal
import os
import sys
from importlib._bootstrap_external import MAGIC_NUMBER  # importlib.util pulls in typing on 3.9
from types import CodeType

from .. import __version__
from ..stdlib import stdlib
from . import root as cacheroot
from .root import Untrusted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Set, Tuple

    from .root import Root

KINDS = ("code", "index", "ext")  # the only folders zrun.cli.cacheadmin ever deletes from
_HEAD = b"ZRC1" + MAGIC_NUMBER  # then the payload's length and CRC-32, 4 bytes each
_SALT = f"{__version__}\0{sys.implementation.cache_tag}\0{MAGIC_NUMBER.hex()}\0".encode()
_TAG = b"Signature: 8a477f597d28d172789f06886806bc55\n# zrun's cache; see `zrun cache info`.\n"
TAG_NAME = "CACHEDIR.TAG"
_checked: List[Optional[Root]] = []  # the root, decided once per process (see reset())
_unwritable: Set[str] = set()
_warned: List[str] = []
_blake2b: List[Callable[..., Any]] = []


def location() -> str:
    """``ZRUN_CACHE_DIR``, else the platform's user cache directory, plus ``zrun``."""
    env = os.environ
    if env.get("ZRUN_CACHE_DIR"):
        return os.path.abspath(os.path.expanduser(env["ZRUN_CACHE_DIR"]))
    if os.name == "nt":
        base = env.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        xdg = env.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.expanduser("~/.cache")
    return os.path.join(base, "zrun")


def root() -> Optional[Root]:
    """The checked cache root (created 0700 with its tag), or ``None``; decided once per process."""
    if not _checked:
        found = None
        if os.environ.get("ZRUN_NO_CACHE", "") in ("", "0"):
            path = location()
            try:
                found = trusted(path, create=True)
            except Untrusted as exc:
                warn(path, exc.strerror)
            except OSError:  # cannot create or reach it: uncached, quietly
                pass
        if _checked:  # another thread decided meanwhile
            if found is not None:
                found.close()
        else:
            _checked.append(found)
    return _checked[0]


def directory() -> Optional[str]:
    """The usable cache directory's path, or ``None``."""
    found = root()
    return None if found is None else found.path


def reset() -> None:
    """Read the environment again at the next use (for hosts and tests that change it; not while other threads import)."""
    for found in _checked:
        if found is not None:
            found.close()
    del _checked[:], _warned[:]
    _unwritable.clear()


def trusted(path: str, create: bool) -> Root:
    """The root at ``path`` if it is private (:mod:`zrun.cache.root`) and zrun's own.

    zrun's own: its ``CACHEDIR.TAG`` holds zrun's line, or (``create``) it holds
    nothing yet and gets the tag. A folder holding other things is not adopted:
    ``ZRUN_CACHE_DIR=~`` by mistake would otherwise fill ``~`` with entries and
    make backup tools skip it. :class:`Untrusted` says why not.
    """
    found = cacheroot.open_root(path, create)
    try:
        if not tagged(found):
            if not create or any(not _is_tag_temporary(name) for name, _ in found.scandir("")):
                raise Untrusted(errno.EPERM, f"not zrun's cache: it has no {TAG_NAME} with zrun's signature")
            write_atomically(found, "", TAG_NAME, _TAG, 0o600)  # backup tools skip the folder
    except BaseException:
        found.close()
        raise
    return found


def tagged(found: Root) -> bool:
    """Does the root hold zrun's ``CACHEDIR.TAG`` (a regular file of the user's, not a link)?"""
    try:
        return cacheroot.read_file(found, TAG_NAME, 512).startswith(_TAG)
    except OSError:
        return False


def _is_tag_temporary(name: str) -> bool:
    return name.startswith(f"{TAG_NAME}.") and is_temporary(name)


def is_temporary(name: str) -> bool:
    """Is ``name`` one of :func:`write_atomically`'s temporary names (``<name>.<pid>-<thread>.tmp``)?"""
    stem, _, tail = name.rpartition(".")
    pid, _, thread = stem.rpartition(".")[2].partition("-")
    return tail == "tmp" and pid.isdigit() and thread.isdigit() and pid.isascii() and thread.isascii()


def warn(path: str, why: object) -> None:
    """One warning per process about a cache folder that is not used."""
    if not _warned:
        _warned.append(path)
        sys.stderr.write(f"zrun: warning: not using cache directory {path}: {why}; running uncached\n")


def distrust(exc: Untrusted) -> None:
    """Something inside the root is not private: warn, and use no cache for the rest of the process."""
    found = _checked[0] if _checked else None
    if found is not None:  # its descriptor stays open: another thread may be using it this very moment
        warn(found.path, exc.strerror)
        _checked[0] = None


def digest(*parts: Any) -> str:
    """40 hex digits of BLAKE2b over ``parts`` (bytes as they are, others as ``str``), salted
    with zrun's version and the bytecode magic."""
    return _hash(b"\0".join(p if isinstance(p, bytes) else str(p).encode("utf-8", "surrogatepass") for p in parts))


def _hash(data: bytes) -> str:
    if not _blake2b:
        try:  # the C module: hashlib would load OpenSSL (~3 ms); stdlib(): never an archive's
            blake2b = stdlib("_blake2").blake2b
        except ImportError:  # pragma: no cover - builds without _blake2
            blake2b = stdlib("hashlib").blake2b
        _blake2b.append(blake2b)
    return str(_blake2b[0](_SALT + data, digest_size=20).hexdigest())


def code_key(source_identity: str, member: str, crc_or_digest: Any, size: int) -> str:
    """Key of code compiled from ``member``; that is its filename, which every code object holds.

    The same bytes as ``digest("code", optimize, ...)``, built with one f-string:
    this runs once per imported module.
    """
    text = f"code\0{sys.flags.optimize}\0{source_identity}\0{member}\0{crc_or_digest}\0{size}"
    return _hash(text.encode("utf-8", "surrogatepass"))


def key_for(source: Any, entry: str, filename: str) -> Optional[str]:
    """Code key for ``entry`` of a source, or ``None`` when uncached (see :func:`keyed`)."""
    return keyed(source, entry, filename)[0]


def keyed(source: Any, entry: str, filename: str) -> Tuple[Optional[str], Optional[bytes]]:
    """The code key for ``entry``, and its bytes if the key needed them.

    A member of an archive *file* is keyed by the file's identity (device,
    inode, size, modification and change times: a rewrite changes the change
    time, which no user can set) and the member's CRC and size from the index,
    so a warm run reads nothing from the archive. Everything else (memory
    sources, zip bytes, whose identity is a length and a CRC anyone can forge)
    is keyed by a BLAKE2b hash of the bytes; those are returned for compiling.
    """
    if directory() is None:
        return None, None
    archive = getattr(source, "archive", None)
    if archive is not None and getattr(source, "has_location", False):
        member = archive.members.get(filename[len(archive.path) + 1:].replace(os.sep, "/"))
        if member is not None:
            return code_key(source.identity(), filename, member.crc, member.size), None
    data = source.read(entry)
    return code_key("content", filename, digest(data), len(data)), data


def load_code(key: str) -> Optional[CodeType]:
    """The cached code object for ``key``; ``None`` if absent, damaged or unreadable."""
    payload = load("code", key)
    try:
        code = None if payload is None else marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def store_code(key: str, code: CodeType) -> None:
    """Cache ``code``, unless ``-B``/``PYTHONDONTWRITEBYTECODE`` asked for no bytecode on disk."""
    if not sys.dont_write_bytecode:
        store("code", key, marshal.dumps(code))


def load_index(identity: str) -> Optional[memoryview]:
    """What :func:`store_index` kept for an archive ``identity`` (path and stat), if intact."""
    return load("index", digest("index", identity))


def store_index(identity: str, data: bytes | bytearray) -> None:
    store("index", digest("index", identity), data)


def open_index(identity: str) -> Optional[Tuple[Callable[[int, int], bytes], int]]:
    """A reader of the entry :func:`store_index` kept for ``identity``, and its payload's length.

    Only the entry's magic and length are checked here, not its CRC-32: that
    would read every byte of a tens-of-MB index on every run. The payload
    carries its own checks (:mod:`zrun.zip.table`), made on the bytes a run
    reads. ``read(position, length)`` reads the payload; it keeps the file open
    as long as it lives.
    """
    fd = _entry("index", digest("index", identity), cacheroot.open_file)
    if fd is None:
        return None
    read = _Reader(fd)
    head = read(-16, 16)
    if head[:8] != _HEAD or int.from_bytes(head[8:12], "little") != read.size - 16:
        return None
    return read, read.size - 16


def _entry(kind: str, key: str, opener: Callable[[Root, str], Any]) -> Any:
    """``opener(root, path)`` for entry ``key`` of ``kind`` in its checked shard; ``None`` if absent or untrusted."""
    found = root()
    if found is None:
        return None
    shard = f"{kind}/{key[:2]}"
    try:
        cacheroot.folder(found, shard, create=False)
        return opener(found, f"{shard}/{key[2:]}")
    except Untrusted as exc:
        distrust(exc)
        return None
    except OSError:
        return None


class _Reader:
    """Reads of an open index entry by position; the descriptor is closed with the reader.

    ``os.pread`` needs no seek, so threads share one descriptor; without it
    (Windows) a lock orders seek and read.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = os.fstat(fd).st_size
        self._lock: Any = None if hasattr(os, "pread") else stdlib("_thread").allocate_lock()

    def __call__(self, pos: int, n: int) -> bytes:
        """``n`` bytes of the payload from ``pos`` (the entry's 16-byte header comes first)."""
        if self._lock is None:
            return os.pread(self.fd, n, 16 + pos)
        with self._lock:
            os.lseek(self.fd, 16 + pos, os.SEEK_SET)
            return os.read(self.fd, n)

    def __del__(self) -> None:
        os.close(self.fd)


def load(kind: str, key: str) -> Optional[memoryview]:
    """The payload of entry ``key`` of ``kind``, or ``None`` if absent, short or damaged."""
    data = _entry(kind, key, cacheroot.read_file)
    if data is None:
        return None
    zlib = stdlib("zlib")
    body = memoryview(data)[16:]
    if data[:8] != _HEAD or int.from_bytes(data[8:12], "little") != len(body):
        return None
    return body if zlib.crc32(body) == int.from_bytes(data[12:16], "little") else None


def store(kind: str, key: str, payload: bytes | bytearray) -> None:
    """Write entry ``key`` of ``kind`` atomically; failures (read-only, full disk) are ignored."""
    found = root()
    if found is None or found.path in _unwritable:
        return
    zlib = stdlib("zlib")
    head = _HEAD + len(payload).to_bytes(4, "little") + zlib.crc32(payload).to_bytes(4, "little")
    shard = f"{kind}/{key[:2]}"
    try:
        cacheroot.folder(found, shard, create=True)
        write_atomically(found, shard, key[2:], head + payload, 0o600)
    except Untrusted as exc:
        distrust(exc)
    except FileNotFoundError:  # a folder removed by a concurrent clear: made again next time
        found.checked.discard(shard)
    except OSError:
        _unwritable.add(found.path)  # read-only, full or forbidden: stop trying in this process


def write_atomically(found: Root, folder: str, name: str, data: bytes, mode: int, durable: bool = False) -> None:
    """Write a temporary file in ``folder`` (relative to the root) and rename it to ``name``.

    The temporary file is removed whatever stops the write, an interrupt too,
    so a file is either whole under its final name or not there at all. With
    ``durable`` the file is fsynced before the rename and its folder after, so
    a crash cannot leave a renamed but empty or short file (extracted
    extensions). Code and index entries skip that: their header's length and
    CRC already expose such a file, which is then rebuilt, and two fsyncs per
    entry made the first run of 2,000 modules 11-24 s instead of 1.2-1.9 s
    (docs/cache.md).
    """
    import _thread

    final = f"{folder}/{name}" if folder else name
    tmp = f"{final}.{os.getpid()}-{_thread.get_ident()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = found.open(tmp, flags, mode)
        try:
            write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        found.replace(tmp, final)
    except BaseException:
        discard(found, tmp)
        raise
    if durable:
        found.sync(folder)


def discard(found: Root, rel: str) -> None:
    """Remove a temporary file, if it is there."""
    try:
        found.unlink(rel)
    except OSError:
        pass


def write_all(fd: int, data: bytes) -> None:
    """Write every byte: ``os.write`` may write fewer than it was given."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
