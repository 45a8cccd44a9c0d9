"""The command line, in real subprocesses through ``zrun_cli`` (``python -m zrun`` or runner.pyz).

Where the interpreter has an equivalent (``python -m``, ``python PATH``), the
same program is run both ways and what it saw is compared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipapp
from pathlib import Path
from typing import Any, Dict, List

import pytest

import zrun
import zrun.settings
from conftest import Launcher, write_tree, write_zip

SHOW = """
import json, sys
json.dump({
    "argv": sys.argv,
    "path0": sys.path[0],
    "name": __name__,
    "spec": __spec__.name if __spec__ is not None else None,
    "file": __file__,
    "package": __package__,
    "main_is_me": sys.modules["__main__"].__dict__ is globals(),
}, sys.stdout)
"""

FILES = {
    "cli_pkg/__init__.py": "",
    "cli_pkg/__main__.py": SHOW,
    "cli_pkg/show.py": SHOW,
    "cli_pkg/sib.py": "WHERE = 'sibling'\n",
    "cli_pkg/rel.py": "from . import sib\nprint(sib.WHERE)\n",
    "cli_pkg/nomain/__init__.py": "",
    "cli_pkg/exits.py": (
        "import sys\n"
        "how = sys.argv[1]\n"
        "if how == 'int': sys.exit(7)\n"
        "if how == 'none': sys.exit(None)\n"
        "if how == 'zero': sys.exit(0)\n"
        "if how == 'str': sys.exit('leaving with a message')\n"
        "if how == 'raise': raise SystemExit(42)\n"
        "if how == 'end': print('ran to the end')\n"
    ),
    "cli_pkg/boom.py": "def inner():\n    raise ValueError('boom in user code')\n\ninner()\n",
    "cli_pkg/deep.py": "import cli_pkg.boom\n",
    "cli_pkg/syntax.py": "def broken(:\n",
    "cli_pkg/interrupt.py": "print('before', flush=True)\nraise KeyboardInterrupt\n",
    "cli_pkg/funcs.py": (
        "import sys\n"
        "def three():\n    return 3\n"
        "def none():\n    print('called none')\n"
        "def zero():\n    return 0\n"
        "def text():\n    return 'returned text'\n"
        "def true():\n    return True\n"
        "def argv():\n    print(sys.argv[1:])\n    return len(sys.argv) - 1\n"
        "def boom():\n    raise RuntimeError('boom in func')\n"
        "def exits():\n    sys.exit(9)\n"
    ),
    "__main__.py": SHOW,
}


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A directory ``app/`` and an archive ``app.zip`` with the same files, in tmp_path."""
    write_tree(tmp_path / "app", FILES)
    write_zip(tmp_path / "app.zip", FILES)
    return tmp_path


