"""What a worker runs: a task that pickles, its sources shipped by value, and the outcome.

Both kinds of worker speak bytes: the host pickles a :class:`Call` or
:class:`RunTarget`, the worker (a sub-interpreter or a spawned process)
runs it with :func:`serve` inside a :class:`zrun.Scope` (so a pooled worker
gives the next task a clean ``sys``) and pickles the outcome back. Bytes are
what both :mod:`concurrent.interpreters` and a pipe carry cheaply.

Sources travel by value where they have no file: a :class:`~zrun.MemorySource`
or :class:`~zrun.FrozenSource` as its dict of bytes, zip bytes as the bytes;
an archive or directory on disk as its path, which the worker opens itself.
"""

from __future__ import annotations

import functools
import io
import pickle
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ..engine.entries import Entry
from ..engine.shadows import preload
from ..errors import ArchiveError
from ..frozen import FrozenSource
from ..plugins.scope import Scope
from ..source import MemorySource, Source
from ..target import parse
from ..zip.source import ZipSource
from .errors import NotIsolatable, PluginError, RemoteTraceback

#: How a source is rebuilt in the worker: ``factory(*args)``.
Shipped = Tuple[Callable[..., Entry], Tuple[Any, ...]]

#: CPython's refusal of a single-phase-init extension in an isolated
#: interpreter (Python/import.c, _PyImport_CheckSubinterpIncompatibleExtensionAllowed).
_REFUSED = "does not support loading in subinterpreters"


@functools.singledispatch
def ship(entry: object) -> Shipped:
    """How ``entry`` reaches a worker: bytes for sources without a file, else the path."""
    raise TypeError(f"cannot send {entry!r} to a worker: not a source or a path")


@ship.register
def _(entry: str) -> Shipped:
    return str, (entry,)


@ship.register
def _(entry: ZipSource) -> Shipped:
    data = entry.archive._data
    if entry.has_location or data is None:
        return ZipSource, (entry.root,)
    return ZipSource, (data,)


@ship.register
def _(entry: MemorySource) -> Shipped:
    return MemorySource, (dict(entry._data),)


@ship.register
def _(entry: FrozenSource) -> Shipped:
    return FrozenSource, (dict(entry._data),)


@ship.register
def _(entry: Source) -> Shipped:
    """Any other source: its files, read now, as a memory source."""
    return MemorySource, ({name: entry.read(name) for name in entry.files()},)


@dataclass(frozen=True)
class Call:
    """``scope.call(target, *args, **kwargs)`` in the worker; the result comes back."""

    target: str
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)
    sources: Tuple[Shipped, ...] = ()

    def perform(self, scope: Scope) -> Any:
        return scope.call(self.target, *self.args, **self.kwargs)


@dataclass(frozen=True)
class RunTarget:
    """``scope.run(target, argv)`` in the worker: a ``module:function`` result comes back, else None."""

    target: str
    argv: Tuple[str, ...] = ()
    sources: Tuple[Shipped, ...] = ()

    def perform(self, scope: Scope) -> Any:
        result = scope.run(self.target, self.argv)
        return result if parse(self.target).func else None


Task = Union[Call, RunTarget]


def warm() -> None:
    """Import what :func:`serve` needs now, so that a worker's first task is not its slowest."""
    preload()


def serve(blob: bytes) -> bytes:
    """Run one pickled task in this interpreter and pickle what happened; never raises."""
    try:
        task = pickle.loads(blob)
        sources: List[Entry] = [factory(*args) for factory, args in task.sources]
        location = parse(task.target).location
        if location is not None:
            sources.append(location)
        with Scope(sources) as scope:
            value = task.perform(scope)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt go back to the host too
        return _failure(exc)
    finally:
        _flush_output()
    try:
        return pickle.dumps(("ok", _dumps(value)))
    except Exception as exc:
        message = f"the result of {task.target!r} does not pickle: {exc}"
        return pickle.dumps(("raised", None, type(value).__qualname__, message, ""))


def _flush_output() -> None:
    """A task's prints reach the host when the task ends, not when the worker does.

    A worker's stdout is usually a pipe, so block-buffered: a later task that
    crashes the worker (a segfault, ``os._exit``) would lose what earlier ones printed.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or replaced stream: nothing of ours to deliver
            pass


def _failure(exc: BaseException) -> bytes:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    refused = refused_extension(exc)
    if refused is not None:
        return pickle.dumps(("refused", refused, text))
    try:
        payload: Optional[bytes] = _dumps(exc)
        pickle.loads(_dumps(exc))  # an exception whose class cannot rebuild itself goes as text
    except Exception:
        payload = None
    kind = type(exc)
    return pickle.dumps(("raised", payload, f"{kind.__module__}.{kind.__qualname__}", str(exc), text))


def refused_extension(exc: BaseException) -> Optional[str]:
    """The extension module a sub-interpreter refused to load somewhere in ``exc``'s chain."""
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ImportError) and str(current).endswith(_REFUSED):
            words = str(current).split()
            return current.name or (words[1] if len(words) > 1 else "?")
        current = current.__cause__ or current.__context__
    return None


def outcome(blob: bytes, what: str) -> Any:
    """The host's side of :func:`serve`: the value, or the worker's exception raised here."""
    kind, *rest = pickle.loads(blob)
    if kind == "ok":
        try:
            return pickle.loads(rest[0])
        except Exception as exc:
            raise PluginError(f"the result of {what!r} cannot be unpickled in the host: {exc}") from None
    if kind == "refused":
        name, text = rest
        refusal = NotIsolatable(f"{what!r} imports {name}, which cannot load in a sub-interpreter", name=name)
        raise refusal from RemoteTraceback(text)
    payload, type_name, message, text = rest
    try:
        error: Any = pickle.loads(payload) if payload is not None else None
    except Exception:  # the class lives in the plugin, which the host cannot import
        error = None
    if not isinstance(error, BaseException):
        error = PluginError(f"{type_name}: {message}" if message else type_name, type_name)
    raise error from (RemoteTraceback(text) if text else None)


class _Pickler(pickle.Pickler):
    """Pickles zrun's archive errors by their fields: their ``args`` cannot rebuild them."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, ArchiveError):
            return _archive_error, (type(obj), obj.path, obj.reason, obj.member)
        return NotImplemented


def _archive_error(kind: type, path: str, reason: str, member: Optional[str]) -> ArchiveError:
    error: ArchiveError = kind(path, reason, member)
    return error


def _dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()
