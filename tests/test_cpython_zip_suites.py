"""CPython's own zip-import tests with ``zrun.install()``: only documented differences may fail.

The driver (``cpython_zip_suites.py``) runs ``test_zipimport``,
``test_zipimport_support``, ``test_pkgutil`` and the zip and namespace cases of
``test_importlib`` from this interpreter's stdlib in a subprocess, and counts
a pass only when zrun's finder or loader did the work. Each allowed failure
names the ``docs/compatibility.md`` line that explains it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent

#: test id (without the class's compression prefix) -> the docs/compatibility.md text that explains it.
DOCUMENTED = {
    # mod.py beside a legacy mod.pyc: zipimport imports the .pyc and names it in __file__
    "ZipImportTestCase.testBoth": "`mod.py` beside a legacy `mod.pyc` in an archive",
    "ZipImportTestCase.testGetCompiledSource": "`mod.py` beside a legacy `mod.pyc` in an archive",
    # zipimport cannot decompress once zlib is shadowed by a zlib.py in the archive; zrun holds its own zlib
    "ZipImportTestCase.testAFakeZlib": "A deflated `zlib.py` in a zip on `sys.path` under `zrun.install()` imports",
}


def documented(test_id: str) -> str:
    """The explanation for ``module.Class.test``; every compression variant shares one."""
    cls, method = test_id.split(".")[-2:]
    if cls.endswith("ZipImportTestCase"):  # Uncompressed..., Compressed..., 3.15's Deflate/ZStdCompressed...
        cls = "ZipImportTestCase"
    return DOCUMENTED.get(f"{cls}.{method}", "")


@pytest.mark.skipif(importlib.util.find_spec("test.test_zipimport") is None, reason="this interpreter ships without its test package")
def test_cpython_zip_import_suites_pass_but_for_documented_differences(tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, str(HERE / "cpython_zip_suites.py"), str(report_file)], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["ran"] > 150
    assert len(report["served_passes"]) > 80, "zrun's loader served too few of CPython's zip-import tests"
    undocumented = {test_id: why for test_id, why in report["broken"].items() if not documented(test_id)}
    assert not undocumented, f"zrun differs from zipimport, undocumented: {json.dumps(undocumented, indent=1)}"
    compatibility = (HERE.parent / "docs" / "compatibility.md").read_text(encoding="utf-8")
    for test_id in report["broken"]:
        assert documented(test_id) in compatibility, test_id
