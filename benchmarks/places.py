"""Where an interpreter lives: on this machine, or in the Debian-sid chroot of ``.ci/sid``.

CPython 3.14 and 3.15 exist here only inside the chroot, so ``--python
sid:/usr/bin/python3.14`` names one there. Everything that interpreter runs
(its whole measuring session, its peers' venv and the apps built with it)
runs inside, through ``.ci/sid exec CHECKOUT ...``, which binds the checkout
at its own path: paths under the checkout mean the same file on both sides,
and the fixtures of a run with a chroot interpreter therefore live under it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple, Union

ROOT = Path(__file__).resolve().parent.parent
SID = ROOT / ".ci" / "sid"
SID_PREFIX = "sid:"


@dataclass(frozen=True)
class Host:
    """This machine: commands run as they are."""

    spelling: str = ""  # what ``--python`` puts before the path


@dataclass(frozen=True)
class Sid:
    """The chroot: commands run through ``.ci/sid exec``, which sees only ``root`` (bound at its own path)."""

    root: Path = ROOT
    spelling: str = SID_PREFIX


Place = Union[Host, Sid]


def parse_python(spec: str) -> Tuple[Place, Path]:
    """``--python`` as given: ``PATH`` (this machine) or ``sid:PATH`` (inside the chroot)."""
    if spec.startswith(SID_PREFIX):
        return Sid(), Path(spec[len(SID_PREFIX):])
    return Host(), Path(spec)


@functools.singledispatch
def wrap(place: object, argv: List[str]) -> List[str]:
    """``argv`` as run in ``place``."""
    raise TypeError(f"not a place: {place!r}")


@wrap.register
def _(place: Host, argv: List[str]) -> List[str]:
    return argv


@wrap.register
def _(place: Sid, argv: List[str]) -> List[str]:
    return [str(SID), "exec", str(place.root), *argv]


@functools.singledispatch
def reaches(place: object, path: Path) -> bool:
    """Whether a process in ``place`` sees ``path`` as this process does."""
    raise TypeError(f"not a place: {place!r}")


@reaches.register
def _(place: Host, path: Path) -> bool:
    return True


@reaches.register
def _(place: Sid, path: Path) -> bool:
    return path.resolve().is_relative_to(place.root.resolve())
