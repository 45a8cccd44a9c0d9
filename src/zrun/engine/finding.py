"""From a name or a path to ``(spec, code)``, with runpy's exact errors.

The messages are runpy's, word for word, because users and tests match them.
Two of runpy's choices are not kept: a location's ``__main__`` is looked up in
that location only (runpy searches all of ``sys.path``, gh-75221), and a
location's own modules win over same-named ones elsewhere.
"""

from __future__ import annotations

import io
import os
import sys
from importlib.util import MAGIC_NUMBER, find_spec

from ..errors import ArchiveError, NotRunnable
from ..loading.bytecode import BadBytecode, code_from_pyc, compile_source
from ..loading.loader import searched_first
from ..source import Source
from ..stdlib import stdlib

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import CodeType
    from typing import Iterable, List, Optional, Tuple

    from .locations import Location

    Details = Tuple[str, ModuleSpec, CodeType]


def module_details(mod_name: str) -> Details:
    """runpy's ``_get_module_details``: import the parent, find, recurse into ``__main__``."""
    if mod_name.startswith("."):
        raise NotRunnable("Relative module names not supported", name=mod_name)
    pkg_name = mod_name.rpartition(".")[0]
    if pkg_name:
        try:
            __import__(pkg_name)
        except ImportError as exc:
            # A missing ancestor is reported by find_spec below; any other
            # import failure of the parent is the user's error and propagates.
            if exc.name is None or (exc.name != pkg_name and not pkg_name.startswith(exc.name + ".")):
                raise
        existing = sys.modules.get(mod_name)
        if existing is not None and not hasattr(existing, "__path__"):
            stdlib("warnings").warn(
                RuntimeWarning(
                    f"{mod_name!r} found in sys.modules after import of package {pkg_name!r}, "
                    f"but prior to execution of {mod_name!r}; this may result in unpredictable behaviour"
                ),
                stacklevel=2,
            )
    try:
        spec = find_spec(mod_name)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        if isinstance(exc, ArchiveError):
            raise
        message = f"Error while finding module specification for {mod_name!r} ({type(exc).__name__}: {exc})"
        if mod_name.endswith(".py"):
            message += f". Try using '{mod_name[:-3]}' instead of '{mod_name}' as the module name."
        raise NotRunnable(with_refusals(message, searched_sources()), name=mod_name) from exc
    if spec is None:
        raise NotRunnable(with_refusals(f"No module named {mod_name}", searched_sources()), name=mod_name)
    if spec.submodule_search_locations is not None:
        if mod_name == "__main__" or mod_name.endswith(".__main__"):
            raise NotRunnable("Cannot use package as __main__ module", name=mod_name)
        try:
            return module_details(mod_name + ".__main__")
        except NotRunnable as exc:
            if mod_name not in sys.modules:
                raise
            raise NotRunnable(f"{exc}; {mod_name!r} is a package and cannot be directly executed", name=mod_name) from None
    return mod_name, spec, _code_of(spec, mod_name)


def main_details(location: Location, display: str) -> Details:
    """The ``__main__`` of a directory or archive, looked up inside it only."""
    spec = location.find("__main__")
    if spec is None:
        raise NotRunnable(with_refusals(f"can't find '__main__' module in {display!r}", [location.source]), name="__main__")
    if spec.submodule_search_locations is not None:
        raise NotRunnable("Cannot use package as __main__ module", name="__main__")
    return "__main__", spec, _code_of(spec, "__main__")


def searched_sources() -> List[Source]:
    """The sources zrun's finders on ``sys.meta_path`` search first: a run's location and ``sources``."""
    return [entry for entry in searched_first() if isinstance(entry, Source)]


def with_refusals(message: str, sources: Iterable[Optional[Source]]) -> str:
    """``message`` (runpy's words), then which of ``sources`` refused member names as unsafe.

    An archive whose ``pkg/`` members are all named ``../pkg/...`` holds no
    ``pkg`` once they are refused at indexing; runpy's "No module named" alone
    would send the user looking for a typo instead of at the archive.
    """
    from ..zip.source import ZipSource

    notes = [message]
    for source in sources:
        if isinstance(source, ZipSource) and source.archive.refused:
            refused, where = source.archive.refused, source.archive.path
            if len(refused) == 1:
                notes.append(f"{where} refused member name {refused[0]!r} as unsafe")
            else:
                notes.append(f"{where} refused {len(refused)} member names as unsafe, such as {refused[0]!r}")
    return "; ".join(notes)


def _code_of(spec: ModuleSpec, mod_name: str) -> CodeType:
    loader = spec.loader
    if loader is None:
        raise NotRunnable(f"{mod_name!r} is a namespace package and cannot be executed", name=mod_name)
    try:
        code: Optional[CodeType] = loader.get_code(mod_name)  # type: ignore[attr-defined]
    except ArchiveError:
        raise
    except ImportError as exc:
        raise NotRunnable(format(exc), name=mod_name) from exc
    if code is None:
        raise NotRunnable(f"No code object available for {mod_name}", name=mod_name)
    return code


def script_code(path: str, module: str) -> CodeType:
    """Code of a script file (source or ``.pyc``), named by the path as given; ``module`` is its run name."""
    return _script(path, module)[0]


def main_script(path: str, module: str) -> Tuple[CodeType, Loader]:
    """A script's code and the loader ``python PATH`` gives its ``__main__``.

    The interpreter picks ``SourcelessFileLoader`` for a file that starts with
    this version's ``.pyc`` magic and ``SourceFileLoader`` otherwise, whatever
    the suffix; runpy's ``run_path`` gives none.
    """
    from importlib.machinery import SourceFileLoader, SourcelessFileLoader

    code, compiled = _script(path, module)
    loader = SourcelessFileLoader if compiled else SourceFileLoader
    return code, loader("__main__", path)


def _script(path: str, module: str) -> Tuple[CodeType, bool]:
    """``(code, whether it came from bytecode)``; source is compiled as module ``module`` (3.15's warning filters)."""
    with io.open_code(os.path.abspath(path)) as stream:
        data = stream.read()
    if data[:4] == MAGIC_NUMBER:
        try:
            code = code_from_pyc(data, path)
        except BadBytecode as exc:
            raise NotRunnable(str(exc)) from None
        if code is not None:
            return code, True
    return compile_source(data, path, module), False
