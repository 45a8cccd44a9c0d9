"""A small, real plugin host built on ``zrun.discover`` and ``zrun.Scope``.

    python build_plugins.py /tmp/plugins
    python host.py /tmp/plugins [--demo-reload]
    python host.py /tmp/plugins --parallel process|interpreter    # isolated workers (parallel.py)

Every archive in the folder is a plugin. Its runnable entries are listed
without running any plugin code; then each plugin runs in its own scope,
which the host keeps, so an archive replaced on disk is reloaded on the next
round. Plugins that raise, call ``sys.exit`` or ship a module named like one
of the host's (``utils``) cannot hurt the host; after each plugin the host
checks with one call (``scope.diff()``) that nothing was left behind in ``sys``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import utils  # the host's own; the greeter plugin ships another module called utils

import zrun
from zrun import Runnable

#: The entry-point group this host loads; other groups in a plugin are ignored.
GROUP = "plugin_host.plugins"


class Outcome(NamedTuple):
    """What became of one entry: ``status`` is ``ok``, ``error`` or ``exit``."""

    plugin: str
    entry: str
    status: str
    detail: str

    def __str__(self) -> str:
        return f"{self.plugin}: {self.entry} -> {self.status}: {self.detail}"


class PluginHost:
    """Runs every plugin in ``folder``, each in a scope of its own."""

    def __init__(self, folder: str, *, log: Callable[[str], None] = print) -> None:
        self.folder = folder
        self.log = log
        self.scopes: Dict[str, zrun.Scope] = {}
        self.leftovers: Dict[str, List[str]] = {}

    def run_all(self) -> List[Outcome]:
        """One round: discover, run each plugin, report (after the scope, when stdout is ours again)."""
        entries = zrun.discover(self.folder, on_error=self._unreadable)
        archives = sorted({entry.archive for entry in entries})
        for gone in set(self.scopes) - set(archives):
            del self.scopes[gone]
        outcomes: List[Outcome] = []
        for archive in archives:
            outcomes += self.run_plugin(archive, [entry for entry in entries if entry.archive == archive])
        return outcomes

    def run_plugin(self, archive: str, entries: Sequence[Runnable]) -> List[Outcome]:
        name = os.path.basename(archive)
        scope = self.scopes.get(archive)
        if scope is None:
            scope = self.scopes[archive] = zrun.Scope(archive, restore_environ=True, restore_cwd=True, lock_timeout=30)
        elif scope.stale:
            scope.reload()
            self.log(f"{name}: changed on disk, reloaded")
        with scope:
            outcomes = [self._run_entry(scope, name, entry) for entry in entries if entry.kind == "main" or entry.group == GROUP]
        for outcome in outcomes:
            self.log(str(outcome))
        self.leftovers[name] = scope.diff()
        if self.leftovers[name]:
            self.log(f"{name}: left traces in sys: {self.leftovers[name]}")
        return outcomes

    def _run_entry(self, scope: zrun.Scope, plugin: str, entry: Runnable) -> Outcome:
        label = entry.name if entry.kind == "main" else f"{entry.group}:{entry.name}"
        try:
            if entry.kind == "main":
                scope.run(entry.ref)
                return Outcome(plugin, label, "ok", "ran")
            return Outcome(plugin, label, "ok", str(scope.call(entry.ref, self)))
        except SystemExit as exc:
            return Outcome(plugin, label, "exit", str(exc.code))
        except Exception as exc:  # a plugin's bug is reported, never the host's end
            return Outcome(plugin, label, "error", f"{type(exc).__name__}: {exc}")

    def _unreadable(self, archive: str, exc: Exception) -> None:
        self.log(f"{os.path.basename(archive)}: skipped, {exc}")


def host_is_intact() -> bool:
    """The host's ``utils`` is the very module it imported, unchanged."""
    return sys.modules.get("utils") is utils and utils.WHO == "the host's utils"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of plugin archives")
    parser.add_argument("--demo-reload", action="store_true", help="rebuild greeter as version 2.0 and run again")
    parser.add_argument("--parallel", choices=["process", "interpreter"],
                        help="run every plugin at once in isolated workers instead (interpreter: Python 3.14+)")
    args = parser.parse_args(argv)
    if args.parallel:
        import parallel

        intact = parallel.run_parallel(args.folder, args.parallel)
        return 0 if intact and host_is_intact() else 1
    host = PluginHost(args.folder)
    host.run_all()
    if args.demo_reload:
        import build_plugins

        build_plugins.build(args.folder, version="2.0", names=["greeter"])
        host.run_all()
    clean = not any(host.leftovers.values())
    print(f"host utils intact: {host_is_intact()}; sys clean after every plugin: {clean}")
    return 0 if clean and host_is_intact() else 1


if __name__ == "__main__":
    raise SystemExit(main())
