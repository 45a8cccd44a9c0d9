"""``python -m zrun`` / ``zrun``: parse the command line, run, map the outcome to an exit code.

Exit codes: the target's own ``SystemExit`` code; 1 with a traceback (starting
at the user's code) for an uncaught exception; 1 with one ``zrun: error:``
line when the target cannot be found or loaded; 2 for usage errors.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import Any, List, Optional, Sequence, Set, Tuple

    from .target import Target

USAGE = (
    "usage: zrun [--path ENTRY]... TARGET [ARGS...]\n"
    "       zrun [--path ENTRY]... -m MODULE [ARGS...]\n"
    "       zrun cache info | prune [--older-than DAYS] | clear\n"
)
HELP = (
    USAGE
    + """
Run a module, script, directory or archive the way `python -m` / `python PATH`
would, with zip archives, wheels and zrun bundles as first-class sources.

targets:
  pkg.mod                 like `python -m pkg.mod`
  script.py               like `python script.py`
  app.zip | app.pyz | dir/
                          the __main__ inside it, like `python app.zip`
  app.zip:pkg.mod         module pkg.mod from that archive or directory only
  pkg.mod:func            call pkg.mod.func(); its return value is the exit status
  app.zip:pkg.mod:func    the same, with pkg.mod taken from app.zip
  bundle.zrf:pkg.mod      module from a frozen bundle (zrun.FrozenSource)

commands:
  cache info | prune [--older-than DAYS] | clear
                          show or clean zrun's cache (`zrun cache --help`);
                          a module named `cache` runs with `zrun -m cache`

options (before TARGET; everything after TARGET belongs to the target):
  -m MODULE               always a module name, exactly like `python -m`
  --path ENTRY            search ENTRY (archive or directory) first; repeatable
  -h, --help              show this help and exit
  -V, --version           show zrun's version and exit
"""
)


class UsageError(Exception):
    """A malformed command line (exit status 2)."""


def parse_args(args: List[str]) -> Tuple[Target, List[str], List[str]]:
    """Split ``args`` into (target, target argv, --path entries) without argparse."""
    from .target import module_target, parse

    paths: List[str] = []
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            sys.stdout.write(HELP)
            raise SystemExit(0)
        if arg in ("-V", "--version"):
            from . import __version__

            sys.stdout.write(f"zrun {__version__}\n")
            raise SystemExit(0)
        if arg == "--path" or arg.startswith("--path="):
            value = arg[len("--path=") :] if "=" in arg else (args.pop(0) if args else "")
            if not value:
                raise UsageError("--path needs an archive or directory")
            paths.append(value)
        elif arg == "-m" or (arg.startswith("-m") and len(arg) > 2):
            name = arg[2:] or (args.pop(0) if args else "")
            if not name:
                raise UsageError("-m needs a module name")
            return module_target(name), args, paths
        elif arg == "--":
            if not args:
                break
            return parse(args.pop(0)), args, paths
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown option {arg!r}")
        else:
            return parse(arg), args, paths
    raise UsageError("missing TARGET")


def exit_code(value: Any) -> int:
    """``sys.exit`` rules: ``None`` is 0, an int is itself, anything else is printed and 1."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        return int(value)
    try:
        sys.stderr.write(f"{value}\n")
        sys.stderr.flush()
    except Exception:
        pass
    return 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    from .errors import TargetError, ZrunError

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["cache"]:
        from .cacheadmin import main as cache_main

        return cache_main(args[1:])
    try:
        target, target_argv, paths = parse_args(args)
    except (UsageError, TargetError) as exc:
        sys.stderr.write(f"{USAGE}zrun: error: {exc}\n")
        return 2
    except SystemExit as exc:
        return exit_code(exc.code)
    from .engine import run_main

    try:
        value = run_main(target, target_argv, sources=paths)
    except SystemExit as exc:
        return exit_code(exc.code)
    except ZrunError as exc:
        if _raised_by_user(exc):
            return _report(exc)
        sys.stderr.write(f"zrun: error: {exc}\n")
        return 1
    except KeyboardInterrupt as exc:
        _report(exc)
        return _die_of_sigint()
    except BaseException as exc:  # every other failure is the target's
        return _report(exc)
    return exit_code(value) if target.func else 0


def _is_ours(filename: str) -> bool:
    here = os.path.dirname(os.path.abspath(__file__))
    if filename.startswith(here + os.sep) or filename.startswith("<frozen importlib"):
        return True
    return filename.endswith(f"{os.sep}importlib{os.sep}__init__.py")


def _raised_by_user(exc: BaseException) -> bool:
    """True when a ZrunError came from code the target ran (e.g. a plugin host it drives)."""
    tb = exc.__traceback__
    while tb is not None:
        if not _is_ours(tb.tb_frame.f_code.co_filename):
            return True
        tb = tb.tb_next
    return False


def _report(exc: BaseException) -> int:
    """Print the traceback of the user's frames only, through ``sys.excepthook``."""
    _strip_ours(exc, set())
    sys.excepthook(type(exc), exc, exc.__traceback__)
    return 1


def _strip_ours(exc: BaseException, seen: Set[int]) -> None:
    """Unlink zrun's (and importlib's) frames wherever they are, as CPython hides importlib's own."""
    seen.add(id(exc))
    kept = []
    tb = exc.__traceback__
    while tb is not None:
        if not _is_ours(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    for before, after in zip(kept, [*kept[1:], None]):
        before.tb_next = after
    exc.__traceback__ = kept[0] if kept else None
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None and id(linked) not in seen:
            _strip_ours(linked, seen)


def _die_of_sigint() -> int:
    """End as an interrupted Python does: killed by SIGINT, where the platform allows."""
    import signal

    if hasattr(signal, "SIGINT") and hasattr(os, "kill") and os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return 130
