"""Every hostile archive of ``tests/hostile.py``, through the library and through the CLI.

One body per entry point runs the whole corpus: the outcome is the case's
exception type (never a raw ``zlib.error``, ``KeyError``, ``struct.error``...)
with a message naming the archive and member, or a clean run; and ``sys`` is
as it was. Crashes the fuzzers find are added at the end as regression tests.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import struct
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

import hostile
import zrun
from conftest import SRC, Launcher
from hostile import Case
from test_cache import extensions  # noqa: F401  (fixture: compiled extensions; the cache directory fixture `root` is conftest's)
from zrun.errors import ArchiveError, NotRunnable, UnsupportedMember, ZrunError
from zrun.zip.archive import MAX_MEMBER_SIZE, Archive, clear_cache, max_member_size


def params() -> List[Any]:
    out = []
    for case in hostile.CASES:
        marks: List[Any] = []
        if case.skip:
            marks.append(pytest.mark.skip(reason=case.skip))
        if case.known_bug:
            marks.append(pytest.mark.xfail(strict=True, reason=f"zrun bug: {case.known_bug}"))
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def damage_between(case: Case, location: Path) -> None:
    """What ``case.between`` does to the archive once it is indexed."""
    if case.between == "delete":
        location.unlink()
    elif case.between == "truncate":
        with open(location, "r+b") as stream:
            stream.truncate(10)


def message_of(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{exc.filename}: {exc}"
    return str(exc)


def check_message(case: Case, text: str, location: Path) -> None:
    """The archive (for archive errors and syntax errors), the member and the case's words."""
    if case.names_archive or (case.expect is not None and issubclass(case.expect, (ArchiveError, SyntaxError))):
        assert str(location) in text, text
    if case.member:
        assert case.member in text, text
    for word in case.words:
        assert word in text, text


class _Unblock:
    """Opens a FIFO for writing if the run still waits on it after ``delay`` seconds.

    A run blocked in ``open(fifo)`` would otherwise hang the suite; this turns
    the hang into a failure that says what happened.
    """

    def __init__(self, path: Path, delay: float = 3.0) -> None:
        self.path, self.delay = path, delay
        self.done = threading.Event()
        self.had_to = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        if self.done.wait(self.delay):
            return
        while not self.done.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader (yet): ENXIO
                time.sleep(0.05)
                continue
            self.had_to = True
            os.close(fd)
            return

    def __enter__(self) -> _Unblock:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def run_library(case: Case, location: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Optional[BaseException], str]:
    if case.between:
        original = Archive.read
        fired: List[bool] = []

        def read(self: Archive, name: str, *limit: Optional[int]) -> bytes:
            if not fired:
                fired.append(True)
                damage_between(case, location)
            return original(self, name, *limit)

        monkeypatch.setattr(Archive, "read", read)
    out = io.StringIO()
    fifo = location.is_fifo()
    with contextlib.ExitStack() as stack:
        unblock = stack.enter_context(_Unblock(location)) if fifo else None
        try:
            with contextlib.redirect_stdout(out):
                zrun.run(f"{location}:{hostile.TARGET}")
        except Exception as exc:
            error: Optional[BaseException] = exc
        else:
            error = None
    assert unblock is None or not unblock.had_to, "the run blocked opening a FIFO"
    return error, out.getvalue()


