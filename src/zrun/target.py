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
The grammar is decided from the text alone, with one exception: a bare name
that is an existing file (a shiv or pex build named ``greeter``) is that file,
as ``python greeter`` runs it.
"""

from __future__ import annotations

import os

from .errors import TargetError

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import Optional, Tuple

#: Suffixes that make a bare name a location rather than a module.
LOCATION_SUFFIXES = (".zip", ".pyz", ".pyzw", ".whl", ".egg", ".pex", ".zrf", ".py", ".pyw", ".pyc")



class Target(tuple):  # type: ignore[type-arg]
    """A parsed target ``(location, module, func)``; ``location`` is kept exactly as typed.

    A named tuple without importing ``typing`` or ``collections`` at start-up.
    """

    __slots__ = ()

    def __new__(cls, location: Optional[str] = None, module: Optional[str] = None, func: Optional[str] = None) -> Target:
        return tuple.__new__(cls, (location, module, func))

    @property
    def location(self) -> Optional[str]:
        return self[0]  # type: ignore[no-any-return]

    @property
    def module(self) -> Optional[str]:
        return self[1]  # type: ignore[no-any-return]

    @property
    def func(self) -> Optional[str]:
        return self[2]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Target(location={self.location!r}, module={self.module!r}, func={self.func!r})"

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
    head, rest = _split_drive(text)
    drive = bool(head)
    parts = rest.split(":")
    parts[0] = head + parts[0]
    if len(parts) > 3:
        raise TargetError(f"too many ':' in target {text!r} (expected LOCATION:MODULE:FUNCTION at most)")
    first = parts[0]
    if not first:
        raise TargetError(f"target {text!r} starts with ':'")
    if len(parts) == 1:
        if drive or _is_location(first) or os.path.isfile(first):  # `python greeter` runs a file so named
            return Target(location=first)
        if is_module_name(first):
            return Target(module=first)
        raise TargetError(f"{text!r} is neither a module name nor a path (paths need a '/' or a suffix such as .py or .zip)")
    if len(parts) == 3:
        location, module, func = parts
        return Target(location=location, module=_module(module, text), func=_func(func, text))
    second = parts[1]
    if drive or _is_location(first) or not is_module_name(first):
        return Target(location=first, module=_module(second, text))
    # A function needs the module imported here, where a relative name has no package.
    return Target(module=_module(first, text), func=_func(second, text))


def _split_drive(text: str) -> Tuple[str, str]:
    """Split off a Windows drive (``C:``) when what follows is clearly a path.

    ``C:\\x``, ``C:/x`` and ``C:app.zip`` start with a drive; ``C:main`` is
    module ``C``, function ``main``.
    """
    if len(text) >= 2 and text[1] == ":" and text[0].isascii() and text[0].isalpha():
        rest = text[2:]
        if rest[:1] in ("\\", "/") or (rest and _is_location(rest.split(":", 1)[0])):
            return text[:2], rest
    return "", text


def module_target(name: str) -> Target:
    """The target for ``-m NAME``: always a module, whatever it looks like."""
    if not name:
        raise TargetError("-m needs a module name")
    return Target(module=name)


def _module(text: str, whole: str) -> str:
    if not text:
        raise TargetError(f"missing module name after ':' in target {whole!r}")
    if text.startswith("."):
        raise TargetError(f"relative module name {text!r} in target {whole!r}; give the full dotted name")
    if not is_module_name(text):
        raise TargetError(f"{text!r} in target {whole!r} is not a module name (dotted identifiers, such as pkg.mod)")
    return text


def _func(text: str, whole: str) -> str:
    if not text:
        raise TargetError(f"missing function name after ':' in target {whole!r}")
    if not _is_attr_path(text):
        raise TargetError(f"{text!r} in target {whole!r} is not a function name (identifiers, such as main or Cls.run)")
    return text
