"""What the cache may be trusted with (issue 12, items 1, 2, 5 and 6).

1. Other local users: whatever they do to paths they own (the cache root's
   parents, a symlink to it, its subdirectories), the victim's zrun runs only
   the code it was asked to. Run as root, these tests create throwaway users
   and attack for real: the victim's runs are subprocesses with the victim's uid.
2. Clean-up deletes only what zrun wrote, in a directory that carries zrun's
   ``CACHEDIR.TAG``; anything else is refused with one ``zrun: error:`` line.
5. A warm cache runs what a cold run would, for an archive replaced in place
   with its size and modification time restored (``cp -p``, ``rsync -t``).
6. Damaged extractions are rebuilt, extractions are durable before they are
   renamed into place, stale temporaries are collected.
"""

from __future__ import annotations

import gc
import importlib.machinery
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Tuple

import pytest

import zrun
from zrun.cache import store as cache
from zrun.cli import cacheadmin
from zrun.loading import bytecode
from zrun.loading import extraction as extract

SRC = str(Path(zrun.__file__).resolve().parent.parent)
is_root = hasattr(os, "geteuid") and os.geteuid() == 0
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX ownership, modes and dir_fd")

EXTENSION = r"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *unused) { return PyLong_FromLong(VALUE); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "The answer."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tinyext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_tinyext(void) { return PyModule_Create(&module); }
"""


def cli(args: List[str], env: Dict[str, str], python: str = sys.executable, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """``python -m zrun args...`` in a fresh interpreter, as users run it."""
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    full.update(env)
    return subprocess.run([python, "-m", "zrun", *args], env=full, capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload, no-any-return]


def build_extensions(python: str, folder: Path, values: Tuple[int, ...] = (42, 43)) -> Dict[int, bytes]:
    """``tinyext`` built for ``python`` once per value of ``answer()``: same name, same size, other code."""
    probe = "import sysconfig, importlib.machinery as m; print(sysconfig.get_paths()['include']); print(m.EXTENSION_SUFFIXES[0])"
    include, suffix = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if sys.platform != "linux" or compiler is None or not os.path.isfile(os.path.join(include, "Python.h")):
        pytest.skip("needs Linux, a C compiler and the interpreter's headers")
    built = {}
    for value in values:
        source = folder / f"tinyext{value}.c"
        source.write_text(EXTENSION.replace("VALUE", str(value)))
        target = folder / f"tinyext{value}{suffix}"
        argv = [compiler, "-shared", "-fPIC", f"-I{include}", str(source), "-o", str(target)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            pytest.skip(f"cannot compile an extension: {result.stderr[-300:]}")
        built[value] = target.read_bytes()
    sizes = {len(data) for data in built.values()}
    assert len(sizes) == 1, "the two builds must have the same size"
    return built


def ext_archive(path: Path, so: bytes, suffix: str, code: str = "genuine") -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("app/__init__.py", "")
        z.writestr(f"app/tinyext{suffix}", so)
        z.writestr("app/main.py", f"from app import tinyext\nprint({code!r}, tinyext.answer())\n")
    return path


def replace_in_place(path: Path, data: bytes) -> None:
    """Rewrite ``path`` as ``cp -p`` does: same inode, same size, modification time restored."""
    before = path.stat()
    assert len(data) == before.st_size
    time.sleep(0.02)  # past the kernel's coarse clock tick: ctime moves on
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def snapshot(folder: Path) -> Dict[str, Tuple[int, bytes]]:
    """Every path below ``folder`` with its type and content (symlinks not followed)."""
    found: Dict[str, Tuple[int, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = b""
            if stat.S_ISLNK(st.st_mode):
                content = os.readlink(path).encode()
            elif stat.S_ISREG(st.st_mode):
                content = Path(path).read_bytes()
            found[os.path.relpath(path, folder)] = (stat.S_IFMT(st.st_mode), content)
    return found


# --- 2. clean-up removes only what zrun wrote -------------------------------------------------------------


def fake_home(home: Path) -> Path:
    """A home directory with the folder names zrun uses, as ``ZRUN_CACHE_DIR=~`` by mistake finds it."""
    (home / "code" / "myproj" / ".git").mkdir(parents=True)
    (home / "code" / "myproj" / ".git" / "config").write_text("[core]\n")
    (home / "code" / "myproj" / "main.py").write_text("print('mine')\n")
    (home / "ext").mkdir()
    (home / "ext" / "notes").write_text("my notes\n")
    (home / "index" / "site").mkdir(parents=True)
    (home / "index" / "site" / "index.html").write_text("<html></html>\n")
    (home / "code" / "ab").mkdir()
    (home / "code" / "ab" / ("0" * 38)).write_text("named like an entry, but not in zrun's cache\n")
    then = time.time() - 90 * 86400
    for path in home.rglob("*"):
        os.utime(path, (then, then), follow_symlinks=False)
    return home


@pytest.mark.parametrize("command", [["clear"], ["prune"], ["prune", "--older-than", "0"]])
def test_clean_up_refuses_a_home_directory(tmp_path: Path, command: List[str]) -> None:
    home = fake_home(tmp_path / "home")
    before = snapshot(home)
    result = cli(["cache", *command], {"ZRUN_CACHE_DIR": str(home), "HOME": str(home)})
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("zrun: error: "), result.stderr
    assert str(home) in result.stderr and "CACHEDIR.TAG" in result.stderr
    assert snapshot(home) == before


def test_prune_refuses_the_working_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    old = work / "report.txt"
    old.write_text("from last quarter\n")
    then = time.time() - 90 * 86400
    os.utime(old, (then, then))
    before = snapshot(work)
    result = cli(["cache", "prune"], {"ZRUN_CACHE_DIR": "."}, cwd=str(work))
    assert result.returncode == 1 and result.stderr.startswith("zrun: error: ") and result.stderr.count("\n") == 1, result
    assert snapshot(work) == before


def test_a_run_does_not_adopt_a_directory_that_is_not_a_cache(tmp_path: Path) -> None:
    """Running with ``ZRUN_CACHE_DIR=~`` writes nothing there: no entries, and no tag that backup tools would obey."""
    home = fake_home(tmp_path / "home")
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.py", "print('hello')\n")
    before = snapshot(home)
    result = cli([f"{archive}:hello"], {"ZRUN_CACHE_DIR": str(home)})
    assert result.returncode == 0 and result.stdout == "hello\n"
    assert result.stderr.count("zrun: warning: not using cache directory") == 1, result.stderr
    assert snapshot(home) == before


@pytest.mark.parametrize("tag", ["missing", "another tool's", "a symlink to zrun's"])
def test_clear_needs_zrun_s_own_tag(root: Path, tmp_path: Path, tag: str) -> None:
    cache.store_code(cache.code_key("id", "m.py", 1, 2), compile("", "m", "exec"))
    (entry,) = [p for p in (root / "code").rglob("*") if p.is_file()]
    tag_file = root / "CACHEDIR.TAG"
    elsewhere = tmp_path / "zrun.tag"
    elsewhere.write_bytes(tag_file.read_bytes())
    tag_file.unlink()
    if tag == "another tool's":
        tag_file.write_text("Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by borg.\n")
    elif tag == "a symlink to zrun's":
        tag_file.symlink_to(elsewhere)
    cache.reset()
    result = cli(["cache", "clear"], {"ZRUN_CACHE_DIR": str(root)})
    assert result.returncode == 1 and result.stderr.startswith("zrun: error: ") and "CACHEDIR.TAG" in result.stderr, result
    assert entry.exists()


@posix_only
def test_clear_removes_only_zrun_s_names_and_follows_no_symlink(root: Path, tmp_path: Path) -> None:
    cache.store_code(cache.code_key("id", "m.py", 1, 2), compile("", "m", "exec"))
    cache.store_index("id", b"index")
    folder = Path(extract.extract("id", {"pkg/_ext.so": lambda: b"x"}))
    outside = tmp_path / "outside"
    (outside / "ab").mkdir(parents=True)
    (outside / "ab" / ("1" * 38)).write_text("not the cache's")
    (outside / ("2" * 40)).mkdir()
    (outside / ("2" * 40) / "keep").write_text("not the cache's")
    (root / "code" / "myproj").mkdir()
    (root / "code" / "myproj" / "x.py").write_text("mine")
    (root / "code" / "ab").mkdir(exist_ok=True)
    (root / "code" / "ab" / "notes.txt").write_text("mine")
    (root / "code" / "cd").symlink_to(outside / "ab")
    (root / "ext" / ("3" * 40)).symlink_to(outside / ("2" * 40))
    (root / "ext" / "notes").write_text("mine")
    (root / "index" / "site").mkdir()
    (root / "notes.txt").write_text("mine")
    keep_outside = snapshot(outside)
    result = cli(["cache", "clear"], {"ZRUN_CACHE_DIR": str(root)})
    assert result.returncode == 0 and result.stdout.startswith("removed 4 entries"), result  # code, index, ext folder, its lock
    assert not folder.exists() and not [p for p in (root / "code").rglob("*") if p.is_file() and len(p.name) == 38]
    assert snapshot(outside) == keep_outside
    for mine in ("code/myproj/x.py", "code/ab/notes.txt", "ext/notes", "index/site", "notes.txt", "CACHEDIR.TAG"):
        assert (root / mine).exists(), mine
    assert (root / "code" / "cd").is_symlink() and (root / "ext" / ("3" * 40)).is_symlink()


# --- 5. a warm cache runs what a cold run would ----------------------------------------------------------


def test_archive_replaced_in_place_runs_its_new_code_in_a_long_running_host(root: Path, tmp_path: Path) -> None:
    archive, build = tmp_path / "app.zip", tmp_path / "build.zip"
    for path, text in ((archive, "X = 'old'\n"), (build, "X = 'new'\n")):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("m.py", text)
    assert zrun.run(f"{archive}:m", isolate=True, alter_sys=False)["X"] == "old"
    replace_in_place(archive, build.read_bytes())
    assert zrun.run(f"{archive}:m", isolate=True, alter_sys=False)["X"] == "new"


def lying_member(text: str, crc: int) -> bytes:
    """A zip whose one member ``m.py`` holds ``text`` but whose headers claim CRC ``crc``."""
    path = Path(tempfile.mkdtemp()) / "z.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("m.py", text)
    data = bytearray(path.read_bytes())
    shutil.rmtree(path.parent)
    true_crc = struct.pack("<I", zlib.crc32(text.encode()))
    for offset in (14, data.rindex(b"PK\x01\x02") + 16):
        assert data[offset:offset + 4] == true_crc
        data[offset:offset + 4] = struct.pack("<I", crc)
    return bytes(data)


def test_lying_crc_in_a_replaced_archive_fails_warm_as_it_fails_cold(root: Path, tmp_path: Path) -> None:
    archive = tmp_path / "app.zip"
    old = "print('old')\n"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("m.py", old)
    env = {"ZRUN_CACHE_DIR": str(root)}
    assert cli([f"{archive}:m"], env).stdout == "old\n"
    replace_in_place(archive, lying_member("print('new')\n", zlib.crc32(old.encode())))
    cold = cli([f"{archive}:m"], {"ZRUN_NO_CACHE": "1"})
    warm = cli([f"{archive}:m"], env)
    assert cold.returncode == 1 and "bad CRC" in cold.stderr and cold.stdout == ""
    assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, cold.stdout, cold.stderr)


def test_a_member_with_a_bad_crc_is_never_stored(root: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bad.zip"
    archive.write_bytes(lying_member("print('x')\n", 0x12345678))
    for _ in range(2):
        with pytest.raises(zrun.CorruptArchive, match="bad CRC"):
            zrun.run(f"{archive}:m", isolate=True)
    assert not (root / "code").exists() or not [p for p in (root / "code").rglob("*") if p.is_file()]


def forge_crc(data: bytes, target: int) -> bytes:
    """Four bytes that, appended to ``data``, make its CRC-32 ``target`` (CRC-32 is linear)."""
    table = [0] * 256
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table[n] = c
    top = {table[n] >> 24: n for n in range(256)}
    state = zlib.crc32(data) ^ 0xFFFFFFFF
    want = target ^ 0xFFFFFFFF
    indexes = []
    for _ in range(4):  # walk the target back through four table steps
        n = top[want >> 24]
        indexes.append(n)
        want = ((want ^ table[n]) << 8) & 0xFFFFFFFF
    tail, crc = bytearray(), state
    for n in reversed(indexes):
        byte = (crc ^ n) & 0xFF
        tail.append(byte)
        crc = (crc >> 8) ^ table[n]
    return bytes(tail)


def test_zip_bytes_forged_to_look_the_same_do_not_share_code(root: Path) -> None:
    """In-memory zips are identified by content, not by a length and CRC-32 anyone can forge."""
    def with_comment(blob: bytes, comment: bytes) -> bytes:
        return blob[:-2] + struct.pack("<H", len(comment)) + comment

    genuine_text = "X = 'genuine'\n"
    genuine = with_comment(lying_member(genuine_text, zlib.crc32(genuine_text.encode())), b"\0" * 4)
    forged = lying_member("X = 'planted'\n", zlib.crc32(genuine_text.encode()))[:-2] + struct.pack("<H", 4)
    forged += forge_crc(forged, zlib.crc32(genuine))
    assert len(forged) == len(genuine) and zlib.crc32(forged) == zlib.crc32(genuine) and forged != genuine
    first = zrun.ZipSource(genuine, name="plugin")
    namespace: Dict[str, object] = {}
    exec(bytecode.compile_cached(first, "m.py", first.filename("m.py")), namespace)
    assert namespace["X"] == "genuine"
    del first
    gc.collect()  # gone: a host's next source named "plugin" gets the same root, so the same filenames
    second = zrun.ZipSource(forged, name="plugin")
    assert second.root == "<zip:plugin>"
    with pytest.raises(zrun.CorruptArchive, match="bad CRC"):  # as a cold run fails
        bytecode.compile_cached(second, "m.py", second.filename("m.py"))


@pytest.fixture(scope="module")
def extensions(tmp_path_factory: pytest.TempPathFactory) -> Dict[int, bytes]:
    return build_extensions(sys.executable, tmp_path_factory.mktemp("ext"))


SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def test_extension_replaced_in_place_loads_the_new_one(root: Path, tmp_path: Path, extensions: Dict[int, bytes]) -> None:
    archive = ext_archive(tmp_path / "app.zip", extensions[42], SUFFIX)
    env = {"ZRUN_CACHE_DIR": str(root)}
    assert cli([f"{archive}:app.main"], env).stdout == "genuine 42\n"
    replace_in_place(archive, ext_archive(tmp_path / "new.zip", extensions[43], SUFFIX).read_bytes())
    result = cli([f"{archive}:app.main"], env)
    assert result.stdout == "genuine 43\n", result.stderr


# --- 6. damaged extractions are rebuilt, writes are durable, temporaries are collected --------------------


def extracted(root: Path) -> Path:
    (found,) = [p for p in (root / "ext").rglob(f"tinyext{SUFFIX}")]
    return found


@pytest.mark.parametrize("how", ["truncated", "emptied", "one byte flipped"])
def test_damaged_extraction_is_detected_and_rebuilt(root: Path, tmp_path: Path, extensions: Dict[int, bytes], how: str) -> None:
    archive = ext_archive(tmp_path / "app.zip", extensions[42], SUFFIX)
    env = {"ZRUN_CACHE_DIR": str(root)}
    assert cli([f"{archive}:app.main"], env).stdout == "genuine 42\n"
    so = extracted(root)
    data = so.read_bytes()
    flipped = data[:100] + bytes([data[100] ^ 1]) + data[101:]
    damaged = {"truncated": data[: len(data) // 2], "emptied": b"", "one byte flipped": flipped}[how]
    so.write_bytes(damaged)
    result = cli([f"{archive}:app.main"], env)
    assert result.returncode == 0 and result.stdout == "genuine 42\n", result.stderr
    assert so.read_bytes() == extensions[42]


STRACE_EVENT = re.compile(r'^(?:\[pid +\d+\] |\d+ +)?(\w+)\((.*)\) += (-?\d+)')


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to watch the system calls")
def test_extraction_is_durable_before_and_after_the_rename(root: Path, tmp_path: Path, extensions: Dict[int, bytes]) -> None:
    """The file is fsynced before it is renamed into place, and its directory after."""
    archive = ext_archive(tmp_path / "app.zip", extensions[42], SUFFIX)
    log = tmp_path / "strace.log"
    full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    full["ZRUN_CACHE_DIR"] = str(root)
    calls = "trace=openat,fsync,fdatasync,rename,renameat,renameat2,close"
    argv = ["strace", "-f", "-o", str(log), "-e", calls, sys.executable, "-m", "zrun", f"{archive}:app.main"]
    result = subprocess.run(argv, env=full, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 and "ptrace" in result.stderr:
        pytest.skip(f"strace cannot trace here: {result.stderr.strip()[-200:]}")
    assert result.stdout == "genuine 42\n", result.stderr
    events = [m.groups() for m in map(STRACE_EVENT.match, log.read_text().splitlines()) if m]
    name = f"tinyext{SUFFIX}"
    temporary = re.compile(re.escape(name) + r'\.\d+-\d+\.tmp"')
    (opened,) = [i for i, (call, args, _) in enumerate(events) if call == "openat" and temporary.search(args) and "O_CREAT" in args]
    tmp_fd = events[opened][2]
    (renamed,) = [i for i, (call, args, _) in enumerate(events) if call.startswith("rename") and ".tmp" in args and name in args]
    syncs = ("fsync", "fdatasync")
    synced_file = [i for i, (call, args, _) in enumerate(events[:renamed]) if call in syncs and args == tmp_fd and i > opened]
    assert synced_file, "the extracted file is fsynced before the rename"
    directory_fds = {ret for call, args, ret in events[renamed:] if call == "openat" and "O_DIRECTORY" in args}
    assert [1 for call, args, _ in events[renamed:] if call in syncs and args in directory_fds], "its directory is fsynced after it"


def write_temporaries(root: Path, folder: Path) -> Dict[str, Path]:
    shard = next(p for p in (root / "code").iterdir() if p.is_dir())
    made = {
        "code": shard / f"{'a' * 38}.{os.getpid()}-{12345}.tmp",
        "index": next(p for p in (root / "index").iterdir() if p.is_dir()) / f"{'b' * 38}.1-2.tmp",
        "in an extraction": folder / "pkg" / "_ext.so.77-88.tmp",
        "deleted folder": root / "ext" / f"{'c' * 40}.4242.del",
    }
    for what, path in made.items():
        if what == "deleted folder":
            path.mkdir()
            (path / "left.so").write_bytes(b"x")
        else:
            path.write_bytes(b"half written")
    return made


@pytest.mark.parametrize("minutes", [5, 60])
def test_prune_collects_stale_temporaries(root: Path, minutes: int) -> None:
    cache.store_code(cache.code_key("id", "m.py", 1, 2), compile("", "m", "exec"))
    cache.store_index("id", b"index")
    folder = Path(extract.extract("id", {"pkg/_ext.so": lambda: b"x"}))
    made = write_temporaries(root, folder)
    foreign = folder / "pkg" / "notes.tmp"  # not zrun's temporary-name format
    foreign.write_bytes(b"")
    then = time.time() - minutes * 60
    for path in [*made.values(), foreign]:
        os.utime(path, (then, then))
    cacheadmin.prune(30)
    left = {what for what, path in made.items() if path.exists()}
    assert left == (set(made) if minutes < 10 else set()), "temporaries go once they are older than ten minutes"
    assert (folder / "pkg" / "_ext.so").exists() and foreign.exists()


def test_clear_collects_every_temporary(root: Path) -> None:
    cache.store_code(cache.code_key("id", "m.py", 1, 2), compile("", "m", "exec"))
    cache.store_index("id", b"index")
    folder = Path(extract.extract("id", {"pkg/_ext.so": lambda: b"x"}))
    made = write_temporaries(root, folder)
    cacheadmin.clear()
    assert [what for what, path in made.items() if path.exists()] == []


KILLED = """
import os, sys, time
from zrun.cache import store as cache
from zrun.loading import extraction as extract
assert cache.directory()  # the cache and its tag exist: the write killed is the extraction's
def slow(fd, data):
    os.write(fd, bytes(data[:1000]))
    print("writing", flush=True)
    time.sleep(60)
