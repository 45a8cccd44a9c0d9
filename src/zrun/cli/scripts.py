"""A wheel's console scripts, run as the wrappers ``pip install`` writes would run them.

pip turns each ``console_scripts`` / ``gui_scripts`` entry point of a wheel
into a small program that imports the module, sets ``sys.argv[0]`` to the
script's own name and exits with what the function returns. ``zrun tool.whl``
does the same for a wheel without a ``__main__`` that declares exactly one
script, and ``zrun --script NAME LOCATION`` for any of several, in any archive
or directory with ``*.dist-info/entry_points.txt``. The entry points are read
from the index with :func:`zrun.plugins.discovery.entries_of`; nothing runs until the
script is chosen.
"""

from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence

from ..engine.entries import as_sources
from ..engine.run import Run, run_target
from ..engine.sysstate import SysState
from ..errors import NotRunnable
from ..plugins.discovery import Runnable, entries_of
from ..source import Source
from ..target import Target

#: The entry-point groups pip makes programs of.
SCRIPT_GROUPS = ("console_scripts", "gui_scripts")


def scripts_of(source: Source) -> List[Runnable]:
    """The console and GUI scripts a source declares, in the order of its metadata."""
    return [entry for entry in entries_of(source) if entry.group in SCRIPT_GROUPS]


def wanted_script(location: str, name: Optional[str]) -> Optional[Runnable]:
    """The script to run for ``zrun LOCATION`` (``name`` None) or ``zrun --script NAME LOCATION``.

    ``None`` when plain ``LOCATION`` should run as python would run it: it is
    no wheel, or it has a ``__main__``, or it declares no script.
    """
    from .diagnose import open_source

    source = open_source(location) if not os.path.isdir(location) else _directory(location)
    if name is None and (source is None or not location.lower().endswith(".whl")):
        return None
    if source is None and not os.path.exists(location):
        from ..errors import MissingPath

        raise MissingPath(f"can't open file {os.path.abspath(location)!r}: [Errno 2] No such file or directory")
    if source is None:
        raise NotRunnable(f"{location!r} is not a directory or archive, so it has no console script {name!r}")
    if name is None and (source.is_file("__main__.py") or source.is_file("__main__.pyc")):
        return None
    found = scripts_of(source)
    names = [entry.name for entry in found]
    if name is None:
        if len(found) == 1:
            return found[0]
        if not found:
            return None
        raise NotRunnable(
            f"{location!r} has no __main__ and {len(found)} console scripts; choose one with --script NAME: {', '.join(names)}"
        )
    for entry in found:
        if entry.name == name:
            return entry
    from ..stdlib import stdlib

    close = stdlib("difflib").get_close_matches(name, names, 1, 0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    listed = f" (it has {', '.join(names)})" if names else " (it declares none)"
    raise NotRunnable(f"{location!r} has no console script {name!r}{hint}{listed}")


def _directory(location: str) -> Optional[Source]:
    """A directory as a source, for its ``*.dist-info`` metadata only."""
    from .inventory import DirectorySource

    return DirectorySource(location)


class ScriptRun(Run):
    """A run whose ``sys.argv[0]`` is the script's name, as pip's wrapper sets it."""

    def __init__(self, script: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.script = script

    def set_argv(self, argv0: str, argv: Sequence[str]) -> None:
        super().set_argv(self.script, argv)


def run_script(location: str, script: Runnable, argv: Sequence[str], sources: Sequence[str] = ()) -> Any:
    """Run ``script`` of ``location`` in this process, as the CLI's :func:`zrun.engine.run.run_main` runs targets."""
    module, _, func = script.ref.partition(":")
    target = Target(location=location, module=module, func=func or None)
    runner = ScriptRun(script.name, state=SysState(), sources=as_sources(sources), alter_sys=True, replace_path0=True)
    return run_target(runner, target, argv, "__main__")
