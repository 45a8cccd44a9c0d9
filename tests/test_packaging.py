"""The sdist and the metadata: a license file, PEP 639 metadata, and a test suite that runs from the sdist."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist of this tree, built as ``python -m build --sdist`` builds it, unpacked."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("the 'build' package is not installed (pip install build)")
    out = tmp_path_factory.mktemp("sdist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "-o", str(out), str(ROOT)], capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        pytest.skip(f"cannot build an sdist here (no setuptools>=77 for the isolated build?): {result.stdout[-300:]}{result.stderr[-300:]}")
    assert "License classifiers are deprecated" not in result.stdout + result.stderr
    assert "project.license` as a TOML table is deprecated" not in result.stdout + result.stderr
    (archive,) = out.glob("zrun-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(out, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # type: ignore[arg-type]
    (unpacked,) = [path for path in out.iterdir() if path.is_dir()]
    return unpacked


def test_license_metadata(sdist: Path) -> None:
    assert (sdist / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    headers = (sdist / "PKG-INFO").read_text(encoding="utf-8").split("\n\n")[0].splitlines()
    assert "License-Expression: MIT" in headers and "License-File: LICENSE" in headers
    assert not [line for line in headers if line.startswith("Classifier: License ::")]


def test_sdist_ships_what_the_tests_read(sdist: Path) -> None:
    for needed in (
        "tests/conftest.py",
        "tests/hostile.py",
        "tests/cpython_runpy.py",
        "tests/wheels.py",
        "examples/build_example.py",
        "examples/plugin_host/host.py",
        "benchmarks/run.py",
        "build_scripts/build_pyz.py",
        "build_scripts/pyz_main.py",
    ):
        assert (sdist / needed).is_file(), needed
    leftovers = [path for path in sdist.rglob("*") if path.suffix in (".pyc", ".pyo") or path.name in ("hello.pyz", "__pycache__")]
    assert leftovers == [] and not (sdist / ".ci").exists()


def test_sdist_tests_collect(sdist: Path) -> None:
    """Every test module of the sdist imports (17 collection errors once): the suite runs from there as from a clone."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=sdist,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert " error" not in result.stdout.splitlines()[-1]
