"""What other threads import and change in ``sys.path`` while a run or scope is in progress.

A run or scope restores ``sys`` when it ends, but ``sys`` belongs to every
thread of the process. Restoring from a snapshot alone removed modules that a
host thread had imported meanwhile, or was still importing: importlib's
``_load_unlocked`` then failed with ``KeyError`` in that thread (450 of 500
imports, measured), and the thread's ``sys.path.append`` was undone. So a
:class:`Tracking`, for the life of one run or scope, records:

- every name another thread asks the import system for: an :class:`ImportRecorder`
  at the front of ``sys.meta_path`` notes the names it is asked for, by thread,
  and answers nothing. A module first imported by another thread is theirs
  and stays. Submodules are asked for too, so a package another thread
  imports keeps all of its modules;
- the imports in progress when the run started (a thread past ``find_spec``
  but not done): their module locks are alive in importlib's lock table;
- changes other threads make to ``sys.path``, ``sys.meta_path`` and
  ``sys.path_hooks``: while the run lasts, each is a :class:`TrackedList`, a
  ``list`` that stands in for the host's and notes what other threads add
  and remove, so the restore puts back the snapshot *and* replays their
  changes. The host's list objects come back afterwards, never changed under
  a thread that is walking them.

"The run's own" means the thread that started it, plus any thread a
:class:`zrun.Scope` lets run inside it (:meth:`Tracking.adopt`).
"""

from __future__ import annotations

import _thread
import sys
from contextlib import contextmanager, nullcontext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Callable, ContextManager, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

    Change = Tuple[bool, List[Any], bool]  # (added?, the items, at the front?)

_bootstrap: Any = sys.modules["importlib._bootstrap"]  # the import statement's own module lock table


def importing_now() -> Set[str]:
    """Names whose import is in progress in some thread: their module locks are held.

    A lock that is merely alive is not enough: the frames of a traceback still
    being handled keep the locks of the imports they passed through alive, held
    by nobody (seen on 3.15 after a fault while a package's module was found).
    """
    locks = getattr(_bootstrap, "_module_locks", {})
    return {name for name, ref in list(locks.items()) if getattr(ref(), "owner", None) is not None}


class ImportRecorder:
    """Meta-path finder that answers nothing and notes the names other threads look for."""

    records_imports = True  # zrun.loading.loader.insert_first keeps zrun's own finders behind it

    def __init__(self, threads: Set[int]) -> None:
        self.threads = threads
        self.found: Set[str] = set()

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        if _thread.get_ident() not in self.threads:
            self.found.add(fullname)
        return None

    def __repr__(self) -> str:
        return "<zrun ImportRecorder>"


class TrackedList(list):  # type: ignore[type-arg]
    """``sys.path``, ``meta_path`` or ``path_hooks`` during a run: other threads' changes are noted.

    The run changes this stand-in, never the host's list. A thread iterating
    the host's list (the import system walks ``sys.meta_path`` and
    ``sys.path_hooks`` for every import) must not see it shrink under it:
    removing the run's finders from its front made that thread skip
    ``PathFinder`` and fail with ``ModuleNotFoundError``, or cache ``None``
    as the finder of a ``sys.path`` entry. After :meth:`retire`, changes go
    to the host's list: a thread that fetched the stand-in just before the
    restore still reaches it.
    """

    #: :mod:`zrun.engine.pieces` leave their changes to this list to the restore, which swaps the host's back whole.
    swapped_back = True

    def __init__(self, items: Iterable[Any], threads: Set[int]) -> None:
        super().__init__(items)
        self._threads = threads
        self._lock = _thread.RLock()
        self._retired: Optional[List[Any]] = None
        self.changes: List[Change] = []

    def retire(self, settle: Callable[[List[Change]], None], real: List[Any]) -> None:
        """Under the lock: ``settle`` the host's list from the changes noted, then forward to it."""
        with self._lock:
            settle(self.changes)
            self._retired = real

    def absorb(self, items: List[Any], changes: List[Change]) -> None:
        """An inner run's restore: take ``items``, and count ``changes`` as other threads' here too."""
        with self._lock:
            if list(self) != items:
                list.__setitem__(self, slice(None), items)
            self.changes += changes

    def __reduce_ex__(self, protocol: Any) -> Any:  # pickled (multiprocessing's spawn data) as a plain list
        return (list, (list(self),))

    def __reduce__(self) -> Any:
        return (list, (list(self),))


