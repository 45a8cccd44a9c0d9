"""The cache directory: where it is, when it is refused, and that it never makes a run fail.

Also the entries (code, archive indexes) against damage, and the extraction of
native extensions against races and hostile names. Subprocesses are used where
the behaviour is per process (one warning, 20 concurrent first runs, ``-O``).
"""

from __future__ import annotations

import errno
import importlib.machinery
import importlib.util
import marshal
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

import zrun
from zrun import cache, extract
from zrun.archive import clear_cache
from zrun.extract import UnsafeMember

is_root = hasattr(os, "geteuid") and os.geteuid() == 0
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX ownership and modes")


def reset() -> None:
    cache.reset()
    extract._touched.clear()


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cache directory that does not exist yet."""
    where = tmp_path / "cache"
    monkeypatch.setenv("ZRUN_CACHE_DIR", str(where))
    monkeypatch.delenv("ZRUN_NO_CACHE", raising=False)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    reset()
    clear_cache()
    yield where
    reset()
    clear_cache()


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
        from zrun import cache
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
    assert cache.key_for(zrun.MemorySource({"m.py": "x = 1"}), "m.py", "<m>/m.py") is None
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


def test_unreachable_directory_is_silently_uncached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
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
    monkeypatch.setattr(cache, "_SALT", b"0.2.0\0cpython-399\0")  # another zrun or interpreter
    others.add(cache.code_key("zip:/a.zip:1,2,3,4:", "/a.zip/m.py", 0xDEAD, 31))
    assert key not in others and len(others) == 4


def test_optimisation_level_is_part_of_the_key(root: Path) -> None:
    code = "from zrun import cache; print(cache.code_key('id', 'm.py', 1, 2))"
    env = {"ZRUN_CACHE_DIR": str(root)}
    keys = {python(code, env, *flags).stdout for flags in ([], ["-O"], ["-OO"])}
    assert len(keys) == 3


def test_zip_key_comes_from_the_index(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pkg/m.py", "x = 1\n")
    source = zrun.ZipSource(str(archive))
    monkeypatch.setattr(source, "read", lambda name: pytest.fail("a zip member's key must not read it"))
    key = cache.key_for(source, "pkg/m.py", source.filename("pkg/m.py"))
    again = zrun.ZipSource(str(archive))
    assert key is not None and key == cache.key_for(again, "pkg/m.py", again.filename("pkg/m.py"))
    time.sleep(0.01)
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pkg/m.py", "x = 2\n")
    clear_cache()
    changed = zrun.ZipSource(str(archive))
    assert cache.key_for(changed, "pkg/m.py", changed.filename("pkg/m.py")) != key


def test_memory_key_is_a_content_hash(root: Path) -> None:
    a = zrun.MemorySource({"m.py": "x = 1\n"}, name="a")
    b = zrun.MemorySource({"m.py": "x = 2\n"}, name="b")
    key_a, key_b = (cache.key_for(s, "m.py", "<memory:p>/m.py") for s in (a, b))
    assert key_a != key_b
    assert key_a == cache.key_for(zrun.MemorySource({"m.py": "x = 1\n"}), "m.py", "<memory:p>/m.py")


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
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(entries(root, "code")) == 1


def test_import_is_cheap() -> None:
    result = python("import sys, zrun.cache; print(sorted({'hashlib', 'tempfile', 'shutil', 'zlib', 'typing'} & set(sys.modules)))", {})
    assert result.stdout == "[]\n", result.stderr


# --- native extensions --------------------------------------------------------------


def test_extract_once(root: Path) -> None:
    reads: List[str] = []

    def reader(name: str, data: bytes):  # type: ignore[no-untyped-def]
        return lambda: reads.append(name) or data

    members = {"pkg/_ext.so": reader("ext", b"\x7fELF"), "pkg.libs/libdep.so.1": reader("dep", b"dep")}
    folder = Path(extract.extract("zip:/a.zip:1,2,3,4:", members))
    assert (folder / "pkg" / "_ext.so").read_bytes() == b"\x7fELF"
    assert (folder / "pkg.libs" / "libdep.so.1").read_bytes() == b"dep"
    assert folder.parent == root / "ext"
    assert extract.extract("zip:/a.zip:1,2,3,4:", members) == str(folder)
    assert sorted(reads) == ["dep", "ext"], "a second call must not read again"
    assert extract.extract("zip:/a.zip:1,2,3,5:", members) != str(folder)


@pytest.mark.parametrize(
    "name", ["../evil.so", "/etc/evil.so", "pkg/../../evil.so", "a//b.so", "C:/evil.so", "c:evil.so", "..\\..\\evil.so", "", "pkg/./x.so", "a\0b"]
)
def test_traversal_refused(root: Path, name: str) -> None:
    with pytest.raises(UnsafeMember):
        extract.extract("id", {"good.so": lambda: b"ok", name: lambda: b"evil"})
    assert not (root / "ext").exists() or not list((root / "ext").iterdir())
    assert isinstance(UnsafeMember("x", "y"), ImportError)


CONCURRENT = """
import sys, time
from zrun import extract
log = sys.argv[1]