@pytest.mark.parametrize("case", params())
def test_library(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    location = case.build(tmp_path)
    everything = zrun.SysState(modules=True)
    try:
        error, output = run_library(case, location, monkeypatch)
        if case.expect is None:
            assert error is None, f"{type(error).__name__}: {error}"
            assert output == case.output
            leftovers = [line for line in everything.diff() if "'pkg" not in line]  # imported modules stay, as after python -m
            assert leftovers == []
            return
        assert error is not None, f"ran, printing {output!r}"
        assert isinstance(error, case.expect), f"{type(error).__module__}.{type(error).__name__}: {error}"
        assert isinstance(error, (ZrunError, SyntaxError)), "a raw exception escaped"
        check_message(case, message_of(error), location)
        assert everything.diff() == [], "a failed run changed sys"
        assert output == ""
    finally:
        everything.restore()


SITECUSTOMIZE = """
import os
_how, _path = os.environ["ZRUN_HOSTILE_BETWEEN"].split(":", 1)
import zrun.zip.archive as _archive
_original = _archive.Archive.read
_fired = []
def _read(self, name, *limit):
    if not _fired:
        _fired.append(True)
        if _how == "delete":
            os.unlink(_path)
        else:
            with open(_path, "r+b") as stream:
                stream.truncate(10)
    return _original(self, name, *limit)
_archive.Archive.read = _read
"""


@pytest.mark.parametrize("case", params())
def test_cli(case: Case, tmp_path: Path, zrun_cli: Launcher) -> None:
    location = case.build(tmp_path)
    env = {}
    if case.between:
        hook = tmp_path / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env = {"PYTHONPATH": str(hook), "ZRUN_HOSTILE_BETWEEN": f"{case.between}:{location}"}
    try:
        result = zrun_cli(f"{location}:{hostile.TARGET}", cwd=tmp_path, env=env, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("the CLI hung")
    lines = result.stderr.splitlines()
    if case.expect is None:
        assert (result.returncode, result.stdout, result.stderr) == (0, case.output, "")
        return
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    if issubclass(case.expect, ZrunError):
        assert len(lines) == 1 and lines[0].startswith("zrun: error: "), result.stderr
        check_message(case, lines[0], location)
    else:  # what python -m prints for the same error: no zrun frames, no "zrun: error"
        assert lines and lines[-1].startswith(f"{case.expect.__name__}:"), result.stderr
        assert "zrun: error" not in result.stderr
        assert f"{location}/{case.member}" in result.stderr
        assert f"{os.sep}zrun{os.sep}" not in result.stderr.replace(str(location), "")


def test_corpus_is_complete() -> None:
    """Every kind of damage the hardening issue lists has at least one case."""
    names = " ".join(case.name for case in hostile.CASES)
    for kind in ("truncated in local header", "truncated in member data", "truncated in central directory", "truncated in end record",
                 "bad CRC", "size", "overlapping", "duplicate", "..", "absolute", "backslash", "NUL", "UTF-8", "symlink",
                 "encrypted", "compression", "bomb", "zip64", "nested", "empty file", "directory named like", "not a zip",
                 "deleted between", "truncated between"):
        assert kind in names, kind


# --- decompression bombs: memory stays bounded --------------------------------------------------


def test_lying_bomb_inflates_no_further_than_declared(tmp_path: Path) -> None:
    case = hostile.by_name()["bomb: small declared size, huge inflated size"]
    archive = Archive.open(case.build(tmp_path))
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="past its declared"):
            archive.read(hostile.MAIN)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak} bytes allocated to refuse a 256 KiB member that claims 1000 bytes"


