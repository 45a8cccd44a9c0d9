"""zrun: run modules from zip archives, memory and frozen code, the way ``python -m`` should.

The public names are loaded on first use, so ``python -m zrun`` pays only for
what a run needs.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List

__version__ = "0.1.0"

_EXPORTS = {
    "run": "engine.run",
    "run_module": "engine.runpy_api",
    "run_path": "engine.runpy_api",
    "SysState": "engine.sysstate",
    "SYS_LOCK": "engine.sysstate",
    "Source": "source",
    "MemorySource": "source",
    "ZipSource": "zip.source",
    "FrozenSource": "frozen",
    "Target": "target",
    "parse_target": "target",
    "install": "plugins.install",
    "uninstall": "plugins.install",
    "installed": "plugins.install",
    "main": "cli.main",
    "Scope": "plugins.scope",
    "discover": "plugins.discovery",
    "Runnable": "plugins.discovery",
    "LockTimeout": "engine.syslock",
    "ZrunError": "errors",
    "TargetError": "errors",
    "NotRunnable": "errors",
    "ArchiveError": "errors",
    "ArchiveNotFound": "errors",
    "NotAnArchive": "errors",
    "CorruptArchive": "errors",
    "UnsupportedMember": "errors",
    "MemberTooLarge": "errors",
    "BadMetadata": "errors",
    "BundleError": "errors",
    "ExtensionInArchive": "errors",
    "Workers": "workers.pool",
    "ProcessWorker": "workers.process",
    "InterpreterWorker": "workers.interpreter",
    "Limits": "workers.limits",
    "WorkerError": "workers.errors",
    "WorkerDied": "workers.errors",
    "WorkerTimeout": "workers.errors",
    "NotIsolatable": "workers.errors",
    "PluginError": "workers.errors",
    "RemoteTraceback": "workers.errors",
}

__all__ = [
    "ArchiveError",
    "ArchiveNotFound",
    "BadMetadata",
    "BundleError",
    "CorruptArchive",
    "ExtensionInArchive",
    "FrozenSource",
    "InterpreterWorker",
    "Limits",
    "LockTimeout",
    "MemberTooLarge",
    "MemorySource",
    "NotAnArchive",
    "NotIsolatable",
    "NotRunnable",
    "PluginError",
    "ProcessWorker",
    "RemoteTraceback",
    "Runnable",
    "SYS_LOCK",
    "Scope",
    "Source",
    "SysState",
    "Target",
    "TargetError",
    "UnsupportedMember",
    "WorkerDied",
    "WorkerError",
    "WorkerTimeout",
    "Workers",
    "ZipSource",
    "ZrunError",
    "discover",
    "install",
    "installed",
    "main",
    "parse_target",
    "run",
    "run_module",
    "run_path",
    "uninstall",
]

if TYPE_CHECKING:
    from .cli.main import main
    from .engine.run import run
    from .engine.runpy_api import run_module, run_path
    from .engine.syslock import LockTimeout
    from .engine.sysstate import SYS_LOCK, SysState
    from .errors import (
        ArchiveError,
        ArchiveNotFound,
        BadMetadata,
        BundleError,
        CorruptArchive,
        ExtensionInArchive,
        MemberTooLarge,
        NotAnArchive,
        NotRunnable,
        TargetError,
        UnsupportedMember,
        ZrunError,
    )
    from .frozen import FrozenSource
    from .plugins.discovery import Runnable, discover
    from .plugins.install import install, installed, uninstall
    from .plugins.scope import Scope
    from .source import MemorySource, Source
    from .target import Target
    from .target import parse as parse_target
    from .workers.errors import NotIsolatable, PluginError, RemoteTraceback, WorkerDied, WorkerError, WorkerTimeout
    from .workers.interpreter import InterpreterWorker
    from .workers.limits import Limits
    from .workers.pool import Workers
    from .workers.process import ProcessWorker
    from .zip.source import ZipSource


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zrun' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"zrun.{module}"), "parse" if name == "parse_target" else name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def _verbose_from_environment() -> None:
    """``ZRUN_VERBOSE`` reaches embedded use too: a host's library calls report as ``-v`` does.

    Only the variable's presence is tested here; without it nothing is imported.
    """
    import os

    if os.environ.get("ZRUN_VERBOSE"):
        from .settings import Settings
        from .verbose import enable

        enable(Settings().ZRUN_VERBOSE)


_verbose_from_environment()
