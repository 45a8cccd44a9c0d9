"""The hostile-archive corpus: every bad archive zrun must survive, built from a good one.

Nothing here is a stored blob. Each case writes a good archive with ``zipfile``
and then damages it by patching bytes at offsets read back from the archive's
own headers, so a reader can see exactly what is wrong with each file. Only the
decompression bomb is assembled by hand (:func:`assemble`): ``zipfile`` would
have to compress gigabytes to write it.

A case says what a run of ``zrun.run(f"{archive}:pkg.mod")`` must do: raise
``expect`` (a :class:`zrun.ZrunError` subclass, or the ``SyntaxError`` runpy
would raise) with a message naming the archive and ``member``, or succeed and
print ``output``. ``tests/test_hostile.py`` runs one body over the corpus, via
the library and via the CLI; ``fuzz/`` seeds its corpus from :func:`seeds`.

Run ``python tests/hostile.py DIR`` to write every archive into ``DIR`` for a
look with other tools.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Type, TypeVar, Union

from zrun.errors import ArchiveError, ArchiveNotFound, CorruptArchive, NotRunnable, UnsupportedMember

TARGET = "pkg.mod"
MAIN = "pkg/mod.py"
HELPER_LINE = "WORD = 'ok'\n"
GOOD: Dict[str, str] = {
    "pkg/__init__.py": "",
    "pkg/helper.py": HELPER_LINE,
    "pkg/data.txt": "payload",
    MAIN: "import sys\nfrom . import helper\nsys.stdout.write('ran ' + helper.WORD + '\\n')\n",
}
GOOD_OUTPUT = "ran ok\n"
DATE = (2024, 1, 2, 3, 4, 6)
U16, U32, U64 = 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
#: Size of the honest bomb: larger than any sane limit, and than most machines' RAM headroom.
HONEST_BOMB_SIZE = 4095 * (1 << 20)

Files = Dict[str, Union[str, bytes]]


# --- building good archives and finding their parts -------------------------------------------


def good_zip(files: Optional[Files] = None, *, method: int = zipfile.ZIP_DEFLATED, prefix: bytes = b"") -> bytes:
    """A valid archive of ``files`` (default :data:`GOOD`), members in sorted order, fixed dates."""
    buf = io.BytesIO()
    buf.write(prefix)
    with zipfile.ZipFile(buf, "a" if prefix else "w", method) as archive:
        for name, data in sorted((files if files is not None else GOOD).items()):
            info = zipfile.ZipInfo(name, DATE)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buf.getvalue()


@dataclass
class Entry:
    """Where one member's records sit in an archive."""

    name: bytes
    local: int  # offset of the local header
    central: int  # offset of the central directory entry
    data: int  # offset of the member's data
    csize: int


def entries(blob: bytes) -> Dict[str, Entry]:
    """Every member's record offsets, read from the (undamaged) central directory."""
    end = blob.rfind(b"PK\x05\x06")
    count, cd_size, cd_off = struct.unpack_from("<HLL", blob, end + 10)
    base = end - cd_size - cd_off
    found: Dict[str, Entry] = {}
    p = end - cd_size
    for _ in range(count):
        csize = struct.unpack_from("<L", blob, p + 20)[0]
        nlen, xlen, clen = struct.unpack_from("<3H", blob, p + 28)
        local = struct.unpack_from("<L", blob, p + 42)[0] + base
        name = blob[p + 46 : p + 46 + nlen]
        lnlen, lxlen = struct.unpack_from("<2H", blob, local + 26)
        found[name.decode("utf-8", "replace")] = Entry(name, local, p, local + 30 + lnlen + lxlen, csize)
        p += 46 + nlen + xlen + clen
    return found


def end_record(blob: bytes) -> int:
    return blob.rfind(b"PK\x05\x06")


def central_start(blob: bytes) -> int:
    return min(e.central for e in entries(blob).values())


def put(blob: bytes, at: int, fmt: str, *values: object) -> bytes:
    out = bytearray(blob)
    struct.pack_into(fmt, out, at, *values)
    return bytes(out)


