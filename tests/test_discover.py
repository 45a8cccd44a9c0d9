"""discover(): runnable entries of archives, read from their indexes without running anything."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest

import hostile
import zrun
from conftest import expect_ok, run_python, write_zip
from test_hostile import needs_rlimit, run_limited
from zrun import Runnable
from zrun.loading.metadata import MAX_ENTRY_POINTS, MAX_METADATA_SIZE

NEVER = "raise RuntimeError('discover executed plugin code')\n"

APP = {
    "__main__.py": NEVER,
    "pkg/__init__.py": NEVER,
    "pkg/__main__.py": NEVER,
    "pkg/sub/__main__.py": NEVER,
    "pkg/cli.py": NEVER,
    "pkg/data/__main__.txt": "not a module",
    "not-a-name/__main__.py": NEVER,
    "tool-1.0.dist-info/entry_points.txt": (
        "[console_scripts]\n"
        "tool = pkg.cli:main [color]\n"
        "Tool-Upper = pkg.cli : Main.run\n"
        "\n"
        "[gui_scripts]\n"
        "bad = not a reference\n"
        "relative = .pkg:main\n"
        "mod_only = pkg.cli\n"
    ),
    "vendor/x-1.0.dist-info/entry_points.txt": "[console_scripts]\nnested = not.top:level\n",
}

RUNNABLE = {
    "__main__.py": "import sys\nWHERE = ('top', sys.argv[1:])\n",
    "pkg/__init__.py": "",
    "pkg/__main__.py": "WHERE = 'pkg'\n",
    "pkg/cli.py": (
        "def main(*args):\n    return ('main', args)\n"
        "class Main:\n    @staticmethod\n    def run():\n        return 'Main.run'\n"
    ),
    "tool-1.0.dist-info/entry_points.txt": "[console_scripts]\ntool = pkg.cli:main\n[plugins]\nrunner = pkg.cli:Main.run\n",
}


def _summary(found: List[Runnable]) -> List[Tuple[str, str, str, Any]]:
    return [(entry.kind, entry.name, entry.ref, entry.group) for entry in found]


def _where(tree: Any) -> Any:
    if tree.kind == "dir":
        pytest.skip("a directory given to discover() is a folder of archives, covered below")
    return tree.location if tree.kind == "zip" else tree.source


def test_entries_without_running_anything(make_tree: Any, clean_sys: Any) -> None:
    tree = make_tree(APP)
    where = _where(tree)
    zrun.discover(where)  # warm: zrun's and the stdlib's lazy imports (codecs) happen once
    state = zrun.SysState(modules=True)
    found = zrun.discover(where)  # every module of APP raises if executed
    assert _summary(found) == [
        ("main", "__main__", "__main__", None),
        ("main", "pkg", "pkg", None),
        ("main", "pkg.sub", "pkg.sub", None),
        ("entry_point", "tool", "pkg.cli:main", "console_scripts"),
        ("entry_point", "Tool-Upper", "pkg.cli:Main.run", "console_scripts"),
        ("entry_point", "mod_only", "pkg.cli", "gui_scripts"),
    ]
    archive = os.path.abspath(tree.location) if tree.location else tree.source.root
    assert {entry.archive for entry in found} == {archive}
    assert state.diff() == []


def test_targets_run_in_a_scope_and_with_run(make_tree: Any, clean_sys: Any) -> None:
    tree = make_tree(RUNNABLE)
    found = {entry.name: entry for entry in zrun.discover(_where(tree))}
    assert sorted(found) == ["__main__", "pkg", "runner", "tool"]
    with zrun.Scope(_where(tree)) as scope:
        assert scope.run(found["__main__"].ref, ["-x"])["WHERE"] == ("top", ["-x"])
        assert scope.run(found["pkg"].ref)["WHERE"] == "pkg"
        assert scope.call(found["tool"].ref, 1, 2) == ("main", (1, 2))
        assert scope.call(found["runner"].target) == "Main.run"
    assert scope.diff() == []
    if tree.kind == "zip":  # a full target names the archive: zrun.run needs nothing else
        assert found["pkg"].target == f"{os.path.abspath(tree.location)}:pkg"
        assert zrun.run(found["__main__"].target, ["y"], isolate=True)["WHERE"] == ("top", ["y"])
        assert zrun.run(found["tool"].target, isolate=True) == ("main", ())
    else:
        assert [entry.target for entry in found.values()] == [entry.ref for entry in found.values()]


def test_folder_lists_archives_only(tmp_path: Path) -> None:
    for name in ("b.zip", "a.pyz", "c-1.0-py3-none-any.whl", "D.ZIP", "sub/e.zip"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        write_zip(tmp_path / name, {"__main__.py": ""})
    write_zip(tmp_path / "library.zip", {"lib/__init__.py": ""})  # nothing runnable: no entries
    (tmp_path / "notes.txt").write_text("not an archive")
    (tmp_path / "folder.zip").mkdir()
    archives = [os.path.basename(entry.archive) for entry in zrun.discover(tmp_path)]
    assert archives == ["D.ZIP", "a.pyz", "b.zip", "c-1.0-py3-none-any.whl"]
    memory = zrun.MemorySource({"__main__.py": ""})
    mixed = zrun.discover([str(tmp_path / "sub"), tmp_path / "a.pyz", memory])
    assert [entry.archive for entry in mixed] == [str(tmp_path / "sub" / "e.zip"), str(tmp_path / "a.pyz"), memory.root]


def test_unreadable_archives_raise_or_are_reported(tmp_path: Path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"this is no zip")
    write_zip(tmp_path / "meta.zip", {"x-1.dist-info/entry_points.txt": "[unclosed\nname = a:b\n"})
    write_zip(tmp_path / "good.zip", {"__main__.py": ""})
    with pytest.raises(zrun.NotAnArchive, match=r"broken\.zip"):
        zrun.discover(tmp_path)
    errors: List[Tuple[str, Exception]] = []
    found = zrun.discover(tmp_path, on_error=lambda archive, exc: errors.append((archive, exc)))
    assert [os.path.basename(entry.archive) for entry in found] == ["good.zip"]
    assert [(os.path.basename(archive), type(exc).__name__) for archive, exc in errors] == [
        ("broken.zip", "NotAnArchive"),
        ("meta.zip", "BadMetadata"),
    ]
    assert isinstance(errors[1][1], zrun.ZrunError)  # a typed zrun error, not configparser's
    assert f"{tmp_path / 'meta.zip'}: x-1.dist-info/entry_points.txt: line 1 " in str(errors[1][1])  # names archive, file, line


def test_missing_archive_raises(tmp_path: Path) -> None:
    with pytest.raises(zrun.ArchiveNotFound):
        zrun.discover(tmp_path / "nothing.zip")


def test_functions_survive_importing_their_modules() -> None:
    """Importing a submodule binds it on the package; no submodule is named like a public function."""
    code = (
        "import zrun.plugins.discovery, zrun.plugins.install, zrun\n"
        "print(zrun.discover([]), zrun.Runnable.__name__, callable(zrun.install))"
    )
    assert expect_ok(run_python(code)).split() == ["[]", "Runnable", "True"]


# --- hostile metadata: bounded reading and parsing, typed refusals -------------------------------

GIB_OF_NEWLINES = 1000 << 20


def _bomb_wheel(path: Path, *, declared: Optional[int] = None) -> Path:
    """A ~1 MB wheel whose entry_points.txt inflates to 1000 MiB (declaring ``declared``, default the truth)."""
    points = hostile.big_member("bomb-1.0.dist-info/entry_points.txt", GIB_OF_NEWLINES, b"\n" * (1 << 20), declared=declared)
    path.write_bytes(hostile.assemble([*hostile.good_members(), points]))
    return path


DISCOVER_LIMITED = """
import time, zrun
errors = []
start = time.perf_counter()
found = zrun.discover(sys.argv[1], on_error=lambda archive, exc: errors.append(exc))
took = time.perf_counter() - start
for exc in errors:
    print(type(exc).__name__, isinstance(exc, zrun.ZrunError), exc)