cache.write_all = slow
extract.extract("id", {"pkg/_ext.so": lambda: b"x" * 4_000_000})
"""


@posix_only
def test_a_sigkilled_extraction_leaves_a_temporary_that_prune_collects(root: Path) -> None:
    full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    full["ZRUN_CACHE_DIR"] = str(root)
    with subprocess.Popen([sys.executable, "-c", KILLED], env=full, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None and child.stdout.readline() == "writing\n"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    (left,) = [p for p in root.rglob("*.tmp")]
    assert re.fullmatch(r"_ext\.so\.\d+-\d+\.tmp", left.name)
    assert cacheadmin.prune(30) == (0, 0) and left.exists(), "a temporary being written is not collected"
    then = time.time() - 3600
    os.utime(left, (then, then))
    count, _ = cacheadmin.prune(30)
    assert count == 1 and not left.exists()


# --- the non-POSIX fallback: no dir_fd, paths as today ---------------------------------------------------


def test_without_dir_fd_the_cache_still_works(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zrun.cache import root as cacheroot

    monkeypatch.setattr(cacheroot, "HAVE_DIR_FD", False)
    cache.reset()
    key = cache.code_key("id", "m.py", 1, 2)
    cache.store_code(key, compile("X = 1", "m", "exec"))
    assert cache.load_code(key) is not None
    folder = Path(extract.extract("id", {"pkg/_ext.so": lambda: b"x"}))
    assert (folder / "pkg" / "_ext.so").read_bytes() == b"x"
    assert cacheadmin.clear()[0] == 3  # the code entry, the extraction folder and its lock
    assert not folder.exists()


# --- 1. other local users --------------------------------------------------------------------------------


class Users(NamedTuple):
    victim: int
    attacker: int
    victim_gid: int
    attacker_gid: int
    python: str
    base: Path


def _runnable_by(uid: int, gid: int, python: str) -> bool:
    try:
        probe = subprocess.run([python, "-c", "import zrun, sys; assert sys.version_info >= (3, 9)"], env={"PYTHONPATH": SRC},
                               user=uid, group=gid, extra_groups=[], capture_output=True, timeout=60)
    except OSError:
        return False
    return probe.returncode == 0


@pytest.fixture
def users() -> Iterator[Users]:
    """A victim and an attacker: two throwaway users, removed afterwards, and a shared folder under /tmp."""
    if not is_root:
        pytest.skip("needs root to create a second and a third user")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("needs useradd and userdel")
    import pwd

    tag = uuid.uuid4().hex[:8]
    names = [f"zrunv{tag}", f"zruna{tag}"]
    created = []
    base = Path(tempfile.mkdtemp(prefix="zrun-trust-", dir="/tmp"))
    try:
        for name in names:
            add = ["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group", name]
            subprocess.run(add, check=True, capture_output=True, timeout=60)
            created.append(name)
        victim, attacker = (pwd.getpwnam(name) for name in names)
        base.chmod(0o1777)  # like /tmp: anyone may create, nobody may rename another's entries
        candidates = (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3")
        python = next((p for p in candidates if os.path.isfile(p) and _runnable_by(victim.pw_uid, victim.pw_gid, p)), None)
        if python is None:
            pytest.skip("no interpreter that the throwaway user may run (the test interpreter lives below /root)")
        yield Users(victim.pw_uid, attacker.pw_uid, victim.pw_gid, attacker.pw_gid, python, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        for name in created:
            subprocess.run(["userdel", name], capture_output=True, timeout=60)


def as_user(users: Users, who: str, argv: List[str], env: Dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    uid, gid = (users.victim, users.victim_gid) if who == "victim" else (users.attacker, users.attacker_gid)
    full = {"PATH": "/usr/bin:/bin", "PYTHONPATH": SRC, "HOME": "/nonexistent", "LC_ALL": "C.UTF-8", **env}
    return subprocess.Popen(argv, env=full, user=uid, group=gid, extra_groups=[], text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def run_as(users: Users, who: str, argv: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    with as_user(users, who, argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


PLANT = """
import os, sys, zipfile
from zrun import ZipSource
from zrun.cache import packs, packwrite
from zrun.cache import store as cache
from zrun.loading import extraction as extract
archive, planted_so = sys.argv[1], sys.argv[2]
source = ZipSource(archive)
with zipfile.ZipFile(archive) as z:
    names = [n for n in z.namelist() if n.endswith(".py")]
