"""``zrun cache`` reports and prunes runner.pyz's own shiv extractions, and nothing else in ``SHIV_ROOT``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Dict, List

from conftest import Launcher, expect_ok

BUILD = "ab" * 32  # a shiv build id: 64 hex digits


def extraction(root: Path, name: str, build: str = BUILD, *, ours: bool = True, days: float = 0) -> Path:
    """A folder as shiv extracts runner.pyz (``site-packages/zrun/pyz.py``), with its lock file."""
    folder = root / f"{name}_{build}"
    package = folder / "site-packages" / ("zrun" if ours else "other")
    package.mkdir(parents=True)
    (package / "pyz.py").write_bytes(b"x" * 2048)
    (root / f".{folder.name}_lock").write_bytes(b"")
    then = time.time() - days * 86400
    os.utime(folder, (then, then))
    return folder


def running_extraction(zrun_cli: Launcher, root: Path) -> List[str]:
    """The names of the extraction (and lock) runner.pyz made of itself under ``root``, which it keeps."""
    if zrun_cli.name != "pyz":
        return []
    (mine,) = [
        path.name for path in root.iterdir() if path.name.startswith(os.path.basename(zrun_cli.prefix[-1]) + "_") and BUILD not in path.name
    ]
    return [mine, f"{mine}_lock"]


def environment(root: Path, tmp_path: Path) -> Dict[str, str]:
    return {"SHIV_ROOT": str(root), "ZRUN_CACHE_DIR": str(tmp_path / "cache")}


def test_info_lists_runner_extractions(zrun_cli: Launcher, tmp_path: Path) -> None:
    if zrun_cli.name == "pyz":
        return  # the runner's own extraction lives in the session's SHIV_ROOT: test_running_extraction_is_kept covers it
    root = tmp_path / "shiv"
    extraction(root, "runner.pyz", days=3)
    extraction(root, "copy.pyz", "cd" * 32)
    extraction(root, "someone-else.pyz", "ef" * 32, ours=False)
    (root / "runner.pyz_not-a-build-id" / "site-packages" / "zrun").mkdir(parents=True)
    out = expect_ok(zrun_cli("cache", "info", cwd=tmp_path, env=environment(root, tmp_path))).splitlines()
    index = out.index(f"runner.pyz extractions: {root} (2 entries, 0.0 MiB)")
    assert out[index + 1 :] == [
        f"  copy.pyz_{'cd' * 6}       0.0 MiB, last used 0 days ago",
        f"  runner.pyz_{'ab' * 6}       0.0 MiB, last used 3 days ago",
    ]


def test_prune_and_clear_remove_only_ours(zrun_cli: Launcher, tmp_path: Path) -> None:
    root = tmp_path / "shiv"
    old = extraction(root, "runner.pyz", days=40)
    recent = extraction(root, "runner.pyz", "cd" * 32, days=2)
    foreign = extraction(root, "someone-else.pyz", "ef" * 32, ours=False, days=400)
    (root / "notes.txt").write_text("keep")
    env = environment(root, tmp_path)
    out = expect_ok(zrun_cli("cache", "prune", "--older-than", "30", cwd=tmp_path, env=env))
    assert out.splitlines()[-1] == f"removed 1 runner.pyz extractions from {root}, 0.0 MiB"
    assert not old.exists() and not (root / f".{old.name}_lock").exists()
    assert recent.is_dir() and foreign.is_dir() and (root / "notes.txt").read_text() == "keep"
    expect_ok(zrun_cli("cache", "clear", cwd=tmp_path, env=env))
    assert not recent.exists() and foreign.is_dir() and (root / f".{foreign.name}_lock").exists()
    running = running_extraction(zrun_cli, root)
    left = sorted(path.name for path in root.iterdir() if path.name.lstrip(".") not in running)
    assert left == sorted([foreign.name, f".{foreign.name}_lock", "notes.txt"])


def test_extraction_being_made_is_kept(zrun_cli: Launcher, tmp_path: Path) -> None:
    """shiv holds its lock file while it extracts: such a folder is not removed under it."""
    import fcntl

    root = tmp_path / "shiv"
    busy = extraction(root, "runner.pyz", days=40)
    fd = os.open(root / f".{busy.name}_lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out = expect_ok(zrun_cli("cache", "clear", cwd=tmp_path, env=environment(root, tmp_path)))
    finally:
        os.close(fd)
    assert out.splitlines()[-1] == f"removed 0 runner.pyz extractions from {root}, 0.0 MiB" and busy.is_dir()


def test_cache_info_says_when_code_is_never_stored(zrun_cli: Launcher, tmp_path: Path) -> None:
    """Under -B / PYTHONDONTWRITEBYTECODE the cache is read but no code is stored: info says so."""
    env = {"ZRUN_CACHE_DIR": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": ""}
    note = "  PYTHONDONTWRITEBYTECODE / -B is set: compiled code is read from the cache, never stored"
    assert note not in expect_ok(zrun_cli("cache", "info", cwd=tmp_path, env=env)).splitlines()
    by_env = expect_ok(zrun_cli("cache", "info", cwd=tmp_path, env={**env, "PYTHONDONTWRITEBYTECODE": "1"})).splitlines()
    assert by_env[1] == note
    dash_b = Launcher(zrun_cli.name, [zrun_cli.prefix[0], "-B", *zrun_cli.prefix[1:]])
    assert expect_ok(dash_b("cache", "info", cwd=tmp_path, env=env)).splitlines()[1] == note
    off = expect_ok(zrun_cli("cache", "info", cwd=tmp_path, env={**env, "PYTHONDONTWRITEBYTECODE": "1", "ZRUN_NO_CACHE": "1"}))
    assert note not in off.splitlines()
