"""discover(): runnable entries of archives, read from their indexes without running anything."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Tuple

import pytest

import zrun
from conftest import expect_ok, run_python, write_zip
from zrun import Runnable

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
        ("meta.zip", "MissingSectionHeaderError"),
    ]
    assert "meta.zip/x-1.dist-info/entry_points.txt" in str(errors[1][1])  # the parse error names the file


def test_missing_archive_raises(tmp_path: Path) -> None:
    with pytest.raises(zrun.ArchiveNotFound):
        zrun.discover(tmp_path / "nothing.zip")


def test_functions_survive_importing_their_modules() -> None:
    """Importing a submodule binds it on the package; no submodule is named like a public function."""
    code = "import zrun.discovery, zrun.hooks, zrun\nprint(zrun.discover([]), zrun.Runnable.__name__, callable(zrun.install))"
    assert expect_ok(run_python(code)).split() == ["[]", "Runnable", "True"]
