"""Source lines of warnings raised while compiling archive modules, as linecache finds them.

3.14.10+ and 3.15's ``linecache`` reads an archive module's lines through
``sys.path_importer_cache[parent].get_data(filename)``: a ``SyntaxWarning``
from a zip module shows its line under zipimport, and must under zrun. Older
``linecache`` has no such lookup, so there zrun must show what zipimport shows.
"""

from __future__ import annotations

import linecache
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import SRC, write_zip

FILES = {
    "wmod.py": "OK = 1\nx = 1 is 1\n",
    "pkg/__init__.py": "",
    "pkg/sub.py": "import warnings\ny = 2 is 2\nwarnings.warn('at run time')\n",
}
#: linecache's archive lookup (CPython gh-86291's follow-up in 3.14.10 and 3.15).
READS_ARCHIVES = hasattr(linecache, "_read_from_archive")


def _stderr(args: List[str], env: Dict[str, str]) -> str:
    result = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stderr


def _zip_on_path(tmp_path: Path) -> Dict[str, str]:
    archive = write_zip(tmp_path / "w.zip", FILES)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(archive), SRC]), "ZRUN_NO_CACHE": "1", "PYTHONWARNINGS": "always"}


def _warned_lines(stderr: str) -> List[str]:
    """The source lines printed under each warning (indented), in order."""
    return [line.strip() for line in stderr.splitlines() if line.startswith("  ")]


def test_syntax_warning_shows_its_line_like_zipimport(tmp_path: Path) -> None:
    env = _zip_on_path(tmp_path)
    code = "import wmod, pkg.sub"
    under_zipimport = _stderr(["-c", code], env)
    under_zrun = _stderr(["-c", f"import zrun; zrun.install(); {code}"], env)
    if READS_ARCHIVES:
        assert "x = 1 is 1" in _warned_lines(under_zipimport)  # the control: zipimport's finder answers linecache
        assert _warned_lines(under_zrun) == ["x = 1 is 1", "y = 2 is 2", "warnings.warn('at run time')"], under_zrun
    else:
        assert set(_warned_lines(under_zrun)) >= set(_warned_lines(under_zipimport)), under_zrun  # nothing lost


@pytest.mark.skipif(not READS_ARCHIVES, reason="this linecache does not read archive modules' lines through get_data")
def test_syntax_warning_of_a_cli_target_shows_its_line(tmp_path: Path) -> None:
    env = _zip_on_path(tmp_path)
    archive = tmp_path / "w.zip"
    assert _warned_lines(_stderr(["-m", "zrun", f"{archive}:pkg.sub"], env)) == ["y = 2 is 2", "warnings.warn('at run time')"]


def test_finder_get_data_reads_by_full_path(tmp_path: Path) -> None:
    """What linecache asks: the bytes of a member by the path in ``co_filename``; OSError for anything else."""
    import zrun
    from zrun.loading.loader import zip_path_hook

    archive = write_zip(tmp_path / "w.zip", FILES)
    finder = zip_path_hook(str(archive))
    assert finder.get_data(f"{archive}/pkg/sub.py") == FILES["pkg/sub.py"].encode()
    assert zip_path_hook(f"{archive}/pkg").get_data(f"{archive}/wmod.py") == FILES["wmod.py"].encode()
    for missing in (f"{archive}/nope.py", f"{archive}/pkg", str(tmp_path / "elsewhere.py")):
        with pytest.raises(OSError):
            finder.get_data(missing)
    assert zrun.ZipSource(archive).root == str(archive)