for name in names:
    filename = source.filename(name)
    key = packs.key_for(source, name, filename)
    packwrite.store_code(key, compile("print('PLANTED code')", filename, "exec"))
for so in [n for n in ZipSource(archive).files() if n.endswith(sys.argv[3]) and planted_so != "-"]:
    extract.extract(source.identity(), {so: lambda: open(planted_so, "rb").read()})
packwrite.flush()  # the code pack now, not at exit: the modes below must cover it
for dirpath, dirnames, filenames in os.walk(cache.directory()):
    for name in dirnames + filenames:
        os.chmod(os.path.join(dirpath, name), 0o755)
os.chmod(cache.directory(), 0o755)
print(cache.directory())
"""


class App(NamedTuple):
    archive: Path
    planted: str  # the attacker's build of the extension, or "-" without a compiler
    suffix: str
    expected: str  # what a genuine run prints


def victim_app(users: Users, extension: bool = True) -> App:
    """The victim's archive (its extension answers 42) and the attacker's build (43), both readable by all.

    Without a C compiler the archive holds code only (``extension=False`` too):
    the attacks on code entries still run, only the planted extension is left out.
    """
    suffix = subprocess.run([users.python, "-c", "import importlib.machinery as m; print(m.EXTENSION_SUFFIXES[0])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    try:
        built = build_extensions(users.python, users.base) if extension else None
    except pytest.skip.Exception:
        built = None
    if built is None:
        archive = users.base / "app.zip"
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("app/__init__.py", "")
            z.writestr("app/main.py", "print('genuine')\n")
        archive.chmod(0o644)
        return App(archive, "-", suffix, "genuine\n")
    archive = ext_archive(users.base / "app.zip", built[42], suffix)
    planted = users.base / "planted.so"
    planted.write_bytes(built[43])
    for path in (archive, planted):
        path.chmod(0o644)
    return App(archive, str(planted), suffix, "genuine 42\n")


def plant(users: Users, where: Path, app: App) -> None:
    """As the attacker: a cache at ``where`` holding code and an extension keyed for the victim's archive."""
    argv = [users.python, "-c", PLANT, str(app.archive), app.planted, app.suffix]
    result = run_as(users, "attacker", argv, {"ZRUN_CACHE_DIR": str(where)})
    assert result.returncode == 0 and result.stdout.strip() == str(where), result.stderr


