"""What differs between ``sys`` now and a :class:`~zrun.engine.sysstate.SysState` snapshot, one line each.

Asked by tests and by hosts proving a plugin left no trace (``Scope.diff``),
never on a run's way: kept apart so a run's start-up does not load it.
"""

from __future__ import annotations

import os
import sys

from .sysstate import _LISTS, _MISSING, SysState, own_folders

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Tuple


def diff(state: SysState) -> List[str]:
    """One line per difference; empty if none. Modules that other threads imported meanwhile are theirs, not a difference."""
    lines: List[str] = []
    for name in _LISTS:
        original, (now, contents) = state._lists[name], _seen(state, name)
        if now is not original:
            lines.append(f"sys.{name} is a different object")
        elif isinstance(now, list) and contents != state._contents[name]:
            lines.append(f"sys.{name} changed: {state._contents[name]!r} -> {contents!r}")
    cache = sys.path_importer_cache
    added = sorted(set(cache) - set(state._importer_cache) - own_folders())
    if added:
        lines.append(f"sys.path_importer_cache gained {added!r}")
    changed = sorted(key for key, value in state._importer_cache.items() if cache.get(key, _MISSING) is not value)
    if changed:
        lines.append(f"sys.path_importer_cache lost or replaced {changed!r}")
    for name in sorted(state._module_names()):
        before, now = state._modules.get(name, _MISSING), sys.modules.get(name, _MISSING)
        if before is not now and not (before is _MISSING and state.theirs(name)):
            what = "added" if before is _MISSING else "removed" if now is _MISSING else "replaced"
            lines.append(f"sys.modules[{name!r}] {what}")
    lines += _hook_diff(state)
    if state._environ is not None and dict(os.environ) != state._environ:
        lines.append("os.environ changed")
    if state._cwd is not None and os.getcwd() != state._cwd:
        lines.append(f"working directory changed: {state._cwd!r} -> {os.getcwd()!r}")
    return lines


def _seen(state: SysState, name: str) -> Tuple[Any, List[Any]]:
    """``sys.<name>`` and its contents, without the stand-ins of :mod:`zrun.engine.otherthreads`."""
    now, tracking = getattr(sys, name, _MISSING), state._tracking
    contents = list(now) if isinstance(now, list) else []
    if tracking is not None:
        if now is tracking.stand_ins.get(name):
            now = state._lists[name]  # the run's stand-in for the host's list, until restore
        contents = [item for item in contents if item is not tracking.recorder]
    return now, contents


def _hook_diff(state: SysState) -> List[str]:
    lines = []
    for name, value in state._hooks.items():
        now = getattr(sys, name, _MISSING)
        if now is not value:
            lines.append(f"sys.{name} replaced" if value is not _MISSING else f"sys.{name} set to {now!r}")
    for label, value, getter, _ in state._settings:
        now = getattr(sys, getter)()
        if now != value:
            lines.append(f"{label} changed: {value} -> {now}")
    if os.environ is not state._os_environ[0] or getattr(os, "environb", None) is not state._os_environ[1]:
        lines.append("os.environ rebound")
    return lines
