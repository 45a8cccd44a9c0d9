"""Code objects from source or ``.pyc`` bytes, validated as the import system does.

zipimport compiles every source module twice and never trusts ``__pycache__``
inside an archive (gh-141276); here a module is compiled at most once per
import and a cached ``.pyc`` is used whenever PEP 552 says it is valid.
"""

from __future__ import annotations

import _imp
import marshal
import sys
from importlib.util import MAGIC_NUMBER, decode_source
from types import CodeType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

_FLAG_HASH = 0b01
_FLAG_CHECK_SOURCE = 0b10


class BadBytecode(Exception):
    """A ``.pyc`` that is not for this interpreter or is damaged."""


def code_from_pyc(
    data: bytes,
    filename: str,
    *,
    source_mtime: Optional[float] = None,
    source_size: Optional[int] = None,
    source_bytes: Optional[Callable[[], bytes]] = None,
) -> Optional[CodeType]:
    """Unmarshal ``data`` if it is current for its source, else ``None``.

    With no source at all (a sourceless module) any well-formed ``.pyc`` for
    this interpreter counts as current, as for ``SourcelessFileLoader``.
    """
    if len(data) < 16:
        raise BadBytecode(f"{filename}: truncated .pyc header")
    if data[:4] != MAGIC_NUMBER:
        return None
    flags = int.from_bytes(data[4:8], "little")
    if flags & ~0b11:
        raise BadBytecode(f"{filename}: invalid .pyc flags {flags!r}")
    has_source = source_bytes is not None
    if has_source and flags & _FLAG_HASH:
        if _check_hash_pyc(flags):
            assert source_bytes is not None
            if _imp.source_hash(_RAW_MAGIC, source_bytes()) != data[8:16]:
                return None
    elif has_source:
        if source_mtime is None or _mtime_differs(data[8:12], source_mtime):
            return None
        if source_size is not None and int.from_bytes(data[12:16], "little") != source_size & 0xFFFFFFFF:
            return None
    try:
        code = marshal.loads(memoryview(data)[16:])
    except (EOFError, ValueError, TypeError) as exc:
        raise BadBytecode(f"{filename}: bad marshal data ({exc})") from None
    if not isinstance(code, CodeType):
        raise BadBytecode(f"{filename}: .pyc does not hold a code object")
    return code


def sourceless_code(pyc: bytes, filename: str, name: str) -> CodeType:
    """A ``.pyc`` entry with no source beside it: any well-formed one for this interpreter."""
    try:
        code = code_from_pyc(pyc, filename)
    except BadBytecode as exc:
        raise ImportError(str(exc), name=name, path=filename) from None
    if code is None:
        raise ImportError(f"bad magic number in {filename!r}", name=name, path=filename)
    return code


def shipped_pyc_code(source: Any, entry: str, filename: str) -> Optional[CodeType]:
    """Code from a ``.pyc`` shipped beside source ``entry`` (``__pycache__`` or legacy), if current."""
    folder, _, leaf = entry.rpartition("/")
    inside, stem, level = f"{folder}/" if folder else "", leaf[:-3], sys.flags.optimize
    opt = f".opt-{level}" if level else ""
    for candidate in (f"{inside}__pycache__/{stem}.{_CACHE_TAG}{opt}.pyc", f"{inside}{stem}.pyc"):
        if source.is_file(candidate):
            code = _current_pyc(source.read(candidate), filename, source.read(entry), source.mtime(entry))
            if code is not None:
                return code
    return None


def _current_pyc(pyc: bytes, filename: str, data: bytes, mtime: Optional[float]) -> Optional[CodeType]:
    """``pyc`` if it is valid for source ``data``; a damaged one counts as absent."""
    try:
        return code_from_pyc(pyc, filename, source_mtime=mtime, source_size=len(data), source_bytes=lambda: data)
    except BadBytecode:
        return None


def pyc_bytes(code: CodeType) -> bytes:
    """A hash-based, unchecked ``.pyc`` image: valid with no source beside it."""
    header = MAGIC_NUMBER + (_FLAG_HASH).to_bytes(4, "little") + bytes(8)
    return header + marshal.dumps(code)


def compile_source(data: bytes, filename: str, module: Optional[str] = None) -> CodeType:
    """Compile once; ``compile`` itself honours PEP 263 coding lines and BOMs.

    From 3.15 ``compile(module=...)`` names the module whose ``SyntaxWarning``
    filters apply (``-W error:::pkg.mod``), as importlib's ``source_to_code``
    and runpy pass it; earlier versions filter such warnings by ``filename``.
    """
    if module is not None and _COMPILE_TAKES_MODULE:
        code: CodeType = compile(data, filename, "exec", dont_inherit=True, module=module)  # type: ignore[call-overload]
    else:
        code = compile(data, filename, "exec", dont_inherit=True)
    return code


def compile_cached(source: Any, entry: str, filename: str, compiler: Callable[[bytes, str], CodeType] = compile_source) -> CodeType:
    """Code for source ``entry`` from zrun's cache, else compiled once and stored there.

    zipimport compiles archive members on every run; here later processes
    unmarshal what the first one compiled: from the archive's pack (:mod:`zrun.cache.packs`),
    read once per process; what is compiled is spooled into a new pack (:mod:`zrun.cache.packwrite`), renamed at exit.
    The cache is imported on first use, so runs that compile nothing skip it.
    """
    from ..cache import packs as cache

    key, data = cache.keyed(source, entry, filename)
    code = cache.load_code(key) if key is not None else None
    if code is None:
        code = compiler(source.read(entry) if data is None else data, filename)  # read() checks the member's CRC
        if key is not None:
            from ..cache import packwrite

            packwrite.store_code(key, code)  # so a member whose data fails its CRC is never stored
    return code


def source_text(data: bytes) -> str:
    """Decode source as the tokenizer would (coding line, BOM, universal newlines)."""
    return decode_source(data)


def _check_hash_pyc(flags: int) -> bool:
    """PEP 552: a checked pyc is checked unless ``--check-hash-based-pycs never``; with ``always``, unchecked ones too."""
    mode = _imp.check_hash_based_pycs
    return mode != "never" and bool(flags & _FLAG_CHECK_SOURCE or mode == "always")


def _mtime_differs(stamp: bytes, source_mtime: float) -> bool:
    # zip members carry DOS times with two-second resolution; like zipimport,
    # accept a stamp one second either side.
    recorded = int.from_bytes(stamp, "little")
    return abs(recorded - (int(source_mtime) & 0xFFFFFFFF)) > 1


_RAW_MAGIC = int.from_bytes(MAGIC_NUMBER, "little")
_COMPILE_TAKES_MODULE = sys.version_info >= (3, 15)
_CACHE_TAG = sys.implementation.cache_tag
