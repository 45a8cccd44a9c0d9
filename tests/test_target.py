"""The target grammar (zrun.target.parse): every form, drive letters, every malformed form."""

from __future__ import annotations

from typing import Optional

import pytest

import zrun
from zrun.target import Target, module_target, parse


@pytest.mark.parametrize(
    ("text", "location", "module", "func"),
    [
        # like python -m
        ("pkg", None, "pkg", None),
        ("pkg.mod", None, "pkg.mod", None),
        ("a.b.c.d", None, "a.b.c.d", None),
        ("_private.mod_2", None, "_private.mod_2", None),
        # runpy rejects relative names itself, with its own message
        (".rel", None, ".rel", None),
        # like python PATH
        ("script.py", "script.py", None, None),
        ("script.pyw", "script.pyw", None, None),
        ("compiled.pyc", "compiled.pyc", None, None),
        ("app.zip", "app.zip", None, None),
        ("APP.ZIP", "APP.ZIP", None, None),
        ("app.pyz", "app.pyz", None, None),
        ("app.pyzw", "app.pyzw", None, None),
        ("dist/app-1.0-py3-none-any.whl", "dist/app-1.0-py3-none-any.whl", None, None),
        ("bundle.zrf", "bundle.zrf", None, None),
        ("dir/", "dir/", None, None),
        ("./dir", "./dir", None, None),
        ("/abs/dir", "/abs/dir", None, None),
        (".", ".", None, None),
        ("..", "..", None, None),
        # a module from that location only
        ("app.zip:pkg.mod", "app.zip", "pkg.mod", None),
        ("app.pyz:pkg", "app.pyz", "pkg", None),
        ("dir/:pkg.mod", "dir/", "pkg.mod", None),
        ("./tool:main", "./tool", "main", None),
        (".:pkg.mod", ".", "pkg.mod", None),
        ("/abs/app.zip:pkg.mod", "/abs/app.zip", "pkg.mod", None),
        # module:function
        ("pkg.mod:func", None, "pkg.mod", "func"),
        ("tool:main", None, "tool", "main"),
        ("pkg.mod:Cls.method", None, "pkg.mod", "Cls.method"),
        ("app.zip:pkg.mod:func", "app.zip", "pkg.mod", "func"),
        ("dir/sub:pkg.mod:Cls.run", "dir/sub", "pkg.mod", "Cls.run"),
    ],
)
def test_every_form(text: str, location: Optional[str], module: Optional[str], func: Optional[str]) -> None:
    parsed = parse(text)
    assert parsed == Target(location=location, module=module, func=func)
    assert str(parsed) == text
    assert zrun.parse_target(text) == parsed


@pytest.mark.parametrize(
    ("text", "location", "module", "func"),
    [
        ("C:\\x\\app.zip:pkg.mod", "C:\\x\\app.zip", "pkg.mod", None),
        ("C:/x/app.zip:pkg.mod:f", "C:/x/app.zip", "pkg.mod", "f"),
        ("c:\\x\\app.zip", "c:\\x\\app.zip", None, None),
        ("D:\\tools\\dir", "D:\\tools\\dir", None, None),
        ("D:\\tools\\dir:pkg.mod", "D:\\tools\\dir", "pkg.mod", None),
        ("C:/x/script.py", "C:/x/script.py", None, None),
        ("C:app.zip", "C:app.zip", None, None),
        ("C:app.zip:pkg.mod:main", "C:app.zip", "pkg.mod", "main"),
        # not a drive: a one-letter module and its function
        ("C:main", None, "C", "main"),
    ],
)
def test_windows_drive_letters(text: str, location: Optional[str], module: Optional[str], func: Optional[str]) -> None:
    assert parse(text) == Target(location=location, module=module, func=func)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["empty target"]),
        ("   ", ["empty target"]),
        (":mod", ["':mod'", "starts with ':'"]),
        (":", ["starts with ':'"]),
        ("a:b:c:d", ["too many ':'", "'a:b:c:d'", "LOCATION:MODULE:FUNCTION"]),
        ("app.zip:pkg:f:g", ["too many ':'"]),
        ("app.zip:1bad", ["'1bad'", "'app.zip:1bad'", "not a module name"]),
        ("app.zip:pkg-x", ["'pkg-x'", "not a module name"]),
        ("app.zip:pkg..mod", ["'pkg..mod'", "not a module name"]),
        ("app.zip:.rel", ["relative module name '.rel'", "full dotted name"]),
        ("app.zip:", ["missing module name", "'app.zip:'"]),
        ("app.zip::f", ["missing module name", "'app.zip::f'"]),
        ("pkg.mod:not-a-name", ["'not-a-name'", "'pkg.mod:not-a-name'", "not a function name"]),
        ("pkg.mod:1f", ["'1f'", "not a function name"]),
        ("pkg.mod:", ["missing function name", "'pkg.mod:'"]),
        ("app.zip:pkg.mod:", ["missing function name", "'app.zip:pkg.mod:'"]),
        ("app.zip:pkg.mod:a-b", ["'a-b'", "not a function name"]),
        ("1bad", ["'1bad'", "neither a module name nor a path"]),
        ("pkg-name", ["'pkg-name'", "neither a module name nor a path"]),
        ("pkg..mod", ["neither a module name nor a path"]),
    ],
)
def test_malformed(text: str, words: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(zrun.TargetError) as info:
        parse(text)
    message = str(info.value)
    for word in words:
        assert word in message, message
    # a usage error, and still a ValueError for callers that expect one
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, zrun.ZrunError)


def test_not_a_string() -> None:
    with pytest.raises(zrun.TargetError, match="target must be a string, not NoneType"):
        parse(None)  # type: ignore[arg-type]


def test_module_target_is_always_a_module() -> None:
    # -m takes the text as a module name whatever it looks like (the .py hint comes from runpy)
    assert module_target("script.py") == Target(module="script.py")
    assert module_target("app.zip:pkg") == Target(module="app.zip:pkg")
    with pytest.raises(zrun.TargetError, match="-m needs a module name"):
        module_target("")


def test_location_is_kept_as_typed() -> None:
    # sys.argv[0] is the path as typed, as python does; parse must not normalise it
    assert parse("./a/../app.zip:pkg").location == "./a/../app.zip"
