"""One pack file per archive for compiled code (issue 16): written once per process, read once per run.

Every run is a real ``python -m zrun`` subprocess over a real zip, as users meet
the cache: what it compiled (audit hook ``compile``) and which cache files it
opened (audit hook ``open``) are counted in the child.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import zrun
import zrun.cache
from zrun.cli import cacheadmin

is_root = hasattr(os, "geteuid") and os.geteuid() == 0

COUNTING = """
import os, sys
prefix, compiled, opened = sys.argv[1], [], []

def hook(event, args):
    if event == "compile" and isinstance(args[1], str) and args[1].startswith(prefix):
        compiled.append(args[1])
    elif event == "open" and isinstance(args[0], str) and args[0].startswith(("code/", "pack/")):
        opened.append(args[0])

sys.addaudithook(hook)
from zrun.cli.main import main
status = main(sys.argv[2:])
sys.stderr.write(f"compiled: {len(compiled)} opened: {len(opened)}\\n")
raise SystemExit(status)
"""


def app(tmp_path: Path, count: int = 30, name: str = "app.zip", extra: str = "") -> Path:
    """A package of ``count`` modules; ``app.main`` imports those named on its command line (all by default)."""
    archive = tmp_path / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("app/__init__.py", "")
        for n in range(count):
            z.writestr(f"app/m{n:03d}.py", f"VALUE = {n}\n{extra}def f(x):\n    return x + VALUE\n")
        z.writestr(
            "app/main.py",
            textwrap.dedent(f"""
            import importlib, sys
            wanted = sys.argv[1:] or [f"m{{n:03d}}" for n in range({count})]
            print(sum(importlib.import_module("app." + name).f(1) for name in wanted))
            """),
        )
    return archive


def run(archive: Path, root: Path, *args: str, flags: Tuple[str, ...] = (), env: Dict[str, str] = {}) -> Tuple[str, int, int, str]:  # noqa: B006
    """``python [flags] -m zrun archive:app.main args``: stdout, modules compiled, cache files opened, stderr."""
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    full.update({"ZRUN_CACHE_DIR": str(root), **env})
    argv = [sys.executable, *flags, "-c", COUNTING, str(archive), f"{archive}:app.main", *args]
    result = subprocess.run(argv, env=full, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    err, _, counts = result.stderr.rpartition("compiled: ")
    compiled, _, opened = counts.partition(" opened: ")
    return result.stdout, int(compiled), int(opened), err


def files(root: Path, kind: str) -> List[Path]:
    return sorted(p for p in (root / kind).rglob("*") if p.is_file())


def expected(count: int, names: range) -> str:
    return f"{sum(n + 1 for n in names)}\n"


def test_cold_run_writes_one_pack_and_warm_run_opens_only_it(root: Path, tmp_path: Path) -> None:
    archive = app(tmp_path)
    out, compiled, opened, err = run(archive, root)
    assert out == expected(30, range(30)) and compiled == 32 and err == ""
    assert files(root, "code") == [], "no file per module"
    (pack,) = files(root, "pack")
    out, compiled, opened, err = run(archive, root)
    assert out == expected(30, range(30)) and compiled == 0 and err == ""
    assert opened == 1, "a warm run opens one cache file, the pack"
    assert files(root, "pack") == [pack]


def test_a_warm_run_writes_nothing(root: Path, tmp_path: Path) -> None:
    archive = app(tmp_path, 5)
    run(archive, root)
    (pack,) = files(root, "pack")
    before = (pack.stat().st_mtime_ns, pack.stat().st_ino)
    time.sleep(0.01)
    run(archive, root)
    assert (pack.stat().st_mtime_ns, pack.stat().st_ino) == before


def test_second_session_adds_to_the_pack(root: Path, tmp_path: Path) -> None:
    archive = app(tmp_path, 6)
    assert run(archive, root, "m000", "m001")[:2] == (expected(6, range(2)), 4)
    assert run(archive, root, "m002")[:2] == ("3\n", 1), "only the new module is compiled"
    out, compiled, opened, _ = run(archive, root, "m000", "m001", "m002")
    assert (out, compiled, opened) == (expected(6, range(3)), 0, 1)
    assert len(files(root, "pack")) == 1


def damage(path: Path, how: str) -> None:
    from zrun.cache import packs

    data = path.read_bytes()
    header = bytearray(data[:32])
    if how == "other interpreter":  # another bytecode magic, with a header CRC that holds
        header[4:8] = b"\x00\x0d\r\n"
        header[28:32] = packs.stdlib("zlib").crc32(bytes(header[:28])).to_bytes(4, "little")
    path.write_bytes(
        {
            "empty": b"",
            "header only": data[:32],
            "truncated": data[: len(data) // 2],
            "one byte off": data[:-1],
            "flipped": data[:40] + bytes([data[40] ^ 0xFF]) + data[41:],  # in the first module's code
            "flipped index": data[:-40] + bytes([data[-40] ^ 0xFF]) + data[-39:],  # the index comes last
            "magic": b"XXXX" + data[4:],
            "other interpreter": bytes(header) + data[32:],
            "garbage": os.urandom(len(data)),
        }[how]
    )


@pytest.mark.parametrize(
    "how", ["empty", "header only", "truncated", "one byte off", "flipped", "flipped index", "magic", "other interpreter", "garbage"]
)
def test_damaged_pack_is_ignored_then_rewritten(root: Path, tmp_path: Path, how: str) -> None:
    archive = app(tmp_path, 4)
    run(archive, root)
    (pack,) = files(root, "pack")
    damage(pack, how)
    out, compiled, _, err = run(archive, root)
    assert out == expected(4, range(4)) and err == "", "never a crash, never a warning"
    assert compiled == (1 if how == "flipped" else 6), "a flipped byte in the data costs its one module"
    assert run(archive, root)[1] == 0, "the damaged pack was rewritten"


def plant(root: Path, archive: Path, text: str, crc_delta: int = 0) -> Path:
    """Write the pack for ``archive`` as zrun would, but holding ``text``'s code for every module."""
    from zrun.cache import packs, packwrite

    source = zrun.ZipSource(str(archive))
    identity = source.identity()
    entries = {}
    for name in source.files():
        if name.endswith(".py"):
            filename = source.filename(name)
            member = source.archive.members[name]
            code = compile(text, filename, "exec")
            entries[filename] = (member.crc + crc_delta, member.size, packs.marshal.dumps(code))
    key = packs.pack_key(identity)
    where = root / "pack" / key[:2] / key[2:]
    where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    where.write_bytes(packwrite.encode(identity, entries))
    where.chmod(0o600)
    return where


