"""Spawn-mode ``multiprocessing`` for code run from an archive's ``__main__.py``.

A spawned child rebuilds the parent's main module from
``__main__.__spec__.name`` but skips names that are ``__main__`` or end in
``.__main__``, so functions defined in a zipapp's ``__main__.py`` cannot be
found and a ``Pool`` hangs (REFERENCE §2). For main modules zrun ran from a
path, the child is told to re-run that path instead, as it would be for
``python script.py``; the module's ``if __name__ == "__main__"`` guard keeps
the program itself from running again.

``multiprocessing.spawn`` costs tens of milliseconds to import, so it is
patched when the target imports it, not before.

Sources a run searches first (``--path``, ``sources=``) live on
``sys.meta_path``, which a child does not inherit; the ones with a place on
disk are put at the front of the child's ``sys.path`` instead, so it finds
the same modules (served there by the interpreter's own importers).
"""

from __future__ import annotations

import sys
from _weakref import ref

from ..loading.callbacks import when_imported

TYPE_CHECKING = False  # typing and weakref cost milliseconds at start-up; only checkers need them
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Callable, Dict, List, Tuple

_SPAWN = "multiprocessing.spawn"
_main_path: List[Tuple[ref[ModuleType], str]] = []  # the one main module run from a path


def respawn_from_path(module: ModuleType, path: str) -> None:
    """Have spawned children rebuild ``module`` by running ``path`` again."""
    _main_path[:] = [(ref(module), path)]
    watch()


def watch() -> None:
    """Patch ``multiprocessing.spawn`` now if it is loaded, else once it is imported."""
    when_imported(_SPAWN, _patch)


def _preparation_data(original: Callable[[str], Dict[str, Any]]) -> Callable[[str], Dict[str, Any]]:
    def get_preparation_data(name: str) -> Dict[str, Any]:
        data = original(name)
        path = next((path for module, path in _main_path if module() is sys.modules.get("__main__")), None)
        main_name = data.get("init_main_from_name")
        if path is not None and main_name is not None and (main_name == "__main__" or main_name.endswith(".__main__")):
            del data["init_main_from_name"]
            data["init_main_from_path"] = path
        searched = _searched_first()
        if searched and "sys_path" in data:
            data["sys_path"] = searched + [entry for entry in data["sys_path"] if entry not in searched]
        return data

    get_preparation_data.__wrapped__ = original  # type: ignore[attr-defined]
    return get_preparation_data


def _searched_first() -> List[str]:
    """On-disk places of the sources active runs search before ``sys.path``."""
    from ..loading.loader import location_of, searched_first

    places: List[str] = []
    for place in map(location_of, searched_first()):
        if place is not None and place not in places:
            places.append(place)
    return places


def _patch(spawn: Any) -> None:  # the multiprocessing.spawn module object
    original = spawn.get_preparation_data
    if not hasattr(original, "__wrapped__"):
        spawn.get_preparation_data = _preparation_data(original)
