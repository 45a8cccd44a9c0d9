"""What ``zrun --help``, ``--version`` and a usage error print: the texts, and the program's name.

Only ``-h``, ``-V`` and a malformed command line need them, so a run never
imports this module.
"""

from __future__ import annotations

import os
import sys

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
    return f"zrun {__version__} from {zrun_folder()} ({interpreter}, {sys.executable})\n"


def help_text() -> str:
    """All of ``--help``: usage, targets, commands, options and the environment variables."""
    from ..settings import help_text as environment

    return usage() + HELP.format(prog=program()) + environment()


def zrun_folder() -> str:
    """The ``zrun`` package's folder (this module is in its ``cli`` package)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