def test_huge_declared_size_is_not_allocated(tmp_path: Path) -> None:
    case = hostile.by_name()["bomb: huge declared size, small data"]
    archive = Archive.open(case.build(tmp_path))
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="truncated"):
            archive.read(hostile.MAIN)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
{body}
"""


def run_limited(body: str, *args: str, limit: int = 256 << 20) -> subprocess.CompletedProcess[str]:
    """Python with its address space capped: a reader that inflates gigabytes fails fast, not the machine."""
    env = {**os.environ, "PYTHONPATH": SRC}
    code = LIMITED.format(limit=limit, body=textwrap.dedent(body))
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)


needs_rlimit = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is enforced on Linux")


@needs_rlimit
def test_memory_cap_leaves_room_for_a_normal_run(tmp_path: Path) -> None:
    """The control for the bomb tests: the cap alone does not break a run."""
    archive = tmp_path / "app.zip"
    archive.write_bytes(hostile.good_zip())
    result = run_limited("from zrun.cli.main import main; sys.exit(main(sys.argv[1:]))", f"{archive}:{hostile.TARGET}")
    assert (result.returncode, result.stdout, result.stderr) == (0, hostile.GOOD_OUTPUT, "")


@needs_rlimit
@pytest.mark.parametrize("via", ["library", "cli"])
def test_honest_bomb_is_refused_before_inflating(tmp_path: Path, via: str) -> None:
    """~4 MB on disk, 4 GiB declared and inflated: refused by size, before a byte is allocated."""
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(hostile.honest_bomb())
    target = f"{archive}:{hostile.TARGET}"
    if via == "cli":
        result = run_limited("from zrun.cli.main import main; sys.exit(main(sys.argv[1:]))", target)
        assert result.returncode == 1
        assert result.stderr.startswith("zrun: error: ") and result.stderr.count("\n") == 1, result.stderr
    else:
        result = run_limited(
            """
            import zrun
            try:
                zrun.run(sys.argv[1])
            except zrun.UnsupportedMember as exc:
                print(type(exc).__name__, exc)
            """,
            target,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("MemberTooLarge ")  # an UnsupportedMember, caught as one above
    assert str(archive) in result.stdout + result.stderr
    assert hostile.MAIN in result.stdout + result.stderr


def test_member_size_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ZRUN_MAX_MEMBER_SIZE`` lowers (or raises) the limit, read at each read; a bad value is an error, not ignored."""
    path = tmp_path / "app.zip"
    path.write_bytes(hostile.good_zip())
    archive = Archive.open(path)
    size = len(hostile.GOOD[hostile.MAIN])
    monkeypatch.setenv("ZRUN_MAX_MEMBER_SIZE", str(size))
    assert archive.read(hostile.MAIN) == hostile.GOOD[hostile.MAIN].encode()  # the limit itself is allowed
    monkeypatch.setenv("ZRUN_MAX_MEMBER_SIZE", str(size - 1))
    with pytest.raises(UnsupportedMember, match=f"declares {size} bytes, over the {size - 1}-byte limit") as info:
        archive.read(hostile.MAIN)
    assert (info.value.path, info.value.member) == (str(path), hostile.MAIN)
    for bad in ("lots", "-1", "1.5"):
        monkeypatch.setenv("ZRUN_MAX_MEMBER_SIZE", bad)
        with pytest.raises(ArchiveError, match="ZRUN_MAX_MEMBER_SIZE"):
            archive.read(hostile.MAIN)
    monkeypatch.delenv("ZRUN_MAX_MEMBER_SIZE")
    assert max_member_size() == MAX_MEMBER_SIZE == 1 << 30


# --- what is not a regular file is never opened in a way that blocks ---------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", ["app.zrf", "app.zip", "app.pyz"])
def test_fifo_is_refused_without_blocking(name: str, tmp_path: Path) -> None:
    """Every way in: the bundle sniffer, the bundle loader, the zip source; each says what the path is."""
    from zrun.frozen import FrozenSource, is_bundle
    from zrun.zip.source import ZipSource

    fifo = tmp_path / name
    os.mkfifo(fifo)
    with _Unblock(fifo) as unblock:
        assert not is_bundle(str(fifo))
        with pytest.raises(ArchiveError, match="not a regular file"):
            FrozenSource.load(fifo)
        with pytest.raises(ArchiveError, match="not a regular file"):
            ZipSource(str(fifo))
        with pytest.raises(ArchiveError, match="not a regular file"):
            ZipSource(f"{fifo}/inner")
    assert not unblock.had_to, "something blocked opening the FIFO"


# --- targets that are not even parsed: usage errors ------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        ":", "a:b:c:d", ":pkg", "app.zip:", "app.zip:1bad", "pkg:not-a-func", "", " ", "x.zip:.rel", ".rel:main",
    ],
)
def test_bad_target_is_a_usage_error(target: str, zrun_cli: Launcher, tmp_path: Path) -> None:
    result = zrun_cli(target, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("zrun: error:")]
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0], result.stderr


# --- fuzzer regressions ----------------------------------------------------------------------
# Inputs found by fuzz/ that crashed the reader, as the base64 libFuzzer prints. Each is read
# from memory and from a file, as fuzz/fuzz_archive.py does.

FUZZ_REGRESSIONS = [
    pytest.param("UFBLBgcAAAAA/////////38BAAAAUEsFBv///wAsSwwAAAD/////AAD/AAA=", id="zip64 locator at 2**63-1"),
]


