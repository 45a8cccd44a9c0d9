"""Run CPython's own zip-import tests with ``zrun.install()`` serving every zip on ``sys.path``.

Used by ``test_cpython_zip_suites.py`` in a subprocess; writes one JSON object
to the file named by its argument (the tests themselves print to stdout).
A test counts as ``served`` only when zrun's finder or loader did some of its
work (a test that builds ``zipimport.zipimporter`` itself passes or fails
without zrun and says nothing about it). Modules: ``test.test_zipimport``,
``test.test_zipimport_support``, ``test.test_pkgutil``, and the zip and
namespace cases of ``test.test_importlib`` (namespace packages, resources,
metadata from zips).
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import sys
import unittest
from typing import Any, Callable, Dict, Iterator, List

import zrun
from zrun.loading import loader as zloader
from zrun.loading import namespaces
from zrun.loading import zipimporter as zipcompat

MODULES = [
    "test.test_zipimport",
    "test.test_zipimport_support",
    "test.test_pkgutil",
    "test.test_importlib.test_namespace_pkgs",
    "test.test_importlib.test_zip",
]
#: resource test modules (moved into a package in 3.12); only their zip and namespace classes
RESOURCE_MODULES = ["test_files", "test_open", "test_read", "test_resource", "test_contents", "test_path", "test_reader", "test_custom"]

_served = [False]


def _mark(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def marked(*args: Any, **kwargs: Any) -> Any:
        _served[0] = True
        return function(*args, **kwargs)

    return marked


def watch_zrun() -> None:
    """Record, per test, whether zrun's own finder, loaders or namespace reader were used."""
    for cls, names in (
        (zloader.SourceFinder, ["find_spec"]),
        (zloader.ModuleLoader, ["exec_module", "get_code", "get_data", "get_source", "get_resource_reader", "is_package"]),
        (zipcompat.ArchiveLoader, ["find_spec", "load_module"]),
        (namespaces.PortionsLoader, ["get_resource_reader"]),
    ):
        for name in names:
            setattr(cls, name, _mark(vars(cls)[name]))


def tests_of(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from tests_of(item)
        else:
            yield item


def collect() -> unittest.TestSuite:
    suite = unittest.TestSuite()
    loader = unittest.defaultTestLoader
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        suite.addTests(loader.loadTestsFromModule(module))
    for short in RESOURCE_MODULES:
        for package in ("test.test_importlib.resources", "test.test_importlib"):
            try:
                module = importlib.import_module(f"{package}.{short}")
            except ImportError:
                continue
            for test in tests_of(loader.loadTestsFromModule(module)):
                kind = type(test).__name__
                if "Zip" in kind or "Namespace" in kind:
                    suite.addTest(test)
            break
    return suite


class Result(unittest.TextTestResult):
    """Sorts outcomes by whether zrun served the test."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.served_passes: List[str] = []
        self.unserved_passes: List[str] = []
        self.broken: Dict[str, str] = {}

    def startTest(self, test: unittest.TestCase) -> None:
        _served[0] = False
        super().startTest(test)

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        (self.served_passes if _served[0] else self.unserved_passes).append(short_id(test))

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self.broken[short_id(test)] = last_line(self.failures[-1][1])

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self.broken[short_id(test)] = last_line(self.errors[-1][1])


def short_id(test: unittest.TestCase) -> str:
    return test.id().replace("test.test_importlib.", "importlib.").replace("test.", "")


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def main() -> int:
    watch_zrun()
    zrun.install()
    suite = collect()
    runner = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0, resultclass=Result)
    result: Any = runner.run(suite)
    report = {
        "version": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "ran": result.testsRun,
        "skipped": len(result.skipped),
        "served_passes": sorted(result.served_passes),
        "unserved_passes": len(result.unserved_passes),
        "broken": dict(sorted(result.broken.items())),
    }
    with open(sys.argv[1], "w", encoding="utf-8") as stream:
        json.dump(report, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