def shown(result: subprocess.CompletedProcess[str]) -> Dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def one_error_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """Exit ``code`` and exactly one stderr line, ``zrun: error: ...``; return the message."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zrun: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0][len("zrun: error: ") :]


def frames(stderr: str) -> List[str]:
    return [line.strip() for line in stderr.splitlines() if line.strip().startswith('File "')]


# --- the same program, run by python and by zrun ---------------------------------------


def test_module_like_python_dash_m(zrun_cli: Launcher, app: Path) -> None:
    cwd = app / "app"
    theirs = shown(python("-m", "cli_pkg.show", "a", "--b", cwd=cwd))
    assert shown(zrun_cli("cli_pkg.show", "a", "--b", cwd=cwd)) == theirs
    assert shown(zrun_cli("-m", "cli_pkg.show", "a", "--b", cwd=cwd)) == theirs
    assert shown(zrun_cli("-mcli_pkg.show", "a", "--b", cwd=cwd)) == theirs
    assert theirs["argv"] == [str(cwd / "cli_pkg" / "show.py"), "a", "--b"]
    assert theirs["path0"] == str(cwd)


def test_package_like_python_dash_m(zrun_cli: Launcher, app: Path) -> None:
    cwd = app / "app"
    theirs = shown(python("-m", "cli_pkg", "x", cwd=cwd))
    assert shown(zrun_cli("cli_pkg", "x", cwd=cwd)) == theirs
    assert theirs["spec"] == "cli_pkg.__main__"


@pytest.mark.parametrize("path", ["app.zip", "./app", "app/", str(Path("app") / "__main__.py"), "./app/../app/__main__.py"])
def test_path_like_python(zrun_cli: Launcher, app: Path, path: str) -> None:
    theirs = shown(python(path, "x", cwd=app))
    ours = shown(zrun_cli(path, "x", cwd=app))
    assert ours == theirs
    assert ours["argv"] == [path, "x"]
    assert ours["main_is_me"] is True


def test_pyz_with_shebang(zrun_cli: Launcher, app: Path) -> None:
    zipapp.create_archive(app / "app", app / "app.pyz", interpreter="/usr/bin/env python3")
    theirs = shown(python("app.pyz", cwd=app))
    assert shown(zrun_cli("app.pyz", cwd=app)) == theirs


@pytest.mark.parametrize("location", ["app.zip", "./app"])
def test_location_module(zrun_cli: Launcher, app: Path, location: str) -> None:
    ours = shown(zrun_cli(f"{location}:cli_pkg.show", "y", cwd=app))
    # made absolute as python does for `python ./app`: joined to the cwd, not normalised
    where = os.path.join(str(app), location) if location.startswith(".") else str(app / location)
    if location.endswith(".zip"):
        where = os.path.normpath(where)  # archive paths are normalised (docs/compatibility.md)
    origin = os.path.join(where, "cli_pkg", "show.py")
    assert ours == {
        "argv": [origin, "y"],
        "path0": where,
        "name": "__main__",
        "spec": "cli_pkg.show",
        "file": origin,
        "package": "cli_pkg",
        "main_is_me": True,
    }
    result = zrun_cli(f"{location}:cli_pkg.rel", cwd=app)
    assert (result.returncode, result.stdout) == (0, "sibling\n"), result.stderr


def test_relative_import_in_main_from_zip(zrun_cli: Launcher, app: Path) -> None:
    result = zrun_cli("--path", "app.zip", "-m", "cli_pkg.rel", cwd=app)
    assert (result.returncode, result.stdout) == (0, "sibling\n"), result.stderr


# --- exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "code", "stderr"),
    [("int", 7, ""), ("none", 0, ""), ("zero", 0, ""), ("str", 1, "leaving with a message\n"), ("raise", 42, ""), ("end", 0, "")],
)
def test_systemexit_codes(zrun_cli: Launcher, app: Path, how: str, code: int, stderr: str) -> None:
    result = zrun_cli("app.zip:cli_pkg.exits", how, cwd=app)
    assert (result.returncode, result.stderr) == (code, stderr)
    theirs = python("-m", "cli_pkg.exits", how, cwd=app / "app")
    assert (theirs.returncode, theirs.stderr) == (code, stderr)


@pytest.mark.parametrize(
    ("func", "code", "stdout", "stderr"),
    [
        ("three", 3, "", ""),
        ("none", 0, "called none\n", ""),
        ("zero", 0, "", ""),
        ("text", 1, "", "returned text\n"),
        ("true", 1, "", ""),
        ("exits", 9, "", ""),
    ],
)
@pytest.mark.parametrize("where", ["", "app.zip:"])
def test_function_exit_status(zrun_cli: Launcher, app: Path, where: str, func: str, code: int, stdout: str, stderr: str) -> None:
    cwd = app if where else app / "app"
    result = zrun_cli(f"{where}cli_pkg.funcs:{func}", cwd=cwd)
    assert (result.returncode, result.stdout, result.stderr) == (code, stdout, stderr)


def test_function_gets_arguments(zrun_cli: Launcher, app: Path) -> None:
    result = zrun_cli("app.zip:cli_pkg.funcs:argv", "--help", "-m", "x", cwd=app)
    assert (result.returncode, result.stdout) == (3, "['--help', '-m', 'x']\n"), result.stderr


def user_traceback(result: subprocess.CompletedProcess[str], user_file: str, last: str) -> None:
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):\n"), result.stderr
    found = frames(result.stderr)
    assert found, result.stderr
    assert found[0].startswith(f'File "{user_file}"'), result.stderr
    zrun_dir = os.path.dirname(zrun.__file__)
    assert not [frame for frame in found if zrun_dir in frame or "zrun" + os.sep in frame.split(str(Path(user_file).parent))[0]]
    assert result.stderr.rstrip().splitlines()[-1] == last
    assert "zrun: error" not in result.stderr


@pytest.mark.parametrize("location", ["app.zip", "app"])
def test_uncaught_exception(zrun_cli: Launcher, app: Path, location: str) -> None:
    result = zrun_cli(f"{app / location}:cli_pkg.boom", cwd=app)
    user_file = os.path.join(str(app / location), "cli_pkg", "boom.py")
    user_traceback(result, user_file, "ValueError: boom in user code")
    assert "    raise ValueError('boom in user code')" in result.stderr  # source lines, from the archive too


def test_exception_in_imported_module(zrun_cli: Launcher, app: Path) -> None:
    result = zrun_cli("./app.zip:cli_pkg.deep", cwd=app)
    user_traceback(result, os.path.join(str(app / "app.zip"), "cli_pkg", "deep.py"), "ValueError: boom in user code")


def test_exception_in_function_target(zrun_cli: Launcher, app: Path) -> None:
    result = zrun_cli("app.zip:cli_pkg.funcs:boom", cwd=app)
    user_traceback(result, os.path.join(str(app / "app.zip"), "cli_pkg", "funcs.py"), "RuntimeError: boom in func")


@pytest.mark.parametrize("relative", [False, True])
def test_exception_in_script(zrun_cli: Launcher, app: Path, relative: bool) -> None:
    script = app / "app" / "cli_pkg" / "boom.py"
    typed = os.path.join(".", "app", "cli_pkg", "boom.py") if relative else str(script)
    result = zrun_cli(typed, cwd=app)
    user_traceback(result, os.path.join(str(app), typed) if relative else typed, "ValueError: boom in user code")
    theirs = python(typed, cwd=app)
    assert result.stderr == theirs.stderr


def test_syntax_error_like_python(zrun_cli: Launcher, app: Path) -> None:
    script = app / "app" / "cli_pkg" / "syntax.py"
    result = zrun_cli(str(script), cwd=app)
    theirs = python(str(script), cwd=app)
    assert result.returncode == theirs.returncode == 1
    assert result.stderr == theirs.stderr
    assert "zrun" not in result.stderr


@pytest.mark.skipif(os.name != "posix", reason="death by signal is POSIX")
def test_keyboard_interrupt_dies_of_sigint(zrun_cli: Launcher, app: Path) -> None:
    result = zrun_cli("app.zip:cli_pkg.interrupt", cwd=app)
    assert result.returncode == -signal.SIGINT
    assert result.stdout == "before\n"
    user_traceback(
        subprocess.CompletedProcess(result.args, 1, result.stdout, result.stderr),
        os.path.join(str(app / "app.zip"), "cli_pkg", "interrupt.py"),
        "KeyboardInterrupt",
    )
    theirs = python("-m", "cli_pkg.interrupt", cwd=app / "app")
    assert theirs.returncode == -signal.SIGINT


# --- errors: one line, exit 1 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["app.zip:cli_nosuch"], "No module named cli_nosuch; looked in app.zip"),
        (["app.zip:cli_pkg.nosuch"], "No module named cli_pkg.nosuch; looked in app.zip"),
        (["app.zip:cli_pkg.shwo"], "No module named cli_pkg.shwo; looked in app.zip; did you mean cli_pkg.show?"),
        (["./app:cli_pkg.shwo"], "No module named cli_pkg.shwo; looked in ./app; did you mean cli_pkg.show?"),
        (
            ["app.zip:clipkg.show"],
            "Error while finding module specification for 'clipkg.show' (ModuleNotFoundError: No module named 'clipkg')"
            "; looked in app.zip; did you mean cli_pkg?",
        ),
        (
            ["app.zip:cli_pkg.nomain"],
            "No module named cli_pkg.nomain.__main__; 'cli_pkg.nomain' is a package and cannot be directly executed"
            "; looked in app.zip",
        ),
        (["app.zip:cli_pkg.funcs:nosuch"], "module 'cli_pkg.funcs' has no attribute 'nosuch'"),
        (["app.zip:cli_pkg.funcs:thee"], "module 'cli_pkg.funcs' has no attribute 'thee'; did you mean app.zip:cli_pkg.funcs:three?"),
        (["./empty"], "can't find '__main__' module in './empty'; ./empty holds no modules"),
        (["empty.zip"], "can't find '__main__' module in 'empty.zip'; it can run empty.zip:other (zrun info empty.zip)"),
        (
            ["lib.zip"],
            "can't find '__main__' module in 'lib.zip'; it can run lib.zip:p0, lib.zip:p1, lib.zip:p2, lib.zip:p3, lib.zip:p4"
            " and 2 more (zrun info lib.zip)",
        ),
        (["-m", "sys"], "No code object available for sys"),
        (["-m", ".rel"], "Relative module names not supported"),
    ],
)
def test_not_found(zrun_cli: Launcher, app: Path, args: List[str], message: str) -> None:
    """runpy's words first, then where zrun looked and what exists there that is close."""
    (app / "empty").mkdir()
    write_zip(app / "empty.zip", {"other.py": ""})
    files = {f"p{n}/{name}": "" for n in range(7) for name in ("__init__.py", "__main__.py")}
    write_zip(app / "lib.zip", {**files, "plain.py": ""})
    assert one_error_line(zrun_cli(*args, cwd=app)) == message