@pytest.mark.parametrize("encoded", FUZZ_REGRESSIONS)
def test_fuzz_regression(encoded: str, tmp_path: Path) -> None:
    blob = base64.b64decode(encoded)
    path = tmp_path / "crash.zip"
    path.write_bytes(blob)
    for opener in (lambda: Archive.from_bytes(blob, label="<fuzz>"), lambda: Archive.open(path)):
        try:
            archive = opener()
        except ArchiveError:
            continue
        for member in list(archive.members):
            with contextlib.suppress(ArchiveError):
                archive.read(member)


@pytest.mark.parametrize("name", ["names with .. only", "absolute names only"])
def test_refusals_named_for_function_targets(name: str, tmp_path: Path) -> None:
    """``archive:module:function`` imports the module; its "No module named" says what was refused too."""
    location = hostile.by_name()[name].build(tmp_path)
    everything = zrun.SysState(modules=True)
    with pytest.raises(NotRunnable) as info:
        zrun.run(f"{location}:{hostile.TARGET}:main")
    message = str(info.value)
    assert message.startswith(f"No module named {hostile.TARGET};"), message
    assert str(location) in message and "refused" in message, message
    assert everything.diff() == []


# --- running out of memory while reading an archive -------------------------------------------

BIG_SOURCE_SIZE = 600 << 20