def read():
    with open(log, "a") as f:
        f.write("extracted\\n")
    time.sleep(0.3)
    return b"payload"

sys.stdin.read()  # wait for the start signal
print(extract.extract("zip:/same.zip:1,2,3,4:", {"pkg/_ext.so": read, "pkg.libs/a.so": lambda: b"a"}))
"""


@pytest.mark.skipif(os.name != "posix", reason="flock; elsewhere the rename alone keeps it correct")
def test_twenty_concurrent_first_runs(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "log"
    env = {**os.environ, "ZRUN_CACHE_DIR": str(root)}
    env.pop("PYTHONPATH", None)
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT, str(log)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(20)
    ]
    time.sleep(0.5)  # all interpreters up, then released together
    outcomes = [p.communicate("go", timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [err for _, err in outcomes]
    assert len({out for out, _ in outcomes}) == 1
    assert log.read_text().count("extracted") == 1
    left = sorted(p.name for p in (root / "ext").iterdir())
    assert len(left) == 2 and left[1] == left[0] + ".lock", left


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_stale_and_slow_lock_holders(root: Path) -> None:
    folder_name = extract.folder_key("id", ["m.so"])
    (root / "ext").mkdir(parents=True)
    lock = str(root / "ext" / folder_name) + ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import fcntl, os, time; fd = os.open({lock!r}, os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print(1, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline()
    start = time.monotonic()
    folder = extract.extract("id", {"m.so": lambda: b"x"}, timeout=0.3)  # a holder that hangs: go on after the timeout
    assert 0.25 < time.monotonic() - start < 10 and Path(folder, "m.so").read_bytes() == b"x"
    holder.kill()
    holder.wait()
    start = time.monotonic()
    assert extract.extract("id2", {"m.so": lambda: b"y"}, timeout=30)  # a dead holder's lock is gone with it
    assert extract.extract("id", {"m.so": lambda: b"y"}, timeout=30) == folder
    assert time.monotonic() - start < 5


def test_extract_without_cache_uses_a_private_folder_removed_at_exit(tmp_path: Path) -> None:
    result = python(
        """
        import os
        from zrun import extract
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
    assert sorted(extract.extension_members(source, leaf)) == sorted([leaf, "xxlimited.libs/libdep.so"])
    result = python(
        f"""
        import importlib.util, zrun
        from zrun import extract
        spec = extract.extension_spec(zrun.ZipSource({str(archive)!r}), "xxlimited", {leaf!r})
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
    assert cache.info()["status"] == "not created yet"
    fill(root)
    report = cache.info()
    assert report["path"] == str(root) and report["status"] == "in use"
    assert report["code"][0] == 3 and report["index"] == [1, 116] and report["ext"][0] == 2  # folder + lock
    assert report["ext"][1] >= 1000
    assert cache.main(["info"]) == 0
    out = capsys.readouterr().out
    assert str(root) in out and "code" in out and "ext" in out


def test_prune(root: Path) -> None:
    fill(root)
    old = entries(root, "code")[0]
    (folder,) = [p for p in (root / "ext").iterdir() if p.is_dir()]
    age(old, 40)
    age(folder, 40)
    count, freed = cache.prune(30)
    assert count == 2 and freed >= 1000
    assert not old.exists() and not folder.exists()
    assert len(entries(root, "code")) == 2 and len(entries(root, "index")) == 1
    assert cache.prune(30) == (0, 0)


def test_reused_extraction_is_not_pruned(root: Path) -> None:
    folder = Path(extract.extract("id", {"m.so": lambda: b"x"}))
    age(folder, 40)
    extract._touched.clear()  # as in a later process
    assert extract.extract("id", {"m.so": lambda: b"x"}) == str(folder)
    assert cache.prune(30) == (0, 0) and folder.exists()


def test_clear_only_touches_its_own_folders(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(root)
    (root / "my-notes.txt").write_text("keep me")  # e.g. ZRUN_CACHE_DIR=~ by mistake
    (root / "mine").mkdir()
    assert cache.main(["clear"]) == 0
    assert "removed 6 entries" in capsys.readouterr().out
    assert entries(root, "code") == entries(root, "index") == [] and list((root / "ext").iterdir()) == []
    assert (root / "my-notes.txt").read_text() == "keep me" and (root / "mine").is_dir()


def test_cli_arguments(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(root)
    assert cache.main(["prune", "--older-than", "0"]) == 0
    assert "removed 6 entries" in capsys.readouterr().out
    for bad in (["prune", "--older-than"], ["prune", "--older-than", "soon"], ["prune", "7"], ["wipe"], ["info", "x"]):
        assert cache.main(bad) == 2, bad
        assert "usage: zrun --cache" in capsys.readouterr().err
