"""zrun's one cache directory: compiled code, archive indexes, extracted extensions.

Entries are named by a digest of what they were made from, salted with the zrun
version and the bytecode magic, so versions and interpreters never share one. A
header (magic, length, CRC-32) exposes a damaged entry, which is then ignored and
replaced. Writes go to a temporary name and are renamed into place. A missing,
read-only or full disk means uncached runs, silently; ``ZRUN_NO_CACHE=1`` turns
the cache off; a directory owned by another user or writable by others is
refused with one warning per process (whoever can write it could plant code).
"""

from __future__ import annotations

import marshal
import os
import sys
from importlib._bootstrap_external import MAGIC_NUMBER  # importlib.util pulls in typing on 3.9
from types import CodeType

from . import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Set

KINDS = ("code", "index", "ext")  # the only folders zrun.cacheadmin ever deletes from
_HEAD = b"ZRC1" + MAGIC_NUMBER  # then the payload's length and CRC-32, 4 bytes each
_SALT = f"{__version__}\0{sys.implementation.cache_tag}\0{MAGIC_NUMBER.hex()}\0".encode()
_TAG = b"Signature: 8a477f597d28d172789f06886806bc55\n# zrun's cache; see `zrun cache info`.\n"
_checked: List[Optional[str]] = []  # the directory, decided once per process (see reset())
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


def directory() -> Optional[str]:
    """The usable cache directory (created 0700), or ``None``; decided once per process."""
    if not _checked:
        path = None if os.environ.get("ZRUN_NO_CACHE", "") not in ("", "0") else location()
        _checked.append(path if path is not None and refusal(path, create=True) is None else None)
    return _checked[0]


def reset() -> None:
    """Read the environment again at the next use (for hosts and tests that change it)."""
    del _checked[:], _warned[:]
    _unwritable.clear()


def refusal(path: str, create: bool = False) -> Optional[str]:
    """Why ``path`` cannot be the cache (warned once per process), or ``None`` if it can."""
    try:
        if create and not os.path.isdir(path):
            os.makedirs(path, 0o700, exist_ok=True)
            _write(os.path.join(path, "CACHEDIR.TAG"), _TAG)  # backup tools skip the folder
        st = os.stat(path)
    except OSError as exc:  # cannot create or reach it: uncached, quietly
        return f"unavailable ({exc.strerror or exc})"
    getuid = getattr(os, "getuid", None)
    why = None
    if getuid is not None and st.st_uid != getuid():
        why = f"owned by uid {st.st_uid}, not {getuid()}"
    elif getuid is not None and st.st_mode & 0o022:
        why = f"writable by others (mode {st.st_mode & 0o777:o})"
    if why is not None and not _warned:
        _warned.append(path)
        sys.stderr.write(f"zrun: warning: not using cache directory {path}: {why}; running uncached\n")
    return why


def digest(*parts: Any) -> str:
    """40 hex digits of BLAKE2b over ``parts`` (bytes as they are, others as ``str``), salted
    with zrun's version and the bytecode magic."""
    return _hash(b"\0".join(p if isinstance(p, bytes) else str(p).encode("utf-8", "surrogatepass") for p in parts))


def _hash(data: bytes) -> str:
    if not _blake2b:
        try:
            from _blake2 import blake2b  # the C module: hashlib would load OpenSSL (~3 ms)
        except ImportError:  # pragma: no cover - builds without _blake2
            from hashlib import blake2b
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
    """Code key for ``entry`` of a source, or ``None`` when uncached. A zip member's CRC and size
    come from the index, so a warm run reads nothing from the archive; memory entries are hashed."""
    if directory() is None:
        return None
    archive = getattr(source, "archive", None)
    member = getattr(archive, "members", {}).get(filename[len(getattr(archive, "path", "")) + 1:].replace(os.sep, "/"))
    if member is not None:
        return code_key(source.identity(), filename, member.crc, member.size)
    data = source.read(entry)
    return code_key("content", filename, digest(data), len(data))


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


def store_index(identity: str, data: bytes) -> None:
    store("index", digest("index", identity), data)


def load(kind: str, key: str) -> Optional[memoryview]:
    """The payload of entry ``key`` of ``kind``, or ``None`` if absent, short or damaged."""
    root = directory()
    if root is None:
        return None
    try:
        with open(f"{root}{os.sep}{kind}{os.sep}{key[:2]}{os.sep}{key[2:]}", "rb", buffering=0) as stream:
            data = stream.readall()  # unbuffered: one read, no buffer object per entry
    except OSError:
        return None
    import zlib

    body = memoryview(data)[16:]
    if data[:8] != _HEAD or int.from_bytes(data[8:12], "little") != len(body):
        return None
    return body if zlib.crc32(body) == int.from_bytes(data[12:16], "little") else None


def store(kind: str, key: str, payload: bytes) -> None:
    """Write entry ``key`` of ``kind`` atomically; failures (read-only, full disk) are ignored."""
    root = directory()
    if root is not None and root not in _unwritable:
        import zlib

        head = _HEAD + len(payload).to_bytes(4, "little") + zlib.crc32(payload).to_bytes(4, "little")
        if not _write(f"{root}{os.sep}{kind}{os.sep}{key[:2]}{os.sep}{key[2:]}", head + payload):
            _unwritable.add(root)  # read-only, full or forbidden: stop trying in this process


def _write(path: str, data: bytes) -> bool:
    """:func:`write_atomically`, its shard folder made on first use; False if the disk refused (not a race)."""
    try:
        try:
            write_atomically(path, data, 0o600)
        except FileNotFoundError:  # the first entry of its shard
            os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
            write_atomically(path, data, 0o600)
    except OSError as exc:
        return isinstance(exc, FileNotFoundError)  # a folder removed by a concurrent clear()
    return True


def write_atomically(path: str, data: bytes, mode: int) -> None:
    """Write a temporary file beside ``path`` and rename it into place.

    The temporary file is removed whatever stops the write, an interrupt too,
    so a file is either whole under its final name or not there at all.
    """
    import _thread

    tmp = f"{path}.{os.getpid()}-{_thread.get_ident()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, mode)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def discard(path: str) -> None:
    """Remove a temporary file, if it is there."""
    try:
        os.unlink(path)
    except OSError:
        pass


def write_all(fd: int, data: bytes) -> None:
    """Write every byte: ``os.write`` may write fewer than it was given."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
