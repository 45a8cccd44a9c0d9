"""zrun's one cache directory: where it is, whether this process uses it, and how entries are named.

The directory holds compiled code (one pack per archive, :mod:`zrun.cache.packs`;
one file per module of a memory source, :mod:`zrun.cache.store`), archive
indexes and extracted extensions. Which directory, and whether it is trusted, is
decided once per process (:func:`checked_root`): it must pass :mod:`zrun.cache.root`'s
checks (nobody else can change any folder on its path or inside it) and be zrun's
(its ``CACHEDIR.TAG`` carries zrun's line, or it was empty and gets one);
otherwise one warning, and the process runs uncached. ``ZRUN_NO_CACHE=1`` turns
it off; a missing or unreachable directory means uncached runs, quietly.

This lives in the package itself because every user of the cache needs it,
the hello path included, and the package is imported anyway.
"""

from __future__ import annotations

import errno
import os
import sys
from importlib._bootstrap_external import MAGIC_NUMBER  # importlib.util pulls in typing on 3.9

from .. import __version__
from ..stdlib import stdlib
from . import root as cacheroot
from .root import Untrusted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Set

    from .root import Root

_SALT = f"{__version__}\0{sys.implementation.cache_tag}\0{MAGIC_NUMBER.hex()}\0".encode()
_TAG = b"Signature: 8a477f597d28d172789f06886806bc55\n# zrun's cache; see `zrun cache info`.\n"
TAG_NAME = "CACHEDIR.TAG"
_checked: List[Optional[Root]] = []  # the root, decided once per process (see reset())
unwritable: Set[str] = set()  # roots a write failed in (read-only, full): not tried again in this process
_warned: List[str] = []
_blake2b: List[Callable[..., Any]] = []
_on_reset: List[Callable[[], None]] = []  # what must go with the root: open packs and their buffered code


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


def checked_root() -> Optional[Root]:
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
    found = checked_root()
    return None if found is None else found.path


def reset() -> None:
    """Read the environment again at the next use (for hosts and tests that change it; not while other threads import).

    Code compiled but not yet written goes to the directory it was meant for first.
    """
    for hook in reversed(_on_reset):  # the last registered first: packs are written before they are forgotten
        hook()
    for found in _checked:
        if found is not None:
            found.close()
    del _checked[:], _warned[:]
    unwritable.clear()


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
            from . import store

            # the tag itself too: another thread or process may have renamed it into place since tagged() looked
            if not create or any(name != TAG_NAME and not store.is_tag_temporary(name) for name, _ in found.scandir("")):
                raise Untrusted(errno.EPERM, f"not zrun's cache: it has no {TAG_NAME} with zrun's signature")
            store.write_atomically(found, "", TAG_NAME, _TAG, 0o600)  # backup tools skip the folder
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
    return hash_bytes(b"\0".join(p if isinstance(p, bytes) else str(p).encode("utf-8", "surrogatepass") for p in parts))


def hash_bytes(data: bytes) -> str:
    """:func:`digest` of bytes already joined."""
    if not _blake2b:
        try:  # the C module: hashlib would load OpenSSL (~3 ms); stdlib(): never an archive's
            blake2b = stdlib("_blake2").blake2b
        except ImportError:  # pragma: no cover - builds without _blake2
            blake2b = stdlib("hashlib").blake2b
        _blake2b.append(blake2b)
    return str(_blake2b[0](_SALT + data, digest_size=20).hexdigest())


class Reader:
    """Reads of an open cache file by position (``base`` bytes in); the descriptor is closed with the reader.

    ``os.pread`` needs no seek, so threads share one descriptor; without it
    (Windows) a lock orders seek and read.
    """

    def __init__(self, fd: int, base: int = 0) -> None:
        self.fd, self.base = fd, base
        self.size = os.fstat(fd).st_size
        self._lock: Any = None if hasattr(os, "pread") else stdlib("_thread").allocate_lock()

    def __call__(self, pos: int, n: int) -> bytes:
        """``n`` bytes from ``base + pos`` (fewer at the end of the file)."""
        if self._lock is None:
            return os.pread(self.fd, n, self.base + pos)
        with self._lock:
            os.lseek(self.fd, self.base + pos, os.SEEK_SET)
            return os.read(self.fd, n)

    def __del__(self) -> None:
        os.close(self.fd)
