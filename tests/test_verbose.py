"""``-v`` / ``ZRUN_VERBOSE``: what was loaded from where, the cache's answers, extraction, timings; full tracebacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import Launcher, expect_ok, write_zip

FILES = {
    "vpkg/__init__.py": "",
    "vpkg/main.py": "from vpkg import helper\nprint(helper.WORD)\n",
    "vpkg/helper.py": "WORD = 'helped'\n",
    "vpkg/boom.py": "def fail():\n    raise ValueError('boom')\n\nfail()\n",
    "vpkg/native.py": "import _bisect\nprint(_bisect.__file__)\n",
}
STAMP = re.compile(r"^zrun: +\d+\.\d ms  ")


def cached_env(tmp_path: Path) -> Dict[str, str]:
    """A fresh cache that is written to (the machine may set PYTHONDONTWRITEBYTECODE)."""
    return {"ZRUN_CACHE_DIR": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": ""}


def reports(stderr: str) -> List[str]:
    """The verbose lines, without their time stamps."""
    return [STAMP.sub("", line) for line in stderr.splitlines() if STAMP.match(line)]


def test_reports_each_module_and_the_cache(zrun_cli: Launcher, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "app.zip", FILES)
    env = cached_env(tmp_path)
    first = zrun_cli("-v", "app.zip:vpkg.main", cwd=tmp_path, env=env)
    assert expect_ok(first) == "helped\n"
    lines = reports(first.stderr)
    assert lines[1] == "target 'app.zip:vpkg.main'"
    stored = "compiled (cache miss), stored in zrun's cache"
    assert re.fullmatch(rf"module vpkg from {re.escape(str(archive))} \(vpkg/__init__\.py\): {re.escape(stored)}, \d+\.\d\d ms", lines[2])
    assert lines[3].startswith(f"module vpkg.main from {archive} (vpkg/main.py): {stored}, ")
    assert lines[4] == f"main module vpkg.main: {archive}/vpkg/main.py (ArchiveLoader)"  # a zipimporter subclass
    assert lines[5].startswith(f"module vpkg.helper from {archive} (vpkg/helper.py): {stored}, ")
    assert lines[6] == f"done: 3 modules from zrun's loader (0 from the cache, 3 compiled, 3 stored); cache: {tmp_path / 'cache'}"
    second = reports(zrun_cli("--verbose", "app.zip:vpkg.main", cwd=tmp_path, env=env).stderr)
    assert [line.split(": ", 1)[1].rsplit(",", 1)[0] for line in second if line.startswith("module ")] == ["zrun's cache (hit)"] * 3
    assert second[-1] == f"done: 3 modules from zrun's loader (3 from the cache, 0 compiled, 0 stored); cache: {tmp_path / 'cache'}"


def test_says_when_bytecode_writing_is_off(zrun_cli: Launcher, tmp_path: Path) -> None:
    write_zip(tmp_path / "app.zip", FILES)
    env = {**cached_env(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    lines = reports(zrun_cli("-v", "app.zip:vpkg.helper", cwd=tmp_path, env=env).stderr)
    assert "compiled (cache miss), not stored: PYTHONDONTWRITEBYTECODE / -B" in lines[2]


def test_environment_variable_is_minus_v(zrun_cli: Launcher, tmp_path: Path) -> None:
    """For runner.pyz's users and hosts that call zrun.main(): the same lines as -v."""
    write_zip(tmp_path / "app.zip", FILES)
    env = cached_env(tmp_path)
    by_flag = reports(zrun_cli("-v", "app.zip:vpkg.main", cwd=tmp_path, env=env).stderr)
    by_env = reports(zrun_cli("app.zip:vpkg.main", cwd=tmp_path, env={**env, "ZRUN_VERBOSE": "1"}).stderr)
    strip = re.compile(r", \d+\.\d\d ms$")
    # the second run finds the first run's code in the cache: compare the places, not the cache's answers
    assert [strip.sub("", line).split(": ")[0] for line in by_env] == [strip.sub("", line).split(": ")[0] for line in by_flag]
    assert "zrun's cache (hit)" in by_env[2]
    quiet = zrun_cli("app.zip:vpkg.main", cwd=tmp_path, env={**env, "ZRUN_VERBOSE": "0"})
    assert (quiet.stdout, quiet.stderr) == ("helped\n", "")


def test_level_two_reports_archive_indexes(zrun_cli: Launcher, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "app.zip", FILES)
    lines = reports(zrun_cli("-vv", "app.zip:vpkg.helper", cwd=tmp_path, env=cached_env(tmp_path)).stderr)
    assert next(line for line in lines if line.startswith("index ")).startswith(f"index {archive}: {len(FILES)} members (")
    assert not [line for line in reports(zrun_cli("-v", "app.zip:vpkg.helper", cwd=tmp_path).stderr) if line.startswith("index ")]


