"""PEP 420 namespace packages whose portions live in several sources and ``sys.path`` entries.

A namespace portion is a spec with no loader and one search location; the
portions of every source (and of ``sys.path``) merge into one package, as
``PathFinder`` merges directories, and its resources are the union of them.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import zrun
from conftest import write_tree, write_zip

if sys.version_info >= (3, 10):
    import importlib.resources as resources
else:
    import importlib_resources as resources
    import importlib_resources.future.adapters
    import importlib_resources.readers

FIRST = {
    "nsx/a.py": "WHO = 'a'\n",
    "nsx/a.txt": "from the first portion",
    "nsx/shared/one.txt": "one",
}
SECOND = {
    "nsx/b.py": "WHO = 'b'\n",
    "nsx/b.txt": "from the second portion",
    "nsx/shared/two.txt": "two",
}
PROBE = {
    "probe.py": ("import nsx.a, nsx.b, sys\nNSX = sys.modules['nsx']\nA, B = nsx.a.WHO, nsx.b.WHO\n"),
}


@pytest.fixture
def modules_back() -> Iterator[None]:
    with zrun.SysState(modules=True):
        yield


def merged_facts(nsx: Any) -> Dict[str, Any]:
    root = resources.files(nsx)
    return {
        "file": ("__file__" in vars(nsx), nsx.__file__ if hasattr(nsx, "__file__") else "missing"),
        "portions": len(list(nsx.__path__)),
        "a.txt": root.joinpath("a.txt").read_text(),
        "b.txt": (root / "b.txt").read_text(),
        "names": sorted(entry.name for entry in root.iterdir() if not entry.name.endswith((".py", ".pyc")) and entry.name != "__pycache__"),
        "shared": sorted(entry.name for entry in (root / "shared").iterdir()),
        "is_dir": root.is_dir(),
    }


EXPECTED = {
    "file": (True, None),
    "portions": 2,
    "a.txt": "from the first portion",
    "b.txt": "from the second portion",
    "names": ["a.txt", "b.txt", "shared"],
    "shared": ["one.txt", "two.txt"],
    "is_dir": True,
}


def test_portions_of_two_sources_merge(make_tree: Any, modules_back: None, clean_sys: Any) -> None:
    first, second, probe = make_tree(FIRST), make_tree(SECOND), make_tree(PROBE)
    namespace = zrun.run("probe", sources=[*probe.sources, *first.sources, *second.sources], alter_sys=True)
    assert (namespace["A"], namespace["B"]) == ("a", "b")
    nsx = namespace["NSX"]
    assert nsx.__spec__.origin is None
    assert nsx.__spec__.submodule_search_locations is not None
    assert merged_facts(nsx) == EXPECTED


def test_sources_merge_with_portions_on_sys_path(make_tree: Any, tmp_path: Path, modules_back: None, clean_sys: Any) -> None:
    first = make_tree(FIRST)
    directory = write_tree(tmp_path / "on-path", SECOND)
    sys.path.insert(0, str(directory))
    try:
        namespace = zrun.run("probe", sources=[*make_tree(PROBE).sources, *first.sources], alter_sys=True)
        assert (namespace["A"], namespace["B"]) == ("a", "b")
        assert merged_facts(namespace["NSX"]) == EXPECTED
    finally:
        sys.path.remove(str(directory))


@contextlib.contextmanager
def installed_on_sys_path(*entries: Path) -> Iterator[None]:
    """``entries`` first on ``sys.path`` with ``zrun.install()`` serving the zips; all of it undone after."""
    sys.path[:0] = [str(entry) for entry in entries]
    zrun.install()
    try:
        yield
    finally:
        zrun.uninstall()
        for entry in entries:
            sys.path.remove(str(entry))
            for key in [key for key in list(sys.path_importer_cache) if key.startswith(str(entry))]:
                del sys.path_importer_cache[key]


def test_zips_on_sys_path_merge_with_install(tmp_path: Path, modules_back: None, clean_sys: Any) -> None:
    one, two = write_zip(tmp_path / "n1.zip", FIRST), write_zip(tmp_path / "n2.zip", SECOND)
    with installed_on_sys_path(one, two):
        import nsx.a
        import nsx.b

        assert type(nsx.a.__loader__).__module__.startswith("zrun.") and type(nsx.b.__loader__).__module__.startswith("zrun.")
        assert nsx.b.__file__ == str(two / "nsx" / "b.py")
        assert merged_facts(sys.modules["nsx"]) == EXPECTED


def test_zip_and_directory_portions_on_sys_path(tmp_path: Path, modules_back: None, clean_sys: Any) -> None:
    one, two = write_zip(tmp_path / "n1.zip", FIRST), write_tree(tmp_path / "n2", SECOND)
    with installed_on_sys_path(one, two):
        import nsx.a
        import nsx.b

        assert nsx.b.__file__ == str(two / "nsx" / "b.py")
        assert merged_facts(sys.modules["nsx"]) == EXPECTED


def test_path_entry_inside_an_archive(tmp_path: Path, modules_back: None, clean_sys: Any) -> None:
    archive = write_zip(tmp_path / "lib.zip", {"sub/nsp/data.txt": "below a prefix", "sub/nsp/mod.py": "X = 1\n", "nsp/wrong.txt": "no"})
    entry = str(archive / "sub")
    sys.path.insert(0, entry)
    zrun.install()
    try:
        import nsp.mod

        nsp = sys.modules["nsp"]
        assert nsp.__file__ is None
        assert list(nsp.__path__) == [str(archive / "sub" / "nsp")]
        root = resources.files(nsp)
        assert (root / "data.txt").read_text() == "below a prefix"
        assert sorted(entry.name for entry in root.iterdir()) == ["data.txt", "mod.py"]
        assert nsp.mod.__loader__.get_resource_reader("nsp.mod").files().joinpath("data.txt").read_text() == "below a prefix"
    finally:
        zrun.uninstall()
        sys.path.remove(entry)


def test_a_regular_package_in_an_earlier_source_wins(make_tree: Any, modules_back: None, clean_sys: Any) -> None:
    regular = make_tree({"nsx/__init__.py": "REGULAR = True\n", "nsx/a.py": "WHO = 'regular a'\n"})
    namespace = zrun.run(
        "probe2",
        sources=[*make_tree({"probe2.py": "import nsx.a\nWHO = nsx.a.WHO\n"}).sources, *regular.sources, *make_tree(SECOND).sources],
    )
    assert namespace["WHO"] == "regular a"