def _tracked(name: str) -> Callable[..., Any]:
    method = getattr(list, name)

    def change(self: TrackedList, *args: Any) -> Any:
        with self._lock:
            if self._retired is not None:
                return getattr(self._retired, name)(*args)
            if _thread.get_ident() in self._threads:
                return method(self, *args)
            before = list(self)
            result = method(self, *args)
            _note(self.changes, before, list(self))
            return result

    change.__name__ = name
    return change


for _name in ("append", "extend", "insert", "remove", "pop", "clear", "__setitem__", "__delitem__", "__iadd__", "__imul__"):
    setattr(TrackedList, _name, _tracked(_name))


def _note(changes: List[Change], before: List[Any], after: List[Any]) -> None:
    removed = [item for item in before if item not in after]
    added = [item for item in after if item not in before]
    if removed:
        changes.append((False, removed, False))
    if added:
        changes.append((True, added, after[: len(added)] == added))


def replay(items: List[Any], changes: Iterable[Change]) -> List[Any]:
    """``items`` with other threads' changes applied: additions at the front or the end, as made."""
    result = list(items)
    for added, what, front in changes:
        if not added:
            result = [item for item in result if item not in what]
        elif front:
            result[:0] = [item for item in what if item not in result]
        else:
            result += [item for item in what if item not in result]
    return result


#: The lists a run changes and other threads walk or change meanwhile.
TRACKED = ("path", "meta_path", "path_hooks")


class Tracking:
    """Other threads' imports and list changes, from :meth:`start` until the lists are restored."""

    def __init__(self) -> None:
        self.threads: Set[int] = {_thread.get_ident()}
        self.recorder = ImportRecorder(self.threads)
        self.busy: Set[str] = set()
        self.stand_ins: Dict[str, TrackedList] = {}
        self._real: Dict[str, List[Any]] = {}

    def start(self) -> None:
        """Stand-ins for the lists, the recorder first on the new ``sys.meta_path``, then the
        imports already in progress: no import falls between the last two."""
        for name in TRACKED:
            real = getattr(sys, name, None)
            if isinstance(real, list):  # a TrackedList too: a run inside a run
                self._real[name] = real
                self.stand_ins[name] = TrackedList(real, self.threads)
                setattr(sys, name, self.stand_ins[name])
        sys.meta_path.insert(0, self.recorder)
        self.busy = importing_now()

    def settle(self) -> None:
        """Note the imports in progress now, as restoring begins: those are theirs too."""
        self.busy |= importing_now()

    def theirs(self, name: str) -> bool:
        """True when another thread looked ``name`` up, or was importing it when the run began or ended."""
        return name in self.recorder.found or name in self.busy

    def restore_list(self, name: str, snapshot: List[Any]) -> bool:
        """``sys.<name>`` is the host's list again: the snapshot's contents plus other threads' changes.

        False when this list was not tracked (missing, or not a list, at the start).
        """
        real, stand_in = self._real.get(name), self.stand_ins.get(name)
        if real is None or stand_in is None:
            return False
        mine = list(snapshot)

        def settle(changes: List[Change]) -> None:
            theirs: List[Change] = []
            _note(theirs, mine, list(real))  # made straight to the host's list: by threads holding it
            theirs += changes
            items = replay(mine, theirs)
            if isinstance(real, TrackedList):
                real.absorb(items, theirs)
            elif list(real) != items:
                real[:] = items
            setattr(sys, name, real)

        stand_in.retire(settle, real)
        return True

    @contextmanager
    def adopt(self) -> Iterator[None]:
        """Count this thread's imports and list changes as the run's own while inside."""
        ident = _thread.get_ident()
        added = ident not in self.threads
        self.threads.add(ident)
        try:
            yield
        finally:
            if added:
                self.threads.discard(ident)

def adopted(tracking: Optional[Tracking]) -> ContextManager[None]:
    """:meth:`Tracking.adopt`, or nothing when no tracking is going on."""
    return tracking.adopt() if tracking is not None else nullcontext()
