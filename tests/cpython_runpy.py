"""Run CPython's own ``test.test_runpy`` with ``runpy.run_module``/``run_path`` replaced by zrun's.

Used by ``test_cpython_runpy.py`` in a subprocess; prints one JSON object:
how many tests ran, the ids of those that failed or errored, and their tracebacks.
"""

from __future__ import annotations

import io
import json
import runpy
import sys
import unittest

import zrun


def main() -> int:
    runpy.run_module = zrun.run_module  # type: ignore[assignment]
    runpy.run_path = zrun.run_path  # type: ignore[assignment]
    from test import test_runpy  # imports run_module/run_path by name: patch first

    suite = unittest.defaultTestLoader.loadTestsFromModule(test_runpy)
    result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    broken = sorted(test.id().rpartition("test_runpy.")[2] for test, _ in result.failures + result.errors)
    details = {test.id().rpartition("test_runpy.")[2]: trace for test, trace in result.failures + result.errors}
    json.dump({"ran": result.testsRun, "broken": broken, "details": details}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