HOST = """
import sys, zrun
from zrun.cache import store as cache
print(cache.directory(), flush=True)
zrun.run(sys.argv[1], isolate=True)
sys.stdout.flush()
sys.stdin.readline()  # the attacker moves now
zrun.run(sys.argv[1], isolate=True)
"""


def test_parent_owner_swaps_the_checked_cache_directory(users: Users) -> None:
    """A long-running host: after its check, the owner of the cache's parent moves in a planted cache."""
    app = victim_app(users)
    archive = app.archive
    team = users.base / "team"
    team.mkdir()
    os.chown(team, users.attacker, users.attacker_gid)
    team.chmod(0o1777)  # the attacker's shared folder: sticky, but the owner of a sticky folder may rename anything in it
    where = team / "zrun"
    env = {"ZRUN_CACHE_DIR": str(where)}
    with as_user(users, "victim", [users.python, "-c", HOST, f"{archive}:app.main"], env,
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as host:
        assert host.stdout is not None and host.stdin is not None
        host.stdout.readline()
        first = host.stdout.readline()
        decoy = users.base / "decoy"
        plant(users, decoy, app)
        swap = "import os, sys\nif os.path.exists(sys.argv[2]):\n    os.rename(sys.argv[2], sys.argv[2] + '.old')\n"
        swap += "os.rename(sys.argv[1], sys.argv[2])"
        moved = run_as(users, "attacker", [users.python, "-c", swap, str(decoy), str(where)], {})
        assert moved.returncode == 0, moved.stderr
        out, err = host.communicate("go\n", timeout=120)
    assert first == app.expected, err
    assert out == app.expected and host.returncode == 0, err
    assert err.count("zrun: warning: not using cache directory") == 1, err


FLIP = """
import os, sys, time
link, targets, deadline = sys.argv[1], sys.argv[2:], time.monotonic() + 60
n = 0
while time.monotonic() < deadline and not os.path.exists(link + ".stop"):
    tmp = f"{link}.{n % 2}"
    os.symlink(targets[n % 2], tmp)
    os.rename(tmp, link)
    n += 1
"""


def test_flipping_symlink_to_the_cache_never_runs_planted_code(users: Users) -> None:
    """``ZRUN_CACHE_DIR`` is a link in a sticky folder that its owner flips between the victim's cache and a planted one."""
    app = victim_app(users)
    archive = app.archive
    genuine = users.base / "victim-cache"
    warm = run_as(users, "victim", [users.python, "-m", "zrun", f"{archive}:app.main"], {"ZRUN_CACHE_DIR": str(genuine)})
    assert warm.stdout == app.expected and warm.stderr == "", warm.stderr
    decoy = users.base / "planted-cache"
    plant(users, decoy, app)
    link = users.base / "flip"
    flipper = as_user(users, "attacker", [users.python, "-c", FLIP, str(link), str(genuine), str(decoy)], {})
    try:
        deadline = time.monotonic() + 10
        while not link.is_symlink() and time.monotonic() < deadline:
            time.sleep(0.01)
        argv = [users.python, "-m", "zrun", f"{archive}:app.main"]
        outputs = [run_as(users, "victim", argv, {"ZRUN_CACHE_DIR": str(link)}) for _ in range(12)]
    finally:
        flipper.kill()
        flipper.wait(timeout=30)
    assert [r.stdout for r in outputs] == [app.expected] * 12, [r.stdout + r.stderr for r in outputs]


def test_subdirectories_owned_by_another_user_are_not_trusted(users: Users) -> None:
    """The victim's own 0700 cache, once writable by others, still holds the attacker's ``code`` and ``ext`` folders."""
    app = victim_app(users)
    archive = app.archive
    where = users.base / "victim-cache"
    decoy = users.base / "planted-cache"
    plant(users, decoy, app)
    probe = [users.python, "-c", "from zrun.cache import store; print(store.directory())"]
    first = run_as(users, "victim", probe, {"ZRUN_CACHE_DIR": str(where)})
    assert first.stdout.strip() == str(where), first.stderr
    for kind in ("code", "ext"):
        if (decoy / kind).exists():
            os.rename(decoy / kind, where / kind)  # the attacker's folders, still owned by the attacker
    result = run_as(users, "victim", [users.python, "-m", "zrun", f"{archive}:app.main"], {"ZRUN_CACHE_DIR": str(where)})
    assert result.returncode == 0 and result.stdout == app.expected, result.stderr
    assert result.stderr.count("zrun: warning: not using cache directory") == 1, result.stderr


def test_untrusted_temporary_folder_is_not_used_for_extraction(users: Users) -> None:
    """Without a cache, extensions go to a private folder; one below a folder another user owns is refused."""
    app = victim_app(users, extension=False)
    archive = ext_archive(users.base / "ext.zip", b"\x7fELF, never loaded: the extraction is refused first", app.suffix)
    archive.chmod(0o644)
    team = users.base / "team-tmp"
    team.mkdir()
    os.chown(team, users.attacker, users.attacker_gid)
    team.chmod(0o777)
    result = run_as(users, "victim", [users.python, "-m", "zrun", f"{archive}:app.main"], {"ZRUN_NO_CACHE": "1", "TMPDIR": str(team)})
    assert result.stdout == "" and result.returncode == 1, result
    assert "ExtensionInArchive" in result.stderr and "could not be extracted" in result.stderr and str(team) in result.stderr
    assert os.listdir(team) == []


# --- the walk, as any user can check it --------------------------------------------------------------------


@posix_only
def test_a_folder_above_the_cache_writable_by_others_refuses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky: anyone may rename the cache away
    monkeypatch.setenv("ZRUN_CACHE_DIR", str(shared / "zrun"))
    cache.reset()
    assert cache.directory() is None and not (shared / "zrun").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{shared} is writable by others (mode 777)" in err
    shared.chmod(0o1777)  # sticky, and ours: nobody else may rename what we put there
    cache.reset()
    assert cache.directory() == str(shared / "zrun")
    cache.reset()


@posix_only
def test_a_link_of_our_own_to_the_cache_is_resolved_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "disk" / "zrun"
    (tmp_path / "disk").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "disk")
    monkeypatch.setenv("ZRUN_CACHE_DIR", str(tmp_path / "link" / "zrun"))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    cache.reset()
    assert cache.directory() == str(real)
    key = cache.code_key("id", "m.py", 1, 2)
    cache.store_code(key, compile("", "m", "exec"))
    (tmp_path / "link").unlink()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")  # changed after the check: the descriptor still holds the real one
    assert cache.load_code(key) is not None
    assert [p.name for p in (real / "code").iterdir()] == [key[:2]]
    cache.reset()


@posix_only
def test_the_filesystem_root_is_never_a_cache(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZRUN_CACHE_DIR", "/")
    cache.reset()
    assert cache.directory() is None
    assert "not using cache directory /: / itself cannot be a cache" in capsys.readouterr().err
    cache.reset()