def test_entries_for_another_version_of_the_member_are_not_used(root: Path, tmp_path: Path) -> None:
    archive = app(tmp_path, 3)
    run(archive, root)  # the root exists, tagged
    plant(root, archive, "print('PLANTED')", crc_delta=1)
    out, compiled, _, err = run(archive, root)
    assert "PLANTED" not in out and out == expected(3, range(3)) and compiled == 5 and err == ""
    assert run(archive, root)[1] == 0


def test_a_pack_planted_for_the_right_member_is_what_runs(root: Path, tmp_path: Path) -> None:
    """The control for the test above: a pack that matches is used as it is (so the mismatch was the reason)."""
    archive = app(tmp_path, 3)
    run(archive, root)
    plant(root, archive, "print('PLANTED')")
    assert run(archive, root)[0].startswith("PLANTED")


def test_too_large_pack_is_not_read(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zrun.cache import packs

    archive = app(tmp_path, 3)
    run(archive, root)
    (pack,) = files(root, "pack")
    source = zrun.ZipSource(str(archive))
    key = packs.keyed(source, "app/m000.py", source.filename("app/m000.py"))[0]
    assert packs.load_code(key) is not None  # type: ignore[arg-type]
    zrun.cache.reset()  # as in a later process
    monkeypatch.setattr(packs, "MAX_BYTES", pack.stat().st_size - 1)
    assert packs.load_code(key) is None  # type: ignore[arg-type]


@pytest.mark.skipif(not is_root, reason="needs root to give the pack to another user")
def test_a_pack_owned_by_another_user_is_not_run(root: Path, tmp_path: Path) -> None:
    import pwd

    archive = app(tmp_path, 3)
    run(archive, root)
    pack = plant(root, archive, "print('PLANTED')")
    nobody = pwd.getpwnam("nobody")
    os.chown(pack, nobody.pw_uid, nobody.pw_gid)
    out, compiled, _, err = run(archive, root)
    assert "PLANTED" not in out and out == expected(3, range(3)) and compiled == 5
    assert err.count("zrun: warning: not using cache directory") == 1 and f"owned by uid {nobody.pw_uid}" in err, err


WRITER = """
import sys, time
from zrun.cli.main import main
start = float(sys.argv[1])
status = main(sys.argv[2:])
time.sleep(max(0.0, start - time.time()))  # both writers reach exit, and write, at the same moment
raise SystemExit(status)
"""


def test_concurrent_writers_both_leave_a_valid_pack(root: Path, tmp_path: Path) -> None:
    archive = app(tmp_path, 40)
    run(archive, root, "m000")  # the root exists
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    env["ZRUN_CACHE_DIR"] = str(root)
    for _ in range(3):  # three rounds, each starting cold
        start = time.time() + 1.5
        halves = ([f"m{n:03d}" for n in range(1, 40, 2)], [f"m{n:03d}" for n in range(2, 40, 2)])
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(start), f"{archive}:app.main", *half],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for half in halves
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0 and err == "", err
        (pack,) = files(root, "pack")
        assert [p for p in root.rglob("*.tmp")] == []
        out, compiled, opened, err = run(archive, root)
        assert out == expected(40, range(40)) and err == "" and opened == (1 if compiled == 0 else 2), "the pack (and a new one's spool)"
        assert compiled <= 21, "each writer left a whole pack: at most the other half is missing"
        pack.unlink()  # the next round starts cold again


