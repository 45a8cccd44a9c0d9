"""What a scope must handle beyond :class:`~zrun.engine.sysstate.SysState`.

Which of the host's modules a plugin's sources shadow, and zrun's own lazily
imported modules, which must be loaded before a scope starts counting what
was imported inside it. (The ``sys`` hooks and streams plugins rebind are
SysState's: every run restores them.)
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib import machinery  # not ``from importlib.machinery import ...``: see zrun.stdlib

from ..errors import NotRunnable
from .locations import location_for

TYPE_CHECKING = False  # typing (and re, which it imports) costs milliseconds; only checkers need it
if TYPE_CHECKING:
    from typing import Iterable, List, Mapping, Set

    from .entries import Entry
    from .locations import Location

#: Never shadowed: the import system and zrun itself must keep working inside.
NEVER_SHADOWED = frozenset(sys.builtin_module_names) | {"__main__", "zrun"}
_MODULE_SUFFIXES = (".py", ".pyc", *machinery.EXTENSION_SUFFIXES)


def preload() -> None:
    """Import zrun's own lazily loaded modules now, outside any scope.

    Imported first inside a scope, they would be dropped at exit like plugin
    modules and come back as new objects (new classes) next time. The command
    line's modules are left out: a plugin host never runs them.
    """
    for folder in sys.modules["zrun"].__path__:
        _import_tree(folder, "zrun")


def _import_tree(folder: str, package: str) -> None:
    try:
        leaves = os.listdir(folder)
    except OSError:  # zrun itself inside an archive: nothing to list cheaply
        return
    for leaf in sorted(leaves):
        path = os.path.join(folder, leaf)
        if leaf.endswith(".py") and leaf[:-3].isidentifier() and leaf not in ("__init__.py", "__main__.py"):
            importlib.import_module(f"{package}.{leaf[:-3]}")
        elif leaf.isidentifier() and leaf not in ("cli", "workers") and os.path.isfile(os.path.join(path, "__init__.py")):
            importlib.import_module(f"{package}.{leaf}")
            _import_tree(path, f"{package}.{leaf}")


def top_level_names(entry: Entry) -> Set[str]:
    """Names a source answers at top level: ``pkg/``, ``mod.py``, ``mod.pyc``, ``ext.so``."""
    if isinstance(entry, str):
        try:
            leaves = os.listdir(entry)
        except OSError:
            return set()
        dirs = {leaf for leaf in leaves if os.path.isdir(os.path.join(entry, leaf))}
    else:
        leaves = [child.rpartition("/")[2] for child in entry.children("")]
        dirs = {leaf for leaf in leaves if entry.is_dir(leaf)}
    names = set()
    for leaf in leaves:
        if leaf in dirs:
            if leaf.isidentifier():
                names.add(leaf)
        elif leaf.endswith(_MODULE_SUFFIXES) and leaf.partition(".")[0].isidentifier():
            names.add(leaf.partition(".")[0])
    return names


def shadowed(sources: Iterable[Entry], modules: Mapping[str, object], keep: Mapping[str, object]) -> List[str]:
    """Entries of ``modules`` that ``sources`` would answer (submodules too), except ``keep``'s own."""
    provided = set().union(*map(top_level_names, sources)) - NEVER_SHADOWED
    return [name for name, module in list(modules.items()) if name.partition(".")[0] in provided and keep.get(name) is not module]


def foreign(sources: List[Entry]) -> List[str]:
    """Entries of ``sys.modules`` that ``sources`` answer but that came from elsewhere (submodules too)."""
    roots = [entry if isinstance(entry, str) else entry.root for entry in sources]
    mine = {name: module for name, module in list(sys.modules.items()) if _came_from(module, roots)}
    return shadowed(sources, dict(sys.modules), mine)


def _came_from(module: object, roots: List[str]) -> bool:
    """Whether ``module`` was loaded from (or, a namespace package, has a portion in) one of ``roots``."""
    spec = getattr(module, "__spec__", None)
    places = [getattr(spec, "origin", None), *(getattr(spec, "submodule_search_locations", None) or ())]
    return any(
        isinstance(place, str) and (place == root or place.startswith((root + "/", root + os.sep))) for place in places for root in roots
    )


def main_location(sources: Iterable[Entry]) -> Location:
    """The first source holding a top-level ``__main__``, as a run location."""
    for entry in sources:
        location = location_for(entry)
        if location.find("__main__") is not None:
            return location
    raise NotRunnable("can't find '__main__' module in the scope's sources", name="__main__")


def drop(names: Iterable[str], kept: Mapping[str, object]) -> None:
    """Remove ``names`` from ``sys.modules``; a ``kept`` name only while it is still that object."""
    for name in names:
        if name not in kept or sys.modules.get(name) is kept[name]:
            sys.modules.pop(name, None)