print(f"{took:.3f}", len(found))
"""


@needs_rlimit
@pytest.mark.parametrize("declared", ["honest", "lying"])
def test_metadata_bomb_is_refused_fast_under_a_memory_limit(tmp_path: Path, declared: str) -> None:
    """entry_points.txt of 1000 MiB in a 1 MB wheel, under a 256 MiB address space: on_error gets a typed error in under a second."""
    wheel = _bomb_wheel(tmp_path / "bomb-1.0-py3-none-any.whl", declared=None if declared == "honest" else 1 << 20)
    assert wheel.stat().st_size < 2 << 20
    result = run_limited(DISCOVER_LIMITED, str(wheel))
    assert result.returncode == 0, result.stderr
    *errors, summary = result.stdout.splitlines()
    assert len(errors) == 1, result.stdout
    kind, typed, message = errors[0].split(" ", 2)
    assert typed == "True" and kind in ("MemberTooLarge", "CorruptArchive"), errors[0]
    assert message.startswith(f"{wheel}: bomb-1.0.dist-info/entry_points.txt: "), message
    if declared == "honest":
        assert message.endswith(f"declares {GIB_OF_NEWLINES} bytes, over the {MAX_METADATA_SIZE}-byte limit"), message
    else:
        assert "decompresses past its declared" in message, message
    assert float(summary.split()[0]) < 1.0, summary


@pytest.mark.parametrize(
    "text, error, words",
    [
        ("[g]\na" + " " * (3 << 20) + "b\n", "BadMetadata", "line 2 is neither '[group]' nor 'name = value'"),  # configparser: hours
        ("[g]\n" + "".join(f"a{i}=b.c\n" for i in range(MAX_ENTRY_POINTS + 1)), "BadMetadata", "declares more than 10000 entry points"),
        ("[g]\nx = a:b\n" + "#" * MAX_METADATA_SIZE, "MemberTooLarge", f"over the {MAX_METADATA_SIZE}-byte limit"),
        ("[g]\nx = \xff\n", "BadMetadata", "is not UTF-8 text"),
    ],
    ids=["one long line of spaces", "too many entry points", "over the size limit", "not UTF-8"],
)
def test_hostile_entry_points_are_refused_in_under_a_second(make_tree: Any, text: str, error: str, words: str) -> None:
    """Bounded parsing: whatever an entry_points.txt of a few MiB holds, a typed error naming it, fast."""
    tree = make_tree({"__main__.py": NEVER, "x-1.dist-info/entry_points.txt": text.encode("latin-1")})
    where = _where(tree)
    errors: List[Exception] = []
    start = time.perf_counter()
    assert zrun.discover(where, on_error=lambda archive, exc: errors.append(exc)) == []
    took = time.perf_counter() - start
    assert [type(exc).__name__ for exc in errors] == [error], errors
    assert isinstance(errors[0], zrun.ArchiveError)
    assert errors[0].member == "x-1.dist-info/entry_points.txt" and words in errors[0].reason, errors[0]
    assert took < 1.0