def test_optimisation_levels_have_packs_of_their_own(root: Path, tmp_path: Path) -> None:
    archive = app(tmp_path, 3)
    for flags in ((), ("-O",), ("-OO",)):
        assert run(archive, root, flags=flags)[1] == 5
    assert len(files(root, "pack")) == 3
    for flags in ((), ("-O",), ("-OO",)):
        assert run(archive, root, flags=flags)[1:3] == (0, 1)


def test_dont_write_bytecode_writes_no_pack_but_reads_one(root: Path, tmp_path: Path) -> None:
    archive = app(tmp_path, 3)
    for flags, env in (((), {"PYTHONDONTWRITEBYTECODE": "1"}), (("-B",), {})):
        assert run(archive, root, flags=flags, env=env)[1] == 5
        assert files(root, "pack") == [] and files(root, "code") == []
    run(archive, root)
    (pack,) = files(root, "pack")
    stamp = pack.stat().st_mtime_ns
    assert run(archive, root, flags=("-B",))[1] == 0, "read as today"
    assert pack.stat().st_mtime_ns == stamp


def test_no_cache_variable_writes_nothing(root: Path, tmp_path: Path) -> None:
    archive = app(tmp_path, 3)
    assert run(archive, root, env={"ZRUN_NO_CACHE": "1"})[1] == 5
    assert not root.exists()


