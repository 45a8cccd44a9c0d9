"""What a target sees of how it was started: ``__main__`` during a function call, ``sys.orig_argv``.

A ``pkg.mod:func`` target is what a console script runs, and programs read
how they were started from what such a script leaves: click names itself
from ``sys.modules['__main__'].__package__`` and ``sys.argv[0]`` (zrun's own
``__main__`` made that ``python -m zrun.cli.main``). pex re-executes itself from
``sys.orig_argv``, which named ``-m zrun`` and failed under an interpreter
without zrun; it now reads what ``python app.pex ...`` would have given.
"""

from __future__ import annotations

import sys
from types import ModuleType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Sequence

    from ..target import Target


def console_script_main() -> ModuleType:
    """A ``__main__`` like a console-script wrapper's: a script (``__package__`` and ``__spec__`` None).

    It has no ``__file__``: spawn-mode ``multiprocessing`` would run that file
    again in each child, and the function's own module is imported there anyway.
    """
    main = ModuleType("__main__")
    main.__package__ = None
    main.__spec__ = None
    main.__loader__ = None
    return main


def interpreter_part(orig_argv: Sequence[str], args: Sequence[str]) -> Optional[List[str]]:
    """The executable and its options from ``orig_argv``, without zrun's own command (``-m zrun``,
    ``runner.pyz``, the ``zrun`` script) and ``args``; ``None`` if ``orig_argv`` did not end in ``args``."""
    count = len(args)
    if len(orig_argv) < count + 2 or list(orig_argv[len(orig_argv) - count :]) != list(args):
        return None
    head = list(orig_argv[: len(orig_argv) - count])
    if head[-2:] == ["-m", "zrun"]:
        return head[:-2]
    return head[:-1]  # -mzrun, or the path of runner.pyz or of the zrun script


def command_line_of(target: Target, argv: Sequence[str]) -> None:
    """Make ``sys.orig_argv`` what the interpreter would hold for this target run directly.

    Only where there is such a command, which the caller decides: a path
    (``python app.pex ARGS``) or a module found without ``--path``
    (``python -m pkg.mod ARGS``).
    """
    orig = getattr(sys, "orig_argv", None)
    if orig is None:
        return
    head = interpreter_part(orig, sys.argv[1:])
    if head is None:
        return
    command = [target.location] if target.location else ["-m", target.module or ""]
    sys.orig_argv = [*head, *command, *argv]