def patch_member(blob: bytes, name: str, fmt: str, *, local: Optional[int] = None, central: Optional[int] = None, value: object) -> bytes:
    """Overwrite one field in ``name``'s local header and/or central entry (offsets inside each)."""
    entry = entries(blob)[name]
    if local is not None:
        blob = put(blob, entry.local + local, fmt, value)
    if central is not None:
        blob = put(blob, entry.central + central, fmt, value)
    return blob


def rename(blob: bytes, old: str, new: bytes, *, utf8: bool = False) -> bytes:
    """Give a member new name bytes of the same length in both headers (NULs and all)."""
    raw = old.encode()
    assert len(new) == len(raw), (old, new)
    entry = entries(blob)[old]
    out = bytearray(blob)
    for where in (entry.local + 30, entry.central + 46):
        assert out[where : where + len(raw)] == raw
        out[where : where + len(raw)] = new
    if utf8:
        for where in (entry.local + 6, entry.central + 8):
            out[where : where + 2] = struct.pack("<H", struct.unpack_from("<H", out, where)[0] | 0x800)
    return bytes(out)


# --- hand assembly, for what zipfile cannot write cheaply -------------------------------------


def deflate_repeated(chunk: bytes, count: int) -> bytes:
    """Raw deflate of ``chunk * count`` at the cost of compressing ``chunk`` twice.

    After ``Z_FULL_FLUSH`` the compressor forgets its window, so every further
    identical chunk compresses to identical bytes, which are simply repeated.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    assert again == first, "the compressor did not reset at the full flush"
    return first * count + comp.flush()


def local_header(name: bytes, raw: bytes, method: int, crc: int, csize: int, size: int, extra: bytes = b"", version: int = 20) -> bytes:
    """A local file header followed by the member's data."""
    head = struct.pack("<4s5H3L2H", b"PK\x03\x04", version, 0, method, 0, 0x21, crc, csize, size, len(name), len(extra))
    return head + name + extra + raw


def central_entry(name: bytes, method: int, crc: int, csize: int, size: int, offset: int, extra: bytes = b"", version: int = 20) -> bytes:
    """A central directory entry (external attributes: a regular file, 0o644)."""
    fields = (version, version, 0, method, 0, 0x21, crc, csize, size, len(name), len(extra), 0, 0, 0, 0o644 << 16, offset)
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", *fields) + name + extra