def test_not_found_on_sys_path_says_where_it_looked(zrun_cli: Launcher, app: Path) -> None:
    write_zip(app / "lib.zip", {"cli_helper.py": ""})
    probe = "import json, sys; print(json.dumps(sys.path[1:]))"
    path = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    message = one_error_line(zrun_cli("--path", "lib.zip", "-m", "cli_helpr", cwd=app))
    looked = ", ".join([str(app), *path]) if zrun_cli.name == "module" else None
    assert message.startswith(f"No module named cli_helpr; looked in --path lib.zip, sys.path ({looked or str(app)}")
    assert message.endswith("; did you mean cli_helper?")
    assert one_error_line(zrun_cli("-m", "jsno", cwd=app)).endswith("); did you mean json?")


def test_missing_path_entry(zrun_cli: Launcher, app: Path) -> None:
    """Not "no such archive": it may be meant as a directory; exit 2 as for a missing file."""
    missing = zrun_cli("--path", "missing-dir", "cli_pkg.show", cwd=app)
    assert one_error_line(missing, 2) == "--path 'missing-dir': no such file or directory"
    result = zrun_cli("--path", "app.zip/cli_pkg", "-m", "sib", cwd=app)  # a folder inside an archive exists
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["missing.zip", "missing.py", "./missing"])
def test_missing_path(zrun_cli: Launcher, app: Path, name: str) -> None:
    """python's message and python's exit status, 2."""
    message = one_error_line(zrun_cli(name, cwd=app), 2)
    assert message == f"can't open file {os.path.join(str(app), name)!r}: [Errno 2] No such file or directory"
    theirs = python(name, cwd=app)
    assert theirs.returncode == 2 and theirs.stderr.strip().endswith(message)


