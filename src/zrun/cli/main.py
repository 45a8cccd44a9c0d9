"""``python -m zrun`` / ``zrun``: parse the command line, run, map the outcome to an exit code.

The texts of ``--help`` and usage errors are :mod:`zrun.cli.helptext`, the
reports of a failed run :mod:`zrun.cli.failures`: a run that works imports
neither.

Exit codes: the target's own ``SystemExit`` code; 1 with a traceback (starting
at the user's code) for an uncaught exception; 1 with one ``zrun: error:``
line when the target cannot be found or loaded; 2 for usage errors.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import Any, List, Optional, Sequence, Tuple

    from ..target import Target


class UsageError(Exception):
    """A malformed command line (exit status 2)."""


class Options:
    """What came before TARGET."""

    __slots__ = ("paths", "script", "verbose")

    def __init__(self) -> None:
        self.paths: List[str] = []
        self.script: Optional[str] = None
        self.verbose = 0


def parse_args(args: List[str], options: Optional[Options] = None) -> Tuple[Target, List[str], List[str]]:
    """Split ``args`` into (target, target argv, --path entries) without argparse; fills ``options``."""
    from ..target import module_target, parse

    options = options if options is not None else Options()
    paths = options.paths
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            from .helptext import help_text

            sys.stdout.write(help_text())
            raise SystemExit(0)
        if arg in ("-V", "--version"):
            from .helptext import version

            sys.stdout.write(version())
            raise SystemExit(0)
        if arg == "--verbose" or (arg.startswith("-v") and arg == "-" + "v" * (len(arg) - 1)):
            options.verbose += 1 if arg == "--verbose" else len(arg) - 1
        elif arg == "--path" or arg.startswith("--path="):
            value = arg[len("--path=") :] if "=" in arg else (args.pop(0) if args else "")
            if not value:
                raise UsageError("--path needs an archive or directory")
            paths.append(value)
        elif arg == "--script" or arg.startswith("--script="):
            value = arg[len("--script=") :] if "=" in arg else (args.pop(0) if args else "")
            if not value:
                raise UsageError("--script needs a console script name")
            options.script = value
        elif arg == "-m" or (arg.startswith("-m") and len(arg) > 2):
            name = arg[2:] or (args.pop(0) if args else "")
            if not name:
                raise UsageError("-m needs a module name")
            return _checked(module_target(name), options), args, paths
        elif arg == "--":
            if not args:
                break
            return _checked(parse(args.pop(0)), options), args, paths
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown option {arg!r}")
        else:
            return _checked(parse(arg), options), args, paths
    raise UsageError("missing TARGET")


def _checked(target: Target, options: Options) -> Target:
    if options.script is not None and (target.location is None or target.module):
        raise UsageError(f"--script {options.script} needs an archive, wheel or directory as TARGET, not {str(target)!r}")
    return target


def _missing_path(paths: List[str]) -> Optional[str]:
    """The first ``--path`` entry that does not exist (``app.zip/lib`` exists if ``app.zip`` does)."""
    for entry in paths:
        if not os.path.exists(entry):
            from ..errors import ArchiveNotFound
            from ..zip.source import split_archive_path

            try:
                split_archive_path(entry)
            except ArchiveNotFound:
                return entry
    return None


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
    from ..errors import TargetError

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["cache"]:
        from .cacheadmin import main as cache_main

        return cache_main(args[1:])
    if args[:1] == ["info"]:
        from .info import main as info_main

        return info_main(args[1:])
    options = Options()
    try:
        target, target_argv, paths = parse_args(args, options)
    except (UsageError, TargetError) as exc:
        from .helptext import usage

        sys.stderr.write(f"{usage()}zrun: error: {exc}\n")
        return 2
    except SystemExit as exc:
        return exit_code(exc.code)
    verbosity = options.verbose + _env_verbosity()
    if verbosity:
        from .. import verbose

        verbose.enable(verbosity)
        verbose.say(f"target {str(target)!r}" + "".join(f", --path {entry}" for entry in paths))
    missing = _missing_path(paths) if paths else None
    if missing is not None:
        sys.stderr.write(f"zrun: error: --path {missing!r}: no such file or directory\n")
        return 2
    try:
        return _run(target, target_argv, options, verbosity)
    finally:
        if verbosity:
            verbose.summary()


def _env_verbosity() -> int:
    value = os.environ.get("ZRUN_VERBOSE", "")
    if not value:
        return 0
    from ..settings import Settings

    return Settings().ZRUN_VERBOSE


def _run(target: Target, argv: List[str], options: Options, verbosity: int) -> int:
    from ..errors import ZrunError

    try:
        script = None
        if target.location and not target.module:
            if options.script is not None or target.location.lower().endswith(".whl"):
                from .scripts import wanted_script

                script = wanted_script(target.location, options.script)
        if script is not None and target.location:
            from .scripts import run_script

            if verbosity:
                from .. import verbose

                verbose.say(f"console script {script.name} = {script.ref} ({script.group})")
            value = run_script(target.location, script, argv, options.paths)
            return exit_code(value) if ":" in script.ref else 0
        from ..engine.run import run_main

        value = run_main(target, argv, sources=options.paths)
    except SystemExit as exc:
        return exit_code(exc.code)
    except ZrunError as exc:
        from . import failures

        if failures.raised_by_user(exc):
            return failures.report(exc, verbosity)
        if verbosity:
            from ..stdlib import stdlib

            stdlib("traceback").print_exception(type(exc), exc, exc.__traceback__)
        return failures.error(exc, target, options.paths)
    except KeyboardInterrupt as exc:
        from . import failures

        failures.report(exc, verbosity)
        return failures.die_of_sigint()
    except BaseException as exc:  # every other failure is the target's
        from . import failures

        return failures.report(exc, verbosity)
    return exit_code(value) if target.func else 0
