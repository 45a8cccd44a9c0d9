"""Spawn-mode ``multiprocessing`` for code run from an archive's ``__main__.py``.

A spawned child rebuilds the parent's main module from
``__main__.__spec__.name`` but skips names that are ``__main__`` or end in
``.__main__``, so functions defined in a zipapp's ``__main__.py`` cannot be
found and a ``Pool`` hangs (REFERENCE §2). For main modules zrun ran from a
path, the child is told to re-run that path instead, as it would be for
``python script.py``; the module's ``if __name__ == "__main__"`` guard keeps
the program itself from running again.

Sources a run searches first (``--path``, ``sources=``) live on
``sys.meta_path``, which a child does not inherit; the ones with a place on
disk are put at the front of the child's ``sys.path`` instead, so it finds
the same modules (served there by the interpreter's own importers).

Imported only once a target imports ``multiprocessing.spawn``: the run's
:class:`~zrun.engine.pieces.SpawnPatch` decides when to patch and unpatch.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Sequence, Tuple

    Respawn = Sequence[Tuple[Any, str]]  # (weak reference to a main module, the path it was run from)


def patch(spawn: Any, respawn: Respawn) -> None:
    """Wrap ``spawn.get_preparation_data`` (once), reading ``respawn`` as it is when a child starts."""
    original = spawn.get_preparation_data
    if not hasattr(original, "__wrapped__"):
        spawn.get_preparation_data = _preparation_data(original, respawn)


def unpatch(spawn: Any) -> None:
    """Give ``multiprocessing.spawn`` back its own ``get_preparation_data``."""
    original = getattr(spawn.get_preparation_data, "__wrapped__", None)
    if original is not None and getattr(spawn.get_preparation_data, "__module__", None) == __name__:
        spawn.get_preparation_data = original


def _preparation_data(original: Callable[[str], Dict[str, Any]], respawn: Respawn) -> Callable[[str], Dict[str, Any]]:
    def get_preparation_data(name: str) -> Dict[str, Any]:
        data = original(name)
        path = next((path for module, path in respawn if module() is sys.modules.get("__main__")), None)
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
