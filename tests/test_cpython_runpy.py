"""CPython's own runpy tests, pointed at zrun: only the documented differences may fail.

Each allowed failure is a line of ``docs/compatibility.md``; a new failure is
a compatibility bug.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent

ZIP_CACHED = "`__spec__.cached` (and `__cached__`, which 3.15 no longer sets) is `None` for modules from zip"

#: test id -> the docs/compatibility.md line that explains why zrun differs.
DOCUMENTED = {
    # runpy searches sys.path for __main__ and recurses into the zip's own (gh-75221)
    "RunPathTestCase.test_main_recursion_error": "look for `__main__` only inside",
    # runpy derives __package__ from run_name for directories
    "RunPathTestCase.test_directory": "`__package__` always equals `__spec__.parent`",
    "RunPathTestCase.test_directory_compiled": "`__package__` always equals `__spec__.parent`",  # with bytecode writing on
    # zipimport's spec names a __pycache__ file inside the archive that never exists
    "RunPathTestCase.test_zipfile": ZIP_CACHED,
    "RunPathTestCase.test_zipfile_compiled": ZIP_CACHED,
}
if sys.version_info < (3, 13):
    # runpy before 3.13 puts the PathLike object itself in __file__
    DOCUMENTED["RunPathTestCase.test_basic_script_with_path_object"] = "accepts `bytes` and `os.PathLike` paths"


def has_module(name: str) -> bool:
    """Whether ``name`` imports here (Debian splits CPython's test package into its own package)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


@pytest.mark.skipif(not has_module("test.test_runpy"), reason="this interpreter ships without CPython's test package")
def test_cpython_runpy_suite_passes_but_for_documented_differences() -> None:
    result = subprocess.run(
        [sys.executable, str(HERE / "cpython_runpy.py")], capture_output=True, text=True, timeout=300, cwd=HERE
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ran"] > 30
    undocumented = set(report["broken"]) - set(DOCUMENTED)
    traces = "\n".join(report["details"].values())
    assert not undocumented, f"zrun differs from runpy, undocumented: {sorted(undocumented)}\n{traces}\n{result.stderr}"
    compatibility = (HERE.parent / "docs" / "compatibility.md").read_text(encoding="utf-8")
    for test_id in report["broken"]:
        assert DOCUMENTED[test_id] in compatibility, test_id
