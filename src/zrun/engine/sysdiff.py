"""What differs between ``sys`` now and a :class:`~zrun.engine.sysstate.SysState` snapshot, one line each.

Asked by tests and by hosts proving a plugin left no trace (``Scope.diff``),
never on a run's way: kept apart so a run's start-up does not load it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import AbstractSet, Any, List, Tuple

    SysState = Any  # zrun.engine.sysstate.SysState, which imports this module (lazily): no arrow back


def diff(state: SysState, missing: object, own_folders: AbstractSet[str]) -> List[str]:
    """One line per difference; empty if none. Modules that other threads imported meanwhile are theirs, not a difference.

    ``missing`` is the snapshot's mark for an attribute ``sys`` did not have; ``own_folders``, zrun's package folders.
    """
    lines: List[str] = []
    for name in state._lists:
        original, (now, contents) = state._lists[name], _seen(state, name, missing)
        if now is not original:
            lines.append(f"sys.{name} is a different object")
        elif isinstance(now, list) and contents != state._contents[name]:
            lines.append(f"sys.{name} changed: {state._contents[name]!r} -> {contents!r}")
    cache = sys.path_importer_cache
    added = sorted(set(cache) - set(state._importer_cache) - own_folders)
    if added:
        lines.append(f"sys.path_importer_cache gained {added!r}")
    changed = sorted(key for key, value in state._importer_cache.items() if cache.get(key, missing) is not value)
    if changed:
        lines.append(f"sys.path_importer_cache lost or replaced {changed!r}")
    for name in sorted(state._module_names()):
        before, now = state._modules.get(name, missing), sys.modules.get(name, missing)
        if before is not now and not (before is missing and state.theirs(name)):
            what = "added" if before is missing else "removed" if now is missing else "replaced"
            lines.append(f"sys.modules[{name!r}] {what}")
    lines += _hook_diff(state, missing)
    if state._environ is not None and dict(os.environ) != state._environ:
        lines.append("os.environ changed")
    if state._cwd is not None and os.getcwd() != state._cwd:
        lines.append(f"working directory changed: {state._cwd!r} -> {os.getcwd()!r}")
    return lines


def _seen(state: SysState, name: str, missing: object) -> Tuple[Any, List[Any]]:
    """``sys.<name>`` and its contents, without the stand-ins of :mod:`zrun.engine.otherthreads`."""
    now, tracking = getattr(sys, name, missing), state._tracking
    contents = list(now) if isinstance(now, list) else []
    if tracking is not None:
        if now is tracking.stand_ins.get(name):
            now = state._lists[name]  # the run's stand-in for the host's list, until restore
        contents = [item for item in contents if item is not tracking.recorder]
    return now, contents


def _hook_diff(state: SysState, missing: object) -> List[str]:
    lines = []
    for name, value in state._hooks.items():
        now = getattr(sys, name, missing)
        if now is not value:
            lines.append(f"sys.{name} replaced" if value is not missing else f"sys.{name} set to {now!r}")
    for label, value, getter, _ in state._settings:
        now = getattr(sys, getter)()
        if now != value:
            lines.append(f"{label} changed: {value} -> {now}")
    if os.environ is not state._os_environ[0] or getattr(os, "environb", None) is not state._os_environ[1]:
        lines.append("os.environ rebound")
    return lines