def test_level_two_reports_modules_found_in_path_directories(zrun_cli: Launcher, tmp_path: Path) -> None:
    """A ``--path`` directory is served by the interpreter's finder: -vv still says where each module came from."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "vlib.py").write_text("print('from lib')\n")
    result = zrun_cli("-vv", "--path", "lib", "-m", "vlib", cwd=tmp_path)
    assert expect_ok(result) == "from lib\n"
    assert f"found vlib first in this run's sources: {tmp_path / 'lib' / 'vlib.py'}" in reports(result.stderr)
    assert "found " not in zrun_cli("-v", "--path", "lib", "-m", "vlib", cwd=tmp_path).stderr  # level 2 only


def test_reports_extension_extraction(zrun_cli: Launcher, tmp_path: Path) -> None:
    import _bisect

    native = getattr(_bisect, "__file__", None)
    if native is None:
        pytest.skip("_bisect is built into this interpreter")
    name = os.path.basename(native)
    write_zip(tmp_path / "app.zip", {**FILES, name: Path(native).read_bytes()})
    result = zrun_cli("-v", "app.zip:vpkg.native", cwd=tmp_path, env=cached_env(tmp_path))
    folder = expect_ok(result).strip().rpartition(os.sep)[0]
    assert folder.startswith(str(tmp_path / "cache" / "ext"))
    assert f"extension files {name} ready in {folder} (" in "\n".join(reports(result.stderr))


def test_internal_error_shows_the_whole_traceback(zrun_cli: Launcher, tmp_path: Path) -> None:
    """zrun's own failures: one line normally; with -v, every frame, zrun's included."""
    write_zip(tmp_path / "app.zip", FILES)
    env = {"ZRUN_MAX_MEMBER_SIZE": "lots"}
    message = f"zrun: error: {tmp_path / 'app.zip'}: vpkg/__init__.py: ZRUN_MAX_MEMBER_SIZE='lots' is not a number of bytes"
    quiet = zrun_cli("app.zip:vpkg.main", cwd=tmp_path, env=env)
    assert (quiet.returncode, quiet.stderr) == (1, message + "\n")
    loud = zrun_cli("-v", "app.zip:vpkg.main", cwd=tmp_path, env=env)
    assert loud.returncode == 1
    assert "Traceback (most recent call last):" in loud.stderr
    assert f'{os.sep}zrun{os.sep}zip{os.sep}archive.py", line ' in loud.stderr and "in max_member_size" in loud.stderr
    assert loud.stderr.splitlines()[-2] == message


def test_user_traceback_keeps_zrun_frames_under_verbose(zrun_cli: Launcher, tmp_path: Path) -> None:
    write_zip(tmp_path / "app.zip", FILES)
    quiet = zrun_cli("app.zip:vpkg.boom", cwd=tmp_path)
    loud = zrun_cli("-v", "app.zip:vpkg.boom", cwd=tmp_path)
    assert quiet.returncode == loud.returncode == 1
    assert f"{os.sep}zrun{os.sep}engine{os.sep}run.py" not in quiet.stderr
    assert f"{os.sep}zrun{os.sep}engine{os.sep}run.py" in loud.stderr
    assert quiet.stderr.splitlines()[-1] == "ValueError: boom" == [line for line in loud.stderr.splitlines() if not STAMP.match(line)][-1]


def test_off_costs_no_import(zrun_cli: Launcher, tmp_path: Path) -> None:
    write_zip(tmp_path / "app.zip", FILES)
    timed = Launcher(zrun_cli.name, [zrun_cli.prefix[0], "-X", "importtime", *zrun_cli.prefix[1:]])
    result = timed("app.zip:vpkg.helper", cwd=tmp_path)
    names = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "zrun.engine.run" in names
    assert not {"zrun.verbose", "zrun.settings", "zrun.cli.diagnose", "difflib"} & set(names)
    on = timed("-v", "app.zip:vpkg.helper", cwd=tmp_path)
    assert "zrun.verbose" in [line.split("|")[-1].strip() for line in on.stderr.splitlines() if line.startswith("import time:")]


def test_verbose_reaches_no_target_option(zrun_cli: Launcher, tmp_path: Path) -> None:
    """``-v`` after TARGET is the target's."""
    write_zip(tmp_path / "app.zip", {"__main__.py": "import sys\nprint(sys.argv[1:])\n"})
    result = zrun_cli("app.zip", "-v", cwd=tmp_path)
    assert (result.stdout, result.stderr) == ("['-v']\n", "")


def test_environment_variable_reaches_library_calls(tmp_path: Path) -> None:
    """A host that embeds zrun (no CLI) gets the same reports from ``ZRUN_VERBOSE`` for ``zrun.run()``."""
    archive = write_zip(tmp_path / "app.zip", FILES)
    host = tmp_path / "host.py"
    host.write_text("import sys, zrun\nzrun.run(sys.argv[1] + ':vpkg.main')\nprint('host done')\n", encoding="utf-8")
    env = {**os.environ, **cached_env(tmp_path)}
    env.pop("PYTHONPATH", None)
    command = [sys.executable, str(host), str(archive)]
    loud = subprocess.run(command, capture_output=True, text=True, env={**env, "ZRUN_VERBOSE": "1"}, timeout=60)
    assert loud.stdout == "helped\nhost done\n", loud.stderr
    lines = reports(loud.stderr)
    assert any(line.startswith(f"module vpkg.main from {archive} (vpkg/main.py): ") for line in lines), lines
    quiet = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert (quiet.stdout, quiet.stderr) == ("helped\nhost done\n", "")