def assemble(members: List[Tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from ``(name, raw data, method, crc, declared size)``; sizes are taken as given."""
    body, cd = b"", b""
    for name, raw, method, crc, size in members:
        cd += central_entry(name.encode(), method, crc, len(raw), size, len(body))
        body += local_header(name.encode(), raw, method, crc, len(raw), size)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(cd), len(body), 0)
    return body + cd + eocd


def good_members(skip: str = "") -> List[Tuple[str, bytes, int, int, int]]:
    """:data:`GOOD`, stored, as :func:`assemble` members."""
    out = []
    for name, text in sorted(GOOD.items()):
        if name != skip:
            data = text.encode()
            out.append((name, data, 0, zlib.crc32(data), len(data)))
    return out


def honest_bomb() -> bytes:
    """``pkg/mod.py`` inflates to :data:`HONEST_BOMB_SIZE` newlines and says so: ~4 MB on disk."""
    chunk = b"\n" * (1 << 20)
    count = HONEST_BOMB_SIZE // len(chunk)
    # CRC 0: a reader that gets as far as checking it has already inflated 4 GiB.
    return assemble([*good_members(skip=MAIN), (MAIN, deflate_repeated(chunk, count), 8, 0, HONEST_BOMB_SIZE)])


def big_member(name: str, size: int, chunk: bytes, *, declared: Optional[int] = None) -> Tuple[str, bytes, int, int, int]:
    """An :func:`assemble` member inflating to ``size`` bytes of repeated ``chunk``, its CRC right.

    ``declared`` lies about the size (default: the truth). Costs two compressions of ``chunk``
    and one CRC pass, whatever ``size`` is.
    """
    count, crc = size // len(chunk), 0
    assert count * len(chunk) == size, "size must be a multiple of the chunk"
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return (name, deflate_repeated(chunk, count), 8, crc, size if declared is None else declared)


def big_source(size: int) -> bytes:
    """:data:`GOOD` whose ``pkg/mod.py`` is ``size`` bytes of comment lines: valid Python, ~size/1000 on disk."""
    chunk = b"#" * ((1 << 20) - 1) + b"\n"
    return assemble([*good_members(skip=MAIN), big_member(MAIN, size, chunk)])


def zip64_member(name: str, data: bytes, *, size: Optional[int] = None, offset: Optional[int] = None) -> bytes:
    """GOOD (stored) with ``name`` deflated last, its sizes and offset in a ZIP64 extra (which may lie), and ZIP64 end records."""
    body, cd = b"", b""
    for other, text in sorted(GOOD.items()):
        if other != name:
            raw = text.encode()
            cd += central_entry(other.encode(), 0, zlib.crc32(raw), len(raw), len(raw), len(body))
            body += local_header(other.encode(), raw, 0, zlib.crc32(raw), len(raw), len(raw))
    raw, crc, bname = zlib.compress(data)[2:-4], zlib.crc32(data), name.encode()
    local_extra = struct.pack("<2H2Q", 1, 16, len(data), len(raw))
    central_extra = struct.pack("<2H3Q", 1, 24, len(data) if size is None else size, len(raw), len(body) if offset is None else offset)
    cd += central_entry(bname, 8, crc, U32, U32, U32, central_extra, version=45)
    body += local_header(bname, raw, 8, crc, U32, U32, local_extra, version=45)
    count = len(GOOD)
    z64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(cd), len(body))
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(body) + len(cd), 1)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, U16, U16, U32, U32, 0)
    return body + cd + z64 + locator + eocd


# --- the corpus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile input and what zrun must do with it."""

    name: str
    build: Callable[[Path], Path]  # writes the input under the given directory; returns the location
    expect: Optional[Type[BaseException]]  # None: the run succeeds
    why: str
    member: Optional[str] = None  # the member the message must name
    words: Tuple[str, ...] = ()  # further words the message must hold
    output: str = GOOD_OUTPUT  # stdout of a run that succeeds
    between: Optional[str] = None  # "delete" or "truncate": done after indexing, before the first read
    skip: Optional[str] = None  # a reason this platform cannot build the input
    known_bug: Optional[str] = None  # zrun does not behave yet; the test is a strict xfail
    names_archive: bool = False  # the message must name the archive (always so for ArchiveError and SyntaxError)

    def __str__(self) -> str:
        return self.name


CASES: List[Case] = []


Make = TypeVar("Make", bound=Callable[[], bytes])


def case(name: str, expect: Optional[Type[BaseException]], why: str, **options: object) -> Callable[[Make], Make]:
    """Register a case whose input is an archive file ``app.zip`` holding the returned bytes."""

    def register(make: Make) -> Make:
        def build(folder: Path) -> Path:
            path = folder / "app.zip"
            path.write_bytes(make())
            return path

        CASES.append(Case(name, build, expect, why, **options))  # type: ignore[arg-type]
        return make

    return register


def add(name: str, build: Callable[[Path], Path], expect: Optional[Type[BaseException]], why: str, **options: object) -> None:
    CASES.append(Case(name, build, expect, why, **options))  # type: ignore[arg-type]


# Truncation: the file ends inside each region, so the end record is gone.
def _cut_inside(region: str) -> Callable[[], bytes]:
    def make() -> bytes:
        blob = good_zip()
        mod = entries(blob)[MAIN]
        at = {
            "local header": mod.local + 12,
            "member data": mod.data + mod.csize // 2,
            "central directory": central_start(blob) + 30,
            "end record": end_record(blob) + 11,
        }[region]
        return blob[:at]

    return make


for _region in ("local header", "member data", "central directory", "end record"):
    case(
        f"truncated in {_region}",
        CorruptArchive,
        "With the end record cut off, a file that starts as a zip was cut short: it is called corrupt, not run as a script.",
        words=("truncated or corrupt",),
        names_archive=True,
    )(_cut_inside(_region))


# Truncation inside a region with the end record kept: every later offset is off.
def _hollow(region: str) -> Callable[[], bytes]:
    def make() -> bytes:
        blob = good_zip()
        mod = entries(blob)[MAIN]
        start = {"local header": mod.local + 10, "member data": mod.data + 2, "central directory": central_start(blob) + 10}[region]
        return blob[:start] + blob[start + 8 :]

    return make


for _region in ("local header", "member data", "central directory"):
    case(
        f"8 bytes cut from the {_region}",
        CorruptArchive,
        "The end record's offsets no longer add up: the directory is refused as a whole when indexed.",
        words=("truncated",),
    )(_hollow(_region))


@case("end record count lies", CorruptArchive, "The end record claims more entries than the directory holds.", words=("entries",))
def _count_lies() -> bytes:
    blob = good_zip()
    return put(blob, end_record(blob) + 8, "<2H", 9, 9)


@case("central directory signature damaged", CorruptArchive, "An entry that is not an entry stops indexing.", words=("signature",))
def _bad_central_signature() -> bytes:
    return patch_member(good_zip(), MAIN, "<4s", central=0, value=b"PK\x09\x09")


@case("bad CRC", CorruptArchive, "Data that does not match its CRC is never compiled.", member=MAIN, words=("CRC",))
def _bad_crc() -> bytes:
    blob = good_zip(method=zipfile.ZIP_STORED)
    mod = entries(blob)[MAIN]
    return put(blob, mod.data, "<B", blob[mod.data] ^ 0x20)


@case("CRC field lies", CorruptArchive, "The central CRC is what counts.", member=MAIN, words=("CRC",))
def _crc_lies() -> bytes:
    return patch_member(good_zip(), MAIN, "<L", central=16, value=0x12345678)


@case("declared size too small", CorruptArchive, "Inflating stops one byte past the declared size.",
      member=MAIN, words=("past its declared",))
def _size_small() -> bytes:
    return patch_member(good_zip(), MAIN, "<L", central=24, value=5)


@case("declared size too large", CorruptArchive, "A stream that ends early is truncated data.", member=MAIN, words=("truncated",))
def _size_large() -> bytes:
    return patch_member(good_zip(), MAIN, "<L", central=24, value=100_000)


@case("compressed size runs past the file", CorruptArchive, "Never read (or allocate) past the end of the file.",
      member=MAIN, words=("truncated",))
def _csize_past_end() -> bytes:
    return patch_member(good_zip(), MAIN, "<L", central=20, value=100_000)


@case("compressed size too small", CorruptArchive, "A cut deflate stream is damaged or truncated data.", member=MAIN)
def _csize_small() -> bytes:
    return patch_member(good_zip(), MAIN, "<L", central=20, value=3)


@case(
    "local header sizes lie",
    None,
    "Like zipimport and zipfile, sizes come from the central directory; the local header's copies are not read.",
)
def _local_sizes_lie() -> bytes:
    blob = patch_member(good_zip(), MAIN, "<L", local=18, value=U32 - 7)
    return patch_member(blob, MAIN, "<L", local=22, value=3)


@case(
    "overlapping members share a local header",
    CorruptArchive,
    "Two entries pointing at one local header: the header names the other member, so it is refused.",
    member=MAIN,
    words=("another member",),
)
def _shared_header() -> bytes:
    blob = good_zip()
    found = entries(blob)
    return put(blob, found[MAIN].central + 42, "<L", found["pkg/helper.py"].local)


@case(
    "member data overlaps the central directory",
    CorruptArchive,
    "A stored member whose size reaches into the directory reads more than it declares.",
    member=MAIN,
    words=("past its declared",),
)
def _data_into_directory() -> bytes:
    blob = good_zip(method=zipfile.ZIP_STORED)
    mod = entries(blob)[MAIN]
    return patch_member(blob, MAIN, "<L", central=20, value=mod.csize + 40)


@case(
    "local header names another member",
    CorruptArchive,
    "The local name must match the central one byte for byte.",
    member=MAIN,
    words=("another member",),
)
def _local_name_differs() -> bytes:
    blob = good_zip()
    mod = entries(blob)[MAIN]
    return put(blob, mod.local + 30, "<4s", b"evil")


@case("local header signature damaged", CorruptArchive, "No local header where the directory points.", member=MAIN, words=("signature",))
def _local_signature() -> bytes:
    return patch_member(good_zip(), MAIN, "<4s", local=0, value=b"PK\x00\x00")


@case(
    "duplicate names",
    None,
    "The last entry of a name wins, as in zipimport and zipfile (both read the directory into a dict).",
    output="second\n",
)
def _duplicates() -> bytes:
    first = "import sys\nsys.stdout.write('first\\n')\n"
    second = "import sys\nsys.stdout.write('second\\n')\n"
    blob = good_zip({**GOOD, MAIN: first, "pkg/moe.py": second})
    return rename(blob, "pkg/moe.py", b"pkg/mod.py")


def _only_under(prefix: bytes) -> Callable[[], bytes]:
    """Every member's name behind ``prefix`` (placeholders renamed in place)."""

    def make() -> bytes:
        holder = "Q" * len(prefix)
        blob = good_zip({holder + name: text for name, text in GOOD.items()})
        for name in GOOD:
            blob = rename(blob, holder + name, prefix + name.encode())
        return blob

    return make


for _label, _prefix in (("names with ..", b"../"), ("absolute names", b"/"), ("backslash-absolute names", b"\\")):
    case(
        f"{_label} only",
        NotRunnable,
        "Unsafe names are refused at indexing, so the archive holds nothing importable; the message says what was refused.",
        words=("No module named 'pkg'", "refused"),
        names_archive=True,
    )(_only_under(_prefix))


def _extra_member(name: bytes, *, utf8: bool = False) -> Callable[[], bytes]:
    """GOOD plus one member with a hostile name: refused, and the rest still runs."""

    def make() -> bytes:
        holder = "Z" * len(name)
        blob = good_zip({**GOOD, holder: "raise SystemExit('escaped')\n"})
        return rename(blob, holder, name, utf8=utf8)

    return make


for _label, _name, _utf8 in (
    ("a .. member beside good ones", b"../../escape.py", False),
    ("a deep .. member beside good ones", b"pkg/../../../x.py", False),
    ("an absolute member beside good ones", b"/tmp/escape.py", False),
    ("a backslash .. member beside good ones", b"..\\..\\escape.py", False),
    ("a NUL in a name beside good ones", b"pkg/mod.py\x00.txt", False),
    ("invalid UTF-8 in a name beside good ones", b"pkg/\xff\xfe.py", True),
):
    why = "The hostile member is refused at indexing; it is never importable and never written anywhere."
    case(_label, None, why)(_extra_member(_name, utf8=_utf8))


@case(
    "the target itself has a NUL in its name",
    NotRunnable,
    "zipfile would cut 'pkg/mod.py\\0evil' at the NUL and serve it as pkg/mod.py; zrun refuses the name.",
    words=("No module named pkg.mod",),
)
def _nul_target() -> bytes:
    blob = good_zip({**{k: v for k, v in GOOD.items() if k != MAIN}, "pkg/mod.pyQevil": GOOD[MAIN]})
    return rename(blob, "pkg/mod.pyQevil", b"pkg/mod.py\x00evil")


@case(
    "backslash separators",
    NotRunnable,
    "A backslash is part of a name, not a separator: 'pkg\\mod.py' is no module of pkg (zipimport agrees off Windows).",
    words=("No module named pkg.mod",),
)
def _backslashes() -> bytes:
    blob = good_zip({**{k: v for k, v in GOOD.items() if k != MAIN}, "pkgQmod.py": GOOD[MAIN]})
    return rename(blob, "pkgQmod.py", b"pkg\\mod.py")


def _symlink(member: str, target: bytes) -> Callable[[], bytes]:
    """``member`` as a symlink entry (S_IFLNK in the external attributes) whose data is ``target``."""

    def make() -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in sorted(GOOD.items()):
                info = zipfile.ZipInfo(name, DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3
                if name == member:
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    archive.writestr(info, target)
                else:
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, text)
        return buf.getvalue()

    return make


case(
    "symlink member read as data",
    None,
    "Symlink entries are data: their bytes (the link text) are the member; the link is never followed.",
    output="ran ok\n",
)(_symlink("pkg/data.txt", b"/etc/passwd"))
add(
    "symlink module pointing out of the archive",
    lambda folder: (
        (folder / "outside.py").write_text("import sys\nsys.stdout.write('escaped\\n')\n"),
        folder.joinpath("app.zip").write_bytes(_symlink(MAIN, b"../outside.py")()),
        folder / "app.zip",
    )[-1],
    SyntaxError,
    "The module's code is the link text '../outside.py', which is not Python; outside.py never runs.",
    member=MAIN,
)


@case("encrypted member", UnsupportedMember, "Traditional PKWARE encryption is refused by name.", member=MAIN, words=("encrypted",))
def _encrypted() -> bytes:
    return patch_member(good_zip(), MAIN, "<H", local=6, central=8, value=1)


@case("unknown compression method", UnsupportedMember, "Methods other than stored/deflate/bzip2/lzma are refused.",
      member=MAIN, words=("99",))
def _unknown_method() -> bytes:
    return patch_member(good_zip(), MAIN, "<H", local=8, central=10, value=99)


@case("deflate64 member", UnsupportedMember, "Deflate64 is named, not attempted.", member=MAIN, words=("deflate64",))
def _deflate64() -> bytes:
    return patch_member(good_zip(), MAIN, "<H", local=8, central=10, value=9)


@case("damaged deflate stream", CorruptArchive, "zlib.error is wrapped, never raw.", member=MAIN, words=("damaged",))
def _damaged_deflate() -> bytes:
    blob = good_zip({**GOOD, MAIN: GOOD[MAIN] * 50})
    mod = entries(blob)[MAIN]
    return blob[: mod.data] + b"\xff" * mod.csize + blob[mod.data + mod.csize :]


@case("damaged bzip2 stream", CorruptArchive, "OSError from bz2 is wrapped.", member=MAIN, words=("damaged",))
def _damaged_bzip2() -> bytes:
    blob = good_zip(method=zipfile.ZIP_BZIP2)
    mod = entries(blob)[MAIN]
    return put(blob, mod.data + 10, "<4s", b"\xff\x00\xff\x00")


@case("damaged lzma stream", CorruptArchive, "LZMAError is wrapped.", member=MAIN)
def _damaged_lzma() -> bytes:
    blob = good_zip(method=zipfile.ZIP_LZMA)
    mod = entries(blob)[MAIN]
    return blob[: mod.data + 9] + b"\xff" * (mod.csize - 9) + blob[mod.data + mod.csize :]


BOMB_DECLARED = 1000
BOMB_INFLATED = 256 << 20
BOMB_DECLARED_HUGE = 768 << 20  # under any sane size limit, so the reader gets as far as inflating


@case(
    "bomb: small declared size, huge inflated size",
    CorruptArchive,
    "A 256 KiB member inflating to 256 MiB declares 1000 bytes; inflating stops at 1001.",
    member=MAIN,
    words=("past its declared 1000 bytes",),
)
def _bomb_lies() -> bytes:
    raw = deflate_repeated(b"\n" * (1 << 20), BOMB_INFLATED >> 20)
    return assemble([*good_members(skip=MAIN), (MAIN, raw, 8, 0, BOMB_DECLARED)])


@case(
    "bomb: huge declared size, small data",
    CorruptArchive,
    "A member declaring 768 MiB that inflates to a few bytes: the declared size is never allocated.",
    member=MAIN,
    words=("truncated",),
)
def _bomb_declares() -> bytes:
    data = GOOD[MAIN].encode()
    return assemble([*good_members(skip=MAIN), (MAIN, zlib.compress(data)[2:-4], 8, zlib.crc32(data), BOMB_DECLARED_HUGE)])


@case("zip64: end record missing", CorruptArchive, "A locator with no ZIP64 record.", words=("ZIP64",))
def _z64_missing() -> bytes:
    blob = zip64_member(MAIN, GOOD[MAIN].encode())
    at = blob.rfind(b"PK\x06\x06")
    return blob[:at] + b"PK\x00\x00" + blob[at + 4 :]


@case("zip64: entry count lies", CorruptArchive, "The ZIP64 record's count is checked like the plain one.", words=("entries",))
def _z64_count() -> bytes:
    blob = zip64_member(MAIN, GOOD[MAIN].encode())
    at = blob.rfind(b"PK\x06\x06")
    return put(blob, at + 24, "<2Q", 7, 7)


@case("zip64: directory offset lies", CorruptArchive, "A directory said to start past its end.", words=("truncated",))
def _z64_cd_offset() -> bytes:
    blob = zip64_member(MAIN, GOOD[MAIN].encode())
    at = blob.rfind(b"PK\x06\x06")
    return put(blob, at + 48, "<Q", 1 << 62)


@case(
    "zip64: locator points past the end",
    CorruptArchive,
    "The locator's record offset is a 64-bit number that must be checked against the file size before seeking.",
    words=("ZIP64",),
)
def _z64_locator(offset: int = U64) -> bytes:
    blob = zip64_member(MAIN, GOOD[MAIN].encode())
    at = blob.rfind(b"PK\x06\x06")
    blob = blob[:at] + b"PK\x00\x00" + blob[at + 4 :]  # so the locator's offset is what counts
    return put(blob, blob.rfind(b"PK\x06\x07") + 8, "<Q", offset)


@case(
    "zip64: header offset lies",
    CorruptArchive,
    "A 64-bit local-header offset past the end of the file.",
    member=MAIN,
    words=("local header",),
)
def _z64_offset() -> bytes:
    return zip64_member(MAIN, GOOD[MAIN].encode(), offset=U64)


@case(
    "zip64: size near 2**64",
    UnsupportedMember,
    "A declared size too large for a C ssize_t (or any memory) is refused by size, not passed to the decompressor.",
    member=MAIN,
)
def _z64_size() -> bytes:
    return zip64_member(MAIN, GOOD[MAIN].encode(), size=U64)


@case("zip64: extra field too short", CorruptArchive, "Sizes said to be in a ZIP64 extra that is cut short.", member=MAIN, words=("ZIP64",))
def _z64_short_extra() -> bytes:
    blob = zip64_member(MAIN, GOOD[MAIN].encode())
    at = blob.rfind(struct.pack("<2H", 1, 24))
    return put(blob, at + 2, "<H", 4)


@case(
    "nested archive",
    NotRunnable,
    "An archive inside an archive is data: zrun never opens it, so its modules are not found.",
    words=("No module named 'pkg'",),
)
def _nested() -> bytes:
    return good_zip({"inner.zip": good_zip(), "readme.txt": "the code is in inner.zip"})


@case("empty file", NotRunnable, "An empty file is no archive.", names_archive=True, words=("not a directory or archive",))
def _empty() -> bytes:
    return b""


@case("not a zip", NotRunnable, "A text file named .zip is no archive.", names_archive=True, words=("not a directory or archive",))
def _text() -> bytes:
    return b"print('I am not an archive')\n" * 20


@case("zip signature soup", ArchiveError, "Signatures without records: the bytes after the end signature read as disk numbers.",
      words=("multi-disk",))
def _soup() -> bytes:
    return b"PK\x03\x04PK\x01\x02PK\x05\x06" * 3


@case(
    "sourceless module with a damaged pyc",
    NotRunnable,
    "A .pyc for this interpreter whose marshal data is cut: ImportError, as runpy gives.",
    words=("mod.pyc",),
)
def _bad_pyc() -> bytes:
    from importlib.util import MAGIC_NUMBER

    pyc = MAGIC_NUMBER + bytes(12) + b"\xe3" + b"\x00" * 7
    return good_zip({**{k: v for k, v in GOOD.items() if k != MAIN}, "pkg/mod.pyc": pyc})


@case(
    "stale damaged pyc beside the source",
    None,
    "A __pycache__ entry that does not validate is ignored and the source is compiled.",
)
def _bad_cached_pyc() -> bytes:
    from importlib.util import MAGIC_NUMBER, cache_from_source

    cached = cache_from_source(MAIN).replace(os.sep, "/")
    return good_zip({**GOOD, cached: MAGIC_NUMBER + b"\x03\x00\x00\x00" + bytes(8) + b"garbage"})


@case("source is not UTF-8", SyntaxError, "Bytes that are not UTF-8 and no coding line: the tokenizer's SyntaxError, as runpy.",
      member=MAIN)
def _bad_source_encoding() -> bytes:
    return good_zip({**GOOD, MAIN: b"x = '\xff\xfe'\n"})


@case("unknown coding line", SyntaxError, "PEP 263 with an encoding that does not exist.", member=MAIN)
def _unknown_coding() -> bytes:
    return good_zip({**GOOD, MAIN: b"# -*- coding: no-such-codec -*-\nx = 1\n"})


@case("junk before the archive", None, "Prefix data (a shebang, an executable stub) is allowed, as for zipapps.")
def _prefixed() -> bytes:
    return good_zip(prefix=b"#!/bin/sh\n" + b"\x00" * 300)


def _directory_named_like_an_archive(folder: Path) -> Path:
    root = folder / "app.zip"
    for name, text in GOOD.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


add("a directory named like an archive", _directory_named_like_an_archive, None, "A directory is a directory, whatever its name.")


def _fifo(folder: Path) -> Path:
    path = folder / "app.zip"
    os.mkfifo(path)
    return path


add(
    "a FIFO named like an archive",
    _fifo,
    ArchiveNotFound,
    "Opening a FIFO for reading blocks until a writer comes: zrun must not wait, and a FIFO is no archive.",
    words=("not a regular file",),
    skip=None if hasattr(os, "mkfifo") else "no FIFOs here",
)


def _good_file(folder: Path) -> Path:
    path = folder / "app.zip"
    path.write_bytes(good_zip())
    return path


add(
    "archive deleted between indexing and reading",
    _good_file,
    ArchiveNotFound,
    "The index is kept, the file is gone: the retry finds no archive and says so.",
    between="delete",
)
add(
    "archive truncated between indexing and reading",
    _good_file,
    CorruptArchive,
    "The file changed under the index: the re-read finds it cut short, a truncated archive.",
    between="truncate",
)


def by_name() -> Dict[str, Case]:
    return {c.name: c for c in CASES}


# --- seeds for the fuzzers ---------------------------------------------------------------------


def seeds() -> Iterator[Tuple[str, bytes]]:
    """Small valid and damaged archives, named, for a fuzzer's starting corpus."""
    yield "good-deflate", good_zip()
    yield "good-stored", good_zip(method=zipfile.ZIP_STORED)
    yield "good-bzip2", good_zip(method=zipfile.ZIP_BZIP2)
    yield "good-lzma", good_zip(method=zipfile.ZIP_LZMA)
    yield "good-prefixed", good_zip(prefix=b"#!/usr/bin/env python3\n")
    yield "zip64", zip64_member(MAIN, GOOD[MAIN].encode())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("forced.py", "w", force_zip64=True) as stream:
        stream.write(b"x = 1\n" * 20)
    yield "forced-zip64", buf.getvalue()
    for c in CASES:
        if c.between or c.skip or c.name.startswith(("bomb", "a FIFO", "a directory")):
            continue
        with _scratch() as folder:
            path = c.build(folder)
            if path.is_file():
                yield c.name.replace(" ", "-").replace("/", "-"), path.read_bytes()


class _scratch:
    def __enter__(self) -> Path:
        import tempfile

        self._dir = tempfile.TemporaryDirectory()
        return Path(self._dir.name)

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()


def write_all(folder: Path) -> List[Path]:
    """Every case under ``folder/<case name>/``, for inspection with other tools."""
    made = []
    for c in CASES:
        if c.skip:
            continue
        where = folder / c.name.replace(" ", "-").replace("/", "-")
        where.mkdir(parents=True, exist_ok=True)
        made.append(c.build(where))
    return made


if __name__ == "__main__":
    for made in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")):
        print(made)