def test_cache_admin_lists_prunes_and_clears_packs(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = app(tmp_path, 3)
    run(archive, root)
    (pack,) = files(root, "pack")
    old_style = root / "code" / "ab" / ("c" * 38)  # a per-module file an earlier zrun wrote
    old_style.parent.mkdir(parents=True, mode=0o700)
    old_style.write_bytes(b"ZRC1")
    temporary = pack.parent / f"{pack.name}.4242-1.tmp"
    temporary.write_bytes(b"half")
    report = cacheadmin.info()
    assert report["pack"] == [1, pack.stat().st_size + 4] and report["code"][0] == 1  # + the temporary's bytes
    assert cacheadmin.main(["info"]) == 0 and "pack" in capsys.readouterr().out
    assert cacheadmin.prune(30) == (0, 0), "nothing is old yet (the temporary is young)"
    then = time.time() - 40 * 86400
    os.utime(pack, (then, then))
    assert cacheadmin.prune(30)[0] == 1 and not pack.exists() and temporary.exists()
    assert cacheadmin.clear()[0] == 2 and not old_style.exists() and not temporary.exists()


FORKING = """
import os, sys, zrun
archive = sys.argv[1]
zrun.run(f"{archive}:app.main", ["m000", "m001"], isolate=True)  # spooled by this process
pid = os.fork()
if pid == 0:  # the child compiles other modules, then exits through atexit
    zrun.run(f"{archive}:app.main", ["m002"], isolate=True)
    sys.exit(0)
_, status = os.waitpid(pid, 0)
assert status == 0, status
zrun.run(f"{archive}:app.main", ["m003"], isolate=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_leaves_its_parent_s_pack_whole(root: Path, tmp_path: Path) -> None:
    archive = app(tmp_path, 5)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    env["ZRUN_CACHE_DIR"] = str(root)
    forked = subprocess.run([sys.executable, "-c", FORKING, str(archive)], env=env, capture_output=True, text=True, timeout=120)
    assert forked.returncode == 0 and forked.stderr == "", forked.stderr
    assert [p for p in root.rglob("*.tmp")] == []
    out, compiled, opened, err = run(archive, root, "m000", "m001", "m003")
    assert (out, compiled, opened, err) == ("7\n", 0, 1, ""), "the parent's pack: 1 + 2 + 4"
    assert run(archive, root, "m002")[1] == 1, "the child kept nothing"


def test_packs_without_dir_fd(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where ``dir_fd`` is missing (Windows), the pack is written and read by path (``zrun.cache.pathroot``)."""
    from zrun.cache import packs, packwrite
    from zrun.cache import root as cacheroot

    monkeypatch.setattr(cacheroot, "HAVE_DIR_FD", False)
    zrun.cache.reset()
    archive = app(tmp_path, 3)
    source = zrun.ZipSource(str(archive))
    keys = [packs.key_for(source, name, source.filename(name)) for name in ("app/m000.py", "app/m001.py")]
    for key, name in zip(keys, ("m000", "m001")):
        packwrite.store_code(key, compile(f"NAME = {name!r}", name, "exec"))  # type: ignore[arg-type]
    (spooled,) = files(root, "pack")
    assert spooled.name.endswith(".tmp"), "spooled, not yet in place"
    packwrite.flush()
    assert len(files(root, "pack")) == 1 and list(root.rglob("*.tmp")) == []
    zrun.cache.reset()  # as in a later process
    assert type(zrun.cache.checked_root()).__name__ == "PathRoot"
    loaded = [packs.load_code(key) for key in keys]  # type: ignore[arg-type]
    assert [code.co_consts[0] if code else None for code in loaded] == ["m000", "m001"]


def test_a_pack_made_for_another_identity_is_not_used(root: Path, tmp_path: Path) -> None:
    """A pack records the archive identity it was made for: copied under the key of the archive as it is now
    (touched since, so another identity, with the same members, CRCs and sizes), it is ignored and replaced."""
    from zrun.cache import packs
    from zrun.zip.archive import clear_cache

    archive = app(tmp_path, 3)
    run(archive, root)
    planted = plant(root, archive, "print('PLANTED')")  # for the identity the archive has now
    later = time.time() + 5
    os.utime(archive, (later, later))
    clear_cache()
    key = packs.pack_key(zrun.ZipSource(str(archive)).identity())
    assert planted.name != key[2:]
    (root / "pack" / key[:2]).mkdir(mode=0o700, exist_ok=True)
    (root / "pack" / key[:2] / key[2:]).write_bytes(planted.read_bytes())
    (root / "pack" / key[:2] / key[2:]).chmod(0o600)
    out, compiled, _, err = run(archive, root)
    assert "PLANTED" not in out and out == expected(3, range(3)) and compiled == 5 and err == ""
    assert run(archive, root)[1] == 0
