"""What the running interpreter does that other versions do not, asked once.

zrun matches each interpreter's own runpy and ``python -m``, not one version's
everywhere (``docs/compatibility.md``, "Per-version behaviour zrun follows").
Nothing here imports anything: the CLI's start-up path reads it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only checkers need it
if TYPE_CHECKING:
    from typing import Any, Dict

#: 3.15 dropped ``__cached__``: neither its import system nor its runpy sets the
#: name (``__spec__.cached`` remains). Decided by version, not by probing an
#: imported module, whose ``__cached__`` depends on which loader loaded it.
SETS_CACHED = sys.version_info < (3, 15)


def adds_path0() -> bool:
    """Whether ``python -m zrun`` found an entry at ``sys.path[0]`` put there for it.

    Under ``-P`` / ``PYTHONSAFEPATH`` (``sys.flags.safe_path``, 3.11+) and
    ``-I`` (which implies it, and is the only such switch before 3.11) the
    interpreter adds no script folder or working directory: ``sys.path[0]`` is
    then an ordinary entry, usually the standard library's zip, and must stay.
    """
    return not (getattr(sys.flags, "safe_path", False) or sys.flags.isolated)


def main_names() -> Dict[str, Any]:
    """What the interpreter put in its own ``__main__`` beyond runpy's names, fresh.

    Before 3.14 (PEP 649) that is ``__annotations__ = {}``, which code run by
    ``python script.py`` and ``python -m`` sees. Read from the ``__main__`` that
    ``python -m zrun`` itself runs in rather than decided by version.
    """
    main = sys.modules.get("__main__")
    return {"__annotations__": {}} if main is not None and "__annotations__" in vars(main) else {}
