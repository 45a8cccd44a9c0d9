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

    from ..target import Target

USAGE = (
    "usage: {prog} [OPTIONS] TARGET [ARGS...]\n"
    "       {prog} [OPTIONS] -m MODULE [ARGS...]\n"
    "       {prog} info TARGET [--json]\n"
    "       {prog} cache info | prune [--older-than DAYS] | clear\n"
)
HELP = """
Run a module, script, directory or archive the way `python -m` / `python PATH`
would, with zip archives, wheels and zrun bundles as first-class sources.

targets:
  pkg.mod                 like `python -m pkg.mod`
  script.py               like `python script.py`
  app.zip | app.pyz | dir/
                          the __main__ inside it, like `python app.zip`
  tool.whl                a wheel without __main__: its only console script
  app.zip:pkg.mod         module pkg.mod from that archive or directory only
  pkg.mod:func            call pkg.mod.func(); its return value is the exit status
  app.zip:pkg.mod:func    the same, with pkg.mod taken from app.zip
  bundle.zrf:pkg.mod      module from a frozen bundle (zrun.FrozenSource)

commands:
  info TARGET [--json]    what an archive, wheel, bundle or directory holds:
                          __main__, console scripts, packages, modules, size;
                          read from its index, nothing runs
  cache info | prune [--older-than DAYS] | clear
                          show or clean zrun's cache and runner.pyz's own
                          extractions (`{prog} cache --help`); modules named
                          `info` or `cache` run with `{prog} -m info`

options (before TARGET; everything after TARGET belongs to the target):
  -m MODULE               always a module name, exactly like `python -m`
  --path ENTRY            search ENTRY (archive or directory) first; repeatable
  --script NAME           run console script NAME of the archive, wheel or
                          directory TARGET, as the program `pip install` makes
  -v, --verbose           report what is loaded from where, the cache, timings,
                          and show zrun's own frames in tracebacks; -vv: more
  -h, --help              show this help and exit
  -V, --version           show zrun's version, interpreter and location, and exit

"""


class UsageError(Exception):
    """A malformed command line (exit status 2)."""


class Options:
    """What came before TARGET."""

    __slots__ = ("paths", "script", "verbose")

    def __init__(self) -> None:
        self.paths: List[str] = []
        self.script: Optional[str] = None
        self.verbose = 0


def program() -> str:
    """The program as invoked, for ``usage:``: ``python -m zrun``, ``zrun`` or ``runner.pyz``."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name == "zrun.__main__":
        return f"{os.path.basename(sys.executable) or 'python'} -m zrun"
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "zrun"


def usage() -> str:
    return USAGE.format(prog=program())


def version() -> str:
    """``zrun X.Y.Z from <package folder> (CPython 3.N.M, <executable>)``."""
    from .. import __version__

    interpreter = f"{sys.implementation.name.replace('cpython', 'CPython')} {sys.version.split()[0]}"
    return f"zrun {__version__} from {_zrun_folder()} ({interpreter}, {sys.executable})\n"


def parse_args(args: List[str], options: Optional[Options] = None) -> Tuple[Target, List[str], List[str]]:
    """Split ``args`` into (target, target argv, --path entries) without argparse; fills ``options``."""
    from ..target import module_target, parse

    options = options if options is not None else Options()
    paths = options.paths
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            from ..settings import help_text

            sys.stdout.write(usage() + HELP.format(prog=program()) + help_text())
            raise SystemExit(0)
        if arg in ("-V", "--version"):
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
        if _raised_by_user(exc):
            return _report(exc, verbosity)
        if verbosity:
            from ..stdlib import stdlib

            stdlib("traceback").print_exception(type(exc), exc, exc.__traceback__)
        return _error(exc, target, options)
    except KeyboardInterrupt as exc:
        _report(exc, verbosity)
        return _die_of_sigint()
    except BaseException as exc:  # every other failure is the target's
        return _report(exc, verbosity)
    return exit_code(value) if target.func else 0


def _error(exc: BaseException, target: Target, options: Options) -> int:
    """One ``zrun: error:`` line; exit 2 for a missing file, as python, else 1."""
    from ..errors import CorruptArchive, MissingPath, NotRunnable

    message = str(exc)
    if isinstance(exc, NotRunnable):
        from .diagnose import explain

        try:
            message = explain(exc, target, options.paths)
        except Exception:  # a hint that fails must not hide the error itself
            pass
    elif isinstance(exc, CorruptArchive) and "truncated or corrupt" not in message:
        message += " (the archive is truncated or corrupt)"
    sys.stderr.write(f"zrun: error: {message}\n")
    return 2 if isinstance(exc, MissingPath) else 1


def _is_ours(filename: str) -> bool:
    return _is_zrun(filename) or _is_importlib(filename)


def _is_zrun(filename: str) -> bool:
    return filename.startswith(_zrun_folder() + os.sep)


def _zrun_folder() -> str:
    """The ``zrun`` package's folder (this module is in its ``cli`` package)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _is_importlib(filename: str) -> bool:
    return filename.startswith("<frozen importlib") or filename.endswith(f"{os.sep}importlib{os.sep}__init__.py")


def _raised_by_user(exc: BaseException) -> bool:
    """True when a ZrunError came from code the target ran (e.g. a plugin host it drives)."""
    tb = exc.__traceback__
    while tb is not None:
        if not _is_ours(tb.tb_frame.f_code.co_filename):
            return True
        tb = tb.tb_next
    return False


def _report(exc: BaseException, verbosity: int = 0) -> int:
    """Print the traceback of the user's frames only (all frames under ``-v``), through ``sys.excepthook``."""
    from ..loading.tracebacks import excepthook

    if not verbosity:
        _strip_ours(exc, set())
    excepthook()(type(exc), exc, exc.__traceback__)
    return 1


def _strip_ours(exc: BaseException, seen: Set[int]) -> None:
    """Unlink zrun's (and importlib's) frames wherever they are, as CPython hides importlib's own."""
    seen.add(id(exc))
    kept = []
    tb = exc.__traceback__
    dropped = True  # importlib's frames go only where zrun called it: the user's own import_module calls stay
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        dropped = _is_zrun(filename) or (dropped and _is_importlib(filename))
        if not dropped:
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
    from ..stdlib import stdlib

    signal = stdlib("signal")
    if hasattr(signal, "SIGINT") and hasattr(os, "kill") and os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return 130
