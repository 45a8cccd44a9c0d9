"""The target grammar: what ``zrun TARGET`` and ``zrun.run(TARGET)`` accept.

======================  ===================================================
``pkg.mod``             like ``python -m pkg.mod`` (a package runs ``__main__``)
``script.py``           like ``python script.py``
``app.zip`` / ``dir/``  the ``__main__`` inside it, like ``python app.zip``
``app.zip:pkg.mod``     ``pkg.mod`` found in that archive or directory only
``pkg.mod:func``        import ``pkg.mod``, call ``func()``, exit with its value
``app.zip:pkg.mod:fn``  the same, with the module taken from the archive
======================  ===================================================

A location is anything path-like: it has a path separator, an archive or
script suffix, or is ``.``/``..``. A bare dotted name is always a module, so
``tool:main`` calls ``tool.main()``; write ``./tool:main`` for a directory.
The grammar is decided from the text alone, never by what exists on disk.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple, Optional

from .errors import TargetError

#: Suffixes that make a bare name a location rather than a module.
LOCATION_SUFFIXES = (".zip", ".pyz", ".pyzw", ".whl", ".egg", ".zrf", ".py", ".pyw", ".pyc")

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


class Target(NamedTuple):
    """A parsed target; ``location`` is kept exactly as typed."""

    location: Optional[str] = None
    module: Optional[str] = None
    func: Optional[str] = None

    def __str__(self) -> str:
        return ":".join(part for part in (self.location, self.module, self.func) if part)


def is_module_name(text: str) -> bool:
    """A dotted name of identifiers; leading dots are runpy's to reject."""
    return bool(text) and all(part.isidentifier() for part in text.lstrip(".").split(".")) and text.lstrip(".") != ""


def _is_attr_path(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _is_location(text: str) -> bool:
    return (
        "/" in text
        or os.sep in text
        or (os.altsep is not None and os.altsep in text)
        or text in (".", "..")
        or text.lower().endswith(LOCATION_SUFFIXES)
    )


def parse(text: str) -> Target:
    """Parse a target string, raising :class:`TargetError` with the reason."""
    if not isinstance(text, str):
        raise TargetError(f"target must be a string, not {type(text).__name__}")
    if not text.strip():
        raise TargetError("empty target")
    drive = _DRIVE.match(text)
    head, rest = (text[:2], text[2:]) if drive else ("", text)
    parts = rest.split(":")
    parts[0] = head + parts[0]
    if len(parts) > 3:
        raise TargetError(f"too many ':' in target {text!r} (expected LOCATION:MODULE:FUNCTION at most)")
    first = parts[0]
    if not first:
        raise TargetError(f"target {text!r} starts with ':'")
    if len(parts) == 1:
        if _is_location(first):
            return Target(location=first)
        if is_module_name(first):
            return Target(module=first)
        raise TargetError(f"{text!r} is neither a module name nor a path (paths need a '/' or a suffix such as .py or .zip)")
    if len(parts) == 3:
        location, module, func = parts
        return Target(location=location, module=_module(module, text), func=_func(func, text))
    second = parts[1]
    if _is_location(first) or not is_module_name(first):
        return Target(location=first, module=_module(second, text))
    return Target(module=first, func=_func(second, text))


def module_target(name: str) -> Target:
    """The target for ``-m NAME``: always a module, whatever it looks like."""
    if not name:
        raise TargetError("-m needs a module name")
    return Target(module=name)


def _module(text: str, whole: str) -> str:
    if not is_module_name(text) or text.startswith("."):
        raise TargetError(f"{text!r} in target {whole!r} is not a module name")
    return text


def _func(text: str, whole: str) -> str:
    if not _is_attr_path(text):
        raise TargetError(f"{text!r} in target {whole!r} is not a function name")
    return text
