"""CPython's own ``test_zipimport`` with ``zrun.install()``: Zstandard members import like stored ones.

3.15's zipimport reads Zstandard members (PEP 784), and its test suite runs
each test over stored, deflated and Zstandard archives. zrun's differences
from zipimport (listed in docs/compatibility.md) fail alike in every class;
what this checks is that Zstandard adds no failure of its own: the test
names failing in the Zstandard class are those failing in the stored one.
The ZIP64 tests, which only write big archives (5 s with Zstandard), are left out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict, Set

import pytest

from conftest import SRC

RUN = """
import sys, unittest, zrun
zrun.install()
from test import test_zipimport
for cls in ("UncompressedZipImportTestCase", "ZStdCompressedZipImportTestCase"):
    suite = unittest.TestSuite(
        test for test in unittest.defaultTestLoader.loadTestsFromTestCase(getattr(test_zipimport, cls))
        if not test._testMethodName.startswith("testZip64")
    )
    result = unittest.TextTestRunner(stream=open(__import__("os").devnull, "w")).run(suite)
    print(cls, result.testsRun, *sorted(f"{case._testMethodName}={'93' if 'compression method 93' in tb else 'x'}"
                                        for case, tb in result.failures + result.errors))
"""


def _has_zstd_tests() -> bool:
    try:
        from test import test_zipimport  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return False
    return hasattr(test_zipimport, "ZStdCompressedZipImportTestCase")


@pytest.mark.skipif(not _has_zstd_tests(), reason="CPython's test_zipimport with Zstandard archives is 3.15's (and needs its test package)")
def test_zstandard_members_fail_nothing_that_stored_ones_pass(tmp_path: object) -> None:
    env = {**os.environ, "PYTHONPATH": SRC, "ZRUN_NO_CACHE": "1"}
    result = subprocess.run([sys.executable, "-c", RUN], env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    failed: Dict[str, Set[str]] = {}
    for line in result.stdout.splitlines():
        cls, ran, *names = line.split()
        assert int(ran) > 30, line
        failed[cls] = set(names)
    assert not any(name.endswith("=93") for name in failed["ZStdCompressedZipImportTestCase"]), failed
    assert failed["ZStdCompressedZipImportTestCase"] == failed["UncompressedZipImportTestCase"]