def test_missing_path_suggests_a_close_file(zrun_cli: Launcher, app: Path) -> None:
    message = one_error_line(zrun_cli("ap.zip", cwd=app), 2)
    assert message == f"can't open file {str(app / 'ap.zip')!r}: [Errno 2] No such file or directory; did you mean app.zip or app?"


def test_corrupt_archive(zrun_cli: Launcher, app: Path) -> None:
    data = (app / "app.zip").read_bytes()
    (app / "bad.zip").write_bytes(data[: len(data) // 2] + b"\0" * 64 + data[-22:])
    message = one_error_line(zrun_cli("bad.zip:cli_pkg.show", cwd=app))
    assert message.startswith(f"{app / 'bad.zip'}: ") and message.endswith("(the archive is truncated or corrupt)")


@pytest.mark.parametrize("target", ["corrupt.zip:cli_pkg.show", "corrupt.zip", "corrupt.pyz"])
def test_truncated_archive_is_called_corrupt(zrun_cli: Launcher, app: Path, target: str) -> None:
    """Not "not a directory or archive", and never run as a script full of NUL bytes."""
    data = (app / "app.zip").read_bytes()
    (app / "corrupt.zip").write_bytes(data[:300])
    (app / "corrupt.pyz").write_bytes(b"#!/usr/bin/env python3\n" + data[:300])
    path = app / target.partition(":")[0]
    assert one_error_line(zrun_cli(target, cwd=app)) == (
        f"{path}: truncated or corrupt zip archive: it starts as one but has no end of central directory record"
    )


def test_corrupt_member_names_file_and_member(zrun_cli: Launcher, app: Path) -> None:
    data = bytearray((app / "app.zip").read_bytes())
    offset = data.index(b"cli_pkg/show.py") + len("cli_pkg/show.py")  # the local header's name; its data follows
    data[offset + 5] ^= 0xFF
    (app / "flipped.zip").write_bytes(bytes(data))
    message = one_error_line(zrun_cli("flipped.zip:cli_pkg.show", cwd=app))
    assert message.startswith(f"{app / 'flipped.zip'}: cli_pkg/show.py: ")
    assert message.endswith("(the archive is truncated or corrupt)")


@pytest.mark.parametrize(
    "name",
    ["cli_nosuch", "cli_nosuch.py", "cli_pkg.show.py", "cli_pkg.nomain", "cli_pkg.nosuch", "sys", ".rel", "app.zip", "cli_pkg.__main__"],
)
def test_dash_m_errors_like_python(zrun_cli: Launcher, app: Path, name: str) -> None:
    """``-m`` is exactly ``python -m``: the same message after the program's name, the .py hint included."""
    cwd = app / "app"
    theirs = python("-m", name, cwd=cwd)
    ours = zrun_cli("-m", name, cwd=cwd)
    if theirs.returncode == 0:
        assert ours.returncode == 0 and ours.stdout == theirs.stdout
        return
    assert theirs.returncode == 1
    expected = theirs.stderr.strip().split(": ", 1)[1]
    message = one_error_line(ours)
    assert message == expected or message.startswith(expected + "; looked in ")
    if name.endswith(".py"):
        assert expected.endswith(f"Try using '{name[:-3]}' instead of '{name}' as the module name.")


# --- usage, help, version --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ([], "missing TARGET"),
        (["--bogus", "x"], "unknown option '--bogus'"),
        (["--path"], "--path needs an archive or directory"),
        (["--path="], "--path needs an archive or directory"),
        (["-m"], "-m needs a module name"),
        (["a:b:c:d"], "too many ':'"),
        (["app.zip:1bad"], "'1bad' in target 'app.zip:1bad' is not a module name"),
        (["pkg.mod:not-a-name"], "is not a function name"),
        (["--"], "missing TARGET"),
    ],
)
def test_usage_errors(zrun_cli: Launcher, tmp_path: Path, args: List[str], reason: str) -> None:
    result = zrun_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"usage: {program(zrun_cli)} [OPTIONS] TARGET")
    last = result.stderr.splitlines()[-1]
    assert last.startswith("zrun: error: ") and reason in last
    assert result.stdout == ""


