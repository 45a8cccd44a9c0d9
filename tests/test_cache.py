"""The cache directory: where it is, when it is refused, and that it never makes a run fail.

Also the entries (code, archive indexes) against damage, and the extraction of
native extensions against races and hostile names. Subprocesses are used where
the behaviour is per process (one warning, 20 concurrent first runs, ``-O``).
"""

from __future__ import annotations

import contextlib
import errno
import importlib.machinery
import importlib.util
import marshal
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
import zlib
from pathlib import Path
from subprocess import PIPE
from typing import Dict, Iterator, List, Tuple

import pytest

import zrun
import zrun.cache
from zrun.cache import packs
from zrun.cache import store as cache
from zrun.cli import cacheadmin
from zrun.loading import extensions as extensions_module
from zrun.loading import extraction as extract
from zrun.loading.extraction import UnsafeMember
from zrun.zip.archive import clear_cache

is_root = hasattr(os, "geteuid") and os.geteuid() == 0
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX ownership and modes")


def reset() -> None:
    cache.reset()
    extract._touched.clear()


def python(code: str, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    full.pop("PYTHONPATH", None)
    full.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run([sys.executable, *args, "-c", textwrap.dedent(code)], env=full, capture_output=True, text=True, timeout=120)


def some_code(text: str = "x = 1\n") -> object:
    return compile(text, "<test>", "exec")


def entries(where: Path, kind: str) -> List[Path]:
    return sorted(p for p in (where / kind).rglob("*") if p.is_file())


# --- location and permissions ---------------------------------------------------


def test_default_locations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ZRUN_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and sys.platform != "darwin":
        assert cache.location() == str(tmp_path / "xdg" / "zrun")
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec says: ignore relative paths
        assert cache.location() == str(tmp_path / ".cache" / "zrun")
        monkeypatch.setattr(sys, "platform", "darwin")
        assert cache.location() == str(tmp_path / "Library" / "Caches" / "zrun")
    monkeypatch.setenv("ZRUN_CACHE_DIR", str(tmp_path / "explicit"))
    assert cache.location() == str(tmp_path / "explicit")


@posix_only
def test_created_private(root: Path) -> None:
    assert cache.directory() == str(root)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert (root / "CACHEDIR.TAG").read_bytes().startswith(b"Signature: 8a477f597d28d172789f06886806bc55")
    cache.store_code(cache.code_key("id", "m.py", 1, 2), some_code())  # type: ignore[arg-type]
    for folder in (root / "code", *(root / "code").iterdir()):
        assert not folder.stat().st_mode & 0o022


@posix_only
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_other_writable_refused_with_one_warning(root: Path, mode: int, capsys: pytest.CaptureFixture[str]) -> None:
    root.mkdir()
    root.chmod(mode)
    key = cache.code_key("id", "m.py", 1, 2)
    cache.store_code(key, some_code())  # type: ignore[arg-type]
    assert cache.load_code(key) is None
    assert cache.directory() is None
    assert not (root / "code").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "writable by others" in err and str(root) in err


@posix_only
def test_other_writable_still_runs_in_a_fresh_process(root: Path) -> None:
    root.mkdir()
    root.chmod(0o777)
    result = python(
        """
        from zrun.cache import store as cache
        for n in range(3):
            key = cache.code_key("id", "m.py", n, 1)
            cache.store_code(key, compile("", "m", "exec"))
            assert cache.load_code(key) is None
        print("ran")
        """,
        {"ZRUN_CACHE_DIR": str(root)},
    )
    assert result.returncode == 0 and result.stdout == "ran\n"
    assert result.stderr.count("zrun: warning:") == 1, result.stderr


@pytest.mark.skipif(not is_root, reason="needs root to give the directory to another uid")
def test_other_owner_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root.mkdir(mode=0o700)
    os.chown(root, 4242, -1)
    assert cache.directory() is None
    assert "owned by uid 4242" in capsys.readouterr().err


def test_no_cache_variable(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZRUN_NO_CACHE", "1")
    reset()
    assert cache.directory() is None
    assert packs.key_for(zrun.MemorySource({"m.py": "x = 1"}), "m.py", "<m>/m.py") is None
    cache.store_index("id", b"data")
    assert not root.exists()
    monkeypatch.setenv("ZRUN_NO_CACHE", "0")  # "0" means "not disabled"
    reset()
    assert cache.directory() == str(root)


def test_no_bytecode_flag_stops_code_writes_only(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = cache.code_key("id", "m.py", 1, 2)
    cache.store_code(key, some_code())  # type: ignore[arg-type]
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # python -B, PYTHONDONTWRITEBYTECODE=1
    other = cache.code_key("id", "n.py", 1, 2)
    cache.store_code(other, some_code())  # type: ignore[arg-type]
    cache.store_index("id", b"index")
    assert cache.load_code(key) is not None and cache.load_code(other) is None
    assert cache.load_index("id") is not None


# --- read-only and full disks: slower, never failing ------------------------------


def test_unreachable_directory_is_silently_uncached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path below a regular file can never be created, even by root."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("ZRUN_CACHE_DIR", str(blocker / "cache"))
    reset()
    key = cache.code_key("id", "m.py", 1, 2)
    cache.store_code(key, some_code())  # type: ignore[arg-type]
    assert cache.load_code(key) is None and cache.directory() is None
    assert capsys.readouterr().err == ""


@posix_only
@pytest.mark.skipif(is_root, reason="root writes through mode 0500; the unreachable-path and full-disk tests cover this")
def test_read_only_directory(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = cache.code_key("id", "m.py", 1, 2)
    cache.store_code(key, some_code())  # type: ignore[arg-type]
    for folder in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        folder.chmod(0o500)
    try:
        assert cache.load_code(key) is not None  # what is there still serves
        other = cache.code_key("id", "n.py", 1, 2)
        cache.store_code(other, some_code())  # type: ignore[arg-type]
        assert cache.load_code(other) is None
    finally:
        for folder in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
            folder.chmod(0o700)
    assert capsys.readouterr().err == ""


def test_full_disk(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[int] = []

    def no_space(fd: int, data: object) -> int:
        calls.append(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    key = cache.code_key("id", "m.py", 1, 2)
    cache.directory()
    monkeypatch.setattr(os, "write", no_space)
    cache.store_code(key, some_code())  # type: ignore[arg-type]
    cache.store_code(cache.code_key("id", "n.py", 1, 2), some_code())  # type: ignore[arg-type]
    monkeypatch.undo()
    assert cache.load_code(key) is None
    assert not [p for p in root.rglob("*.tmp")], "temporary file left behind"
    assert len(calls) == 1, "a folder that refused a write is not tried again in this process"


# --- entries: keys, damage, concurrency -----------------------------------------


def test_code_round_trip_and_keys(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = compile("def f():\n    return 42\n", "/a.zip/m.py", "exec")
    key = cache.code_key("zip:/a.zip:1,2,3,4:", "/a.zip/m.py", 0xDEAD, 31)
    cache.store_code(key, code)
    loaded = cache.load_code(key)
    assert loaded is not None and marshal.dumps(loaded) == marshal.dumps(code)
    others = {
        cache.code_key("zip:/a.zip:1,2,3,5:", "/a.zip/m.py", 0xDEAD, 31),  # the archive changed
        cache.code_key("zip:/a.zip:1,2,3,4:", "/b.zip/m.py", 0xDEAD, 31),  # another filename
        cache.code_key("zip:/a.zip:1,2,3,4:", "/a.zip/m.py", 0xBEEF, 31),  # another CRC
    }
    monkeypatch.setattr(zrun.cache, "_SALT", b"0.2.0\0cpython-399\0")  # another zrun or interpreter
    others.add(cache.code_key("zip:/a.zip:1,2,3,4:", "/a.zip/m.py", 0xDEAD, 31))
    assert key not in others and len(others) == 4


def test_optimisation_level_is_part_of_the_key(root: Path) -> None:
    code = "from zrun.cache import store; print(store.code_key('id', 'm.py', 1, 2))"
    env = {"ZRUN_CACHE_DIR": str(root)}
    keys = {python(code, env, *flags).stdout for flags in ([], ["-O"], ["-OO"])}
    assert len(keys) == 3


def test_zip_key_comes_from_the_index(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pkg/m.py", "x = 1\n")
    source = zrun.ZipSource(str(archive))
    monkeypatch.setattr(source, "read", lambda name: pytest.fail("a zip member's key must not read it"))
    key = packs.key_for(source, "pkg/m.py", source.filename("pkg/m.py"))
    again = zrun.ZipSource(str(archive))
    assert key is not None and key == packs.key_for(again, "pkg/m.py", again.filename("pkg/m.py"))
    time.sleep(0.01)
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pkg/m.py", "x = 2\n")
    clear_cache()
    changed = zrun.ZipSource(str(archive))
    assert packs.key_for(changed, "pkg/m.py", changed.filename("pkg/m.py")) != key


def test_memory_key_is_a_content_hash(root: Path) -> None:
    a = zrun.MemorySource({"m.py": "x = 1\n"}, name="a")
    b = zrun.MemorySource({"m.py": "x = 2\n"}, name="b")
    key_a, key_b = (packs.key_for(s, "m.py", "<memory:p>/m.py") for s in (a, b))
    assert key_a != key_b
    assert key_a == packs.key_for(zrun.MemorySource({"m.py": "x = 1\n"}), "m.py", "<memory:p>/m.py")


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(
        {
            "empty": b"",
            "header only": data[:16],
            "truncated": data[: len(data) // 2],
            "one byte off": data[:-1],
            "flipped": data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:],
            "magic": b"XXXX" + data[4:],
            "garbage": os.urandom(len(data)),
        }[how]
    )


@pytest.mark.parametrize("how", ["empty", "header only", "truncated", "one byte off", "flipped", "magic", "garbage"])
def test_damaged_entry_is_ignored_then_rewritten(root: Path, how: str) -> None:
    key = cache.code_key("id", "m.py", 1, 2)
    cache.store_code(key, compile("VALUE = 'a fairly long constant string'\n" * 3, "m.py", "exec"))  # type: ignore[arg-type]
    (entry,) = entries(root, "code")
    damage(entry, how)
    assert cache.load_code(key) is None
    cache.store_code(key, some_code())  # type: ignore[arg-type]
    assert cache.load_code(key) is not None


def test_intact_entry_holding_no_code(root: Path) -> None:
    cache.store("code", "ab" * 20, marshal.dumps(42))
    cache.store("code", "cd" * 20, b"\xff not marshal")
    assert cache.load_code("ab" * 20) is None and cache.load_code("cd" * 20) is None


def test_index_round_trip(root: Path) -> None:
    cache.store_index("zip:/a.zip:1,2,3,4", b"index bytes")
    loaded = cache.load_index("zip:/a.zip:1,2,3,4")
    assert loaded is not None and bytes(loaded) == b"index bytes"
    assert cache.load_index("zip:/a.zip:1,2,3,5") is None
    (entry,) = entries(root, "index")
    damage(entry, "flipped")
    assert cache.load_index("zip:/a.zip:1,2,3,4") is None


def test_threads_storing_one_key(root: Path) -> None:
    key = cache.code_key("id", "m.py", 1, 2)
    errors: List[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                cache.store_code(key, some_code())  # type: ignore[arg-type]
                assert cache.load_code(key) is not None
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(entries(root, "code")) == 1


def test_import_is_cheap() -> None:
    heavy = "{'hashlib', 'tempfile', 'shutil', 'zlib', 'typing'}"
    result = python(f"import sys, zrun.cache.store; print(sorted({heavy} & set(sys.modules)))", {})
    assert result.stdout == "[]\n", result.stderr


# --- native extensions --------------------------------------------------------------


def test_extract_once(root: Path) -> None:
    reads: List[str] = []

    def reader(name: str, data: bytes) -> extract.Wanted:  # as a zip member: size and CRC from the index
        return extract.Wanted(len(data), zlib.crc32(data), lambda: reads.append(name) or data)

    members = {"pkg/_ext.so": reader("ext", b"\x7fELF"), "pkg.libs/libdep.so.1": reader("dep", b"dep")}
    folder = Path(extract.extract("zip:/a.zip:1,2,3,4:", members))
    assert (folder / "pkg" / "_ext.so").read_bytes() == b"\x7fELF"
    assert (folder / "pkg.libs" / "libdep.so.1").read_bytes() == b"dep"
    assert folder.parent == root / "ext"
    assert extract.extract("zip:/a.zip:1,2,3,4:", members) == str(folder)
    assert sorted(reads) == ["dep", "ext"], "a second call must not read again"
    assert extract.extract("zip:/a.zip:1,2,3,5:", members) != str(folder)


@pytest.mark.parametrize(
    "name",
    ["../evil.so", "/etc/evil.so", "pkg/../../evil.so", "a//b.so", "C:/evil.so", "c:evil.so", "..\\..\\evil.so", "", "pkg/./x.so", "a\0b"],
)
def test_traversal_refused(root: Path, name: str) -> None:
    with pytest.raises(UnsafeMember):
        extract.extract("id", {"good.so": lambda: b"ok", name: lambda: b"evil"})
    assert not (root / "ext").exists() or not list((root / "ext").iterdir())
    assert isinstance(UnsafeMember("x", "y"), ImportError)


CONCURRENT = """
import sys, time, zlib
from zrun.loading import extraction as extract
log = sys.argv[1]

def read():
    with open(log, "a") as f:
        f.write("extracted\\n")
    time.sleep(0.3)
    return b"payload"

sys.stdin.read()  # wait for the start signal
wanted = {"pkg/_ext.so": extract.Wanted(7, zlib.crc32(b"payload"), read)}
wanted["pkg.libs/a.so"] = extract.Wanted(1, zlib.crc32(b"a"), lambda: b"a")
print(extract.extract("zip:/same.zip:1,2,3,4:", wanted))  # sizes and CRCs from an index, as for a zip member
"""


@pytest.mark.skipif(os.name != "posix", reason="flock; elsewhere the rename alone keeps it correct")
def test_twenty_concurrent_first_runs(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "log"
    env = {**os.environ, "ZRUN_CACHE_DIR": str(root)}
    env.pop("PYTHONPATH", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(log)], env=env, stdin=PIPE, stdout=PIPE, stderr=PIPE, text=True
        )
        for _ in range(20)
    ]
    time.sleep(0.5)  # all interpreters up, then released together
    outcomes = [p.communicate("go", timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [err for _, err in outcomes]
    assert len({out for out, _ in outcomes}) == 1
    assert log.read_text().count("extracted") == 1
    left = sorted(p.name for p in (root / "ext").iterdir())
    assert len(left) == 2 and left[1] == left[0] + ".lock", left


HOLD = "fcntl.flock(fd, fcntl.LOCK_EX); print(1, flush=True); time.sleep(60)"


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_stale_and_slow_lock_holders(root: Path) -> None:
    folder_name = extract.folder_key("id")
    assert cache.directory() == str(root)
    (root / "ext").mkdir()
    lock = str(root / "ext" / folder_name) + ".lock"
    command = [sys.executable, "-c", f"import fcntl, os, time; fd = os.open({lock!r}, os.O_RDWR | os.O_CREAT); {HOLD}"]
    with subprocess.Popen(command, stdout=subprocess.PIPE) as holder:
        assert holder.stdout is not None and holder.stdout.readline()
        start = time.monotonic()
        folder = extract.extract("id", {"m.so": lambda: b"x"}, timeout=0.3)  # a holder that hangs: go on after the timeout
        assert 0.25 < time.monotonic() - start < 10 and Path(folder, "m.so").read_bytes() == b"x"
        holder.kill()
    start = time.monotonic()
    assert extract.extract("id2", {"m.so": lambda: b"y"}, timeout=30)  # a dead holder's lock is gone with it
    assert extract.extract("id", {"m.so": lambda: b"y"}, timeout=30) == folder
    assert time.monotonic() - start < 5


def test_extract_without_cache_uses_a_private_folder_removed_at_exit(tmp_path: Path) -> None:
    result = python(
        """
        import os
        from zrun.loading import extraction as extract
        folder = extract.extract("id", {"m.so": lambda: b"x"})
        print(folder)
        assert open(os.path.join(folder, "m.so"), "rb").read() == b"x"
        """,
        {"ZRUN_NO_CACHE": "1", "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(tmp_path)
    assert not Path(result.stdout.strip()).exists()


def test_extension_members_and_import(root: Path, tmp_path: Path) -> None:
    spec = importlib.util.find_spec("xxlimited")
    if spec is None or not spec.origin or not spec.origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
        pytest.skip("this Python has no xxlimited extension to copy")
    archive = tmp_path / "app.zip"
    leaf = os.path.basename(spec.origin)
    with zipfile.ZipFile(archive, "w") as z:
        z.write(spec.origin, leaf)
        z.writestr("xxlimited.libs/libdep.so", b"dep")  # auditwheel's folder
        z.writestr("other/module.py", "")
        z.writestr("other/big.bin", b"not extracted")
    source = zrun.ZipSource(str(archive))
    assert sorted(extensions_module.extension_members(source, leaf)) == sorted([leaf, "xxlimited.libs/libdep.so"])
    result = python(
        f"""
        import importlib.util, zrun
        from zrun.loading.extensions import extension_spec
        spec = extension_spec(zrun.ZipSource({str(archive)!r}), "xxlimited", {leaf!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(module.__file__)
        print(module.Xxo().demo(None) if hasattr(module, "Xxo") else None)
        """,
        {"ZRUN_CACHE_DIR": str(root)},
    )
    assert result.returncode == 0, result.stderr
    where = Path(result.stdout.splitlines()[0])
    assert where.parent.parent == root / "ext" and where.name == leaf
    assert sorted(p.name for p in where.parent.rglob("*")) == sorted([leaf, "xxlimited.libs", "libdep.so"])


# --- info, prune, clear --------------------------------------------------------------


def fill(root: Path) -> None:
    for n in range(3):
        cache.store_code(cache.code_key("id", f"m{n}.py", n, 1), some_code())  # type: ignore[arg-type]
    cache.store_index("zip:/a.zip", b"x" * 100)
    extract.extract("id", {"pkg/_ext.so": lambda: b"y" * 1000})


def age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then))


def test_info(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cacheadmin.info()["status"] == "not created yet"
    fill(root)
    report = cacheadmin.info()
    assert report["path"] == str(root) and report["status"] == "in use"
    assert report["code"][0] == 3 and report["index"] == [1, 116] and report["ext"][0] == 2  # folder + lock
    assert report["ext"][1] >= 1000
    assert cacheadmin.main(["info"]) == 0
    out = capsys.readouterr().out
    assert str(root) in out and "code" in out and "ext" in out


def test_prune(root: Path) -> None:
    fill(root)
    old = entries(root, "code")[0]
    (folder,) = [p for p in (root / "ext").iterdir() if p.is_dir()]
    age(old, 40)
    age(folder, 40)
    count, freed = cacheadmin.prune(30)
    assert count == 2 and freed >= 1000
    assert not old.exists() and not folder.exists()
    assert len(entries(root, "code")) == 2 and len(entries(root, "index")) == 1
    assert cacheadmin.prune(30) == (0, 0)


def test_reused_extraction_is_not_pruned(root: Path) -> None:
    folder = Path(extract.extract("id", {"m.so": lambda: b"x"}))
    age(folder, 40)
    extract._touched.clear()  # as in a later process
    assert extract.extract("id", {"m.so": lambda: b"x"}) == str(folder)
    assert cacheadmin.prune(30) == (0, 0) and folder.exists()


def test_clear_only_touches_its_own_folders(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(root)
    (root / "my-notes.txt").write_text("keep me")  # e.g. ZRUN_CACHE_DIR=~ by mistake
    (root / "mine").mkdir()
    assert cacheadmin.main(["clear"]) == 0
    assert "removed 6 entries" in capsys.readouterr().out
    assert entries(root, "code") == entries(root, "index") == [] and list((root / "ext").iterdir()) == []
    assert (root / "my-notes.txt").read_text() == "keep me" and (root / "mine").is_dir()


def test_cli_arguments(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(root)
    assert cacheadmin.main(["prune", "--older-than", "0"]) == 0
    assert "removed 6 entries" in capsys.readouterr().out
    for bad in (["prune", "--older-than"], ["prune", "--older-than", "soon"], ["prune", "7"], ["wipe"], ["info", "x"]):
        assert cacheadmin.main(bad) == 2, bad
        assert "usage: zrun cache" in capsys.readouterr().err


def test_cache_command_help_and_errors_through_the_cli(root: Path) -> None:
    env = {"ZRUN_CACHE_DIR": str(root)}
    helped = zrun_cli(["cache", "--help"], env)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: zrun cache info | prune")
    for bad in (["cache", "bogus"], ["cache", "prune", "--older-than", "-1"], ["cache", "clear", "now"]):
        result = zrun_cli(bad, env)
        assert result.returncode == 2, bad
        assert result.stderr.startswith("usage: zrun cache") and "zrun: error: bad cache command" in result.stderr
    (root.parent / "mods").mkdir()
    (root.parent / "mods" / "cache.py").write_text("print('a module called cache')\n")
    named = zrun_cli(["--path", str(root.parent / "mods"), "-m", "cache"], env)
    assert named.returncode == 0 and named.stdout == "a module called cache\n", named.stderr


# --- the cache in use: compiled code, archive indexes, extensions ------------------------------

COUNTING = """
import sys
prefix, compiled = sys.argv[1], []

def hook(event, args):
    if event == "compile" and isinstance(args[1], str) and args[1].startswith(prefix):
        compiled.append(args[1])

sys.addaudithook(hook)
from zrun.cli.main import main
status = main(sys.argv[2:])
sys.stderr.write(f"compiled: {len(compiled)}\\n")
raise SystemExit(status)
"""

APP = {
    "app/__init__.py": "from . import helper\n",
    "app/helper.py": "def greet(who):\n    return f'hello {who}'\n",
    "app/main.py": "import sys\nfrom app.helper import greet\nprint(greet(sys.argv[1] if len(sys.argv) > 1 else 'zip'))\n",
}


def script(code: str, env: Dict[str, str], *args: str, flags: Tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``python [flags] -c code args...`` in a fresh interpreter, with ``env`` added."""
    full = {**os.environ, **env}
    full.pop("PYTHONPATH", None)
    full.pop("PYTHONDONTWRITEBYTECODE", None)
    argv = [sys.executable, *flags, "-c", textwrap.dedent(code), *args]
    return subprocess.run(argv, env=full, capture_output=True, text=True, timeout=120)


def zrun_counting(prefix: str, args: List[str], env: Dict[str, str], *flags: str) -> Tuple[subprocess.CompletedProcess[str], int]:
    """Run the CLI in a fresh interpreter; also return how many of ``prefix``'s files it compiled."""
    result = script(COUNTING, env, prefix, *args, flags=flags)
    assert result.returncode == 0, result.stderr
    return result, int(result.stderr.rpartition("compiled: ")[2])


def zrun_cli(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m zrun args...``, as users run it (bytecode writes allowed unless ``env`` says not)."""
    full = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    return subprocess.run([sys.executable, "-m", "zrun", *args], env={**full, **env}, capture_output=True, text=True, timeout=120)


def make_app(tmp_path: Path, files: Dict[str, str] = APP, name: str = "app.zip") -> Path:
    archive = tmp_path / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for member, text in files.items():
            z.writestr(member, text)
    return archive


def test_bytecode_is_reused_by_later_processes(root: Path, tmp_path: Path) -> None:
    archive = make_app(tmp_path)
    env = {"ZRUN_CACHE_DIR": str(root)}
    first, compiled = zrun_counting(str(archive), [f"{archive}:app.main", "one"], env)
    assert first.stdout == "hello one\n" and compiled == 3
    assert len(entries(root, "pack")) == 1 and entries(root, "code") == [], "one pack for the archive, no file per module"
    second, compiled = zrun_counting(str(archive), [f"{archive}:app.main", "two"], env)
    assert second.stdout == "hello two\n" and compiled == 0, "a warm cache compiles nothing"
    _, compiled = zrun_counting(str(archive), [f"{archive}:app.main"], env, "-O")
    assert compiled == 3, "-O code is another pack"
    assert len(entries(root, "pack")) == 2


def test_tracebacks_still_show_source_lines_on_a_cache_hit(root: Path, tmp_path: Path) -> None:
    archive = make_app(tmp_path, {"boom.py": "def fail():\n    raise ValueError('kaboom')\n\nfail()\n"})
    env = {"ZRUN_CACHE_DIR": str(root)}
    for _ in range(2):
        result = zrun_cli([f"{archive}:boom"], env)
        assert result.returncode == 1 and "raise ValueError('kaboom')" in result.stderr, result.stderr
    assert len(entries(root, "pack")) == 1


def test_memory_sources_are_cached_by_content(root: Path) -> None:
    code = """
    import sys, zrun
    compiled = []
    sys.addaudithook(lambda event, args: event == "compile" and str(args[1]).startswith("<memory:fixed>") and compiled.append(1))
    zrun.run("memmod", sources=[zrun.MemorySource({"memmod.py": sys.argv[1]}, name="fixed")], isolate=True)
    print(len(compiled))
    """
    env = {"ZRUN_CACHE_DIR": str(root)}
    counts = [script(code, env, text).stdout for text in ("X = 1\n", "X = 1\n", "X = 2\n")]
    assert counts == ["1\n", "0\n", "1\n"], "same content is served from the cache, other content is not"


def test_frozen_code_is_never_stored(root: Path) -> None:
    frozen = zrun.FrozenSource.compile(zrun.MemorySource({"frz.py": "X = 1\n"}))
    assert zrun.run("frz", sources=[frozen], isolate=True, alter_sys=False)["X"] == 1
    assert entries(root, "code") == []


@pytest.mark.parametrize("how", ["truncated", "flipped", "garbage"])
def test_damaged_code_entries_are_recompiled_and_rewritten(root: Path, tmp_path: Path, how: str) -> None:
    archive = make_app(tmp_path)
    env = {"ZRUN_CACHE_DIR": str(root)}
    zrun_counting(str(archive), [f"{archive}:app.main"], env)
    (pack,) = entries(root, "pack")
    damage(pack, how)
    result, compiled = zrun_counting(str(archive), [f"{archive}:app.main"], env)
    assert result.stdout == "hello zip\n" and compiled == 3 and result.stderr == "compiled: 3\n"  # the pack's index comes last
    assert zrun_counting(str(archive), [f"{archive}:app.main"], env)[1] == 0, "the damaged entries were rewritten"


def test_no_cache_variable_compiles_every_time(root: Path, tmp_path: Path) -> None:
    archive = make_app(tmp_path)
    env = {"ZRUN_CACHE_DIR": str(root), "ZRUN_NO_CACHE": "1"}
    for _ in range(2):
        result, compiled = zrun_counting(str(archive), [f"{archive}:app.main"], env)
        assert result.stdout == "hello zip\n" and compiled == 3
    assert not root.exists()


def test_dont_write_bytecode_stores_no_code(root: Path, tmp_path: Path) -> None:
    archive = make_app(tmp_path)
    env = {"ZRUN_CACHE_DIR": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    result = zrun_cli([f"{archive}:app.main"], env)
    assert result.stdout == "hello zip\n" and entries(root, "code") == []


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` and everything below it unwritable, even for root (``chattr +i``) where the filesystem allows."""
    folders = [folder, *[p for p in folder.rglob("*") if p.is_dir()]]
    if not is_root:
        for path in folders:
            path.chmod(0o500)
        try:
            yield
        finally:
            for path in folders:
                path.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", *map(str, folders)], capture_output=True).returncode != 0:
        pytest.skip("root ignores modes, and this filesystem has no immutable attribute")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", *map(str, folders)], check=True)


@posix_only
def test_read_only_cache_still_runs_and_serves(root: Path, tmp_path: Path) -> None:
    archive = make_app(tmp_path)
    env = {"ZRUN_CACHE_DIR": str(root)}
    zrun_counting(str(archive), [f"{archive}:app.main"], env)
    other = make_app(tmp_path, {**APP, "app/main.py": APP["app/main.py"] + "X = 1\n"}, "other.zip")
    with read_only(root):
        warm, compiled = zrun_counting(str(archive), [f"{archive}:app.main"], env)
        assert warm.stdout == "hello zip\n" and compiled == 0, "what is cached still serves"
        cold, compiled = zrun_counting(str(other), [f"{other}:app.main"], env)
        assert cold.stdout == "hello zip\n" and compiled == 3 and cold.stderr == "compiled: 3\n", "no warning, no failure"
    assert len(entries(root, "pack")) == 1


# --- archive indexes ----------------------------------------------------------------------------

INDEXED = """
import sys
from zrun.zip import files
calls = []
parse = files.read_index
files.read_index = lambda *args: calls.append(1) or parse(*args)
from zrun.cli.main import main
status = main(sys.argv[1:])
sys.stderr.write(f"parsed: {len(calls)} indexcache: {'zrun.zip.indexcache' in sys.modules}\\n")
raise SystemExit(status)
"""


def big_archive(path: Path, count: int) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("big/__init__.py", "")
        z.writestr("big/one.py", "print('one')\n")
        for n in range(count):
            z.writestr(f"big/data/d{n // 100:03d}/file{n:05d}.txt", "x")
    return path


def test_index_is_parsed_once_for_a_large_archive(root: Path, tmp_path: Path) -> None:
    from zrun.zip import indexcache

    archive = big_archive(tmp_path / "big.zip", indexcache.MIN_ENTRIES)
    env = {"ZRUN_CACHE_DIR": str(root)}
    outcomes = [script(INDEXED, env, f"{archive}:big.one") for _ in range(2)]
    assert [r.stdout for r in outcomes] == ["one\n", "one\n"]
    assert [r.stderr for r in outcomes] == ["parsed: 1 indexcache: True\n", "parsed: 0 indexcache: True\n"]
    assert len(entries(root, "index")) == 1
    time.sleep(0.01)
    os.utime(archive)  # a rewrite changes the times: parse again
    assert script(INDEXED, env, f"{archive}:big.one").stderr == "parsed: 1 indexcache: True\n"


def test_small_archives_skip_the_index_cache(root: Path, tmp_path: Path) -> None:
    archive = make_app(tmp_path)
    result = script(INDEXED, {"ZRUN_CACHE_DIR": str(root)}, f"{archive}:app.main")
    assert result.stderr == "parsed: 1 indexcache: False\n"
    assert entries(root, "index") == []


def test_index_threshold_constants_agree() -> None:
    from zrun.zip import archive, indexcache

    assert archive._INDEX_CACHE_MIN_BYTES == indexcache.MIN_BYTES


def test_cached_index_equals_the_parsed_one(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zrun.zip import indexcache
    from zrun.zip.archive import Archive

    path = big_archive(tmp_path / "big.zip", indexcache.MIN_ENTRIES)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("caf\u00e9/\u00fcber.py", "")
        z.writestr("../evil.py", "")  # refused, and remembered as refused
        z.writestr("empty/", "")
    parsed = Archive.open(path)
    clear_cache()
    monkeypatch.setattr("zrun.zip.files.read_index", lambda *args: pytest.fail("the cached index must be used"))
    loaded = Archive.open(path)
    assert loaded is not parsed
    assert loaded.members == parsed.members and loaded.dirs == parsed.dirs and loaded.refused == parsed.refused == ["../evil.py"]
    assert type(loaded.members["big/one.py"]) is type(parsed.members["big/one.py"])
    assert loaded.read("big/one.py") == b"print('one')\n"


def test_damaged_index_entry_is_parsed_again_and_rewritten(root: Path, tmp_path: Path) -> None:
    from zrun.zip import indexcache
    from zrun.zip.archive import Archive

    path = big_archive(tmp_path / "big.zip", indexcache.MIN_ENTRIES)
    expected = dict(Archive.open(path).members)
    (entry,) = entries(root, "index")
    damage(entry, "flipped")
    clear_cache()
    assert indexcache.load(str(path), os.stat(path)) is None
    assert Archive.open(path).members == expected
    assert indexcache.load(str(path), os.stat(path)) is not None


# --- native extensions through the loader --------------------------------------------------------

TINY_EXTENSION = r"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *unused) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "The answer."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "NAME", NULL, -1, methods};
PyMODINIT_FUNC PyInit_NAME(void) { return PyModule_Create(&module); }
"""


@pytest.fixture(scope="module")
def extensions(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, bytes]:
    """Two tiny extension modules compiled for this interpreter; skipped without a C compiler."""
    import sysconfig

    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    include = sysconfig.get_paths()["include"]
    if os.name != "posix" or compiler is None or not os.path.isfile(os.path.join(include, "Python.h")):
        pytest.skip("needs a C compiler and Python's headers")
    folder = tmp_path_factory.mktemp("ext")
    built = {}
    for name in ("tinyext", "otherext"):
        source = folder / f"{name}.c"
        source.write_text(TINY_EXTENSION.replace("NAME", name))
        target = folder / f"{name}{importlib.machinery.EXTENSION_SUFFIXES[0]}"
        flags = ["-bundle", "-undefined", "dynamic_lookup"] if sys.platform == "darwin" else ["-shared"]
        result = subprocess.run([compiler, *flags, "-fPIC", f"-I{include}", str(source), "-o", str(target)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot compile an extension: {result.stderr[-300:]}")
        built[name] = target.read_bytes()
    return built


def ext_app(tmp_path: Path, extensions: Dict[str, bytes]) -> Path:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    archive = tmp_path / "ext.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pkg/__init__.py", "")
        z.writestr(f"pkg/tinyext{suffix}", extensions["tinyext"])
        z.writestr(f"pkg/otherext{suffix}", extensions["otherext"])
        z.writestr("pkg.libs/libdep.so.1", b"a bundled shared library")
        z.writestr("pkg/big.bin", b"\0" * 100_000)
        z.writestr("pkg/main.py", "from pkg import tinyext\nprint(tinyext.answer(), tinyext.__file__)\n")
        z.writestr("pkg/both.py", "from pkg import tinyext, otherext\nprint(tinyext.answer() + otherext.answer())\n")
    return archive


def test_extension_module_imports_from_a_zip(root: Path, tmp_path: Path, extensions: Dict[str, bytes]) -> None:
    archive = ext_app(tmp_path, extensions)
    env = {**os.environ, "ZRUN_CACHE_DIR": str(root)}
    result = subprocess.run([sys.executable, "-m", "zrun", f"{archive}:pkg.main"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answer, where = result.stdout.split()
    folder = Path(where).parent.parent
    assert answer == "42" and folder.parent == root / "ext" and Path(where).name.startswith("tinyext.")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == sorted([f"pkg/{Path(where).name}", "pkg.libs/libdep.so.1"]), "only what is imported, with its libraries"
    both = subprocess.run([sys.executable, "-m", "zrun", f"{archive}:pkg.both"], env=env, capture_output=True, text=True, timeout=120)
    assert both.stdout == "84\n", both.stderr
    assert len([p for p in (root / "ext").iterdir() if p.is_dir()]) == 1, "one folder per archive, filled as needed"


def test_extension_in_memory_source(root: Path, extensions: Dict[str, bytes]) -> None:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    code = """
    import sys, zrun
    files = {"tinyext" + sys.argv[2]: open(sys.argv[1], "rb").read(), "use.py": "import tinyext\\nX = tinyext.answer()"}
    print(zrun.run("use", sources=[zrun.MemorySource(files)], isolate=True)["X"])
    """
    blob = root.parent / "blob"
    blob.write_bytes(extensions["tinyext"])
    result = script(code, {"ZRUN_CACHE_DIR": str(root)}, str(blob), suffix)
    assert result.stdout == "42\n", result.stderr


def test_extension_without_any_place_to_extract(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    archive = make_app(tmp_path, {f"fast{suffix}": "\x7fELF", "use.py": "import fast\n"})
    monkeypatch.setenv("ZRUN_NO_CACHE", "1")
    reset()

    def no_temp(*args: object, **kwargs: object) -> str:
        raise FileNotFoundError(errno.ENOENT, "No usable temporary directory found")

    monkeypatch.setattr(tempfile, "mkdtemp", no_temp)
    monkeypatch.setattr(extract, "_private", [])
    with pytest.raises(zrun.ExtensionInArchive, match=r"could not be extracted: .*No usable temporary directory"):
        zrun.run(f"{archive}:use", isolate=True)


def test_damaged_extension_names_its_archive_member(root: Path, tmp_path: Path) -> None:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    archive = make_app(tmp_path, {f"fast{suffix}": "\x7fELF", "use.py": "import fast\n"})
    with pytest.raises(zrun.ExtensionInArchive) as info:
        zrun.run(f"{archive}:use", isolate=True)
    assert str(info.value).startswith(f"{archive}/fast{suffix}: extension module 'fast' cannot be loaded: ")
    assert f"(extracted to {root / 'ext'}" in str(info.value)


CONCURRENT_RUN = """
import sys
written = []
sys.addaudithook(lambda event, args: event == "open" and str(args[0]).endswith(".tmp") and "ext/" in str(args[0]) and written.append(1))
sys.stdin.read()
from zrun.cli.main import main
status = main(sys.argv[1:])
sys.stderr.write(f"written: {len(written)}\\n")
raise SystemExit(status)
"""


@posix_only
def test_twenty_concurrent_first_runs_through_the_cli(root: Path, tmp_path: Path, extensions: Dict[str, bytes]) -> None:
    archive = ext_app(tmp_path, extensions)
    env = {**os.environ, "ZRUN_CACHE_DIR": str(root)}
    env.pop("PYTHONPATH", None)
    argv = [sys.executable, "-c", CONCURRENT_RUN, f"{archive}:pkg.main"]
    procs = [subprocess.Popen(argv, env=env, stdin=PIPE, stdout=PIPE, stderr=PIPE, text=True) for _ in range(20)]
    time.sleep(0.5)
    outcomes = [p.communicate("go", timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [err for _, err in outcomes]
    assert len({out for out, _ in outcomes}) == 1 and outcomes[0][0].startswith("42 ")
    writes = sum(int(err.rpartition("written: ")[2]) for _, err in outcomes)
    assert writes == 2, "the extension and its library, each written by one process only"
    assert not list(root.rglob("*.tmp"))
