"""runner.pyz's entry point: ``python -m zrun``'s command line, minus what shiv's bootstrap left behind.

shiv's ``__main__.py`` imports its ``_bootstrap`` package, extracts the
archive's ``site-packages``, puts it on ``sys.path`` and calls the entry point
with these still in place:

- ``_bootstrap`` in ``sys.modules``: a target that is itself a shiv app would
  import the runner's bootstrap instead of its own. It is also a global of the
  archive's ``__main__``, which stays the main module while a
  ``module:function`` target runs (as ``zrun.__main__`` does under
  ``python -m zrun``).
- ``SHIV_*`` settings in ``os.environ`` (``SHIV_COMPILE_PYC``,
  ``SHIV_PREPEND_PYTHONPATH``...): they configured the runner's extraction,
  but every shiv app the target starts would read them as its own. shiv
  itself drops only ``SHIV_ENTRY_POINT``, ``SHIV_MODULE`` and
  ``SHIV_CONSOLE_SCRIPT``. ``SHIV_ROOT`` stays: it says where caches live.
- ``PYTHONPATH`` extended with the runner's ``site-packages`` when
  ``SHIV_EXTEND_PYTHONPATH`` is set, which the target's children would inherit.
- the archive at ``sys.path[0]``, or behind ``SHIV_PREPEND_PYTHONPATH``'s
  entry: :func:`zrun.engine.run.run_main` replaces ``sys.path[0]`` with the
  target's entry, as ``python -m`` does with the working directory, so the
  archive must be the entry there.

``sys.argv`` needs nothing: shiv leaves it alone, and the engine gives the
target its own, as it gives module, script and archive targets their own
``__main__``.

The archive is built for every supported interpreter at once, so the
``importlib_resources`` backport that zrun promises on 3.9 ships in a
directory of its own at the archive's top, which shiv does not extract, and
goes on ``sys.path`` (read by zipimport) only there.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import MutableMapping

#: Directory at the top of runner.pyz (not in its ``site-packages``) that holds what only 3.9 needs.
#: The name is no valid module name, so nothing imports it by accident.
BACKPORTS = "zrun-backports-py39"
#: The one shiv variable the target's own shiv apps should still see.
KEPT_SHIV_VARIABLES = ("SHIV_ROOT",)
#: The globals runner.pyz's ``__main__.py`` defines: shiv's package, and the fast path past it.
MAIN_GLOBALS = ("_bootstrap", "_zrun_fast_path")


def site_packages() -> str:
    """The extracted ``site-packages`` this module runs from."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def forget_bootstrap() -> None:
    """Drop shiv's ``_bootstrap`` package from ``sys.modules``, and :data:`MAIN_GLOBALS` from ``__main__``.

    Safe while their frames are still on the stack: they keep their globals.
    """
    for name in [name for name in list(sys.modules) if name == "_bootstrap" or name.startswith("_bootstrap.")]:
        del sys.modules[name]
    main = sys.modules.get("__main__")
    for name in MAIN_GLOBALS:
        if main is not None and getattr(main, name, None) is not None:
            delattr(main, name)


def forget_shiv_environment(environ: MutableMapping[str, str], ours: str) -> None:
    """Remove the runner's shiv settings, and ``ours`` from ``PYTHONPATH``, so children do not inherit them."""
    for name in [name for name in environ if name.startswith("SHIV_") and name not in KEPT_SHIV_VARIABLES]:
        del environ[name]
    if "PYTHONPATH" in environ:
        entries = environ["PYTHONPATH"].split(os.pathsep)
        kept = [entry for entry in entries if entry != ours]
        if not kept:
            del environ["PYTHONPATH"]
        elif kept != entries:
            environ["PYTHONPATH"] = os.pathsep.join(kept)


def archive_first(archive: str) -> None:
    """Make ``archive`` (where the interpreter found ``__main__``) ``sys.path[0]``, and its only entry there."""
    others = [entry for entry in sys.path if os.path.abspath(entry) != archive]
    if len(others) < len(sys.path):
        sys.path[:] = [archive, *others]


def add_backports(ours: str, archive: str) -> None:
    """On 3.9, put the backports inside ``archive`` right after ``ours``, where pip would have installed them."""
    if sys.version_info >= (3, 10):
        return
    backports = os.path.join(archive, BACKPORTS)
    if backports not in sys.path:
        index = sys.path.index(ours) + 1 if ours in sys.path else len(sys.path)
        sys.path.insert(index, backports)


def main() -> int:
    """Clear shiv's leftovers, then run ``zrun.cli.main.main`` on ``sys.argv[1:]`` and return its exit status."""
    ours = site_packages()
    forget_bootstrap()
    forget_shiv_environment(os.environ, ours)
    archive = os.path.abspath(sys.argv[0])
    archive_first(archive)
    add_backports(ours, archive)
    try:
        os.utime(os.path.dirname(ours))  # the last use `zrun cache prune` goes by (see zrun.cache.shiv)
    except OSError:
        pass  # a read-only cache just stays unrecorded
    from .cli.main import main as cli_main

    return cli_main()
