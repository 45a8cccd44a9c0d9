"""One body of tests over every source kind: directory, zip file, zip bytes, memory, frozen."""

from __future__ import annotations

import sys
import traceback
from typing import Any, Dict

import pytest

import zrun

if sys.version_info >= (3, 10):
    import importlib.resources as resources
else:  # 3.9's files() ignores loaders' resource readers; the backport does not.
    import importlib_resources as resources

PROBE = """
import sys
from . import helper
def info(name):
    module = sys.modules[name]
    spec = module.__spec__
    return {
        "has_file": hasattr(module, "__file__"),
        "file": getattr(module, "__file__", None),
        "loader": module.__loader__,
        "spec_name": spec.name,
        "has_location": spec.has_location,
        "package": module.__package__,
    }
"""

PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/helper.py": "VALUE = 42\n",
    "pkg/probe.py": PROBE,
    "pkg/mod.py": (
        "from . import helper\n"
        "import sys\n"
        "RESULT = helper.VALUE\n"
        "def fail():\n"
        "    raise ValueError('boom from mod')\n"
        "if __name__ == '__main__':\n"
        "    sys.stdout.write('main ran %d\\n' % RESULT)\n"
    ),
    "pkg/__main__.py": "import sys\nsys.stdout.write('package main ran\\n')\n",
    "pkg/data/table.json": '{"rows": 3}',
    "ns/portion/leaf.py": "LEAF = 'leaf'\n",
    "ns/notes.txt": "namespace data",
}


def test_run_as_main(make_tree: Any, capsys: pytest.CaptureFixture[str], clean_sys: Any) -> None:
    tree = make_tree(PACKAGE)
    namespace: Dict[str, Any] = zrun.run("pkg.mod", sources=tree.sources, isolate=True)
    assert capsys.readouterr().out == "main ran 42\n"
    spec = namespace["__spec__"]
    assert namespace["__name__"] == "__main__"
    assert spec.name == "pkg.mod"
    assert namespace["__package__"] == "pkg" == spec.parent
    assert namespace["__loader__"] is spec.loader is not None
    assert spec.has_location is tree.has_location
    if tree.has_location:
        assert namespace["__file__"].replace("\\", "/").endswith("pkg/mod.py")
        assert namespace["__file__"].startswith(str(tree.location))
    else:
        assert namespace["__file__"] is None


def test_package_runs_its_main(make_tree: Any, capsys: pytest.CaptureFixture[str], clean_sys: Any) -> None:
    tree = make_tree(PACKAGE)
    zrun.run("pkg", sources=tree.sources, isolate=True)
    assert capsys.readouterr().out == "package main ran\n"


def test_imported_module_attributes(make_tree: Any, clean_sys: Any) -> None:
    tree = make_tree(PACKAGE)
    facts = zrun.run_module("pkg.probe", sources=tree.sources)["info"]("pkg.helper")
    assert facts["spec_name"] == "pkg.helper"
    assert facts["loader"] is not None
    assert facts["package"] == "pkg"
    assert facts["has_location"] is tree.has_location
    assert facts["has_file"] is tree.has_location
    for name in [n for n in sys.modules if n == "pkg" or n.startswith("pkg.")]:
        del sys.modules[name]


def test_namespace_package(make_tree: Any, clean_sys: Any) -> None:
    tree = make_tree(PACKAGE)
    with zrun.SysState(modules=True):
        namespace = zrun.run_module("ns.portion.leaf", sources=tree.sources)
        assert namespace["LEAF"] == "leaf"
        assert sys.modules["ns"].__spec__.submodule_search_locations is not None


def test_resources(make_tree: Any, clean_sys: Any) -> None:
    tree = make_tree(PACKAGE)
    with zrun.SysState(modules=True):
        zrun.run_module("pkg.helper", sources=tree.sources, alter_sys=True)
        with _importable(tree):
            import pkg

            root = resources.files(pkg)
            assert (root / "data" / "table.json").read_text() == '{"rows": 3}'
            assert sorted(entry.name for entry in root.joinpath("data").iterdir()) == ["table.json"]
            with resources.as_file(root / "data" / "table.json") as real:
                with open(real, encoding="utf-8") as stream:
                    assert stream.read() == '{"rows": 3}'


def test_namespace_resources(make_tree: Any, clean_sys: Any) -> None:
    tree = make_tree(PACKAGE)
    if tree.kind == "dir" and sys.version_info < (3, 10):
        pytest.skip("3.9's importlib.resources has no namespace-package reader for directories (stdlib behaviour)")
    with zrun.SysState(modules=True), _importable(tree):
        import ns

        assert resources.files(ns).joinpath("notes.txt").read_text() == "namespace data"


def test_traceback_shows_source_lines(make_tree: Any, clean_sys: Any) -> None:
    tree = make_tree(PACKAGE)
    namespace = zrun.run("pkg.mod", sources=tree.sources, run_name="__main__", isolate=True)
    with pytest.raises(ValueError) as info:
        namespace["fail"]()
    text = "".join(traceback.format_exception(info.type, info.value, info.tb))
    if tree.has_source_text:
        assert "raise ValueError('boom from mod')" in text
    else:
        assert "raise ValueError" not in text


def test_getsource(make_tree: Any, clean_sys: Any) -> None:
    import inspect

    tree = make_tree(PACKAGE)
    namespace = zrun.run("pkg.mod", sources=tree.sources, isolate=True)
    if tree.has_source_text:
        assert inspect.getsource(namespace["fail"]).startswith("def fail():")
    else:
        with pytest.raises(OSError):
            inspect.getsource(namespace["fail"])


def test_each_module_compiled_once(make_tree: Any, monkeypatch: pytest.MonkeyPatch, clean_sys: Any) -> None:
    from zrun.loading import moduleloader as loader

    tree = make_tree(PACKAGE)
    if tree.kind == "dir":
        pytest.skip("directories are served by the stdlib's own loader")
    compiled = []
    real = loader.compile_source

    def counting(data: bytes, filename: str, module: Any = None) -> Any:
        compiled.append(filename)
        return real(data, filename, module)

    monkeypatch.setattr(loader, "compile_source", counting)
    zrun.run("pkg.mod", sources=tree.sources, isolate=True)
    expected = [] if tree.kind == "frozen" else ["pkg/__init__.py", "pkg/mod.py", "pkg/helper.py"]
    assert sorted(name.replace("\\", "/").rsplit("/", 2)[-2] + "/" + name.rsplit("/", 1)[-1] for name in compiled) == sorted(expected)


class _importable:
    """Make a tree importable for plain ``import`` statements, then undo it."""

    def __init__(self, tree: Any) -> None:
        self.tree = tree

    def __enter__(self) -> None:
        if isinstance(self.tree.source, str):
            if self.tree.kind == "zip":
                zrun.install()  # zrun's path hook serves zips on sys.path, not zipimporter
            sys.path.insert(0, self.tree.source)
            self.installed = None
        else:
            self.installed = zrun.install(self.tree.source)

    def __exit__(self, *exc: object) -> None:
        if self.installed is not None:
            zrun.uninstall(self.installed)
            return
        sys.path.remove(self.tree.source)
        if self.tree.kind == "zip":
            assert type(sys.modules["pkg" if "pkg" in sys.modules else "ns"].__loader__).__module__.startswith("zrun.")  # not zipimport's
            zrun.uninstall()