@needs_rlimit
@pytest.mark.parametrize("via", ["library", "cli"])
def test_member_too_big_for_the_memory_left(tmp_path: Path, via: str) -> None:
    """600 MiB of source (under the size limit) inflated under a 400 MiB address space: one typed error, no MemoryError."""
    archive = tmp_path / "big.zip"
    archive.write_bytes(hostile.big_source(BIG_SOURCE_SIZE))
    assert archive.stat().st_size < 2 << 20
    target = f"{archive}:{hostile.TARGET}"
    if via == "cli":
        result = run_limited("from zrun.cli.main import main; sys.exit(main(sys.argv[1:]))", target, limit=400 << 20)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("zrun: error: ") and result.stderr.count("\n") == 1, result.stderr
        said = result.stderr
    else:
        result = run_limited(
            """
            import zrun
            try:
                zrun.run(sys.argv[1])
            except zrun.ArchiveError as exc:
                print(type(exc).__name__, exc.path, exc.member, exc.reason)
            """,
            target,
            limit=400 << 20,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("MemberTooLarge "), result.stdout
        said = result.stdout
    assert f"{archive}: {hostile.MAIN}: " in said or f"{archive} {hostile.MAIN} " in said
    assert f"not enough memory to read its {BIG_SOURCE_SIZE} bytes" in said


@needs_rlimit
def test_memory_error_while_indexing_is_an_archive_error(tmp_path: Path) -> None:
    """A 300 MB central directory (a sparse file) indexed under a 256 MiB address space: the archive is named."""
    archive = tmp_path / "wide.zip"
    size = 300 << 20
    with open(archive, "wb") as stream:
        stream.truncate(size)  # zeros, allocated by nobody: the end record says they are the directory
        stream.seek(size)
        stream.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, size, 0, 0))
    result = run_limited(
        """
        import zrun
        try:
            zrun.run(sys.argv[1] + ":pkg.mod")
        except zrun.ArchiveError as exc:
            print(type(exc).__name__, exc)
        """,
        str(archive),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ArchiveError {archive}: not enough memory to index"), result.stdout


# --- smaller refusals: each names the archive and refuses only what is unsafe ---------------------


def test_unsafe_library_member_refuses_only_itself(root: Path, tmp_path: Path, extensions: Dict[str, bytes]) -> None:  # noqa: F811
    """One ``C:.libs/x`` member (a drive name) beside a good extension: the extension imports, C:.libs is not extracted."""
    import importlib.machinery
    import zipfile

    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    archive = tmp_path / "ext.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"tinyext{suffix}", extensions["tinyext"])
        z.writestr("C:.libs/x", b"not extracted")
        z.writestr("tiny.libs/libdep.so.1", b"a bundled library")
        z.writestr("use.py", "import tinyext\nANSWER = tinyext.answer()\nWHERE = tinyext.__file__\n")
    namespace = zrun.run(f"{archive}:use", isolate=True)
    assert namespace["ANSWER"] == 42
    folder = Path(namespace["WHERE"]).parent
    extracted = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert extracted == sorted([f"tinyext{suffix}", "tiny.libs/libdep.so.1"])


def test_unsafe_member_names_the_archive(root: Path, tmp_path: Path) -> None:
    from zrun.loading import extraction as extract

    with pytest.raises(extract.UnsafeMember) as info:
        extract.extract("id", {"good.so": lambda: b"ok", "C:/evil.so": lambda: b"evil"}, archive=str(tmp_path / "app.zip"))
    assert (info.value.path, info.value.member) == (str(tmp_path / "app.zip"), "C:/evil.so")
    assert str(info.value).startswith(f"{tmp_path / 'app.zip'}: C:/evil.so: refusing")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_symlink_loop_reports_its_errno(tmp_path: Path, zrun_cli: Any) -> None:
    """A symlink loop as the archive: ELOOP (Errno 40 on Linux) and exit 2, as ``python loop.zip`` says, not ENOENT."""
    import errno
    import runpy

    (tmp_path / "a.zip").symlink_to(tmp_path / "b.zip")
    (tmp_path / "b.zip").symlink_to(tmp_path / "a.zip")
    loop = tmp_path / "a.zip"
    words = f"[Errno {errno.ELOOP}] {os.strerror(errno.ELOOP)}"
    for target in (f"{loop}:pkg.mod", str(loop), f"{loop}/sub"):
        result = zrun_cli(target)
        shown = str(tmp_path / target.split(":")[0])
        assert (result.returncode, result.stderr) == (2, f"zrun: error: can't open file {shown!r}: {words}\n")
    with pytest.raises(zrun.ArchiveError, match=re.escape(f"{loop}: cannot open: {words}")):
        zrun.ZipSource(loop)
    with pytest.raises(OSError) as expected:
        runpy.run_path(str(loop))
    with pytest.raises(OSError) as got:
        zrun.run_path(str(loop))
    assert (type(got.value), got.value.errno, got.value.filename) == (type(expected.value), errno.ELOOP, str(loop))


@needs_rlimit
def test_bundle_too_big_for_the_memory_left(tmp_path: Path) -> None:
    """A 300 MB bundle (sparse) under a 256 MiB address space: one BundleError line naming it and its size."""
    from zrun.frozen import BUNDLE_MAGIC

    bundle = tmp_path / "big.zrf"
    with open(bundle, "wb") as stream:
        stream.write(BUNDLE_MAGIC)
        stream.truncate(300 << 20)
    result = run_limited("from zrun.cli.main import main; sys.exit(main(sys.argv[1:]))", f"{bundle}:pkg.mod")
    assert (result.returncode, result.stderr) == (1, f"zrun: error: {bundle}: not enough memory to read the bundle ({300 << 20} bytes)\n")


def test_archive_cannot_supply_the_zstandard_decompressor(tmp_path: Path, zrun_cli: Launcher) -> None:
    """An archive's own ``compression``/``backports`` package must not be what zrun imports to read its Zstandard member."""
    from zrun.zip.methods import zstd_module

    try:
        zstd = zstd_module()
    except UnsupportedMember:
        pytest.skip("neither compression.zstd nor backports.zstd here")
    source = b"print('target ran')\n"
    shadow = b"print('ARCHIVE CODE RAN INSIDE ZRUN')\nraise ImportError('shadow')\n"
    members = [(name, shadow, 0, zlib.crc32(shadow), len(shadow)) for name in (
        "compression/__init__.py", "compression/zstd.py", "backports/__init__.py", "backports/zstd.py")]
    members.append((hostile.MAIN, zstd.compress(source), 93, zlib.crc32(source), len(source)))
    members.append(("pkg/__init__.py", b"", 0, 0, 0))
    archive = tmp_path / "shadow.zip"
    archive.write_bytes(hostile.assemble(members))
    result = zrun_cli(f"{archive}:{hostile.TARGET}", env={**os.environ, "ZRUN_NO_CACHE": "1"})
    assert "ARCHIVE CODE RAN" not in result.stdout + result.stderr
    assert (result.returncode, result.stdout) == (0, "target ran\n"), result.stderr
