"""``-v`` / ``ZRUN_VERBOSE``: what zrun loads, from where, through its cache, how fast.

Nothing here is imported unless verbose output was asked for: :func:`enable`
wraps the few functions worth reporting (the main module's lookup, each
module's code, the cache, extension extraction, archive indexing) in place,
so a run without ``-v`` pays nothing, not even a flag test per import. The
wrapped names are looked up at call time by their callers (module or class
attributes), which ``tests/test_verbose.py`` pins by checking every line.

Level 1 reports the main module, every module zrun's loader serves (with its
cache outcome and time), extension extraction and a summary; level 2 adds
every archive index read and every top-level module found in the run's
location or ``--path`` entries, directories included (which the interpreter's
own finder serves).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List

_state: Dict[str, Any] = {"level": 0, "start": time.perf_counter(), "cache": None}
_events: List[str] = []
_counts: Dict[str, int] = {"modules": 0, "hit": 0, "compiled": 0, "stored": 0}


def level() -> int:
    """The verbosity in force (0: off)."""
    return int(_state["level"])


def say(message: str, need: int = 1) -> None:
    """Write ``message`` to stderr at verbosity ``need``, stamped with the milliseconds since this module loaded.

    That is when the CLI saw ``-v``: the interpreter's own start-up and the
    import of zrun's CLI come before it.
    """
    if _state["level"] >= need:
        elapsed = (time.perf_counter() - _state["start"]) * 1000
        sys.stderr.write(f"zrun: {elapsed:8.1f} ms  {message}\n")
        sys.stderr.flush()


def enable(verbosity: int) -> None:
    """Turn reporting on at ``verbosity`` (once per process; a second call only changes the level)."""
    if verbosity <= 0:
        return
    first = _state["level"] == 0
    _state["level"] = verbosity
    if first:
        _wrap_all()
        say(f"zrun {_version()} on {sys.implementation.name} {sys.version.split()[0]} ({sys.executable})")


def summary() -> None:
    """One line at the end of a run: modules served, cache outcome, total time."""
    modules, hit, compiled, stored = (_counts[key] for key in ("modules", "hit", "compiled", "stored"))
    where = _state["cache"] or "not used"
    say(f"done: {modules} modules from zrun's loader ({hit} from the cache, {compiled} compiled, {stored} stored); cache: {where}")


def _version() -> str:
    from . import __version__

    return __version__


def _timed(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.2f} ms"


def _wrap_all() -> None:
    from .cache import packs as cache  # what zrun.loading.bytecode.compile_cached calls
    from .cache import packwrite
    from .engine import run as engine
    from .engine import steps as runsteps
    from .loading import extensions as extract
    from .loading import loader, moduleloader
    from .zip import archive

    _wrap(cache, "load_code", _note_load)
    _wrap(packwrite, "store_code", _note_store)
    _wrap(cache, "keyed", _note_key)
    _wrap(moduleloader, "shipped_pyc_code", _note_shipped)
    _wrap(loader.ModuleLoader, "get_code", _report_code)
    _wrap(extract, "extract", _report_extract)
    _wrap(engine, "module_details", _report_details)
    _wrap(runsteps, "main_details", _report_details)
    _wrap(loader.SearchFirst, "find_spec", _report_found)
    original_open = archive.Archive.__dict__["open"].__func__

    def open_archive(cls: Any, path: Any) -> Any:
        started = time.perf_counter()
        result = original_open(cls, path)
        say(f"index {os.fspath(path)}: {len(result.members)} members ({_timed(started)})", 2)
        return result

    archive.Archive.open = classmethod(open_archive)  # type: ignore[method-assign,assignment]


def _wrap(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(owner, name)
    wrapper = make(original)
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    wrapper.__doc__ = original.__doc__
    setattr(owner, name, wrapper)


def _note_load(original: Callable[..., Any]) -> Callable[..., Any]:
    def load_code(key: str) -> Any:
        code = original(key)
        _events.append("hit" if code is not None else "miss")
        return code

    return load_code


def _note_store(original: Callable[..., Any]) -> Callable[..., Any]:
    def store_code(key: str, code: Any) -> None:
        original(key, code)
        _events.append("unstored" if sys.dont_write_bytecode else "stored")

    return store_code


def _note_key(original: Callable[..., Any]) -> Callable[..., Any]:
    def keyed(*args: Any) -> Any:
        result = original(*args)
        if result[0] is None:
            _events.append("nokey")
        elif _state["cache"] is None:
            from .cache import store as cache

            _state["cache"] = cache.directory()
        return result

    return keyed


def _note_shipped(original: Callable[..., Any]) -> Callable[..., Any]:
    def shipped_pyc_code(*args: Any) -> Any:
        code = original(*args)
        if code is not None:
            _events.append("shipped")
        return code

    return shipped_pyc_code


_OUTCOMES = (
    ("shipped", "its own .pyc in __pycache__"),
    ("hit", "zrun's cache (hit)"),
    ("stored", "compiled (cache miss), stored in zrun's cache"),
    ("unstored", "compiled (cache miss), not stored: PYTHONDONTWRITEBYTECODE / -B"),
    ("nokey", "compiled (cache off)"),
)


def _report_code(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_code(self: Any, fullname: str) -> Any:
        mark, started = len(_events), time.perf_counter()
        code = original(self, fullname)
        events = _events[mark:]
        del _events[mark:]
        how = next((text for key, text in _OUTCOMES if key in events), "compiled")
        if self.entry is not None and self.entry.endswith(".pyc"):
            how = "a sourceless .pyc"
        _counts["modules"] += 1
        _counts["hit"] += "hit" in events
        _counts["compiled"] += "miss" in events or "nokey" in events
        _counts["stored"] += "stored" in events
        entry = self.entry or "namespace package"
        say(f"module {fullname} from {self.source.root} ({entry}): {how}, {_timed(started)}")
        return code

    return get_code


def _report_extract(original: Callable[..., Any]) -> Callable[..., Any]:
    def extract(identity: str, members: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        folder = original(identity, members, *args, **kwargs)
        say(f"extension files {', '.join(sorted(members))} ready in {folder} ({_timed(started)})")
        return folder

    return extract


def _report_found(original: Callable[..., Any]) -> Callable[..., Any]:
    """Level 2: every top-level module found in a run's location or ``--path`` entries, served by any finder."""

    def find_spec(self: Any, fullname: str, *args: Any) -> Any:
        spec = original(self, fullname, *args)
        if spec is not None:
            say(f"found {fullname} first in this run's sources: {spec.origin or 'namespace package'}", 2)
        return spec

    return find_spec


def _report_details(original: Callable[..., Any]) -> Callable[..., Any]:
    def details(*args: Any) -> Any:
        name, spec, code = original(*args)
        loader = type(spec.loader).__name__ if spec.loader is not None else "no loader"
        say(f"main module {name}: {spec.origin} ({loader})")
        return name, spec, code

    return details
