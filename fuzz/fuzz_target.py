"""Fuzz the target grammar and the CLI's argument parser: a Target, or a usage error.

``zrun.target.parse`` must return a :class:`~zrun.target.Target` that prints back to
itself, or raise :class:`~zrun.errors.TargetError`; ``zrun.cli.main.parse_args`` may also
raise its ``UsageError`` (or ``SystemExit(0)`` for ``-h``/``-V``). Nothing is run.
"""

from __future__ import annotations

import contextlib
import io
import sys

import _common  # noqa: F401 - puts src/ on sys.path
import atheris

with atheris.instrument_imports(include=["zrun"]):
    from zrun.cli.main import UsageError, parse_args
    from zrun.errors import TargetError
    from zrun.target import Target, parse

def check(target: Target, *, parsed: bool = True) -> None:
    """``parsed``: from the grammar, so it must print back to itself (``-m NAME`` takes any NAME, as python -m does)."""
    if not isinstance(target, Target) or not (target.location or target.module):
        raise AssertionError(f"not a usable target: {target!r}")
    if not parsed:
        return
    if target.module and target.module.startswith(".") and (target.location or target.func):
        raise AssertionError(f"relative module in a compound target: {target!r}")
    if parse(str(target)) != target:
        raise AssertionError(f"{target!r} prints as {str(target)!r}, which parses differently")


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    text = fdp.ConsumeUnicodeNoSurrogates(64)
    try:
        check(parse(text))
    except TargetError:
        pass
    argv = [fdp.ConsumeUnicodeNoSurrogates(24) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            target, _, _ = parse_args(list(argv))
        except (UsageError, TargetError):
            return
        except SystemExit as exc:
            if exc.code != 0:
                raise
            return
    check(target, parsed="-m" not in [arg[:2] for arg in argv])


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