def program(zrun_cli: Launcher) -> str:
    """What ``usage:`` must call the program: as the user invoked it."""
    if zrun_cli.name == "pyz":
        return os.path.basename(zrun_cli.prefix[-1])
    return f"{os.path.basename(sys.executable)} -m zrun"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(zrun_cli: Launcher, tmp_path: Path, flag: str) -> None:
    result = zrun_cli(flag, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: {program(zrun_cli)} [OPTIONS] TARGET [ARGS...]\n")
    for word in ("--path ENTRY", "-m MODULE", "app.zip:pkg.mod", "pkg.mod:func", "--version", "--script NAME", "-v, --verbose"):
        assert word in result.stdout
    environment = result.stdout.split("\nenvironment:\n")[1]
    for name, doc in zrun.settings.variables():
        value, _, text = doc.splitlines()[0].partition(": ")
        assert f"  {name}={value}" in environment and text in environment


def test_console_script_usage_names_zrun(tmp_path: Path) -> None:
    """The ``zrun`` program pip installed says ``usage: zrun``."""
    script = Path(sys.executable).with_name("zrun")
    if not script.is_file():
        pytest.skip(f"no zrun console script beside {sys.executable}")
    result = subprocess.run([str(script), "--bogus"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("usage: zrun [OPTIONS] TARGET")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(zrun_cli: Launcher, tmp_path: Path, flag: str) -> None:
    result = zrun_cli(flag, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    where = os.path.dirname(zrun.__file__) if zrun_cli.name == "module" else None
    head, _, rest = result.stdout.partition(" from ")
    folder, _, interpreter = rest.partition(" (")
    assert head == f"zrun {zrun.__version__}"
    assert folder == where if where else folder.endswith(f"{os.sep}site-packages{os.sep}zrun")
    assert interpreter == f"CPython {sys.version.split()[0]}, {sys.executable})\n"


def test_arguments_after_target_belong_to_it(zrun_cli: Launcher, app: Path) -> None:
    args = ["--help", "-m", "x", "--path", "y", "--version", "--", "-h"]
    assert shown(zrun_cli("app.zip", *args, cwd=app))["argv"] == ["app.zip", *args]
    assert shown(zrun_cli("-m", "cli_pkg.show", *args, cwd=app / "app"))["argv"][1:] == args
    assert shown(zrun_cli("--", "app.zip", *args, cwd=app))["argv"] == ["app.zip", *args]


# --- --path ------------------------------------------------------------------------------------


def test_path_option(zrun_cli: Launcher, app: Path) -> None:
    write_zip(app / "lib.zip", {"cli_lib.py": "WHERE = 'lib.zip'\n"})
    write_tree(app / "more", {"cli_more.py": "import cli_lib\nprint(cli_lib.WHERE)\n"})
    result = zrun_cli("--path", "lib.zip", "--path=more", "cli_more", cwd=app)
    assert (result.returncode, result.stdout) == (0, "lib.zip\n"), result.stderr
    ours = shown(zrun_cli("--path", "app.zip", "cli_pkg.show", cwd=app))
    assert ours["file"] == str(app / "app.zip" / "cli_pkg" / "show.py")
    assert ours["path0"] == str(app)  # like python -m: the working directory


def test_path_option_is_searched_first(zrun_cli: Launcher, app: Path) -> None:
    write_tree(app / "shadow", {"cli_pkg/__init__.py": "", "cli_pkg/show.py": "raise SystemExit('wrong cli_pkg')\n"})
    ours = shown(zrun_cli("--path", str(app / "app.zip"), "cli_pkg.show", cwd=app / "shadow"))
    assert ours["file"] == str(app / "app.zip" / "cli_pkg" / "show.py")


def test_location_beats_working_directory(zrun_cli: Launcher, app: Path) -> None:
    write_tree(app / "shadow", {"cli_pkg/__init__.py": "", "cli_pkg/show.py": "raise SystemExit('wrong cli_pkg')\n"})
    ours = shown(zrun_cli(f"{app / 'app.zip'}:cli_pkg.show", cwd=app / "shadow"))
    assert ours["file"] == str(app / "app.zip" / "cli_pkg" / "show.py")


# --- start-up -------------------------------------------------------------------------------------


def imported(result: subprocess.CompletedProcess[str]) -> List[str]:
    return [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]


@pytest.mark.parametrize("args", [["cli_pkg.sib"], ["-m", "cli_pkg.sib"], ["cli_pkg.funcs:none"]])
def test_start_up_imports(zrun_cli: Launcher, app: Path, args: List[str]) -> None:
    timed = Launcher(zrun_cli.name, [zrun_cli.prefix[0], "-X", "importtime", *zrun_cli.prefix[1:]])
    result = timed(*args, cwd=app / "app")
    assert result.returncode == 0, result.stderr
    names = imported(result)
    if zrun_cli.name == "pyz" and "_bootstrap" in names:
        # The run that extracts runner.pyz goes through shiv's _bootstrap, which imports zipfile, json,
        # subprocess, typing... first: that is the launcher's floor. What the runner adds comes after it.
        # Later runs take runner.pyz's fast path and import none of it.
        names = names[names.index("_bootstrap") + 1 :]
    assert "zrun.engine.run" in names  # (importlib.import_module is not reported by -X importtime)
    for heavy in ("zipfile", "argparse", "multiprocessing"):
        assert heavy not in names, heavy
    # nor what python -m itself does without (typing: 3.9's runpy imports it anyway)
    baseline = imported(python("-X", "importtime", "-m", "cli_pkg.sib", cwd=app / "app"))
    extra = set(names) - set(baseline)
    assert not extra & {"zrun.zip.source", "zrun.zip.archive", "zlib", "typing", "re", "collections", "contextlib", "weakref"}


#: What a run that works never needs: usage and failure reports, other compression methods, the stored
#: index table (small archives), library registrations, extraction, and gc (small central directories);
#: nor, for a zip with no namespace package that shows no traceback: the bundle reader, the namespace
#: merger and the traceback printer.
NOT_ON_A_WORKING_RUN = {
    "zrun.cli.helptext",
    "zrun.cli.failures",
    "zrun.frozen",
    "zrun.loading.namespaces",
    "zrun.loading.tracebacks",
    "zrun.zip.methods",
    "zrun.zip.indexcache",
    "zrun.zip.table",
    "zrun.zip.tablebuild",
    "zrun.zip.tableviews",
    "zrun.zip.streamed",
    "zrun.loading.registrations",
    "zrun.loading.extraction",
    "zrun.loading.extensions",
    "bz2",
    "lzma",
    "gc",
}


@pytest.mark.parametrize("args", [["{zip}:cli_pkg.sib"], ["{zip}:cli_pkg.funcs:none"], ["--path", "{zip}", "-m", "cli_pkg.rel"]])
def test_an_archive_run_imports_only_what_it_uses(zrun_cli: Launcher, app: Path, args: List[str]) -> None:
    timed = Launcher(zrun_cli.name, [zrun_cli.prefix[0], "-X", "importtime", *zrun_cli.prefix[1:]])
    result = timed(*[arg.format(zip=app / "app.zip") for arg in args], cwd=app)
    assert result.returncode == 0, result.stderr
    names = imported(result)
    assert "zrun.zip.archive" in names and "zrun.loading.loader" in names  # the run did read the archive
    if zrun_cli.name == "pyz" and "_bootstrap" in names:
        names = names[names.index("_bootstrap") + 1 :]  # shiv's first-run extraction imports gc and more before zrun
    assert sorted(NOT_ON_A_WORKING_RUN & set(names)) == []  # 3.9's runpy imports pkgutil: it lists archives with no registration
    if "--path" in args:  # converting sources is --path's price: singledispatch imports weakref, and typing on 3.11-3.13
        return
    # nor stdlib modules that python -m on the same archive does without (3.15 loads neither warnings nor itertools)
    env = dict(os.environ, PYTHONPATH=str(app / "app.zip"))
    command = [sys.executable, "-X", "importtime", "-m", "cli_pkg.sib"]
    baseline = subprocess.run(command, cwd=app, env=env, capture_output=True, text=True, timeout=60)
    extra = set(names) - set(imported(baseline))
    assert sorted(extra & {"warnings", "_py_warnings", "itertools", "typing", "contextlib", "collections", "re", "weakref"}) == []


def test_a_failed_run_imports_its_report_only_then(zrun_cli: Launcher, app: Path) -> None:
    timed = Launcher(zrun_cli.name, [zrun_cli.prefix[0], "-X", "importtime", *zrun_cli.prefix[1:]])
    result = timed(f"{app / 'app.zip'}:cli_pkg.boom", cwd=app)
    assert result.returncode == 1 and "ValueError: boom in user code" in result.stderr
    assert "zrun.cli.failures" in imported(result)


CAUGHT = """\
def fail():
    raise ValueError("caught in user code")


try:
    fail()
except ValueError:
    import traceback  # linecache arrives only now, after zrun loaded this module

    traceback.print_exc()
"""


@pytest.mark.parametrize("target", ["{archive}", "{archive}:caught"])
def test_traceback_module_shows_archive_source(zrun_cli: Launcher, tmp_path: Path, target: str) -> None:
    """Code that prints its own tracebacks sees its source lines, as a module and as the archive's __main__."""
    archive = write_zip(tmp_path / "caught.zip", {"__main__.py": CAUGHT, "caught.py": CAUGHT})
    result = zrun_cli(target.format(archive=archive), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '    raise ValueError("caught in user code")\n' in result.stderr, result.stderr
    assert "    fail()\n" in result.stderr, result.stderr
