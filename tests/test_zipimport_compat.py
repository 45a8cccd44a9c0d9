"""Small things zipimport does that zrun's loader for archives on sys.path must do too.

Each was a failure of CPython's own ``test_zipimport`` / ``test_pkgutil`` with
``zrun.install()`` (see ``test_cpython_zipimport.py``); here each is checked
directly, on every interpreter, whether or not it ships its test package.
"""

from __future__ import annotations

import importlib
import importlib.util
import marshal
import os
import sys
import zipimport
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import pytest

import zrun
from conftest import write_zip


@pytest.fixture
def on_path(tmp_path: Path, clean_sys: Any) -> Iterator[Any]:
    """Put archives on sys.path with zrun serving them; everything undone afterwards."""

    def put(path: Path) -> str:
        sys.path.insert(0, str(path))
        return str(path)

    zrun.install()
    try:
        with zrun.SysState(modules=True):  # sys.path too
            yield put
    finally:
        zrun.uninstall()


def hash_pyc(source: bytes, checked: bool) -> bytes:
    flags = 0b11 if checked else 0b01
    header = importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little") + importlib.util.source_hash(source)
    return header + marshal.dumps(compile(source, "?", "exec"))


def test_check_hash_based_pycs_always_checks_unchecked_pycs(tmp_path: Path, on_path: Any) -> None:
    archive = write_zip(tmp_path / "h.zip", {"hmod.py": "state = 'new'\n", "hmod.pyc": hash_pyc(b"state = 'old'\n", checked=False)})
    on_path(archive)
    with mock.patch("_imp.check_hash_based_pycs", "always"):
        assert importlib.import_module("hmod").state == "new"


def test_an_unchecked_pyc_is_used_by_default(tmp_path: Path, on_path: Any) -> None:
    archive = write_zip(tmp_path / "u.zip", {"umod.py": "state = 'new'\n", "umod.pyc": hash_pyc(b"state = 'old'\n", checked=False)})
    on_path(archive)
    assert importlib.import_module("umod").state == "old"


def test_bad_magic_without_source_is_a_zip_import_error(tmp_path: Path, on_path: Any) -> None:
    archive = write_zip(tmp_path / "m.zip", {"magicmod.pyc": b"\0\0\0\0" + bytes(12) + marshal.dumps(compile("", "?", "exec"))})
    on_path(archive)
    with pytest.raises(zipimport.ZipImportError) as info:
        importlib.import_module("magicmod")
    assert isinstance(info.value.__cause__, ImportError)
    assert "magic number" in str(info.value.__cause__)


def test_get_data_takes_names_relative_to_the_archive(tmp_path: Path, on_path: Any) -> None:
    archive = write_zip(tmp_path / "d.zip", {"lib/datapkg/__init__.py": "", "lib/datapkg/some.data": b"payload"})
    on_path(archive / "lib")
    loader = importlib.import_module("datapkg").__loader__
    assert loader.get_data(os.path.join("lib", "datapkg", "some.data")) == b"payload"
    assert loader.get_data(str(archive / "lib" / "datapkg" / "some.data")) == b"payload"
    with pytest.raises(OSError):
        loader.get_data("lib/datapkg/missing.data")


def test_invalidate_caches_with_a_deleted_archive(tmp_path: Path, on_path: Any) -> None:
    archive = write_zip(tmp_path / "gone.zip", {"gonemod.py": "X = 1\n"})
    on_path(archive)
    assert importlib.import_module("gonemod").X == 1
    archive.unlink()
    importlib.invalidate_caches()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("gonemod_other")


def test_path_hook_rejects_what_is_not_a_path(on_path: Any) -> None:
    with pytest.raises(TypeError):
        zrun.loading.loader.zip_path_hook(116)  # type: ignore[arg-type]


def test_loader_of_an_archive_module_is_a_zipimporter(tmp_path: Path, on_path: Any) -> None:
    archive = write_zip(tmp_path / "z.zip", {"zpkg/__init__.py": "", "zpkg/inner/__init__.py": "", "zpkg/inner/leaf.py": ""})
    on_path(archive)
    leaf = importlib.import_module("zpkg.inner.leaf")
    loader = leaf.__loader__
    assert isinstance(loader, zipimport.zipimporter)
    assert (loader.archive, loader.prefix) == (str(archive), os.path.join("zpkg", "inner") + os.sep)
    assert os.path.join("zpkg", "inner", "leaf.py") in loader._files
    assert loader.find_spec("zpkg.inner.leaf").origin == leaf.__file__


def test_is_resource(tmp_path: Path, on_path: Any) -> None:
    """3.9's ``TraversableResources.is_resource`` calls ``isfile()``."""
    archive = write_zip(tmp_path / "r.zip", {"respkg/__init__.py": "", "respkg/data.txt": "x"})
    on_path(archive)
    reader = importlib.import_module("respkg").__loader__.get_resource_reader("respkg")
    assert reader.is_resource("data.txt") is True
    assert reader.is_resource("nothing.txt") is False
