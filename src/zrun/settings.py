"""Every ``ZRUN_*`` environment variable, as one typed property each.

pex keeps its variables in one module whose property docstrings are their
documentation; so does zrun, so that ``zrun --help`` and the README are
generated from, and checked against, one list. Values are read from the
environment at every access: a host (or a test) may change them while it runs.

The hot path (:mod:`zrun.cache`, :mod:`zrun.zip.archive`) reads its variables
itself, to keep this module off every start-up; ``tests/test_settings.py``
checks that each name read anywhere in ``src/zrun`` is documented here.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Mapping, Optional, Tuple


def _flag(value: str) -> bool:
    return value not in ("", "0")


class Settings:
    """The ``ZRUN_*`` variables of one environment (``os.environ`` by default)."""

    def __init__(self, environ: Optional[Mapping[str, str]] = None) -> None:
        self._environ = os.environ if environ is None else environ

    def _get(self, name: str) -> str:
        return self._environ.get(name, "")

    @property
    def ZRUN_CACHE_DIR(self) -> Optional[str]:
        """DIR: the cache directory (default: ~/.cache/zrun or the platform's)."""
        value = self._get("ZRUN_CACHE_DIR")
        return os.path.abspath(os.path.expanduser(value)) if value else None

    @property
    def ZRUN_NO_CACHE(self) -> bool:
        """1: run without zrun's cache (compile every time)."""
        return _flag(self._get("ZRUN_NO_CACHE"))

    @property
    def ZRUN_MAX_MEMBER_SIZE(self) -> Optional[int]:
        """BYTES: largest archive member read (default: 1 GiB)."""
        value = self._get("ZRUN_MAX_MEMBER_SIZE")
        return int(value) if value.isdigit() else None

    @property
    def ZRUN_VERBOSE(self) -> int:
        """N: as -v given N times (for runner.pyz and embedding)."""
        value = self._get("ZRUN_VERBOSE")
        if value.isdigit():
            return int(value)
        return 1 if value else 0


def variables() -> List[Tuple[str, str]]:
    """``(name, documentation)`` of every variable, in the order they are defined."""
    found = []
    for name, value in vars(Settings).items():
        if name.startswith("ZRUN_") and isinstance(value, property):
            found.append((name, (value.__doc__ or "").strip()))
    return found


def help_text() -> str:
    """The ``environment:`` section of ``zrun --help``."""
    lines = ["environment:"]
    for name, doc in variables():
        value, _, text = doc.splitlines()[0].partition(": ")
        head = f"  {name}={value}"
        lines.append(head.ljust(26) + text if len(head) < 25 else f"{head}\n{' ' * 26}{text}")
    return "\n".join(lines) + "\n"
