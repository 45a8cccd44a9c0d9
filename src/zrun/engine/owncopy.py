"""Another copy of zrun as a run's target (a zrun wheel): refused with one clear error.

``python -m zrun zrun-0.1.0-py3-none-any.whl:zrun --version`` would need two
zruns under the one name ``zrun`` in ``sys.modules`` at once: the running one
keeps loading its code and the archive's modules while the other starts, so
one saw the other's half-initialised modules (``partially initialized module
'zrun.cache.store'``). zrun therefore never takes ``zrun`` from a source or a
location, and a location that holds a different zrun is refused; running that
copy by itself (``PYTHONPATH=the.whl python -m zrun``) works.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import PathFinder

from ..errors import NotRunnable
from ..loading.loader import find_in
from ..stdlib import OWN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

    from ..source import Source
    from .locations import Location


def other_zrun(entry: Union[str, Source]) -> Optional[str]:
    """Where ``entry`` holds a top-level ``zrun`` that is not the running zrun's own files, else ``None``."""
    if isinstance(entry, str):
        spec = PathFinder.find_spec(OWN, [entry])
    else:
        spec = find_in(entry, OWN, OWN)
    if spec is None:
        return None
    running = getattr(sys.modules.get(OWN), "__file__", None)
    if spec.origin and running and os.path.realpath(spec.origin) == os.path.realpath(running):
        return None
    return spec.origin or (entry if isinstance(entry, str) else entry.filename(OWN))


def refuse_other_zrun(location: Location) -> None:
    """Raise :class:`~zrun.NotRunnable` when ``location`` holds another copy of zrun; else the running zrun runs."""
    where = other_zrun(location.entry)
    if where is not None:
        raise NotRunnable(
            f"{location.path} holds another copy of zrun ({where}), which cannot run inside the running zrun; "
            f"run it by itself, e.g. PYTHONPATH={location.path} python -m zrun",
            name=OWN,
        )
